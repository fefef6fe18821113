"""The reminder outbox: planning, claiming, sweeping and sending, with the time travelling.

Europe/London is UTC in November, so local times and UTC read the same in most tests.
Wednesday 25 Nov 2026 06:00 is "now" unless a test moves the clock.
"""

from __future__ import annotations

import smtplib
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aftercare import services, tasks
from aftercare.models import Plan, PlanningBookmark, Reminder
from aftercare.outbox import reminders
from aftercare.rules.phases import Phase
from clients import services as people
from clients.models import Client, MassageSession
from tests import factories

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # Wednesday
Status = Reminder.Status
Kind = Reminder.Kind


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of November 2026 (UTC, which is London's time then)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) if day <= 30 else None


def tick(clock, when: datetime) -> None:
    """One beat tick at `when`, with the workers doing their job right away."""
    clock.move_to(when)
    reminders.reminders_plan_due()
    for reminder_id in reminders.reminders_claim() + reminders.reminders_sweep():
        reminders.reminder_send(reminder_id)


def queued(client: Client, slot_key: str, kind: str = Kind.ROUTINE) -> Reminder:
    """Plan the rows, then claim the one named, as a tick would at its due time."""
    reminders.reminders_plan_due()
    reminder = Reminder.objects.get(client=client, kind=kind, slot_key=slot_key)
    Reminder.objects.filter(id=reminder.id).update(status=Status.QUEUED, queued_at=timezone.now())
    return reminder


def keys(client: Client, **filters) -> list[str]:
    return list(
        Reminder.objects.filter(client=client, **filters)
        .order_by("due_at")
        .values_list("slot_key", flat=True)
    )


# --- planning --------------------------------------------------------------------------------


def test_it_plans_the_next_slots_once(flare, client_person):
    reminders.reminders_plan_due()
    reminders.reminders_plan_due()

    rows = Reminder.objects.filter(client=client_person).order_by("due_at")
    assert [(r.slot_key, r.due_at, r.status) for r in rows] == [
        ("2026-11-25/morning", at(25, 8), Status.PENDING),
        ("2026-11-25/evening", at(25, 19), Status.PENDING),
        ("2026-11-26/morning", at(26, 8), Status.PENDING),
    ]
    assert all(r.plan_id == flare.id and r.kind == Kind.ROUTINE for r in rows)


def test_it_plans_in_the_clients_local_time(clock, therapist, practice):
    person = factories.ClientFactory(practice=practice, time_zone="America/New_York")
    factories.plan_for(person, therapist)
    reminders.reminders_plan_due()

    rows = Reminder.objects.filter(client=person).order_by("due_at")
    # 06:00 UTC is 01:00 in New York: today's morning (13:00 UTC) is the first slot.
    assert [(r.slot_key, r.due_at) for r in rows][:2] == [
        ("2026-11-25/morning", at(25, 13)),
        ("2026-11-25/evening", datetime(2026, 11, 26, 0, 0, tzinfo=UTC)),
    ]


def test_it_plans_in_bulk(clock, practice, therapist):
    def queries_to_plan() -> int:
        Reminder.objects.all().delete()
        PlanningBookmark.objects.update(
            planned_until=None
        )  # rows deleted behind the planner's back
        with CaptureQueriesContext(connection) as queries:
            reminders.reminders_plan_due()
        return len(queries)

    factories.plan_for(factories.ClientFactory(practice=practice), therapist)
    one = queries_to_plan()
    for _ in range(6):
        factories.plan_for(factories.ClientFactory(practice=practice), therapist)
    seven = queries_to_plan()

    assert Reminder.objects.count() == 7 * 3
    assert seven == one  # no query per client


def test_the_key_is_unique_per_client_kind_and_slot(flare, client_person):
    reminders.reminders_plan_due()
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(
            client=client_person,
            plan=flare,
            kind=Kind.ROUTINE,
            slot_key="2026-11-25/morning",
            slot_day=date(2026, 11, 25),
            due_at=at(25, 9),
        )
    # The same slot of another kind is another reminder.
    Reminder.objects.create(
        client=client_person,
        kind=Kind.BOOKING,
        slot_key="2026-11-25/morning",
        slot_day=date(2026, 11, 25),
        due_at=at(25, 9),
    )


def test_a_slot_in_quiet_hours_is_planned_when_they_end(clock, practice, therapist):
    person = factories.ClientFactory(practice=practice)
    Client.objects.filter(id=person.id).update(evening_time=time(22, 30))
    factories.plan_for(person, therapist)
    reminders.reminders_plan_due()

    evening = Reminder.objects.get(client=person, slot_key="2026-11-25/evening")
    assert evening.due_at == at(26, 7, 30)  # quiet hours are 21:00-07:30
    for row in Reminder.objects.filter(client=person):
        local = row.due_at.time()
        assert not (local >= time(21) or local < time(7, 30)), row


@pytest.mark.parametrize(
    "change",
    [
        {"paused_until": date(2026, 11, 27)},
        {"routine_emails": False},
        {"active": False},
    ],
)
def test_it_plans_nothing_while_paused_or_unsubscribed(flare, client_person, change):
    Client.objects.filter(id=client_person.id).update(**change)
    reminders.reminders_plan_due()
    assert keys(client_person) == []


def test_a_pause_plans_the_days_after_it(flare, client_person):
    Client.objects.filter(id=client_person.id).update(paused_until=date(2026, 11, 25))
    reminders.reminders_plan_due()
    assert keys(client_person) == ["2026-11-26/morning"]


def test_it_plans_nothing_for_a_plan_on_hold_or_ended(flare, client_person):
    Plan.objects.filter(id=flare.id).update(phase=Phase.HOLD)
    reminders.reminders_plan_due()
    assert keys(client_person) == []

    Plan.objects.filter(id=flare.id).update(phase=Phase.FLARE, ended_at=timezone.now())
    reminders.reminders_plan_due()
    assert keys(client_person) == []


# --- claiming and sweeping -------------------------------------------------------------------


def test_claim_moves_due_rows_to_queued_once(flare, client_person, clock):
    reminders.reminders_plan_due()
    assert reminders.reminders_claim() == []  # nothing due at 06:00

    clock.move_to(at(25, 8))
    claimed = reminders.reminders_claim()
    morning = Reminder.objects.get(client=client_person, slot_key="2026-11-25/morning")
    assert claimed == [morning.id]
    assert (morning.status, morning.queued_at) == (Status.QUEUED, at(25, 8))
    assert reminders.reminders_claim() == []
    assert keys(client_person, status=Status.PENDING) == [
        "2026-11-25/evening",
        "2026-11-26/morning",
    ]


def test_batches_split_the_ids():
    assert list(reminders.batches(list(range(7)), size=3)) == [[0, 1, 2], [3, 4, 5], [6]]


def test_sweep_requeues_lost_rows_and_marks_interrupted_ones(flare, client_person, clock, settings):
    settings.REMINDER_REQUEUE_SECONDS = 600
    settings.REMINDER_STUCK_SECONDS = 600
    reminders.reminders_plan_due()
    lost, stuck, fresh = Reminder.objects.filter(client=client_person).order_by("due_at")
    Reminder.objects.filter(id=lost.id).update(status=Status.QUEUED, queued_at=at(25, 5, 49))
    Reminder.objects.filter(id=stuck.id).update(status=Status.SENDING, sending_at=at(25, 5, 49))
    Reminder.objects.filter(id=fresh.id).update(status=Status.SENDING, sending_at=at(25, 5, 55))

    assert sorted(reminders.reminders_sweep()) == sorted([lost.id, stuck.id])

    lost.refresh_from_db()
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert (lost.status, lost.queued_at, lost.interrupted) == (Status.QUEUED, NOW, False)
    assert (stuck.status, stuck.queued_at, stuck.interrupted) == (Status.QUEUED, NOW, True)
    assert "stopped while sending" in stuck.reason
    assert fresh.status == Status.SENDING  # still within its time: left alone
    assert reminders.reminders_sweep() == []


# --- sending ---------------------------------------------------------------------------------


def test_it_sends_a_queued_row_once(flare, client_person, clock):
    reminder = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(25, 8))

    assert reminders.reminder_send(reminder.id) == "sent"
    assert reminders.reminder_send(reminder.id) == "not queued"

    reminder.refresh_from_db()
    assert (reminder.status, reminder.sent_at, reminder.attempts) == (Status.SENT, at(25, 8), 1)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [client_person.email]


