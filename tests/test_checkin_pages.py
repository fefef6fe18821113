"""The symptom check-in, request by request: the form, bad input, a double tap, the safety
screens and the alerts, the flare and symptoms-gone buttons, a step that raised pain."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from django.core import mail
from django.test import Client as Browser
from django.urls import reverse

from aftercare.models import Alert, PhaseChange, Plan, PlanStep, SymptomLog
from aftercare.rules import safety
from aftercare.rules.phases import Phase
from tests import factories

# Words that must never show on a lock screen in an email subject.
HEALTH_WORDS = (
    "pain",
    "numb",
    "bladder",
    "bowel",
    "urine",
    "genital",
    "sexual",
    "chest",
    "leg",
    "back",
    "spine",
    "fever",
    "cancer",
    "weight",
    "symptom",
    "flare",
    "emergency",
    "doctor",
    "warning sign",
    "hold",
)


def text(response) -> str:
    return html.unescape(response.content.decode())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


answers = factories.checkin_answers


def warning_yes(*signs: str) -> dict:
    return {"warning": "yes", "safety_signs": list(signs), "submission_key": str(uuid.uuid4())}


def field_errors(response, field: str) -> str:
    """The messages shown next to a field: inside its fieldset (or, for the two tap boxes,
    right under them)."""
    page = response.content.decode()
    if field in ("flare_tap", "gone_tap"):
        block = re.search(r'<div class="taps">(.*?)</div>', page, re.S)
    else:
        block = re.search(rf'<fieldset[^>]*id="group-{field}"[^>]*>(.*?)</fieldset>', page, re.S)
    assert block is not None, f"no {field} on the page"
    found = re.findall(r'<p class="invalid-feedback"[^>]*>(.*?)</p>', block.group(1), re.S)
    return html.unescape(" ".join(found))


def step_named(plan: Plan, name: str) -> PlanStep:
    return plan.steps.get(name=name)


def today_step_ids(response) -> set[int]:
    return {int(i) for i in re.findall(r'id="step-(?:morning|evening)-(\d+)"', text(response))}


def submission_key_of(response) -> str:
    found = re.search(r'name="submission_key" value="([0-9a-f-]{36})"', response.content.decode())
    assert found, "the form must carry its one-time key"
    return found.group(1)


@pytest.fixture
def desk(therapist):
    """The therapist on their own computer (the `client` fixture is the client's phone)."""
    browser = Browser()
    browser.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    return browser


@pytest.fixture
def subsiding_plan(client_person, therapist):
    return factories.plan_for(client_person, therapist, phase=Phase.SUBSIDING)


# --- The form -----------------------------------------------------------------------------


def test_it_shows_the_form_with_the_safety_question_first(phone, plan):
    response = phone.get(reverse("client-checkin"))
    assert response.status_code == 200
    page = text(response)
    order = [
        page.index('name="warning"'),
        page.index('name="safety_signs"'),
        page.index('name="pain_now"'),
        page.index('name="worst_pain"'),
        page.index('name="compared"'),
        page.index('name="legs"'),
        page.index('name="sleep"'),
    ]
    assert order == sorted(order)
    for _, sign in safety.EMERGENCY_SIGNS + safety.DOCTOR_SIGNS:
        assert sign in page
    # 0 to 10, as buttons, for both pain questions.
    for name in ("pain_now", "worst_pain"):
        values = re.findall(rf'name="{name}" value="(\d+)"', page)
        assert values == [str(n) for n in range(11)]
    submission_key_of(response)


def test_it_offers_the_steps_of_the_current_phase_heat_included(phone, plan):
    # A flare: heat before each routine, no QL (its flare frequency is "none"). The full
    # cases are in tests/test_checkin_calm.py.
    response = phone.get(reverse("client-checkin"))
    offered = {int(v) for v in re.findall(r'name="steps_done" value="(\d+)"', text(response))}
    expected = {s.id for s in plan.steps.all() if s.flare != "none"}
    assert offered == expected
    assert step_named(plan, "Heat first").id in offered


def test_it_saves_a_check_in_and_goes_back_to_today_with_a_message(phone, plan, client_person):
    decompression = step_named(plan, "Lumbar decompression")
    data = answers(
        worst=4,
        now=3,
        compared="better",
        legs="one",
        sleep="fine",
        steps_done=[str(decompression.id)],
        note="Long drive yesterday",
    )
    response = phone.post(reverse("client-checkin"), data, follow=True)
    assert response.redirect_chain == [(reverse("client-today"), 302)]
    assert "Thanks, your check-in is saved." in messages_of(response)
    log = SymptomLog.objects.get()
    assert log.plan == plan
    assert (log.pain_now, log.worst_pain) == (3, 4)
    assert (log.compared, log.legs, log.sleep) == ("better", "one", "fine")
    assert log.steps_done == [decompression.id]
    assert log.note == "Long drive yesterday"
    assert log.safety == "none"
    assert log.day == client_person.local_today()
    assert str(log.submission_key) == data["submission_key"]


def test_it_keeps_one_log_for_a_double_tap(phone, plan):
    data = answers(worst=5)
    first = phone.post(reverse("client-checkin"), data)
    second = phone.post(reverse("client-checkin"), data)
    assert first.status_code == second.status_code == 302
    assert second["Location"] == reverse("client-today")
    assert SymptomLog.objects.count() == 1


def test_it_keeps_one_log_and_one_phase_change_for_a_double_tap_that_starts_a_flare(
    phone, subsiding_plan
):
    data = answers(worst=8)
    phone.post(reverse("client-checkin"), data)
    phone.post(reverse("client-checkin"), data)
    assert SymptomLog.objects.count() == 1
    assert list(PhaseChange.objects.filter(plan=subsiding_plan).values_list("rule", flat=True)) == [
        "flare_high_pain",
        "assigned",
    ]


# --- Bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"pain_now": "11"}, "pain_now", "11 is not one of the available choices"),
        ({"worst_pain": "11", "pain_now": "2"}, "worst_pain", "11 is not one of the available"),
        ({"pain_now": "abc"}, "pain_now", "abc is not one of the available choices"),
        ({"worst_pain": "-1"}, "worst_pain", "-1 is not one of the available choices"),
        ({"pain_now": None}, "pain_now", "Please choose one."),
        ({"worst_pain": None}, "worst_pain", "Please choose one."),
        ({"compared": None}, "compared", "Please choose one."),
        ({"legs": None}, "legs", "Please choose one."),
        ({"sleep": None}, "sleep", "Please choose one."),
        ({"compared": "terrible"}, "compared", "terrible is not one of the available choices"),
        ({"warning": None}, "warning", "Please answer this first"),
        ({"warning": "maybe"}, "warning", "maybe is not one of the available choices"),
        ({"pain_now": "6", "worst_pain": "4"}, "worst_pain", "can't be lower than your pain"),
        ({"worst_pain": "5", "gone_tap": "on"}, "gone_tap", "Your worst pain was 5"),
        ({"worst_pain": "2", "gone_tap": "on"}, "gone_tap", "Your worst pain was 2"),
        (
            {"worst_pain": "1", "pain_now": "1", "flare_tap": "on", "gone_tap": "on"},
            "gone_tap",
            "not both",
        ),
        ({"worse_by": "5"}, "worse_by", "5 is not one of the available choices"),
    ],
)
def test_it_refuses_bad_input_with_a_message_next_to_the_field_and_saves_nothing(
    phone, plan, changes, field, message
):
    response = phone.post(reverse("client-checkin"), answers(**changes))
    assert response.status_code == 200
    assert message in field_errors(response, field)
    assert "Please check the answers marked below." in text(response)
    assert SymptomLog.objects.count() == 0
    plan.refresh_from_db()
    assert plan.phase == Phase.FLARE
    assert PhaseChange.objects.filter(plan=plan).count() == 1


