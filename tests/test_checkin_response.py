"""What the client sees after a check-in, in proportion (TAPER.md, "What the client sees
after a check-in"), with each history built the way a client builds it: the check-in form
posted day after day. Also the warning signs asked again for "both legs" and "woken by
pain", and "Yes" with no sign ticked, which must never be a dead end."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from aftercare.models import Alert, Plan, SymptomLog
from aftercare.outbox import emails
from aftercare.rules.phases import Phase
from tests import factories
from tests.conftest import REMINDER_NOW

CALM, WATCH, SOON, TODAY, URGENT = 0, 10, 20, 30, 40  # aftercare.rules.attention.Level
SAVED = reverse("client-checkin") + "?saved="


def text(response) -> str:
    return html.unescape(response.content.decode())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


answers = factories.checkin_answers


def check_in(phone, worst: int = 3, **changes):
    return phone.post(reverse("client-checkin"), answers(worst, **changes))


def days_of(phone, clock, worsts: list[int], start: int = 0) -> None:
    """One check-in a day at 09:00 UTC (09:00 in London) from day `start`, as a client
    does from their phone; each one must save."""
    for n, worst in enumerate(worsts, start=start):
        clock.move_to(REMINDER_NOW + timedelta(days=n, hours=3), tick=False)
        response = check_in(phone, worst)
        assert response.status_code == 302, text(response)
        phone.get(response["Location"])  # the page after it, as a phone follows it


def on_day(clock, n: int) -> None:
    clock.move_to(REMINDER_NOW + timedelta(days=n, hours=3), tick=False)


def level_of(plan: Plan) -> int:
    return Plan.objects.get(pk=plan.pk).attention_level


class _Form(HTMLParser):
    """The fields a browser without JavaScript would post back from a page's form."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name") and attrs.get("type") == "hidden":
            self.fields.append((attrs["name"], attrs.get("value") or ""))


def hidden_fields(response) -> dict[str, list[str]]:
    parser = _Form()
    parser.feed(response.content.decode())
    found: dict[str, list[str]] = {}
    for name, value in parser.fields:
        found.setdefault(name, []).append(value)
    return found


def visible_questions(response) -> list[str]:
    """The names of the radio groups a client can see (not inside a `hidden` fieldset)."""
    page = response.content.decode()
    page = re.sub(r"<fieldset[^>]*\shidden>.*?</fieldset>", "", page, flags=re.S)
    return sorted(set(re.findall(r'type="radio" name="([a-z_]+)"', page)))


def buttons(response) -> dict[str, str]:
    """Button-styled links in the page's main content: their text -> href."""
    main = re.search(r"<main\b.*?</main>", text(response), re.S).group(0)
    found = re.findall(r'<a class="btn[^"]*" href="([^"]*)"[^>]*>(.*?)</a>', main, re.S)
    return {re.sub(r"<[^>]+>|\s+", " ", label).strip(): href for href, label in found}


@pytest.fixture
def subsiding(clock, client_person, therapist):
    return factories.plan_for(client_person, therapist, Phase.SUBSIDING)


@pytest.fixture
def phone(client, client_person, clock):
    """The client's phone, logged in by the emailed link: it stays logged in for months,
    across the time travel."""
    link = emails.client_link(client_person).removeprefix("http://testserver")
    assert client.get(link).status_code == 302
    return client


# --- calm and watch: thanks, and what changed ------------------------------------------------


def test_a_calm_check_in_says_thanks_and_goes_back_to_today(phone, clock, subsiding):
    days_of(phone, clock, [3, 3])
    on_day(clock, 2)
    response = check_in(phone, 2)
    assert response["Location"] == reverse("client-today")
    assert level_of(subsiding) == CALM
    today = phone.get(response["Location"])
    assert messages_of(today) == ["Thanks, your check-in is saved."]