def test_a_tick_sends_each_slot_at_its_time(flare, client_person, clock):
    for hour in range(6, 24):
        tick(clock, at(25, hour))
    assert [m.subject for m in mail.outbox] == ["Your morning routine", "Your evening routine"]
    assert keys(client_person, status=Status.SENT) == ["2026-11-25/morning", "2026-11-25/evening"]


def test_never_more_than_two_routine_emails_a_day(flare, client_person, clock):
    # Every 20 minutes for three days, with the client moving across the Atlantic on the
    # way (their local day shifts, their slots move): at most 2 routine emails a local day.
    moment = NOW
    while moment < NOW + timedelta(days=3):
        if moment == at(25, 20):
            person = Client.objects.get(id=client_person.id)
            person.time_zone = "America/Los_Angeles"
            services.client_settings_save(client=person, pause_days=None, resume=False)
        tick(clock, moment)
        moment += timedelta(minutes=20)

    sent = Reminder.objects.filter(client=client_person, kind=Kind.ROUTINE, status=Status.SENT)
    per_day: dict[date, int] = {}
    for row in sent:
        per_day[row.slot_day] = per_day.get(row.slot_day, 0) + 1
    # Wednesday's evening in Los Angeles comes after London's: still 2 for Wednesday.
    assert per_day == {date(2026, 11, 25): 2, date(2026, 11, 26): 2, date(2026, 11, 27): 2}
    assert len(mail.outbox) == 6


