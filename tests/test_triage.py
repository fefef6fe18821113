"""Triage, request by request: histories built the way a client builds them (the check-in
form, posted day after day from their phone), then what the therapist sees: the dashboard's
order and words, the email or its absence, "Seen", resume, and the tick's re-check."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aftercare import checkins, triage
from aftercare.models import Plan
from aftercare.outbox import emails
from aftercare.rules.attention import Level
from aftercare.rules.phases import Phase
from clients.models import Client
from tests import factories
from tests.conftest import REMINDER_NOW
from tests.test_dashboard import names_in_order, row_for, rows_of

EVERYONE, NEEDS_ME = {"show": "all"}, {"show": "needs"}
DASHBOARD = reverse("therapist-dashboard")


answers = factories.checkin_answers


def warning_yes(*signs: str) -> dict:
    return {"warning": "yes", "safety_signs": list(signs), "submission_key": str(uuid.uuid4())}


def phone_of(client: Client) -> Browser:
    """The client's phone, logged in by the emailed link: it stays logged in for months."""
    browser = Browser()
    link = emails.client_link(client).removeprefix("http://testserver")
    assert browser.get(link).status_code == 302
    return browser


def desk_of(therapist) -> Browser:
    browser = Browser()
    browser.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    return browser


def check_in(phone: Browser, worst: int = 3, **changes):
    response = phone.post(reverse("client-checkin"), answers(worst, **changes))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not response["Location"].startswith("/login"), "the phone was logged out"
    return response


def on_day(clock, n: float, hour: float = 9) -> None:
    """Day n at `hour` UTC (London: the same wall clock in November)."""
    clock.move_to(REMINDER_NOW + timedelta(days=n, hours=hour - 6), tick=False)


def level_of(plan: Plan) -> Level:
    return Level(Plan.objects.get(pk=plan.pk).attention_level)


def alert_subjects(therapist) -> list[str]:
    return [m.subject for m in mail.outbox if m.to == [therapist.user.email]]


@pytest.fixture
def desk(therapist):
    """The therapist at their desk, logged in afresh whenever they look (their session
    lasts 12 hours; these tests travel days)."""

    class Desk:
        def __getattr__(self, name):
            return getattr(desk_of(therapist), name)

    return Desk()


@pytest.fixture
def person(clock, practice, therapist):
    """A client of the practice with a plan, and their phone."""

    def make(name: str, phase: Phase = Phase.SUBSIDING) -> tuple[Plan, Browser]:
        client = factories.ClientFactory(practice=practice, primary_therapist=therapist, name=name)
        return factories.plan_for(client, therapist, phase=phase), phone_of(client)

    return make


# --- the story ----------------------------------------------------------------------


def test_a_flare_at_pain_10_much_worse_one_leg_and_woken_is_on_top_today_with_one_email(
    clock, person, desk, therapist, django_capture_on_commit_callbacks
):
    calm, calm_phone = person("Aaron Easy")  # first by name, at pain 0
    story, story_phone = person("Zoe Flare", Phase.FLARE)
    on_day(clock, 0)
    check_in(calm_phone, 0)
    check_in(story_phone, 8)
    mail.outbox.clear()
    on_day(clock, 1)
    check_in(calm_phone, 0, compared="better")
    with django_capture_on_commit_callbacks(execute=True):
        # "Woken by pain" asks about night pain first: answered No in place (with JS).
        check_in(
            story_phone,
            10,
            compared="much_worse",
            legs="one",
            sleep="woken",
            reask_asked="night_pain",
            reask_night_pain="no",
        )
    assert level_of(story) is Level.TODAY
    assert level_of(calm) is Level.CALM

    response = desk.get(DASHBOARD, EVERYONE)
    assert names_in_order(response) == ["Zoe Flare", "Aaron Easy"]
    row = row_for(response, "Zoe Flare")
    assert ">Today</span>" in row
    assert "Pain 10 (was 8 on 25 Nov); much worse; woken by pain; new symptoms in one leg" in row
    assert names_in_order(desk.get(DASHBOARD)) == ["Zoe Flare"]  # "Needs me"

    assert alert_subjects(therapist) == ["Urgent: Zoe Flare needs you today"]
    body = mail.outbox[-1].body
    assert "Pain 10" in body and "much worse" in body and "woken by pain" in body
    assert "Only you can resume" not in body
    assert "routine goes on as planned" in body
    assert reverse("therapist-client", args=[story.client.public_id]) in body