def test_a_check_in_that_moves_the_phase_says_how_often_the_routine_comes_now(phone, clock, flare):
    days_of(phone, clock, [6, 4])
    on_day(clock, 2)
    response = check_in(phone, 3)
    assert response["Location"] == reverse("client-today")
    flare.refresh_from_db()
    assert flare.phase == Phase.SUBSIDING
    (message,) = messages_of(phone.get(reverse("client-today")))
    assert message.startswith("Thanks, your check-in is saved. Your plan has moved to Subsiding")
    assert "once a day" in message


def test_a_watch_level_check_in_is_thanked_like_a_calm_one(phone, clock, subsiding):
    # Six weeks on and still settling: the therapist's digest mentions it, the client
    # just hears thanks.
    days_of(phone, clock, [3, 2, 2])
    on_day(clock, 43)
    response = check_in(phone, 2)
    assert level_of(subsiding) == WATCH
    assert response["Location"] == reverse("client-today")
    assert messages_of(phone.get(reverse("client-today"))) == ["Thanks, your check-in is saved."]


# --- soon: a hard day, a page of its own ----------------------------------------------------


def test_a_jump_of_2_over_the_last_3_days_shows_the_hard_day_page(phone, clock, subsiding):
    days_of(phone, clock, [3, 3, 3])
    on_day(clock, 3)
    response = check_in(phone, 5, compared="worse")
    assert level_of(subsiding) == SOON
    assert response.status_code == 302
    assert response["Location"].startswith(SAVED)
    page = phone.get(response["Location"])
    assert page.status_code == 200
    body = text(page)
    assert "<h1" in body and "That sounds like a hard day" in body
    assert "Your therapist will see your check-in." in body
    assert "ease off any step that makes your pain worse" in body
    links = buttons(page)
    assert links["Book an earlier visit"] == "https://practice.example/book"
    assert not any(label.startswith("Call") for label in links), "the practice has no phone"
    assert links["Back to Today"] == reverse("client-today")
    # No diagnosis, no emergency wording for a hard day.
    assert "NHS 111" not in body and "has been told today" not in body


@pytest.mark.parametrize(
    ("booking_url", "phone_number", "book", "call"),
    [
        ("https://practice.example/book", "0117 496 0000", True, True),
        ("", "0117 496 0000", False, True),
        ("https://practice.example/book", "", True, False),
        ("", "", False, False),
    ],
)
def test_the_hard_day_page_offers_booking_and_a_call_only_as_the_practice_set_them(
    phone, clock, subsiding, practice, booking_url, phone_number, book, call
):
    practice.booking_url, practice.phone = booking_url, phone_number
    practice.save()
    days_of(phone, clock, [4, 5])
    on_day(clock, 2)
    response = check_in(phone, 7, compared="worse")  # D >= 7: soon
    assert level_of(subsiding) == SOON
    links = buttons(phone.get(response["Location"]))
    assert ("Book an earlier visit" in links) is book
    call_links = {label: href for label, href in links.items() if label.startswith("Call")}
    if call:
        assert call_links == {f"Call {practice.name} 0117 496 0000": "tel:01174960000"}
    else:
        assert call_links == {}


def test_a_step_that_raised_pain_says_it_is_out_of_the_routine_for_now(phone, clock, flare):
    psoas = flare.steps.get(name="Psoas release")
    days_of(phone, clock, [5])
    on_day(clock, 1)
    response = check_in(phone, 5, worse_steps=[str(psoas.id)], worse_by="2")
    assert level_of(flare) == SOON
    body = text(phone.get(response["Location"]))
    assert "We've taken Psoas release out of your routine for now" in body


def test_a_double_tap_on_a_hard_day_saves_one_log_and_shows_the_same_page(phone, clock, subsiding):
    days_of(phone, clock, [3])
    on_day(clock, 1)
    data = answers(7, compared="much_worse")
    first = phone.post(reverse("client-checkin"), data)
    second = phone.post(reverse("client-checkin"), data)
    assert first["Location"] == second["Location"]
    assert first["Location"] == SAVED + data["submission_key"]
    assert SymptomLog.objects.filter(plan=subsiding).count() == 2


