"""Today as a guided routine, request by request: the slot due now first with its
progress, ticks answered as JSON for the page's script (and as a redirect without it),
the step-by-step routine without script, and sets / reps / hold from the library to the
client's phone."""

from __future__ import annotations

import html
import json
import re
import threading
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test import Client as Browser
from django.urls import reverse

from aftercare import services
from aftercare.models import Completion, Exercise, PlanStep
from aftercare.rules.phases import Phase
from tests import factories

TODAY = reverse("client-today")
DONE = reverse("client-step-done")
JSON = {"HTTP_ACCEPT": "application/json"}


def text(response) -> str:
    return html.unescape(response.content.decode())


def step_named(plan, name: str) -> PlanStep:
    return plan.steps.get(name=name)


def done_data(step, day, slot="morning", action="done", **extra) -> dict[str, str]:
    return {"step": str(step.pk), "day": day.isoformat(), "slot": slot, "action": action, **extra}


def at_london(hour: int, minute: int = 0):
    """25 Nov 2026 (London is on UTC in winter) at this time of day."""
    return time_machine.travel(datetime(2026, 11, 25, hour, minute, tzinfo=UTC), tick=False)


def section(page: str, css_class: str) -> str:
    found = re.search(rf'<section class="slot {css_class}"(.*?)</section>', page, re.S)
    assert found, f"no {css_class} section"
    return found.group(1)


def tick_all(plan, day, slot, names):
    for name in names:
        services.step_complete(step=step_named(plan, name), day=day, slot=slot)


MORNING = ["Heat first", "Passive SI reset", "Lumbar decompression", "Psoas release"]


# --- Today: the slot due now first ---------------------------------------------------------


def test_the_morning_comes_first_with_its_progress_and_one_big_start(phone, flare):
    page = text(phone.get(TODAY))
    now = section(page, "slot-now")
    assert "Morning routine" in now
    assert "4 steps, about 33 minutes" in now
    assert re.search(r'<progress class="routine-bar" max="4" value="0"', now)
    assert 'aria-valuetext="4 steps, about 33 minutes"' in now
    assert f'href="{TODAY}?routine=morning&step=1"' in page
    # One primary action on the screen: Start routine.
    assert page.count("btn btn-primary") == 1
    assert re.search(r'btn btn-primary big wide"[^>]*>Start routine<', page)
    # The evening: its head, then its steps collapsed.
    later = section(page, "slot-later")
    assert "Evening routine" in later and "2 steps, about 23 minutes" in later
    assert "<details" in later


def test_flare_and_symptoms_gone_come_after_the_routine_and_the_check_in(phone, flare):
    page = text(phone.get(TODAY))
    routine_at = page.index('class="slot slot-now"')
    checkin_at = page.index("How's your back today?")
    flare_at = page.index("?flare=1")
    gone_at = page.index("?gone=1")
    assert routine_at < checkin_at < flare_at < gone_at
    assert "I'm having a flare" in page and "My symptoms are gone" in page


def test_the_evening_comes_first_in_the_evening(phone, client_person, therapist):
    with at_london(20):
        factories.plan_for(client_person, therapist, Phase.FLARE)
        page = text(phone.get(TODAY))
    assert "Evening routine" in section(page, "slot-now")
    assert "Morning routine" in section(page, "slot-later")


def test_the_evening_comes_first_once_the_morning_is_done(phone, client_person, therapist):
    with at_london(9):
        plan = factories.plan_for(client_person, therapist, Phase.FLARE)
        tick_all(plan, client_person.local_today(), "morning", MORNING)
        page = text(phone.get(TODAY))
    assert "Evening routine" in section(page, "slot-now")
    later = section(page, "slot-later")
    assert "Morning routine" in later and "All done" in later
    # The evening isn't due till 19:00: the big button is the check-in now.
    assert re.search(r'btn btn-primary big wide"[^>]*>Done for now — check in<', page)
    assert page.count("btn btn-primary") == 1