def test_it_asks_for_every_missing_answer_at_once(phone, plan):
    response = phone.post(
        reverse("client-checkin"), {"warning": "no", "submission_key": str(uuid.uuid4())}
    )
    assert response.status_code == 200
    for field in ("pain_now", "worst_pain", "compared", "legs", "sleep"):
        assert field_errors(response, field) == "Please choose one."
    assert SymptomLog.objects.count() == 0


def test_it_asks_how_much_worse_when_a_step_made_pain_worse(phone, plan):
    psoas = step_named(plan, "Psoas release")
    response = phone.post(reverse("client-checkin"), answers(worse_steps=[str(psoas.id)]))
    assert response.status_code == 200
    assert field_errors(response, "worse_by") == "Tell us roughly how much worse."
    assert '<details class="worse" open>' in response.content.decode()
    assert SymptomLog.objects.count() == 0
    psoas.refresh_from_db()
    assert psoas.paused_at is None


@pytest.mark.parametrize("field", ["steps_done", "worse_steps"])
def test_it_refuses_another_plans_step(phone, plan, practice, therapist, field):
    other = factories.ClientFactory(practice=practice, primary_therapist=therapist)
    other_plan = factories.plan_for(other, therapist)
    foreign = step_named(other_plan, "Psoas release")
    data = answers(**{field: [str(foreign.id)], "worse_by": "2"})
    response = phone.post(reverse("client-checkin"), data)
    assert response.status_code == 200
    assert f"{foreign.id} is not one of the available choices" in field_errors(response, field)
    assert SymptomLog.objects.count() == 0
    assert Alert.objects.count() == 0
    foreign.refresh_from_db()
    assert foreign.paused_at is None