def test_the_hard_day_page_is_only_for_the_newest_check_in_of_ones_own_plan(
    phone, clock, subsiding, practice, therapist
):
    days_of(phone, clock, [3, 3, 3])
    on_day(clock, 3)
    hard = check_in(phone, 7)["Location"]
    assert phone.get(hard).status_code == 200
    # Someone else's check-in key, a made-up key, garbage: Today.
    other = factories.ClientFactory(practice=practice)
    other_plan = factories.plan_for(other, therapist, Phase.FLARE)
    key = uuid.uuid4()
    SymptomLog.objects.create(
        plan=other_plan, at=REMINDER_NOW, day=REMINDER_NOW.date(), submission_key=key
    )
    for saved in (str(key), str(uuid.uuid4()), "not-a-key"):
        response = phone.get(SAVED + saved)
        assert response["Location"] == reverse("client-today"), saved
    # A calmer check-in since: the old page no longer applies.
    on_day(clock, 4)
    check_in(phone, 2)
    assert phone.get(hard)["Location"] == reverse("client-today")


# --- today: the same page, stronger words ---------------------------------------------------


def test_worst_pain_9_says_the_therapist_has_been_told_today(phone, clock, subsiding, practice):
    practice.phone = "0117 496 0000"
    practice.save()
    days_of(phone, clock, [5, 6])
    on_day(clock, 2)
    response = check_in(phone, 9, compared="much_worse")
    assert level_of(subsiding) == TODAY
    page = phone.get(response["Location"])
    body = text(page)
    assert "Your therapist has been told today and will be in touch." in body
    assert "Stop any step that makes your pain worse" in body
    # What to do if it gets worse: NHS 111 (a 999 practice) and the emergency number.
    assert "If it gets worse" in body
    assert "call NHS 111 for advice" in body
    assert 'href="tel:999"' in page.content.decode()
    links = buttons(page)
    assert "Book an earlier visit" in links
    assert links[f"Call {practice.name} 0117 496 0000"] == "tel:01174960000"
    assert "Back to Today" in links


def test_outside_the_uk_the_today_page_names_the_practices_own_number(
    phone, clock, subsiding, practice
):
    practice.emergency_number = "911"
    practice.save()
    days_of(phone, clock, [6])
    on_day(clock, 1)
    body = text(phone.get(check_in(phone, 10)["Location"]))
    assert "NHS 111" not in body
    assert 'href="tel:911"' in body


# --- the re-ask: both legs and woken by pain ----------------------------------------------


def test_both_legs_asks_about_weak_legs_before_saving_and_a_no_saves_the_log(
    phone, clock, subsiding
):
    days_of(phone, clock, [4, 4])
    on_day(clock, 2)
    first = check_in(phone, 5, legs="both", note="Long drive")
    # Without JavaScript: a second step with that one question, nothing saved yet.
    assert first.status_code == 200
    assert "One more question" in text(first)
    assert visible_questions(first) == ["reask_legs_weak"]
    assert "Are your legs weak or numb" in text(first)
    assert SymptomLog.objects.filter(plan=subsiding).count() == 2
    carried = hidden_fields(first)
    assert carried["reask_asked"] == ["legs_weak"]
    assert carried["legs"] == ["both"] and carried["note"] == ["Long drive"]
    # The client answers No: the log is saved with their answers, no warning sign.
    response = phone.post(reverse("client-checkin"), {**carried, "reask_legs_weak": "no"})
    log = SymptomLog.objects.filter(plan=subsiding).latest("at")
    assert (log.legs, log.worst_pain, log.note, log.safety) == ("both", 5, "Long drive", "none")
    # Both legs is "today" for the therapist; the client gets the stronger page.
    assert level_of(subsiding) == TODAY
    assert response["Location"] == SAVED + carried["submission_key"][0]
    assert "Your therapist has been told today" in text(phone.get(response["Location"]))


