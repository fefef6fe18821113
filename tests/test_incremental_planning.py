"""Incremental planning: a tick plans only the plans whose next local day comes into view
or that a change marked; every change to what planning reads marks the plan, so a client
never keeps getting reminders from an old schedule (nor misses the new one).

Wednesday 25 Nov 2026 06:00 UTC is "now" (the `clock` fixture); London = UTC then.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftercare import checkins, services
from aftercare.models import Plan, PlanningBookmark, PlanStep, Reminder
from aftercare.outbox import reminders
from aftercare.rules import schedule
from aftercare.rules.phases import Phase
from clients import services as people
from clients.models import Client
from tests import factories

Kind = Reminder.Kind

# A tick with nothing to plan: the plans marked for planning (none), the plans whose rows
# run out soon (none). Two index range scans, whatever the number of plans.
STEADY_PLAN_QUERIES = 2


def planning(queries: CaptureQueriesContext) -> list[dict]:
    """The queries, without the savepoint of the chunk's transaction (a test runs inside
    a transaction; in production that is BEGIN and COMMIT)."""
    return [q for q in queries.captured_queries if "SAVEPOINT" not in q["sql"].upper()]


def due(plan: Plan) -> bool:
    """Whether the next tick plans this plan."""
    until = planned_until(plan)
    return until is None or until <= timezone.now() + reminders.DAY_AHEAD


def planned_until(plan: Plan) -> datetime | None:
    return PlanningBookmark.objects.get(plan=plan).planned_until


def routine(person: Client) -> list[tuple[str, datetime]]:
    rows = Reminder.objects.filter(client=person, kind=Kind.ROUTINE, status="pending")
    return list(rows.order_by("due_at").values_list("slot_key", "due_at"))


# --- a steady tick ---------------------------------------------------------------------------


@pytest.mark.parametrize("plans", [1, 12])
def test_a_steady_tick_plans_nothing_in_a_pinned_number_of_queries(
    clock, practice, therapist, plans
):
    for _ in range(plans):
        factories.plan_for(factories.ClientFactory(practice=practice), therapist)
    assert reminders.reminders_plan_due() == 3 * plans  # the first tick plans them all
    clock.move_to(timezone.now() + timedelta(minutes=1))

    with CaptureQueriesContext(connection) as queries:
        offered = reminders.reminders_plan_due()

    assert offered == 0
    assert len(planning(queries)) == STEADY_PLAN_QUERIES
    assert all("aftercare_plan" in query["sql"] for query in planning(queries))


def test_a_plan_is_planned_again_only_when_its_next_day_comes_into_view(
    flare, client_person, clock
):
    reminders.reminders_plan_due()
    assert planned_until(flare) == datetime(2026, 11, 26, 18, 0, tzinfo=UTC)  # 36 hours ahead
    assert [key for key, _ in routine(client_person)] == [
        "2026-11-25/morning",
        "2026-11-25/evening",
        "2026-11-26/morning",
    ]
    # Still more than DAY_AHEAD of rows: nothing to do, hour after hour.
    for hour in range(1, 16):
        clock.move_to(datetime(2026, 11, 25, 6 + hour, 1, tzinfo=UTC))
        assert reminders.reminders_plan_due() == 0
    # 22:00: the rows reach less than 20 hours ahead: the 26th's evening is planned.
    clock.move_to(datetime(2026, 11, 25, 22, 0, tzinfo=UTC))
    assert reminders.reminders_plan_due() == 2  # 26/evening (new) and 26/morning again
    assert "2026-11-26/evening" in [key for key, _ in routine(client_person)]
    # Never past the end of the client's local tomorrow.
    assert planned_until(flare) == datetime(2026, 11, 27, tzinfo=UTC)


def test_a_rollover_shared_by_many_plans_is_spread_over_ticks(clock, practice, therapist):
    for _ in range(5):
        factories.plan_for(factories.ClientFactory(practice=practice), therapist)
    assert reminders.reminders_plan_due(limit=2) == 2 * 3
    assert reminders.reminders_plan_due(limit=2) == 2 * 3
    assert reminders.reminders_plan_due(limit=2) == 1 * 3
    assert reminders.reminders_plan_due(limit=2) == 0


def test_plans_on_hold_or_unsubscribed_are_looked_at_again_later_not_every_tick(
    flare, client_person, clock
):
    Plan.objects.filter(pk=flare.pk).update(phase=Phase.HOLD)
    reminders.reminders_plan_due()
    assert routine(client_person) == []
    assert not due(flare)
    with CaptureQueriesContext(connection) as queries:
        reminders.reminders_plan_due()
    assert len(planning(queries)) == STEADY_PLAN_QUERIES


# --- every change that moves the schedule marks the plan ---------------------------------


def _settings_form(**changes) -> dict:
    data = {
        "morning_time": "08:00",
        "evening_time": "19:00",
        "reset_weekday": "6",
        "three_x_days": ["0", "2", "4"],
        "quiet_start": "21:00",
        "quiet_end": "07:30",
        "time_zone": "Europe/London",
        "routine_emails": "on",
        "booking_emails": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _phase_by_therapist(plan, person, therapist, client):
    services.phase_set(plan=plan, phase=Phase.MAINTENANCE, pinned=False, by=therapist.user)


def _phase_by_checkin(plan, person, therapist, client):
    # A calm fortnight in a flare is not needed: worst pain 8 in Subsiding starts a flare.
    Plan.objects.filter(pk=plan.pk).update(phase=Phase.SUBSIDING)
    reminders.plan_needs_planning(plan=plan)
    reminders.reminders_plan_due()
    assert not due(plan)
    answers = {"pain_now": 2, "worst_pain": 8, "compared": "worse", "legs": "none"}
    checkins.symptom_log_create(
        plan=plan,
        submission_key=uuid.uuid4(),
        answers={**answers, "sleep": "fine"},
        now=timezone.now() + timedelta(hours=1),
    )
    assert Plan.objects.get(pk=plan.pk).phase == Phase.FLARE


def _hold_then_resume(plan, person, therapist, client):
    answers = {"pain_now": 2, "worst_pain": 3, "compared": "same", "legs": "none"}
    answers.update(sleep="fine", safety_signs=["fever"])
    later = timezone.now() + timedelta(hours=1)
    checkins.symptom_log_create(plan=plan, submission_key=uuid.uuid4(), answers=answers, now=later)
    assert Plan.objects.get(pk=plan.pk).phase == Phase.HOLD
    reminders.reminders_plan_due()
    assert not due(plan)
    assert services.plan_resume(plan=plan, phase=Phase.SUBSIDING, by=therapist.user)


def _settings_times(plan, person, therapist, client):
    client.force_login(person.user, backend="sesame.backends.ModelBackend")
    response = client.post(reverse("client-settings"), _settings_form(morning_time="09:15"))
    assert response.status_code == 302


def _settings_pause(plan, person, therapist, client):
    client.force_login(person.user, backend="sesame.backends.ModelBackend")
    client.post(reverse("client-settings"), _settings_form(pause_days="2"))
    assert Client.objects.get(pk=person.pk).paused_until == date(2026, 11, 26)


def _settings_zone(plan, person, therapist, client):
    client.force_login(person.user, backend="sesame.backends.ModelBackend")
    client.post(reverse("client-settings"), _settings_form(time_zone="America/New_York"))


def _resubscribe(plan, person, therapist, client):
    services.email_preference_set(client=person, kind="routine", on=False)
    reminders.reminders_plan_due()
    assert not due(plan)
    services.email_preference_set(client=person, kind="routine", on=True)


def _therapist_edits_zone(plan, person, therapist, client):
    client.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    data = {
        "name": person.name,
        "email": person.email,
        "phone": "",
        "time_zone": "Asia/Kolkata",
        "massage_cadence": person.massage_cadence,
        "primary_therapist": therapist.pk,
        "notes": "",
    }
    response = client.post(reverse("therapist-client-edit", args=[person.public_id]), data)
    assert response.status_code == 302, response.content.decode()[:2000]


def _steps_edited(plan, person, therapist, client):
    step = plan.steps.order_by("order").first()
    step.skipped = True
    assert services.plan_steps_update(plan=plan, steps=[step], by=therapist.user)


def _step_paused_by_checkin(plan, person, therapist, client):
    step = plan.steps.filter(is_heat=False).order_by("order").first()
    answers = {"pain_now": 2, "worst_pain": 4, "compared": "worse", "legs": "none"}
    answers.update(sleep="fine", worse_steps=[step.pk], worse_by=3)
    checkins.symptom_log_create(plan=plan, submission_key=uuid.uuid4(), answers=answers)
    assert PlanStep.objects.get(pk=step.pk).paused_at is not None


def _admin_edits_client(plan, person, therapist, client):
    from clients.admin import ClientAdmin

    Client.objects.filter(pk=person.pk).update(morning_time=time(9, 0))
    person.refresh_from_db()
    ClientAdmin(Client, None).save_model(None, person, None, True)


def _admin_edits_plan(plan, person, therapist, client):
    from django.contrib import admin

    from aftercare.admin import PlanAdmin

    plan.phase = Phase.MAINTENANCE
    plan.save()
    form = type("Form", (), {"instance": plan, "save_m2m": lambda self: None})()
    PlanAdmin(Plan, admin.site).save_related(None, form, [], True)


CHANGES = {
    "the therapist sets the phase": _phase_by_therapist,
    "a check-in changes the phase": _phase_by_checkin,
    "the therapist resumes a plan on hold": _hold_then_resume,
    "the client changes their times": _settings_times,
    "the client pauses reminders": _settings_pause,
    "the client moves to another zone": _settings_zone,
    "the client subscribes again": _resubscribe,
    "the therapist changes the client's zone": _therapist_edits_zone,
    "the therapist edits the steps": _steps_edited,
    "a check-in pauses a step": _step_paused_by_checkin,
    "the admin edits the client": _admin_edits_client,
    "the admin edits the plan": _admin_edits_plan,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_every_change_to_the_schedule_makes_the_plan_due(
    flare, client_person, therapist, client, clock, change
):
    reminders.reminders_plan_due()
    assert not due(flare)

    change(flare, client_person, therapist, client)

    assert due(flare), "the next tick would keep the old schedule"
    reminders.reminders_plan_due()
    assert not due(flare)


def test_new_times_reach_the_rows_at_the_next_tick(flare, client_person, client, clock):
    reminders.reminders_plan_due()
    _settings_times(flare, client_person, None, client)
    reminders.reminders_plan_due()
    assert routine(client_person)[0] == (
        "2026-11-25/morning",
        datetime(2026, 11, 25, 9, 15, tzinfo=UTC),
    )


def test_a_zone_change_plans_in_the_new_zone(flare, client_person, therapist, client, clock):
    reminders.reminders_plan_due()
    _therapist_edits_zone(flare, client_person, therapist, client)
    reminders.reminders_plan_due()
    # 06:00 UTC is 11:30 in Kolkata: the evening at 19:00 local (13:30 UTC) comes first.
    assert routine(client_person)[:2] == [
        ("2026-11-25/evening", datetime(2026, 11, 25, 13, 30, tzinfo=UTC)),
        ("2026-11-26/morning", datetime(2026, 11, 26, 2, 30, tzinfo=UTC)),
    ]


def test_an_ended_plan_is_never_planned_again(flare, client_person, therapist, clock):
    reminders.reminders_plan_due()
    services.plan_end(plan=flare, by=therapist.user)
    clock.move_to(datetime(2026, 11, 27, 6, 0, tzinfo=UTC))
    assert reminders.reminders_plan_due() == 0
    assert routine(client_person) == []


def test_a_new_plan_is_planned_at_the_next_tick(flare, client_person, therapist, clock):
    reminders.reminders_plan_due()
    new = factories.plan_for(client_person, therapist, phase=Phase.MAINTENANCE)
    assert due(new)
    reminders.reminders_plan_due()
    assert set(Reminder.objects.filter(status="pending").values_list("plan_id", flat=True)) == {
        new.pk
    }


def test_a_session_without_a_plan_plans_its_booking_nudges_at_once(practice, therapist, clock):
    person = factories.ClientFactory(practice=practice)
    Client.objects.filter(pk=person.pk).update(massage_cadence=Client.Cadence.WEEKLY)
    people.session_record(client=person, therapist=therapist, date=date(2026, 11, 24))
    keys = set(Reminder.objects.filter(client=person).values_list("kind", "slot_key"))
    assert keys == {
        (Kind.BOOKING, "booking/2026-11-24"),
        (Kind.BOOKING_FOLLOWUP, "followup/2026-11-24"),
    }


def test_a_cadence_change_replans_the_booking_nudge_with_the_plan(
    flare, client_person, therapist, client, clock
):
    people.session_record(client=client_person, therapist=therapist, date=date(2026, 11, 24))
    reminders.reminders_plan_due()
    nudge = Reminder.objects.get(client=client_person, kind=Kind.BOOKING)
    assert nudge.slot_day == date(2026, 12, 8)  # fortnightly
    _therapist_edits_zone(flare, client_person, therapist, client)  # and keeps the cadence
    Client.objects.filter(pk=client_person.pk).update(massage_cadence=Client.Cadence.WEEKLY)
    reminders.reminders_forget_pending(client=client_person, kinds=tuple(Kind))
    reminders.reminders_plan_due()
    nudge = Reminder.objects.get(client=client_person, kind=Kind.BOOKING)
    assert nudge.slot_day == date(2026, 12, 1)


# --- no slot lost across the horizon boundary, DST included -------------------------------


def expected_slots(plan: Plan, start: datetime, end: datetime) -> set[tuple[str, datetime]]:
    plan = Plan.objects.select_related("client__practice").get(pk=plan.pk)
    first = start.astimezone(plan.client.zone).date() - timedelta(days=1)
    days = (end - start).days + 4
    return {
        (schedule.slot_key(slot), slot.utc)
        for slot in reminders.routine_slots(plan, first, days)
        if start <= slot.utc <= end
    }


def ticks_then_compare(clock, plan: Plan, person: Client, start: datetime, gaps: list[int]):
    """Tick at `start` and after each gap (minutes), then compare the rows with the
    schedule: every slot up to DAY_AHEAD past the last tick is a row at its time."""
    moment = start
    clock.move_to(moment)
    reminders.reminders_plan_due()
    for gap in gaps:
        moment += timedelta(minutes=gap)
        clock.move_to(moment)
        reminders.reminders_plan_due()
    rows = set(
        Reminder.objects.filter(client=person, kind=Kind.ROUTINE).values_list("slot_key", "due_at")
    )
    covered = expected_slots(plan, start, moment + reminders.DAY_AHEAD)
    assert covered <= rows, f"lost: {sorted(covered - rows)}"
    assert rows <= expected_slots(plan, start, moment + reminders.HORIZON), "a slot that isn't"


@pytest.mark.parametrize(
    "zone, start, morning",
    [
        # Mornings inside the hour the clocks skip or repeat.
        ("Europe/London", datetime(2026, 3, 27, 12, 0, tzinfo=UTC), time(1, 30)),  # 29 Mar
        ("Europe/London", datetime(2026, 10, 23, 12, 0, tzinfo=UTC), time(1, 30)),  # 25 Oct
        ("America/New_York", datetime(2026, 3, 6, 12, 0, tzinfo=UTC), time(2, 30)),  # 8 Mar
        ("Australia/Sydney", datetime(2026, 4, 3, 12, 0, tzinfo=UTC), time(2, 30)),  # 5 Apr
    ],
)
def test_ticks_across_a_clock_change_plan_every_slot_once(
    clock, practice, therapist, zone, start, morning
):
    person = factories.ClientFactory(practice=practice, time_zone=zone)
    Client.objects.filter(pk=person.pk).update(
        morning_time=morning,
        evening_time=time(23, 30),
        quiet_start=time(12, 0),  # quiet hours out of the way: the slots stay at night
        quiet_end=time(12, 15),
    )
    clock.move_to(start)
    plan = factories.plan_for(person, therapist, phase=Phase.FLARE)
    ticks_then_compare(clock, plan, person, start, [90] * 16 * 4)  # 4 days


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zone=st.sampled_from(
        ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Pacific/Chatham"]
    ),
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20), timezones=st.just(UTC)
    ),
    morning=st.times(min_value=time(7, 30), max_value=time(11, 59)),
    evening=st.times(min_value=time(12, 0), max_value=time(20, 59)),
    phase=st.sampled_from([Phase.FLARE, Phase.SUBSIDING, Phase.MAINTENANCE]),
    gaps=st.lists(st.integers(min_value=1, max_value=19 * 60), min_size=1, max_size=12),
)
def test_no_slot_is_lost_whatever_the_zone_times_and_tick_gaps(
    clock, practice, therapist, zone, start, morning, evening, phase, gaps
):
    morning, evening = (
        morning.replace(second=0, microsecond=0),
        evening.replace(second=0, microsecond=0),
    )
    person = factories.ClientFactory(practice=practice, time_zone=zone)
    Client.objects.filter(pk=person.pk).update(morning_time=morning, evening_time=evening)
    clock.move_to(start)
    plan = factories.plan_for(person, therapist, phase=phase)
    try:
        ticks_then_compare(clock, plan, person, start, gaps)
    finally:
        services.plan_end(plan=plan)