def test_all_done_makes_the_check_in_the_one_big_button(phone, client_person, therapist):
    with at_london(20):
        plan = factories.plan_for(client_person, therapist, Phase.FLARE)
        day = client_person.local_today()
        tick_all(plan, day, "morning", MORNING)
        tick_all(plan, day, "evening", ["Heat first", "Passive SI reset"])
        page = text(phone.get(TODAY))
    assert re.search(r'btn btn-primary big wide"[^>]*>All done today — check in<', page)
    assert page.count("btn btn-primary") == 1
    assert "Start routine" not in page


def test_skipped_heat_still_counts_as_all_done(phone, client_person, therapist):
    with at_london(20):
        plan = factories.plan_for(client_person, therapist, Phase.FLARE)
        day = client_person.local_today()
        tick_all(plan, day, "morning", MORNING[1:])
        tick_all(plan, day, "evening", ["Passive SI reset"])
        page = text(phone.get(TODAY))
    assert "All done" in section(page, "slot-now")
    assert "All done" in section(page, "slot-later")
    assert "All done today — check in" in page


def test_a_done_step_is_one_line_with_its_time_and_an_undo(phone, flare, client_person):
    si_reset = step_named(flare, "Passive SI reset")
    services.step_complete(step=si_reset, day=client_person.local_today(), slot="morning")
    page = text(phone.get(TODAY))
    card = page[page.index(f'id="step-morning-{si_reset.pk}"') :]
    card = card[: card.index("</article>")]
    assert "✓</span> Passive SI reset, done 06:00" in card
    assert ">Undo</button>" in card
    assert "Watch:" not in card and "How to do it" not in card
    assert "1 of 4 done, about 30 minutes left" in page
    assert "Continue routine" in page
    # Continue opens on the first step not done yet: Heat (position 1).
    assert "?routine=morning&step=1" in page


# --- Ticking: JSON for the script, a redirect without it ---------------------------------


def test_a_tick_asked_as_json_answers_the_card_and_the_progress(phone, flare, client_person):
    si_reset = step_named(flare, "Passive SI reset")
    day = client_person.local_today()
    response = phone.post(DONE, done_data(si_reset, day), **JSON)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    assert answer["done"] is True
    assert answer["slot"] == "morning"
    assert answer["said"] == (
        "“Passive SI reset” done. Morning routine: 1 of 4 done, about 30 minutes left."
    )
    assert "Passive SI reset, done 06:00" in html.unescape(answer["card"])
    assert 'data-slot-head="morning"' in answer["head"]
    assert 'value="1"' in answer["head"] and "Continue routine" in answer["head"]
    assert "data-checkin-card" in answer["checkin"]
    assert Completion.objects.filter(step=si_reset, day=day, slot="morning").count() == 1


def test_a_json_double_tap_keeps_one_tick_and_answers_both(phone, flare, client_person):
    si_reset = step_named(flare, "Passive SI reset")
    data = done_data(si_reset, client_person.local_today())
    first = phone.post(DONE, data, **JSON)
    second = phone.post(DONE, data, **JSON)
    assert first.status_code == second.status_code == 200
    assert first.json()["said"] == second.json()["said"]
    assert Completion.objects.filter(step=si_reset).count() == 1


def test_a_json_undo_gives_the_full_card_back(phone, flare, client_person):
    si_reset = step_named(flare, "Passive SI reset")
    day = client_person.local_today()
    services.step_complete(step=si_reset, day=day, slot="morning")
    answer = phone.post(DONE, done_data(si_reset, day, action="undo"), **JSON).json()
    assert answer["done"] is False
    assert "Mark “Passive SI reset” done" in html.unescape(answer["card"])
    assert answer["said"].startswith("“Passive SI reset” is no longer marked done.")
    assert not Completion.objects.exists()