SKIPS = {
    "slot done": "Already done: every step of this slot was ticked.",
    "paused": "Reminders paused until 25 Nov.",
    "hold": "The plan is on hold: only the therapist can resume it.",
    "unsubscribed": "The client unsubscribed from routine reminders.",
    "plan ended": "The plan has ended.",
    "too late": "Too late: the slot had passed when a worker got to it.",
    "schedule changed": "The schedule changed (phase or preferences): no routine in this slot now.",
    "quiet hours": "Quiet hours.",
    "inactive": "The client is no longer active.",
}


@pytest.mark.parametrize("why", SKIPS)
def test_it_skips_with_a_reason(flare, client_person, clock, why):
    reminder = queued(client_person, "2026-11-25/evening")
    when = at(25, 19)
    if why == "slot done":
        for step in flare.steps.all():
            services.step_complete(step=step, day=date(2026, 11, 25), slot="evening")
    elif why == "paused":
        Client.objects.filter(id=client_person.id).update(paused_until=date(2026, 11, 25))
    elif why == "hold":
        Plan.objects.filter(id=flare.id).update(phase=Phase.HOLD)
    elif why == "unsubscribed":
        Client.objects.filter(id=client_person.id).update(routine_emails=False)
    elif why == "plan ended":
        Plan.objects.filter(id=flare.id).update(ended_at=timezone.now())
    elif why == "too late":
        when = at(25, 22, 1)
    elif why == "schedule changed":
        Plan.objects.filter(id=flare.id).update(phase=Phase.SUBSIDING)  # no evening routine
    elif why == "quiet hours":
        Client.objects.filter(id=client_person.id).update(quiet_start=time(18, 30))
    elif why == "inactive":
        Client.objects.filter(id=client_person.id).update(active=False)
    clock.move_to(when)

    assert reminders.reminder_send(reminder.id) == "skipped"

    reminder.refresh_from_db()
    assert (reminder.status, reminder.reason) == (Status.SKIPPED, SKIPS[why])
    assert mail.outbox == []


def test_a_slot_half_done_is_still_sent(flare, client_person, clock):
    reminder = queued(client_person, "2026-11-25/morning")
    first_routine_step = flare.steps.filter(exercise__isnull=False).exclude(order=0).first()
    services.step_complete(step=first_routine_step, day=date(2026, 11, 25), slot="morning")
    clock.move_to(at(25, 8))
    assert reminders.reminder_send(reminder.id) == "sent"


def test_heat_need_not_be_ticked_for_a_slot_to_be_done(flare, client_person, clock):
    reminder = queued(client_person, "2026-11-25/morning")
    for step in flare.steps.all():
        if not step.is_heat:
            services.step_complete(step=step, day=date(2026, 11, 25), slot="morning")
    clock.move_to(at(25, 8))
    assert reminders.reminder_send(reminder.id) == "skipped"


def refuse(monkeypatch, error: Exception) -> None:
    def send_messages(self, messages):
        raise error

    monkeypatch.setattr(
        "django.core.mail.backends.locmem.EmailBackend.send_messages", send_messages
    )