def test_soon_is_not_emailed_at_once(clock, person, therapist, django_capture_on_commit_callbacks):
    plan, phone = person("Sam Soon")
    on_day(clock, 0)
    with django_capture_on_commit_callbacks(execute=True):
        check_in(phone, 7, compared="much_worse")
    assert level_of(plan) is Level.SOON
    assert alert_subjects(therapist) == []


# --- Seen -------------------------------------------------------------------------------------


def test_seen_drops_a_soon_row_off_needs_me_until_a_new_check_in_triggers_again(
    clock, person, desk
):
    plan, phone = person("Sam Soon")
    other, other_phone = person("Wes Worse")
    on_day(clock, 0)
    check_in(phone, 7)
    on_day(clock, 0, 10)
    check_in(other_phone, 4, sleep="woken", reask_asked="night_pain", reask_night_pain="no")
    assert names_in_order(desk.get(DASHBOARD, NEEDS_ME)) == ["Wes Worse", "Sam Soon"]

    seen = desk.post(reverse("therapist-seen", args=[plan.client.public_id]))
    assert seen.status_code == 302
    assert names_in_order(desk.get(DASHBOARD, NEEDS_ME)) == ["Wes Worse"]
    assert level_of(plan) is Level.CALM
    everyone = desk.get(DASHBOARD, EVERYONE)
    assert names_in_order(everyone) == ["Wes Worse", "Sam Soon"]
    assert "attention-" not in row_for(everyone, "Sam Soon")

    on_day(clock, 1)
    check_in(phone, 3, compared="better")  # an ordinary day: still off
    assert names_in_order(desk.get(DASHBOARD, NEEDS_ME)) == ["Wes Worse"]
    on_day(clock, 2)
    check_in(phone, 3, compared="much_worse")  # something new
    response = desk.get(DASHBOARD, NEEDS_ME)
    assert names_in_order(response) == ["Sam Soon", "Wes Worse"]  # the newest trigger first
    assert "Much worse" in row_for(response, "Sam Soon")


def test_seen_posted_twice_is_fine_and_a_get_is_refused(clock, person, desk):
    plan, phone = person("Sam Soon")
    on_day(clock, 0)
    check_in(phone, 8)
    url = reverse("therapist-seen", args=[plan.client.public_id])
    assert desk.get(url).status_code == 405
    assert level_of(plan) is Level.SOON
    assert desk.post(url).status_code == 302
    assert desk.post(url).status_code == 302
    assert level_of(plan) is Level.CALM


def test_seen_keeps_an_emergency_hold_on_top_and_resume_drops_it(
    clock, person, desk, django_capture_on_commit_callbacks
):
    plan, phone = person("Zed Emergency")
    calm, calm_phone = person("Amy Fine")
    on_day(clock, 0)
    check_in(calm_phone, 8)  # Soon, and newer than the emergency below
    phone.post(reverse("client-checkin"), warning_yes("chest_pain"))
    on_day(clock, 0, 10)
    check_in(calm_phone, 9)  # Today, newer still
    assert names_in_order(desk.get(DASHBOARD, NEEDS_ME)) == ["Zed Emergency", "Amy Fine"]

    response = desk.post(reverse("therapist-seen", args=[plan.client.public_id]), follow=True)
    assert "stays at the top until you resume" in response.content.decode()
    page = desk.get(DASHBOARD, NEEDS_ME)
    assert names_in_order(page) == ["Zed Emergency", "Amy Fine"]
    assert ">Urgent</span>" in row_for(page, "Zed Emergency")

    with django_capture_on_commit_callbacks(execute=True):
        resumed = desk.post(
            reverse("therapist-resume", args=[plan.client.public_id]), {"phase": "subsiding"}
        )
    assert resumed.status_code == 302
    plan.refresh_from_db()
    assert (plan.phase, plan.attention_level) == (Phase.SUBSIDING, Level.CALM)
    assert names_in_order(desk.get(DASHBOARD, NEEDS_ME)) == ["Amy Fine"]