def test_the_last_tick_makes_the_check_in_the_big_button(phone, client_person, therapist):
    with at_london(20):
        plan = factories.plan_for(client_person, therapist, Phase.FLARE)
        day = client_person.local_today()
        tick_all(plan, day, "morning", MORNING)
        tick_all(plan, day, "evening", ["Heat first"])
        si_reset = step_named(plan, "Passive SI reset")
        answer = phone.post(DONE, done_data(si_reset, day, "evening"), **JSON).json()
    assert answer["said"].endswith("Evening routine: All done.")
    assert "All done today — check in" in answer["checkin"]
    assert "btn-primary" not in answer["head"]


def test_a_json_tick_of_a_step_not_due_says_why_and_ticks_nothing(phone, client_person, therapist):
    plan = factories.plan_for(client_person, therapist, Phase.SUBSIDING)
    psoas = step_named(plan, "Psoas release")
    response = phone.post(DONE, done_data(psoas, client_person.local_today(), "evening"), **JSON)
    assert response.status_code == 400
    assert response.json() == {
        "error": "That step couldn't be updated. Please try again from this page."
    }
    assert not Completion.objects.exists()


def test_a_json_tick_of_yesterday_is_saved_without_a_card(phone, flare, client_person):
    from datetime import timedelta

    si_reset = step_named(flare, "Passive SI reset")
    yesterday = client_person.local_today() - timedelta(days=1)
    answer = phone.post(DONE, done_data(si_reset, yesterday), **JSON).json()
    assert answer["done"] is None and "card" not in answer
    assert Completion.objects.filter(step=si_reset, day=yesterday).exists()


@pytest.mark.parametrize("accept", [{}, JSON])
def test_another_clients_step_is_404_and_never_ticked(
    phone, client_person, plan, practice, therapist, accept
):
    other = factories.ClientFactory(practice=practice)
    theirs = step_named(factories.plan_for(other, therapist), "Passive SI reset")
    services.step_complete(step=theirs, day=other.local_today(), slot="morning")
    for action in ("done", "undo"):
        data = done_data(theirs, client_person.local_today(), action=action)
        assert phone.post(DONE, data, **accept).status_code == 404
    assert Completion.objects.filter(step=theirs).count() == 1
    assert not Completion.objects.exclude(step=theirs).exists()


def test_without_script_a_tick_still_redirects_to_the_card(phone, flare, client_person):
    si_reset = step_named(flare, "Passive SI reset")
    response = phone.post(DONE, done_data(si_reset, client_person.local_today()))
    assert response.status_code == 302
    assert response["Location"] == f"{TODAY}#step-morning-{si_reset.pk}"


def test_done_next_without_script_ticks_and_opens_the_next_step(phone, flare, client_person):
    heat = step_named(flare, "Heat first")
    response = phone.post(DONE, done_data(heat, client_person.local_today(), then="2"))
    assert response.status_code == 302
    assert response["Location"] == f"{TODAY}?routine=morning&step=2"
    assert Completion.objects.filter(step=heat).count() == 1
    page = text(phone.get(response["Location"]))
    assert "<h1>Passive SI reset</h1>" in page
    assert "step 2 of 4" in page


@pytest.mark.parametrize("then", ["abc", "0", "-1", "101", ""])
def test_a_bad_next_step_falls_back_to_today(phone, flare, client_person, then):
    heat = step_named(flare, "Heat first")
    response = phone.post(DONE, done_data(heat, client_person.local_today(), then=then))
    assert response["Location"] == f"{TODAY}#step-morning-{heat.pk}"
    assert Completion.objects.filter(step=heat).count() == 1


# --- The guided routine without script ------------------------------------------------------


def test_the_guided_routine_opens_with_heat_and_its_20_minute_timer(phone, flare):
    page = text(phone.get(f"{TODAY}?routine=morning&step=1"))
    assert "<h1>Heat first</h1>" in page
    assert "Morning routine: step 1 of 4" in page
    assert 'data-ms="1200000"' in page
    assert "Set a timer for 20 minutes" in page  # what to do without script
    assert re.search(r'name="then" value="2"', page)
    assert ">Done, next</button>" in page
    assert "Skip heat" in page