def test_a_temporary_refusal_is_retried_from_the_database(
    flare, client_person, clock, monkeypatch, settings
):
    """Issue 10: the retry is a later due time on the row, claimed again by the tick; no
    broker countdown can outlive the visibility timeout and deliver it twice."""
    settings.REMINDER_RETRY_BASE_SECONDS = 30
    reminder = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(25, 8))
    refuse(monkeypatch, smtplib.SMTPResponseException(451, b"Try again later"))

    assert reminders.reminder_send(reminder.id) == "retry"

    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == (Status.PENDING, 1)
    assert reminder.reason == "Will retry: 451 Try again later"
    assert reminder.due_at == at(25, 8) + timedelta(seconds=30)
    assert reminders.reminders_claim(now=at(25, 8)) == []  # not before its time

    monkeypatch.undo()
    assert reminders.reminders_claim(now=at(25, 8) + timedelta(seconds=30)) == [reminder.id]
    assert reminders.reminder_send(reminder.id) == "sent"
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == (Status.SENT, 2)
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "error",
    [
        smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
        smtplib.SMTPRecipientsRefused({"a@example.com": (452, b"Mailbox full")}),
        ConnectionRefusedError(111, "Connection refused"),
    ],
)
def test_dropped_connections_are_retried(flare, client_person, clock, monkeypatch, error):
    reminder = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(25, 8))
    refuse(monkeypatch, error)
    assert reminders.reminder_send(reminder.id) == "retry"
    reminder.refresh_from_db()
    assert reminder.status == Status.PENDING


def test_retries_back_off_and_give_up_visibly(flare, client_person, clock, monkeypatch, settings):
    settings.REMINDER_RETRY_BASE_SECONDS = 30
    assert [reminders.retry_delay(n).total_seconds() for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]
    reminder = queued(client_person, "2026-11-25/morning")
    Reminder.objects.filter(id=reminder.id).update(attempts=reminders.MAX_ATTEMPTS - 1)
    clock.move_to(at(25, 8))
    refuse(monkeypatch, smtplib.SMTPResponseException(421, b"Too busy"))
    assert reminders.reminder_send(reminder.id) == "failed"
    reminder.refresh_from_db()
    assert reminder.status == Status.FAILED
    assert reminder.reason == f"Gave up after {reminders.MAX_ATTEMPTS} tries: 421 Too busy"


def test_a_late_retry_of_a_routine_slot_is_skipped_not_sent(
    flare, client_person, clock, monkeypatch
):
    """Lateness counts from the slot: a retry 4 hours on is no use any more."""
    reminder = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(25, 8))
    refuse(monkeypatch, smtplib.SMTPResponseException(451, b"Try again later"))
    reminders.reminder_send(reminder.id)
    monkeypatch.undo()
    Reminder.objects.filter(id=reminder.id).update(
        status=Status.QUEUED, due_at=at(25, 12), attempts=3
    )
    assert reminders.reminder_send(reminder.id, now=at(25, 12)) == "skipped"
    reminder.refresh_from_db()
    assert reminder.reason.startswith("Too late")


def test_a_permanent_refusal_is_marked_failed(flare, client_person, clock, monkeypatch):
    reminder = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(25, 8))
    refuse(monkeypatch, smtplib.SMTPRecipientsRefused({"x": (550, b"No such user here")}))

    assert reminders.reminder_send(reminder.id) == "failed"

    reminder.refresh_from_db()
    assert reminder.status == Status.FAILED
    assert reminder.reason == "The mail server refused it: 550 No such user here"
    assert reminders.reminder_send(reminder.id) == "not queued"


def test_a_5xx_answer_is_final(flare, client_person, clock, monkeypatch):
    reminder = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(25, 8))
    refuse(monkeypatch, smtplib.SMTPDataError(554, b"Message rejected"))
    assert reminders.reminder_send(reminder.id) == "failed"
    reminder.refresh_from_db()
    assert reminder.reason == "The mail server refused it: 554 Message rejected"


def test_the_task_sends_the_rest_of_a_batch_when_one_row_must_wait(
    flare, client_person, clock, monkeypatch
):
    good = queued(client_person, "2026-11-25/morning")
    bad = queued(client_person, "2026-11-25/evening")
    clock.move_to(at(25, 8))
    real_send = reminders._send_row

    def flaky(reminder, *args):
        if reminder.id == bad.id:
            raise RuntimeError("a bug while sending")
        return real_send(reminder, *args)

    monkeypatch.setattr(reminders, "_send_row", flaky)
    tasks.send_reminders.run([bad.id, good.id])
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == Status.SENT
    assert (bad.status, bad.reason) == (
        Status.FAILED,
        "Could not be sent: RuntimeError: a bug while sending",
    )