def test_another_practices_therapist_cannot_see_or_resume(clock, person):
    plan, phone = person("Zed Emergency")
    on_day(clock, 0)
    phone.post(reverse("client-checkin"), warning_yes("chest_pain"))
    elsewhere = factories.TherapistFactory(practice=factories.practice_with_library())
    stranger = desk_of(elsewhere)
    public_id = plan.client.public_id
    assert stranger.post(reverse("therapist-seen", args=[public_id])).status_code == 404
    resume = stranger.post(reverse("therapist-resume", args=[public_id]), {"phase": "subsiding"})
    assert resume.status_code == 404
    plan.refresh_from_db()
    assert (plan.phase, plan.attention_level, plan.attention_seen_at) == (
        Phase.HOLD,
        Level.URGENT,
        None,
    )


def test_the_client_cannot_tap_seen_on_themselves(clock, person):
    plan, phone = person("Sam Soon")
    on_day(clock, 0)
    check_in(phone, 8)
    response = phone.post(reverse("therapist-seen", args=[plan.client.public_id]))
    assert response.status_code in (302, 403, 404)
    assert level_of(plan) is Level.SOON


# --- the tick's re-check ------------------------------------------------------------------------


def test_a_client_who_stops_checking_in_moves_to_watch_48_hours_later_not_before(
    clock, person, desk
):
    plan, phone = person("Quinn Quiet")
    on_day(clock, 0)
    check_in(phone, 4)
    assert level_of(plan) is Level.CALM
    clock.move_to(REMINDER_NOW + timedelta(days=2, hours=3) - timedelta(seconds=1), tick=False)
    assert triage.attention_recheck_due() == 0  # nothing due yet: nothing read
    assert level_of(plan) is Level.CALM
    on_day(clock, 2)
    assert triage.attention_recheck_due() == 1
    assert level_of(plan) is Level.WATCH
    response = desk.get(DASHBOARD, NEEDS_ME)
    assert names_in_order(response) == ["Quinn Quiet"]
    assert "No check-in since 25 Nov" in row_for(response, "Quinn Quiet")
    assert triage.attention_recheck_due() == 0  # re-checked once, not every minute


def test_a_flare_moves_to_soon_after_7_days(clock, person, desk):
    plan, phone = person("Fay Flare", Phase.FLARE)  # Flare since 25 Nov 06:00
    for day in range(7):
        on_day(clock, day)
        check_in(phone, 5)
    assert level_of(plan) is Level.CALM
    seven_days = REMINDER_NOW + timedelta(days=7)
    clock.move_to(seven_days, tick=False)
    triage.attention_recheck_due()
    assert level_of(plan) is Level.CALM  # "after 7 days": not at 7 days exactly
    clock.move_to(seven_days + timedelta(minutes=1), tick=False)
    assert triage.attention_recheck_due() == 1
    assert level_of(plan) is Level.SOON
    assert "In Flare since 25 Nov" in row_for(desk.get(DASHBOARD, NEEDS_ME), "Fay Flare")


def test_one_plans_bad_data_does_not_stop_the_others_recheck(clock, person, caplog):
    martian, martian_phone = person("Mars Base")
    broken, _ = person("Bad Phase")
    fine, fine_phone = person("Fine Client")
    on_day(clock, 0)
    check_in(martian_phone, 4)
    check_in(fine_phone, 4)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE clients_client SET time_zone = 'Mars/Base' WHERE id = %s", [martian.client_id]
        )
        cursor.execute("UPDATE aftercare_plan SET phase = 'bogus' WHERE id = %s", [broken.id])
    on_day(clock, 3)
    assert triage.attention_recheck_due() == 2
    assert level_of(fine) is Level.WATCH
    assert level_of(martian) is Level.WATCH  # an unknown zone falls back to the practice's
    assert "could not be re-assessed" in caplog.text
    # The broken plan is not retried every minute, nor dropped for good: a few minutes on
    # (a passing error, a serialization failure, deserves another go).
    retry_at = Plan.objects.get(pk=broken.pk).attention_recheck_at
    assert retry_at == timezone.now() + triage.RECHECK_LATER
    assert triage.attention_recheck_due() == 0