def test_the_timer_is_shortened_by_the_test_setting(phone, flare, settings):
    settings.ROUTINE_TIMER_SCALE = 0.001
    page = text(phone.get(f"{TODAY}?routine=morning&step=1"))
    assert 'data-ms="1200"' in page


def test_a_step_with_a_hold_times_each_hold(phone, flare):
    si_reset = step_named(flare, "Passive SI reset")
    si_reset.sets, si_reset.reps, si_reset.hold_seconds = 2, 10, 5
    si_reset.save()
    page = text(phone.get(f"{TODAY}?routine=morning&step=2"))
    assert "2 sets of 10, hold 5 seconds" in page
    assert 'data-ms="5000"' in page
    assert 'data-holds="10"' in page


def test_a_step_without_hold_has_no_timer(phone, flare):
    page = text(phone.get(f"{TODAY}?routine=morning&step=3"))
    assert "<h1>Lumbar decompression</h1>" in page
    assert "data-timer" not in page


def test_a_done_step_in_the_guided_routine_offers_next(phone, flare, client_person):
    heat = step_named(flare, "Heat first")
    services.step_complete(step=heat, day=client_person.local_today(), slot="morning")
    page = text(phone.get(f"{TODAY}?routine=morning&step=1"))
    assert "Done at 06:00" in page
    assert "Done, next" not in page
    assert f'href="{TODAY}?routine=morning&step=2"' in page


def test_the_routine_ends_on_a_finish_screen_that_leads_to_the_check_in(
    phone, flare, client_person
):
    tick_all(flare, client_person.local_today(), "morning", MORNING)
    page = text(phone.get(f"{TODAY}?routine=morning&step=5"))
    assert "<h1>Morning routine done</h1>" in page
    assert f'href="{reverse("client-checkin")}"' in page


def test_a_finish_with_steps_skipped_says_how_many_were_done(phone, flare, client_person):
    tick_all(flare, client_person.local_today(), "morning", MORNING[:2])
    page = text(phone.get(f"{TODAY}?routine=morning&step=5"))
    assert "End of the morning routine" in page
    assert "2 of 4 done" in page


@pytest.mark.parametrize(
    "query",
    [
        "routine=morning&step=6",
        "routine=morning&step=0",
        "routine=morning&step=abc",
        "routine=morning",
        "routine=noon&step=1",
        "routine=&step=1",
        "routine=evening&step=9999999999999999999999",
    ],
)
def test_a_guided_address_that_is_not_a_step_goes_back_to_today(phone, flare, query):
    response = phone.get(f"{TODAY}?{query}")
    assert response.status_code == 302
    assert response["Location"] == TODAY


def test_the_evening_has_no_step_while_subsiding(phone, client_person, therapist):
    factories.plan_for(client_person, therapist, Phase.SUBSIDING)
    assert phone.get(f"{TODAY}?routine=evening&step=1")["Location"] == TODAY


def test_on_hold_the_guided_routine_shows_the_paused_notice(phone, flare, therapist):
    services.phase_set(plan=flare, phase=Phase.HOLD, pinned=True, by=therapist.user)
    response = phone.get(f"{TODAY}?routine=morning&step=1")
    assert response.status_code == 200
    page = text(response)
    assert "Your routine is paused" in page
    assert "Done, next" not in page


# --- Sets, reps and hold: the library, the client's copy, every place the step shows ---------


def exercise_data(**overrides) -> dict[str, str]:
    data = {
        "name": "Bridge",
        "instructions": "Lift your hips, slowly.",
        "duration_minutes": "4",
        "sets": "2",
        "reps": "10",
        "hold_seconds": "5",
    }
    data.update(overrides)
    return data