def test_both_legs_and_yes_to_weak_legs_goes_the_emergency_way(phone, clock, subsiding, practice):
    practice.phone = "0117 496 0000"
    practice.save()
    days_of(phone, clock, [4])
    on_day(clock, 1)
    carried = hidden_fields(check_in(phone, 5, legs="both"))
    response = phone.post(reverse("client-checkin"), {**carried, "reask_legs_weak": "yes"})
    assert response["Location"] == reverse("client-safety")
    log = SymptomLog.objects.filter(plan=subsiding).latest("at")
    assert (log.safety, log.safety_signs) == ("emergency", ["legs_weak"])
    assert log.worst_pain == 5, "the answers already given are kept for the therapist"
    subsiding.refresh_from_db()
    assert subsiding.phase == Phase.HOLD
    assert level_of(subsiding) == URGENT
    assert Alert.objects.filter(plan=subsiding, kind="safety_emergency").exists()
    screen = phone.get(response["Location"])
    body = text(screen)
    assert "Get medical help now" in body
    assert 'href="tel:999"' in screen.content.decode()
    assert "Weakness, numbness or pain in both legs" in body
    assert 'href="tel:01174960000"' in screen.content.decode(), "the practice's number"


def test_woken_by_pain_asks_about_night_pain_and_a_yes_shows_the_doctor_screen(
    phone, clock, subsiding, practice
):
    practice.phone = "0117 496 0000"
    practice.save()
    days_of(phone, clock, [4])
    on_day(clock, 1)
    first = check_in(phone, 5, sleep="woken")
    assert visible_questions(first) == ["reask_night_pain"]
    assert "Is your pain worse at night" in text(first)
    response = phone.post(
        reverse("client-checkin"), {**hidden_fields(first), "reask_night_pain": "yes"}
    )
    assert response["Location"] == reverse("client-safety")
    log = SymptomLog.objects.filter(plan=subsiding).latest("at")
    assert (log.safety, log.safety_signs) == ("doctor", ["night_pain"])
    assert level_of(subsiding) == TODAY
    screen = phone.get(response["Location"])
    body = text(screen)
    assert "Please contact a doctor today" in body
    assert "Pain that is worse at night" in body
    assert buttons(screen)[f"Call {practice.name} · 0117 496 0000"] == "tel:01174960000"


def test_woken_by_pain_and_no_to_night_pain_is_a_hard_day(phone, clock, subsiding):
    days_of(phone, clock, [4])
    on_day(clock, 1)
    first = check_in(phone, 5, sleep="woken")
    response = phone.post(
        reverse("client-checkin"), {**hidden_fields(first), "reask_night_pain": "no"}
    )
    log = SymptomLog.objects.filter(plan=subsiding).latest("at")
    assert (log.sleep, log.safety, log.safety_signs) == ("woken", "none", [])
    assert level_of(subsiding) == SOON
    assert "That sounds like a hard day" in text(phone.get(response["Location"]))


def test_both_re_asks_come_together_in_one_step(phone, clock, subsiding):
    on_day(clock, 0)
    first = check_in(phone, 5, legs="both", sleep="woken")
    assert visible_questions(first) == ["reask_legs_weak", "reask_night_pain"]
    assert hidden_fields(first)["reask_asked"] == ["legs_weak,night_pain"]
    response = phone.post(
        reverse("client-checkin"),
        {**hidden_fields(first), "reask_legs_weak": "no", "reask_night_pain": "yes"},
    )
    assert response["Location"] == reverse("client-safety")
    assert SymptomLog.objects.get(plan=subsiding).safety_signs == ["night_pain"]


def test_the_re_ask_step_offers_a_call_to_the_practice_for_a_client_who_is_not_sure(
    phone, clock, subsiding, practice
):
    practice.phone = "0117 496 0000"
    practice.save()
    on_day(clock, 0)
    step = check_in(phone, 5, sleep="woken")
    assert buttons(step) == {f"Call {practice.name} · 0117 496 0000": "tel:01174960000"}
    practice.phone = ""
    practice.save()
    assert buttons(check_in(phone, 5, sleep="woken")) == {}