def test_it_refuses_a_heat_step_as_one_that_made_pain_worse(phone, plan):
    heat = step_named(plan, "Heat first")
    response = phone.post(
        reverse("client-checkin"), answers(worse_steps=[str(heat.id)], worse_by="2")
    )
    assert response.status_code == 200
    assert field_errors(response, "worse_steps")
    assert SymptomLog.objects.count() == 0


def test_it_keeps_the_answers_given_when_it_asks_again(phone, plan):
    response = phone.post(reverse("client-checkin"), answers(worst=6, now=7, note="Stiff"))
    page = response.content.decode()
    assert re.search(r'name="pain_now" value="7"[^>]*checked', page)
    assert re.search(r'name="worst_pain" value="6"[^>]*checked', page)
    assert "Stiff</textarea>" in page


def test_it_asks_which_sign_after_a_yes_without_one(phone, plan):
    response = phone.post(reverse("client-checkin"), warning_yes())
    assert response.status_code == 200
    # A kind prompt with a way on, not an error (tests/test_checkin_response.py).
    assert "Which sign is it?" in text(response)
    assert "None of these after all" in text(response)
    # The list with the message is open, not hidden behind a tap.
    assert '<details class="signs-list" id="signs" open>' in response.content.decode()
    assert SymptomLog.objects.count() == 0
    plan.refresh_from_db()
    assert plan.phase == Phase.FLARE


def test_it_never_ignores_an_emergency_sign_ticked_with_the_answer_no(phone, plan):
    """A client who opens the list, ticks a sign and leaves "No" selected must not have the
    sign silently dropped: either the form asks again or the sign counts."""
    data = answers(worst=3, safety_signs=["bladder_bowel"])
    response = phone.post(reverse("client-checkin"), data)
    assert not SymptomLog.objects.filter(safety="none").exists(), (
        "an emergency sign was ticked but the check-in was saved as 'no warning signs'"
    )
    plan.refresh_from_db()
    if response.status_code == 302:
        assert plan.phase == Phase.HOLD
    else:
        assert response.status_code == 200
        assert field_errors(response, "warning") or field_errors(response, "safety_signs")