def test_the_tick_hands_out_due_rows_after_commit(
    flare, client_person, clock, monkeypatch, django_capture_on_commit_callbacks
):
    handed = []
    monkeypatch.setattr(tasks.send_reminders, "delay", handed.append)
    clock.move_to(at(25, 8))
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.tick()

    morning = Reminder.objects.get(slot_key="2026-11-25/morning")
    assert result == {"planned": 4, "claimed": 1, "swept": 0, "rechecked": 0}  # 36 h ahead
    assert handed == [[morning.id]]
    assert morning.status == Status.QUEUED


# --- booking nudges --------------------------------------------------------------------------


def session(person: Client, day: date) -> MassageSession:
    return people.session_record(client=person, therapist=None, date=day)


@pytest.fixture
def weekly(clock, practice):
    person = factories.ClientFactory(practice=practice, email="weekly@example.com")
    Client.objects.filter(id=person.id).update(massage_cadence=Client.Cadence.WEEKLY)
    session(person, date(2026, 11, 18))
    return Client.objects.get(id=person.id)


def test_it_nudges_on_cadence_then_follows_up_once_then_stays_silent(weekly, clock):
    sent = []
    moment = at(24, 8)
    while moment < at(24, 8) + timedelta(days=35):
        tick(clock, moment)
        for message in mail.outbox[len(sent) :]:
            sent.append((moment.date(), message.subject))
        moment += timedelta(hours=4)

    assert sent == [
        (date(2026, 11, 25), "Time to book your next massage"),
        (date(2026, 12, 2), "A gentle reminder to book your next massage"),
    ]
    nudge = mail.outbox[0]
    assert "https://practice.example/book" in nudge.body
    assert Reminder.objects.get(kind=Kind.BOOKING).due_at == at(25, 8)


def test_a_newer_session_stops_the_follow_up(weekly, clock):
    tick(clock, at(25, 8))
    assert len(mail.outbox) == 1
    session(weekly, date(2026, 11, 28))

    tick(clock, datetime(2026, 12, 2, 8, tzinfo=UTC))

    follow_up = Reminder.objects.get(kind=Kind.BOOKING_FOLLOWUP, slot_key="followup/2026-11-18")
    assert (follow_up.status, follow_up.reason) == (Status.SKIPPED, "A newer session was recorded.")
    # The nudge for the new session comes a week after it.
    tick(clock, datetime(2026, 12, 5, 8, tzinfo=UTC))
    assert [m.subject for m in mail.outbox] == [
        "Time to book your next massage",
        "Time to book your next massage",
    ]


def test_no_nudges_without_a_cadence_or_after_unsubscribing(weekly, clock):
    Client.objects.filter(id=weekly.id).update(massage_cadence=Client.Cadence.NONE)
    tick(clock, at(25, 8))
    Client.objects.filter(id=weekly.id).update(
        massage_cadence=Client.Cadence.WEEKLY, booking_emails=False
    )
    tick(clock, at(25, 9))
    assert mail.outbox == []
    # Planned when the session was recorded; re-checked at its time, and never sent.
    assert not Reminder.objects.filter(client=weekly, status=Status.SENT).exists()


def test_no_nudge_while_the_plan_is_on_hold(weekly, clock, therapist):
    plan = factories.plan_for(weekly, therapist)
    reminders.reminders_plan_due()
    assert Reminder.objects.filter(client=weekly, kind=Kind.BOOKING).exists()
    Plan.objects.filter(id=plan.id).update(phase=Phase.HOLD)

    tick(clock, at(25, 8))

    nudge = Reminder.objects.get(client=weekly, kind=Kind.BOOKING)
    assert (nudge.status, nudge.reason) == (
        Status.SKIPPED,
        "The plan is on hold: only the therapist can resume it.",
    )
    assert mail.outbox == []
    Reminder.objects.filter(client=weekly).delete()
    reminders.reminders_plan_due()
    assert not Reminder.objects.filter(client=weekly).exists()


# --- check-in first, and the earlier visit ---------------------------------------------------


def test_it_asks_for_a_check_in_after_two_days_without_a_log(flare, client_person, clock):
    tick(clock, at(26, 8))
    tick(clock, at(27, 8))
    first, second = mail.outbox[-2:]
    assert first.subject == "Your morning routine"
    assert second.subject == "A quick check-in, then your morning routine"
    assert "First, how is your back?" in second.body
    assert "First, how is your back?" not in first.body