def test_the_library_saves_sets_reps_and_hold(therapist_client, practice):
    exercise = Exercise.objects.get(practice=practice, name="Psoas release")
    url = reverse("therapist-exercise-edit", args=[exercise.pk])
    page = text(therapist_client.get(url))
    assert 'name="hold_seconds"' in page and "Hold (seconds)" in page
    response = therapist_client.post(url, exercise_data(name="Psoas release"))
    assert response.status_code == 302
    exercise.refresh_from_db()
    assert (exercise.sets, exercise.reps, exercise.hold_seconds) == (2, 10, 5)
    assert "2 sets of 10, hold 5 seconds" in text(
        therapist_client.get(reverse("therapist-exercises"))
    )


def test_empty_sets_reps_and_hold_are_fine(therapist_client, practice):
    exercise = Exercise.objects.get(practice=practice, name="Psoas release")
    url = reverse("therapist-exercise-edit", args=[exercise.pk])
    response = therapist_client.post(url, exercise_data(sets="", reps="", hold_seconds=""))
    assert response.status_code == 302
    exercise.refresh_from_db()
    assert (exercise.sets, exercise.reps, exercise.hold_seconds) == (None, None, None)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sets", "0", "Sets: at least 1, or leave it empty."),
        ("sets", "11", "Sets: at most 10."),
        ("sets", "-2", "Sets: at least 1, or leave it empty."),
        ("sets", "two", "Sets: a whole number, e.g. 2."),
        ("reps", "0", "Reps: at least 1, or leave it empty."),
        ("reps", "101", "Reps: at most 100."),
        ("reps", "1.5", "Reps: a whole number, e.g. 10."),
        ("hold_seconds", "0", "Hold: at least 1 second, or leave it empty."),
        ("hold_seconds", "601", "Hold: at most 600 seconds (10 minutes)."),
        ("hold_seconds", "99999999999", "Hold: at most 600 seconds (10 minutes)."),
        ("hold_seconds", "5s", "Hold: a whole number of seconds, e.g. 30."),
    ],
)
def test_the_library_refuses_an_out_of_range_dose_with_a_clear_message(
    therapist_client, practice, field, value, message
):
    exercise = Exercise.objects.get(practice=practice, name="Psoas release")
    url = reverse("therapist-exercise-edit", args=[exercise.pk])
    response = therapist_client.post(url, exercise_data(name="Changed", **{field: value}))
    assert response.status_code == 200
    assert message in text(response)
    exercise.refresh_from_db()
    assert exercise.name == "Psoas release"
    assert getattr(exercise, field) is None


def test_a_plan_assigned_copies_the_dose_into_the_clients_steps(practice, client_person, therapist):
    Exercise.objects.filter(practice=practice, name="Psoas release").update(
        sets=1, reps=3, hold_seconds=60
    )
    plan = factories.plan_for(client_person, therapist)
    step = step_named(plan, "Psoas release")
    assert (step.sets, step.reps, step.hold_seconds) == (1, 3, 60)
    assert step.dosage == "1 set of 3, hold 1 minute"
    assert step_named(plan, "Heat first").dosage == ""


def test_a_practice_installing_the_library_gets_the_built_in_doses(db):
    builtin = Exercise.objects.filter(practice=None, name="Psoas release")
    builtin.update(reps=4)
    practice = factories.PracticeFactory()
    services.library_install(practice=practice)
    assert Exercise.objects.get(practice=practice, name="Psoas release").reps == 4