def test_a_re_ask_left_unanswered_is_asked_again_and_nothing_is_saved(phone, clock, subsiding):
    on_day(clock, 0)
    carried = hidden_fields(check_in(phone, 5, legs="both"))
    again = phone.post(reverse("client-checkin"), carried)
    assert again.status_code == 200
    assert visible_questions(again) == ["reask_legs_weak"]
    assert "Please answer this one before we save" in text(again)
    assert not SymptomLog.objects.filter(plan=subsiding).exists()


def test_the_re_ask_answered_in_place_saves_at_once(phone, clock, subsiding):
    """With JavaScript the question appears under the answer and is posted with the form."""
    on_day(clock, 0)
    response = check_in(phone, 4, legs="both", reask_asked="legs_weak", reask_legs_weak="no")
    assert response.status_code == 302
    assert SymptomLog.objects.get(plan=subsiding).legs == "both"


def test_the_check_in_page_carries_the_re_asks_hidden_in_place(phone, subsiding):
    page = phone.get(reverse("client-checkin"))
    body = page.content.decode()
    for name in ("reask_legs_weak", "reask_night_pain"):
        assert re.search(rf'<fieldset[^>]*id="group-{name}"[^>]*\shidden>', body), name
    assert 'src="/static/js/checkin.js"' in body
    order = [body.index('id="group-legs"'), body.index('id="group-reask_legs_weak"')]
    order += [body.index('id="group-sleep"'), body.index('id="group-reask_night_pain"')]
    assert order == sorted(order), "each question sits under the answer that asks it"


def test_a_re_ask_answer_for_an_answer_since_changed_counts_for_nothing(phone, clock, subsiding):
    on_day(clock, 0)
    response = check_in(phone, 4, legs="one", reask_asked="legs_weak", reask_legs_weak="yes")
    assert response["Location"] == reverse("client-today")
    log = SymptomLog.objects.get(plan=subsiding)
    assert (log.legs, log.safety, log.safety_signs) == ("one", "none", [])


# --- "Yes" with no sign ticked -------------------------------------------------------------


def test_yes_with_no_sign_shows_the_list_with_a_kind_prompt_and_the_practices_number(
    phone, clock, subsiding, practice
):
    practice.phone = "0117 496 0000"
    practice.save()
    response = phone.post(
        reverse("client-checkin"), {"warning": "yes", "submission_key": str(uuid.uuid4())}
    )
    assert response.status_code == 200
    body = text(response)
    page = response.content.decode()
    assert '<details class="signs-list" id="signs" open>' in page
    assert "Which sign is it?" in body
    assert "None of these after all" in body
    assert "Please check the answers marked below." not in body, "a prompt, not an error"
    assert 'href="tel:01174960000"' in page
    assert 'href="tel:999"' in page
    assert not SymptomLog.objects.exists()


def test_none_of_these_after_all_carries_on_with_the_check_in(phone, clock, subsiding):
    on_day(clock, 0)
    response = check_in(phone, 4, warning="yes", signs_none="on")
    assert response["Location"] == reverse("client-today")
    log = SymptomLog.objects.get(plan=subsiding)
    assert (log.safety, log.worst_pain) == ("none", 4)
    subsiding.refresh_from_db()
    assert subsiding.phase == Phase.SUBSIDING


def test_a_ticked_sign_still_wins_over_none_of_these(phone, clock, subsiding):
    on_day(clock, 0)
    response = check_in(phone, 4, warning="yes", signs_none="on", safety_signs=["fever"])
    assert response["Location"] == reverse("client-safety")
    assert SymptomLog.objects.get(plan=subsiding).safety_signs == ["fever"]


def test_none_of_these_still_needs_the_pain_answers(phone, clock, subsiding):
    response = phone.post(
        reverse("client-checkin"),
        {"warning": "yes", "signs_none": "on", "submission_key": str(uuid.uuid4())},
    )
    assert response.status_code == 200
    assert text(response).count("Please choose one.") == 5
    assert not SymptomLog.objects.exists()