# --- what the dashboard costs -------------------------------------------------------------------


def _clients_with_levels(practice, therapist, first: int, count: int) -> None:
    """Clients at every level, set by the service a check-in uses (fast: no HTTP)."""
    for n in range(first, first + count):
        client = factories.ClientFactory(
            practice=practice, primary_therapist=therapist, name=f"Client {n:03d}"
        )
        plan = factories.plan_for(client, therapist, Phase.SUBSIDING)
        worst = (0, 7, 9, 4)[n % 4]
        checkins.symptom_log_create(
            plan=plan,
            submission_key=uuid.uuid4(),
            answers={
                "pain_now": 0,
                "worst_pain": worst,
                "compared": "same",
                "legs": "none",
                "sleep": "fine",
            },
        )


@pytest.mark.parametrize("show", [EVERYONE, NEEDS_ME])
def test_the_dashboards_queries_do_not_grow_from_3_to_30_clients(clock, practice, therapist, show):
    desk = desk_of(therapist)
    desk.get(DASHBOARD, show)  # warm up the session
    _clients_with_levels(practice, therapist, 0, 3)
    with CaptureQueriesContext(connection) as three:
        assert desk.get(DASHBOARD, show).status_code == 200
    _clients_with_levels(practice, therapist, 3, 27)
    with CaptureQueriesContext(connection) as thirty:
        response = desk.get(DASHBOARD, show)
    assert len(thirty) == len(three)
    assert len(rows_of(response)) == (30 if show == EVERYONE else 15)  # pain 7 or 9


def test_only_one_page_of_rows_is_loaded(clock, practice, therapist):
    from aftercare.views.therapist import DASHBOARD_PAGE_SIZE

    _clients_with_levels(practice, therapist, 0, DASHBOARD_PAGE_SIZE + 1)
    desk = desk_of(therapist)
    desk.get(DASHBOARD, EVERYONE)
    with CaptureQueriesContext(connection) as queries:
        response = desk.get(DASHBOARD, EVERYONE)
    assert len(rows_of(response)) == DASHBOARD_PAGE_SIZE
    # The list's query reads the plans' levels and the check-ins (selectors.Everyone).
    listing = [
        q["sql"]
        for q in queries
        if "attention_level" in q["sql"] and "aftercare_symptomlog" in q["sql"]
    ]
    assert len(listing) == 1, "one query for the list"
    # Each run of the order is cut to what the page takes of it: 50 in all.
    limits = [int(n) for n in re.findall(r"LIMIT (\d+) OFFSET \d+\) AS run_", listing[0])]
    assert sum(limits) == DASHBOARD_PAGE_SIZE, listing[0]
    # Most pressing first on page one: every Today (pain 9) before any Soon before the calm.
    levels = [
        "today" if ">Today</span>" in row else "soon" if ">Soon</span>" in row else "calm"
        for row in rows_of(response)
    ]
    assert levels == sorted(levels, key=["today", "soon", "calm"].index)


def test_no_dashboard_query_reads_a_row_per_client(clock, practice, therapist):
    _clients_with_levels(practice, therapist, 0, 3)
    desk = desk_of(therapist)
    with CaptureQueriesContext(connection) as queries:
        desk.get(DASHBOARD, EVERYONE)
    unpaged = [
        q["sql"]
        for q in queries
        if "DISTINCT" in q["sql"]
        and ('"clients_client"."name"' in q["sql"] or '"aftercare_planstep"."id"' in q["sql"])
    ]
    assert unpaged == []