def plan_edit_data(plan, **changes) -> dict[str, str]:
    steps = list(PlanStep.objects.filter(plan=plan).order_by("order", "id"))
    data = {
        "form-TOTAL_FORMS": str(len(steps)),
        "form-INITIAL_FORMS": str(len(steps)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for index, step in enumerate(steps):
        fields = {
            "id": str(step.pk),
            "personal_note": step.personal_note,
            "flare": step.flare,
            "subsiding": step.subsiding,
            "maintenance": step.maintenance,
            "video_url": step.video_url,
            **changes.get(step.name, {}),
        }
        data.update({f"form-{index}-{key}": value for key, value in fields.items()})
    return data


@pytest.fixture
def desk(therapist):
    """The therapist on their own computer (the `client` fixture is the client's phone)."""
    browser = Browser()
    browser.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    return browser


def test_adjust_steps_sets_one_clients_dose_and_their_pages_show_it(
    desk, phone, flare, client_person
):
    url = reverse("therapist-plan-edit", args=[client_person.public_id])
    change = {"Passive SI reset": {"sets": "2", "reps": "10", "hold_seconds": "5"}}
    response = desk.post(url, plan_edit_data(flare, **change))
    assert response.status_code == 302
    step = step_named(flare, "Passive SI reset")
    assert (step.sets, step.reps, step.hold_seconds) == (2, 10, 5)
    therapist_page = text(desk.get(reverse("therapist-client", args=[client_person.public_id])))
    assert "2 sets of 10, hold 5 seconds" in therapist_page
    for page in (TODAY, f"{TODAY}?routine=morning&step=2", reverse("client-plan")):
        assert "2 sets of 10, hold 5 seconds" in text(phone.get(page)), page


def test_adjust_steps_refuses_a_bad_dose_and_changes_nothing(
    therapist_client, flare, client_person
):
    url = reverse("therapist-plan-edit", args=[client_person.public_id])
    change = {"Passive SI reset": {"sets": "2", "hold_seconds": "0"}}
    response = therapist_client.post(url, plan_edit_data(flare, **change))
    assert response.status_code == 200
    assert "Hold: at least 1 second, or leave it empty." in text(response)
    step = step_named(flare, "Passive SI reset")
    assert (step.sets, step.hold_seconds) == (None, None)


def test_the_export_carries_the_dose(therapist_client, flare, client_person):
    step = step_named(flare, "Passive SI reset")
    step.reps = 8
    step.save()
    response = therapist_client.post(
        reverse("therapist-client-export", args=[client_person.public_id]), {"format": "json"}
    )
    body = b"".join(response.streaming_content) if response.streaming else response.content
    exported = json.loads(body)
    (row,) = [s for s in exported["plan_steps"] if s["id"] == step.pk]
    assert row["reps"] == 8 and row["sets"] is None


def test_a_rest_day_makes_the_check_in_the_one_big_button(phone, client_person, therapist):
    # Maintenance with the default days: nothing is due on a Tuesday (17 Nov 2026).
    with time_machine.travel(datetime(2026, 11, 17, 10, 0, tzinfo=UTC), tick=False):
        factories.plan_for(client_person, therapist, Phase.MAINTENANCE)
        page = text(phone.get(TODAY))
    assert "Nothing due today" in page
    assert re.search(r'btn btn-primary big wide"[^>]*>Check in: how\'s your back\?<', page)
    assert page.count("btn btn-primary") == 1


def test_a_json_tick_without_the_csrf_token_is_refused(client_person, flare):
    browser = Browser(enforce_csrf_checks=True)
    browser.force_login(client_person.user, backend="sesame.backends.ModelBackend")
    si_reset = step_named(flare, "Passive SI reset")
    response = browser.post(DONE, done_data(si_reset, client_person.local_today()), **JSON)
    assert response.status_code == 403
    assert not Completion.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_five_json_ticks_at_once_give_one_tick_and_no_500(require_service, client_person, flare):
    """A phone that sends the same tick several times at once (a double tap, a retry)."""
    require_service("postgres")
    si_reset = step_named(flare, "Passive SI reset")
    data = done_data(si_reset, client_person.local_today())
    browsers = []
    for _ in range(5):
        browser = Browser()
        browser.force_login(client_person.user, backend="sesame.backends.ModelBackend")
        browsers.append(browser)
    start = threading.Barrier(len(browsers))
    results: list[object] = [None] * len(browsers)

    def post(index: int) -> None:
        try:
            start.wait()
            results[index] = browsers[index].post(DONE, data, **JSON)
        except Exception as error:  # a 500: the test client re-raises it
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [getattr(r, "status_code", r) for r in results] == [200] * 5
    assert {r.json()["done"] for r in results} == {True}
    assert Completion.objects.filter(step=si_reset).count() == 1