# --- Safety: emergency and see a doctor today -------------------------------------------------


@pytest.mark.parametrize("sign", sorted(safety.EMERGENCY_KEYS))
def test_it_holds_the_plan_and_shows_the_emergency_screen_for_any_emergency_sign(phone, plan, sign):
    response = phone.post(reverse("client-checkin"), warning_yes(sign))
    assert response.status_code == 302
    assert response["Location"] == reverse("client-safety")
    plan.refresh_from_db()
    assert plan.phase == Phase.HOLD
    log = SymptomLog.objects.get()
    assert (log.safety, log.safety_signs) == ("emergency", [sign])
    assert (log.pain_now, log.worst_pain) == (None, None)
    alert = Alert.objects.get(plan=plan)
    assert (alert.kind, alert.severity, alert.log) == ("safety_emergency", 40, log)
    screen = phone.get(reverse("client-safety"))
    page = text(screen)
    assert "Get medical help now" in page
    assert safety.SIGN_TEXT[sign] in page


def test_it_shows_the_practices_emergency_number_and_alerts_the_therapist_by_email(
    phone, plan, client_person, therapist, django_capture_on_commit_callbacks
):
    practice = client_person.practice
    practice.emergency_number = "112"
    practice.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(
            reverse("client-checkin"), warning_yes("saddle_numbness"), follow=True
        )
    assert response.redirect_chain == [(reverse("client-safety"), 302)]
    page = text(response)
    assert "Get medical help now" in page
    assert 'href="tel:112"' in page
    assert "Stop the routine" in page
    assert "emergency department" in page

    change = PhaseChange.objects.filter(plan=plan).first()
    assert (change.from_phase, change.to_phase, change.rule, change.cause) == (
        "flare",
        "hold",
        "hold_emergency",
        "log",
    )

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [therapist.user.email]
    subject = message.subject.lower()
    for word in HEALTH_WORDS:
        assert word not in subject, f"{word!r} in the subject {message.subject!r}"
    assert client_person.name in message.subject
    # The details stay behind the therapist's login.
    sign_text = safety.SIGN_TEXT["saddle_numbness"]
    assert sign_text not in message.body
    assert reverse("therapist-client", args=[client_person.public_id]) in message.body


def test_it_sends_the_email_only_when_the_check_in_is_saved(
    phone, plan, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        phone.post(reverse("client-checkin"), warning_yes("chest_pain"))
    assert len(callbacks) == 1
    assert mail.outbox == []


def test_it_emails_every_therapist_of_the_practice_for_a_client_without_one(
    phone, plan, client_person, practice, therapist, django_capture_on_commit_callbacks
):
    colleague = factories.TherapistFactory(practice=practice)
    factories.TherapistFactory()  # another practice: not told
    client_person.primary_therapist = None
    client_person.save()
    with django_capture_on_commit_callbacks(execute=True):
        phone.post(reverse("client-checkin"), warning_yes("accident"))
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [therapist.user.email, colleague.user.email]
    )