def test_a_log_postpones_the_check_in_request(flare, client_person, clock):
    from aftercare import checkins

    clock.move_to(at(26, 12))
    checkins.symptom_log_create(
        plan=flare,
        submission_key=__import__("uuid").uuid4(),
        answers={
            "safety_signs": [],
            "pain_now": 5,
            "worst_pain": 7,
            "compared": "same",
            "legs": "none",
            "sleep": "fine",
            "steps_done": [],
            "worse_steps": [],
            "worse_by": 0,
            "note": "",
            "flare_tap": False,
            "gone_tap": False,
        },
    )
    tick(clock, at(27, 8))
    assert mail.outbox[-1].subject == "Your morning routine"


def test_no_check_in_request_in_maintenance(clock, client_person, therapist):
    factories.plan_for(client_person, therapist, Phase.MAINTENANCE)
    tick(clock, datetime(2026, 11, 29, 8, tzinfo=UTC))  # Sunday: the weekly reset
    assert [m.subject for m in mail.outbox] == ["Your morning routine"]


def test_a_flare_of_more_than_three_days_suggests_an_earlier_visit(flare, client_person, clock):
    tick(clock, at(28, 8))  # the flare began on the 25th at 06:00: 3 days and 2 hours
    message = mail.outbox[-1]
    assert "Your back has been flared up for 3 days. An earlier massage may help" in message.body
    assert "https://practice.example/book" in message.body
    assert "An earlier massage may help" in message.alternatives[0][0]


def test_a_short_flare_does_not_suggest_a_visit(flare, client_person, clock):
    tick(clock, at(27, 8))
    assert "An earlier massage may help" not in mail.outbox[-1].body


# --- the therapist's view of it -------------------------------------------------------------


def test_the_client_page_shows_the_reminder_history_and_whats_next(
    flare, client_person, clock, client, therapist, monkeypatch
):
    tick(clock, at(25, 8))  # sent
    Plan.objects.filter(id=flare.id).update(phase=Phase.SUBSIDING)
    tick(clock, at(25, 19))  # skipped: no evening routine in Subsiding
    failed = queued(client_person, "2026-11-26/morning")
    clock.move_to(at(26, 8))
    refuse(monkeypatch, smtplib.SMTPRecipientsRefused({"x": (550, b"Mailbox unknown")}))
    reminders.reminder_send(failed.id)
    monkeypatch.undo()

    client.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("therapist-client", args=[client_person.public_id]))

    assert page.status_code == 200
    text = page.content.decode()
    history = text[text.index('id="reminders-h"') :]
    assert "Sent</span> Routine reminder · Wed 25 Nov, 08:00" in history
    assert "Skipped</span> Routine reminder · Wed 25 Nov, 19:00" in history
    assert "no routine in this slot now" in history
    assert "Failed</span> Routine reminder · Thu 26 Nov, 08:00" in history
    assert "Mailbox unknown" in history
    # The next 14 days in Subsiding: one morning routine a day (the 26th's has passed).
    assert "Next 14 days (14)" in history
    assert "Fri 27 Nov, 08:00" in history
    assert "Wed 9 Dec, 08:00" in history
    assert "Thu 10 Dec, 08:00" not in history


def test_another_practice_cannot_see_the_reminders(flare, client_person, client, clock):
    other = factories.TherapistFactory(practice=factories.practice_with_library())
    client.force_login(other.user, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("therapist-client", args=[client_person.public_id]))
    assert page.status_code == 404


# --- clock changes, end to end ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "wall", "expected_utc"),
    [
        # 01:30 happens twice in New York on 1 Nov 2026: one email, at the first.
        (date(2026, 11, 1), time(1, 30), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        # 02:30 never happens on 8 Mar 2026: the email comes at 03:30 EDT.
        (date(2026, 3, 8), time(2, 30), datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),
    ],
)
def test_a_clock_change_night_sends_the_morning_email_once(
    practice, therapist, day, wall, expected_utc
):
    start = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(hours=2)
    with time_machine.travel(start, tick=False) as clock:
        person = factories.ClientFactory(practice=practice, time_zone="America/New_York")
        Client.objects.filter(id=person.id).update(
            morning_time=wall, quiet_start=time(0), quiet_end=time(0)
        )
        factories.plan_for(person, therapist, Phase.SUBSIDING)
        moment = start
        while moment < start + timedelta(hours=14):
            tick(clock, moment)
            moment += timedelta(minutes=15)

    row = Reminder.objects.get(client=person, slot_key=f"{day}/morning")
    assert (row.status, row.sent_at) == (Status.SENT, expected_utc)
    assert len(mail.outbox) == 1