@pytest.mark.parametrize("sign", sorted(safety.DOCTOR_KEYS))
def test_it_pauses_the_routine_and_shows_the_doctor_screen_for_a_doctor_sign(
    phone, plan, sign, therapist, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(reverse("client-checkin"), warning_yes(sign), follow=True)
    assert response.redirect_chain == [(reverse("client-safety"), 302)]
    page = text(response)
    assert "Please contact a doctor today" in page
    assert "Get medical help now" not in page
    assert safety.SIGN_TEXT[sign] in page
    plan.refresh_from_db()
    assert plan.phase == Phase.HOLD
    assert Alert.objects.get(plan=plan).kind == "safety_doctor"
    assert [m.to for m in mail.outbox] == [[therapist.user.email]]
    for word in HEALTH_WORDS:
        assert word not in mail.outbox[0].subject.lower()


def test_it_shows_the_emergency_screen_when_both_kinds_of_sign_are_ticked(phone, plan):
    response = phone.post(reverse("client-checkin"), warning_yes("fever", "legs_weak"), follow=True)
    assert "Get medical help now" in text(response)
    assert Alert.objects.get(plan=plan).kind == "safety_emergency"


def test_it_keeps_the_check_in_and_today_from_offering_the_routine_on_hold(phone, plan):
    phone.post(reverse("client-checkin"), warning_yes("chest_pain"))

    checkin = phone.get(reverse("client-checkin"))
    assert checkin.status_code == 302
    assert checkin["Location"] == reverse("client-safety")

    today = phone.get(reverse("client-today"))
    page = text(today)
    assert "Your routine is paused" in page
    assert today_step_ids(today) == set()
    assert reverse("client-step-done") not in page
    assert reverse("client-checkin") not in page
    assert "I'm having a flare" not in page


def test_it_saves_no_log_posted_while_on_hold(phone, plan):
    phone.post(reverse("client-checkin"), warning_yes("chest_pain"))
    response = phone.post(reverse("client-checkin"), answers(worst=1, gone_tap="on"))
    assert response.status_code == 302
    assert response["Location"] == reverse("client-safety")
    assert SymptomLog.objects.count() == 1
    plan.refresh_from_db()
    assert plan.phase == Phase.HOLD


def test_it_lets_only_the_therapist_resume_a_plan_on_hold(phone, desk, plan, therapist):
    phone.post(reverse("client-checkin"), warning_yes("legs_weak"))
    plan.refresh_from_db()
    assert plan.phase == Phase.HOLD

    url = reverse("therapist-phase", args=[plan.client.public_id])
    response = desk.post(url, {"phase": "subsiding", "reason": "Saw their GP, all clear"})
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.phase == Phase.SUBSIDING
    assert not plan.phase_pinned
    change = PhaseChange.objects.filter(plan=plan).first()
    assert (change.from_phase, change.to_phase, change.cause, change.by) == (
        "hold",
        "subsiding",
        "therapist",
        therapist.user,
    )
    assert change.reason == "Saw their GP, all clear"

    # The old "yes" does not put the plan back on hold; the routine is back.
    assert phone.get(reverse("client-safety"))["Location"] == reverse("client-today")
    assert today_step_ids(phone.get(reverse("client-today")))
    assert phone.get(reverse("client-checkin")).status_code == 200


def test_it_refuses_another_practices_therapist_to_resume_a_plan_on_hold(phone, plan):
    phone.post(reverse("client-checkin"), warning_yes("legs_weak"))
    stranger = factories.TherapistFactory()
    browser = Browser()
    browser.force_login(stranger.user, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("therapist-phase", args=[plan.client.public_id])
    assert browser.post(url, {"phase": "subsiding"}).status_code == 404
    plan.refresh_from_db()
    assert plan.phase == Phase.HOLD


def test_it_refuses_the_client_the_therapists_phase_form(phone, plan):
    phone.post(reverse("client-checkin"), warning_yes("legs_weak"))
    url = reverse("therapist-phase", args=[plan.client.public_id])
    assert phone.post(url, {"phase": "subsiding"}).status_code == 404
    plan.refresh_from_db()
    assert plan.phase == Phase.HOLD


def test_it_alerts_the_therapist_again_for_a_new_emergency_after_resuming(
    phone, desk, plan, therapist, django_capture_on_commit_callbacks
):
    """Each "yes" is a new event: the therapist resumed the plan (without ticking the first
    alert as handled) and the client answers yes again weeks later."""
    with django_capture_on_commit_callbacks(execute=True):
        phone.post(reverse("client-checkin"), warning_yes("chest_pain"))
    desk.post(reverse("therapist-phase", args=[plan.client.public_id]), {"phase": "subsiding"})
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(reverse("client-checkin"), warning_yes("bladder_bowel"))
    assert response["Location"] == reverse("client-safety")
    plan.refresh_from_db()
    assert plan.phase == Phase.HOLD
    assert len(mail.outbox) == 2, "the second emergency reached the therapist by email"
    second_log = SymptomLog.objects.latest("at")
    assert Alert.objects.filter(plan=plan, log=second_log, kind="safety_emergency").exists()


# --- I'm having a flare, my symptoms are gone ---------------------------------------------------


def test_it_prefills_the_flare_button_and_moves_to_flare(phone, subsiding_plan):
    form = phone.get(reverse("client-checkin") + "?flare=1")
    assert re.search(r'name="flare_tap"[^>]*checked', form.content.decode())
    assert not re.search(r'name="gone_tap"[^>]*checked', form.content.decode())
    data = answers(worst=5, flare_tap="on", submission_key=submission_key_of(form))
    response = phone.post(reverse("client-checkin"), data, follow=True)
    subsiding_plan.refresh_from_db()
    assert subsiding_plan.phase == Phase.FLARE
    change = PhaseChange.objects.filter(plan=subsiding_plan).first()
    assert (change.rule, change.cause, change.from_phase) == ("flare_client", "client", "subsiding")
    assert any("moved to Flare" in m for m in messages_of(response))
    # Today now has a morning and an evening routine.
    assert 'id="slot-morning"' in text(response)
    assert 'id="slot-evening"' in text(response)
    assert SymptomLog.objects.get().flare_tap is True


def test_it_gives_each_visit_to_the_form_its_own_key(phone, plan):
    first = submission_key_of(phone.get(reverse("client-checkin")))
    second = submission_key_of(phone.get(reverse("client-checkin")))
    assert first != second


@pytest.mark.parametrize("phase", [Phase.FLARE, Phase.SUBSIDING])
@pytest.mark.parametrize("worst", [0, 1])
def test_it_moves_to_maintenance_when_symptoms_are_gone(
    phone, client_person, therapist, phase, worst
):
    plan = factories.plan_for(client_person, therapist, phase=phase)
    form = phone.get(reverse("client-checkin") + "?gone=1")
    assert re.search(r'name="gone_tap"[^>]*checked', form.content.decode())
    data = answers(worst=worst, now=worst, gone_tap="on", submission_key=submission_key_of(form))
    response = phone.post(reverse("client-checkin"), data, follow=True)
    plan.refresh_from_db()
    assert plan.phase == Phase.MAINTENANCE
    change = PhaseChange.objects.filter(plan=plan).first()
    assert (change.rule, change.cause) == ("maintenance_client_gone", "client")
    assert any("moved to Maintenance" in m for m in messages_of(response))
    assert 'id="slot-evening"' not in text(response)


def test_it_starts_a_flare_from_a_worst_pain_of_7_without_a_tap(phone, subsiding_plan):
    phone.post(reverse("client-checkin"), answers(worst=7))
    subsiding_plan.refresh_from_db()
    assert subsiding_plan.phase == Phase.FLARE
    change = PhaseChange.objects.filter(plan=subsiding_plan).first()
    assert (change.rule, change.cause) == ("flare_high_pain", "log")


def test_it_stays_subsiding_at_a_worst_pain_of_6(phone, subsiding_plan):
    phone.post(reverse("client-checkin"), answers(worst=6))
    subsiding_plan.refresh_from_db()
    assert subsiding_plan.phase == Phase.SUBSIDING


# --- A step that raised pain ----------------------------------------------------------------


def test_it_pauses_a_step_that_raised_pain_by_2_and_alerts_the_therapist(phone, plan):
    psoas = step_named(plan, "Psoas release")
    assert psoas.id in today_step_ids(phone.get(reverse("client-today")))
    data = answers(worst=5, worse_steps=[str(psoas.id)], worse_by="2")
    response = phone.post(reverse("client-checkin"), data)
    # A step that raised pain by 2 is "soon": the response page, then Today.
    assert response["Location"].startswith(reverse("client-checkin") + "?saved=")
    response = phone.get(reverse("client-today"))
    psoas.refresh_from_db()
    assert psoas.paused_at is not None
    alert = Alert.objects.get(plan=plan)
    assert (alert.kind, alert.step, alert.severity) == ("step_raised_pain", psoas, 20)
    assert psoas.id not in today_step_ids(response)
    assert step_named(plan, "Lumbar decompression").id in today_step_ids(response)
    # The paused step is no longer offered on the check-in either.
    form = text(phone.get(reverse("client-checkin")))
    assert f'name="steps_done" value="{psoas.id}"' not in form
    assert f'name="worse_steps" value="{psoas.id}"' not in form
    assert f'name="steps_done" value="{step_named(plan, "Lumbar decompression").id}"' in form


def test_it_keeps_a_step_that_raised_pain_by_about_1(phone, plan):
    psoas = step_named(plan, "Psoas release")
    phone.post(
        reverse("client-checkin"), answers(worst=5, worse_steps=[str(psoas.id)], worse_by="1")
    )
    psoas.refresh_from_db()
    assert psoas.paused_at is None
    assert not Alert.objects.exists()
    assert psoas.id in today_step_ids(phone.get(reverse("client-today")))


def test_it_pauses_each_step_named_once(phone, plan):
    psoas = step_named(plan, "Psoas release")
    si_reset = step_named(plan, "Passive SI reset")
    phone.post(
        reverse("client-checkin"),
        answers(worst=5, worse_steps=[str(psoas.id), str(si_reset.id)], worse_by="2"),
    )
    assert sorted(Alert.objects.values_list("step__name", flat=True)) == [
        "Passive SI reset",
        "Psoas release",
    ]
    assert PlanStep.objects.filter(plan=plan, paused_at__isnull=False).count() == 2


def test_it_pauses_a_step_again_when_it_raises_pain_after_the_therapist_put_it_back(phone, plan):
    """The therapist put the step back in the routine but left the first alert open; the
    step raises pain again and must leave the routine again."""
    psoas = step_named(plan, "Psoas release")
    phone.post(
        reverse("client-checkin"), answers(worst=5, worse_steps=[str(psoas.id)], worse_by="2")
    )
    # What the plan page's "Put back in the routine" does.
    PlanStep.objects.filter(pk=psoas.pk).update(paused_at=None)
    phone.post(
        reverse("client-checkin"), answers(worst=6, worse_steps=[str(psoas.id)], worse_by="2")
    )
    psoas.refresh_from_db()
    assert psoas.paused_at is not None, "the step raised pain again but stays in the routine"
    assert psoas.id not in today_step_ids(phone.get(reverse("client-today")))


# --- Alerts: the therapist marks them handled ----------------------------------------------------


def test_it_lets_the_therapist_resume_the_routine_in_one_action_from_a_safety_alert(
    phone, desk, plan, therapist
):
    """Issue 9: resuming after a warning sign was "Mark handled" plus a collapsed "Set the
    phase"; it is one action now, and it handles the alert."""
    phone.post(reverse("client-checkin"), warning_yes("fever"))
    alert = Alert.objects.get(plan=plan)
    page = text(desk.get(reverse("therapist-client", args=[plan.client.public_id])))
    assert alert.message in page
    resume = reverse("therapist-resume", args=[plan.client.public_id])
    assert resume in page and "Resume routine" in page
    # While on hold, handling the alert alone would leave the client with no reminders.
    assert reverse("therapist-alert-resolve", args=[plan.client.public_id, alert.id]) not in page

    response = desk.post(resume, {"phase": "subsiding"}, follow=True)
    assert response.redirect_chain == [
        (reverse("therapist-client", args=[plan.client.public_id]), 302)
    ]
    assert any("Routine resumed in Subsiding" in m for m in messages_of(response))
    alert.refresh_from_db()
    plan.refresh_from_db()
    assert (plan.phase, plan.attention_level) == (Phase.SUBSIDING, 0)
    assert alert.resolved_at is not None and alert.resolved_by == therapist.user
    assert alert.message not in text(response)


def test_it_refuses_to_resume_into_hold_or_nonsense(phone, desk, plan):
    phone.post(reverse("client-checkin"), warning_yes("fever"))
    resume = reverse("therapist-resume", args=[plan.client.public_id])
    for phase in ("hold", "", "nonsense"):
        response = desk.post(resume, {"phase": phase}, follow=True)
        assert response.status_code == 200
        assert "Choose the phase the routine goes on in." in messages_of(response)
    plan.refresh_from_db()
    assert plan.phase == Phase.HOLD


def test_it_lets_the_therapist_mark_an_alert_handled(phone, desk, plan, therapist):
    psoas = plan.steps.get(name="Psoas release")
    phone.post(
        reverse("client-checkin"), answers(worst=4, worse_steps=[str(psoas.id)], worse_by="2")
    )
    alert = Alert.objects.get(plan=plan)
    page = text(desk.get(reverse("therapist-client", args=[plan.client.public_id])))
    assert alert.message in page
    url = reverse("therapist-alert-resolve", args=[plan.client.public_id, alert.id])
    assert url in page

    response = desk.post(url, follow=True)
    assert response.redirect_chain == [
        (reverse("therapist-client", args=[plan.client.public_id]), 302)
    ]
    assert "Alert marked as handled." in messages_of(response)
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert alert.resolved_by == therapist.user
    assert alert.message not in text(response)
    plan.refresh_from_db()
    assert plan.attention_level == 0  # handled counts as seen


def test_it_resolves_alerts_only_on_post(phone, desk, plan):
    phone.post(reverse("client-checkin"), warning_yes("fever"))
    alert = Alert.objects.get(plan=plan)
    url = reverse("therapist-alert-resolve", args=[plan.client.public_id, alert.id])
    assert desk.get(url).status_code == 405
    alert.refresh_from_db()
    assert alert.resolved_at is None


def test_it_refuses_another_practices_therapist_to_resolve_an_alert(phone, plan):
    phone.post(reverse("client-checkin"), warning_yes("fever"))
    alert = Alert.objects.get(plan=plan)
    stranger = factories.TherapistFactory()
    browser = Browser()
    browser.force_login(stranger.user, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("therapist-alert-resolve", args=[plan.client.public_id, alert.id])
    assert browser.post(url).status_code == 404
    alert.refresh_from_db()
    assert alert.resolved_at is None


def test_it_refuses_an_alert_of_another_client_under_this_clients_address(
    phone, desk, plan, practice, therapist
):
    other = factories.ClientFactory(practice=practice, primary_therapist=therapist)
    other_plan = factories.plan_for(other, therapist)
    foreign = Alert.objects.create(plan=other_plan, kind="safety_doctor", severity=90, message="x")
    url = reverse("therapist-alert-resolve", args=[plan.client.public_id, foreign.id])
    assert desk.post(url).status_code == 404
    foreign.refresh_from_db()
    assert foreign.resolved_at is None


def test_it_flags_the_safety_question_and_the_other_missing_answers_together(phone, plan):
    """Skipping the safety question must not hide the other gaps until a second submit."""
    response = phone.post(
        reverse("client-checkin"), {"pain_now": "3", "submission_key": str(uuid.uuid4())}
    )
    assert response.status_code == 200
    assert "Please answer this first" in field_errors(response, "warning")
    for field in ("worst_pain", "compared", "legs", "sleep"):
        assert "Please choose one." in field_errors(response, field)
    assert not field_errors(response, "pain_now")
    assert SymptomLog.objects.count() == 0
