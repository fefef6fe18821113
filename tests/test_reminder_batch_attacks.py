"""Attacks on batched sending (reminders.reminders_send): what a batch that runs long, a
row's corrupt data or a mixed batch do to the other rows. The promise: each row's
re-check decides as the old per-row path did (docs/reminders.md, "Sending a batch")."""

from __future__ import annotations

import smtplib
import threading
import time as clock_time
from datetime import date, time, timedelta

import pytest
from django.core import mail
from django.core.mail.backends import locmem
from django.db import connection
from django.utils import timezone

from aftercare.models import Completion, Plan, PlanStep, Reminder
from aftercare.outbox import reminders
from aftercare.rules.phases import Phase
from clients.models import Client, MassageSession
from tests import factories
from tests.smtp_sink import ACCEPTED, DROPPED, SmtpSink, free_port
from tests.test_reminder_batch import BATCH_QUERIES, EIGHT, clients_due, queries_to_send

Status = Reminder.Status
SLOW = timedelta(seconds=30)  # one email against a slow mail server


def slow_first_email(monkeypatch, clock, meanwhile) -> None:
    """The first email of the batch takes SLOW; `meanwhile` happens while it goes."""
    real_send = locmem.EmailBackend.send_messages

    def send_messages(self, messages):
        if not mail.outbox:
            meanwhile()
            clock.shift(SLOW)
        return real_send(self, messages)

    monkeypatch.setattr(locmem.EmailBackend, "send_messages", send_messages)


def tick_whole_slot(reminder_id: int) -> None:
    """The client ticks every step of the row's slot on Today."""
    reminder = Reminder.objects.get(id=reminder_id)
    slot = reminders.slot_of(reminder)
    for step in slot.steps:
        Completion.objects.create(step_id=step.key, day=slot.day, slot=str(slot.name))


def test_a_slot_ticked_while_a_slow_batch_sends_is_not_reminded(
    practice, therapist, clock, monkeypatch
):
    first, second = clients_due(practice, therapist, clock, 2)
    slow_first_email(monkeypatch, clock, lambda: tick_whole_slot(second))

    outcomes = reminders.reminders_send([first, second])

    assert outcomes == {first: "sent", second: "skipped"}
    assert Reminder.objects.get(id=second).reason == (
        "Already done: every step of this slot was ticked."
    )
    assert len(mail.outbox) == 1


def test_a_hold_put_on_while_a_slow_batch_sends_stops_the_reminder(
    practice, therapist, clock, monkeypatch
):
    """A safety hold stops every reminder (TAPER.md), even one already in a batch."""
    first, second = clients_due(practice, therapist, clock, 2)
    held = Reminder.objects.get(id=second).plan_id
    slow_first_email(
        monkeypatch, clock, lambda: Plan.objects.filter(id=held).update(phase=Phase.HOLD)
    )

    outcomes = reminders.reminders_send([first, second])

    assert outcomes == {first: "sent", second: "skipped"}
    assert Reminder.objects.get(id=second).reason == (
        "The plan is on hold: only the therapist can resume it."
    )


def test_quiet_hours_that_begin_while_a_slow_batch_sends_are_kept(
    practice, therapist, clock, monkeypatch
):
    """Each row is re-checked at the moment it goes, not at the moment the batch began."""
    first, second = clients_due(practice, therapist, clock, 2)
    Client.objects.filter(reminders__id=second).update(
        quiet_start=time(8, 0, 10), quiet_end=time(7, 0)
    )
    slow_first_email(monkeypatch, clock, lambda: None)

    outcomes = reminders.reminders_send([first, second])

    assert outcomes == {first: "sent", second: "skipped"}
    assert Reminder.objects.get(id=second).reason == "Quiet hours."


def test_two_a_day_counts_what_another_batch_sent_while_this_one_was_sending(
    practice, therapist, clock, monkeypatch
):
    first, second = clients_due(practice, therapist, clock, 2)
    row = Reminder.objects.get(id=second)

    def another_worker_sends_two():
        for name in ("early", "midday"):
            Reminder.objects.create(
                client_id=row.client_id,
                plan_id=row.plan_id,
                kind=Reminder.Kind.ROUTINE,
                slot_key=f"{EIGHT.date()}/{name}",
                slot_day=EIGHT.date(),
                due_at=EIGHT,
                status=Status.SENT,
            )

    slow_first_email(monkeypatch, clock, another_worker_sends_two)

    outcomes = reminders.reminders_send([first, second])

    assert outcomes == {first: "sent", second: "skipped"}
    assert Reminder.objects.get(id=second).reason == (
        "Two routine reminders (by any channel) were already sent that day."
    )


def test_a_retry_after_a_slow_email_waits_its_delay_from_when_it_was_refused(
    practice, therapist, clock, monkeypatch, settings
):
    first, second = clients_due(practice, therapist, clock, 2)
    busy = Reminder.objects.get(id=second).client.email
    real_send = locmem.EmailBackend.send_messages

    def send_messages(self, messages):
        if messages[0].to == [busy]:
            raise smtplib.SMTPDataError(451, b"4.3.0 try again later")
        clock.shift(timedelta(minutes=5))  # the first email took five minutes
        return real_send(self, messages)

    monkeypatch.setattr(locmem.EmailBackend, "send_messages", send_messages)
    outcomes = reminders.reminders_send([first, second])

    assert outcomes == {first: "sent", second: "retry"}
    delay = timedelta(seconds=settings.REMINDER_RETRY_BASE_SECONDS)
    assert Reminder.objects.get(id=second).due_at == EIGHT + timedelta(minutes=5) + delay


def test_a_fast_batch_reads_its_rows_and_facts_once(practice, therapist, clock):
    """The refresh costs nothing while the batch is quick (the query pin holds)."""
    ids = clients_due(practice, therapist, clock, 3)
    assert queries_to_send(ids) == BATCH_QUERIES + 3


# --- a real SMTP conversation: each answer lands on its own row -------------------------------


def test_each_smtp_answer_in_one_conversation_lands_on_its_own_row(
    practice, therapist, clock, settings
):
    ids = clients_due(practice, therapist, clock, 8)
    people = {r.id: r.client.email for r in Reminder.objects.filter(id__in=ids)}
    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        # At the end of DATA, in order: 250, 451, 250, no answer (dropped), 250, 250.
        sink._script.extend([ACCEPTED, 451, ACCEPTED, DROPPED, ACCEPTED, ACCEPTED])
        sink.refuse_recipient(people[ids[5]], 550)  # at RCPT TO, for good
        sink.refuse_recipient(people[ids[6]], 450)  # at RCPT TO, for now

        outcomes = reminders.reminders_send(ids)
        delivered = sorted(d.rcpt_tos[0] for d in sink.deliveries)

    assert list(outcomes.values()) == [
        "sent", "retry", "sent", "retry", "sent", "failed", "retry", "sent"
    ]  # fmt: skip
    assert delivered == sorted(people[ids[n]] for n in (0, 2, 4, 7))
    rows = {r.id: r for r in Reminder.objects.filter(id__in=ids)}
    assert rows[ids[1]].reason == "Will retry: 451 4.3.0 try again later"
    assert rows[ids[3]].reason.startswith("Will retry: SMTPServerDisconnected")
    assert rows[ids[5]].reason.startswith("The mail server refused it: 550")
    assert rows[ids[6]].reason.startswith("Will retry: 450")
    assert not [r for r in rows.values() if r.status == Status.SENDING]


def test_a_mail_server_that_refuses_connections_puts_the_whole_batch_back_for_later(
    practice, therapist, clock, settings
):
    ids = clients_due(practice, therapist, clock, 3)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False

    outcomes = reminders.reminders_send(ids)

    assert set(outcomes.values()) == {"retry"}
    rows = Reminder.objects.filter(id__in=ids)
    assert {(r.status, r.reason.split(":")[0]) for r in rows} == {("pending", "Will retry")}


# --- a slow mail server and the sweep running meanwhile (PostgreSQL, real time) --------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_sweep_never_takes_a_row_from_a_live_batch_against_a_slow_server(
    require_service, practice, therapist, settings
):
    """The batch outlasts REMINDER_STUCK_SECONDS several times over while a beat sweeps
    every 0.1 s: the lease keeps every row the batch's, and each email goes once."""
    require_service("postgres")
    settings.REMINDER_STUCK_SECONDS = 2  # the batch renews its lease every 0.2 s
    people = [factories.ClientFactory(practice=practice) for _ in range(16)]
    now = timezone.now()
    ids = [
        Reminder.objects.create(
            client=person,
            kind=Reminder.Kind.LINK,
            slot_key=f"link/again/{person.id}",
            slot_day=now.date(),
            due_at=now,
            status=Status.QUEUED,
            queued_at=now,
        ).id
        for person in people
    ]
    swept: list[int] = []
    done = threading.Event()

    def beat() -> None:
        try:
            while not done.is_set():
                swept.extend(reminders.reminders_sweep())
                clock_time.sleep(0.1)
        finally:
            connection.close()

    with SmtpSink(delay=0.4) as sink:  # each email takes 0.4 s: 16 take three STUCKs
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        sweeper = threading.Thread(target=beat)
        sweeper.start()
        try:
            outcomes = reminders.reminders_send(ids)
        finally:
            done.set()
            sweeper.join(timeout=30)
        counts = sink.counts()

    assert set(outcomes.values()) == {"sent"}
    assert not swept
    assert sorted(counts.values()) == [1] * len(ids)
    assert not Reminder.objects.filter(id__in=ids, interrupted=True).exists()


# --- one batch of every kind, with corrupt rows among them -----------------------------------


def test_a_mixed_batch_with_corrupt_rows_hurts_no_one_else(practice, therapist, clock):
    """Each row ends as the per-row path ended it (checked once against 0766d88's
    reminder_send row by row, emails included), and no row is left "sending"."""
    ids = clients_due(practice, therapist, clock, 8)
    row = {n: Reminder.objects.get(id=i) for n, i in enumerate(ids)}
    PlanStep.objects.filter(plan_id=row[1].plan_id).delete()  # a plan with no steps
    Reminder.objects.filter(id=ids[2]).update(kind="bogus")  # a kind nobody knows
    Reminder.objects.filter(id=ids[3]).update(client=None)  # a routine row without client
    Client.objects.filter(id=row[4].client_id).update(time_zone="Mars/Base")
    Client.objects.filter(id=row[5].client_id).update(three_x_days="mon")
    Client.objects.filter(id=row[6].client_id).update(reminder_channel="push")  # no phone
    booked = factories.ClientFactory(practice=practice, primary_therapist=therapist)
    Client.objects.filter(id=booked.id).update(massage_cadence="weekly")
    MassageSession.objects.create(client=booked, therapist=therapist, date=date(2026, 11, 18))
    queued = {"status": Status.QUEUED, "slot_day": EIGHT.date(), "due_at": EIGHT}
    Kind = Reminder.Kind
    extra = [
        Reminder.objects.create(client=booked, kind=Kind.BOOKING, slot_key="booking/2026-11-18", **queued),
        Reminder.objects.create(client=booked, kind=Kind.BOOKING_FOLLOWUP, slot_key="followup/x", **queued),
        Reminder.objects.create(client=row[0].client, kind=Kind.LINK, slot_key="link/first/x", **queued),
        Reminder.objects.create(
            client=row[0].client, plan_id=row[0].plan_id, therapist=therapist, kind=Kind.ALERT,
            slot_key="alert/x", detail="Pain 9", **queued,
        ),
        Reminder.objects.create(therapist=therapist, kind=Kind.DIGEST, slot_key="digest/x", **queued),
    ]  # fmt: skip
    batch = ids + [reminder.id for reminder in extra] + [ids[0]]  # and one id twice

    outcomes = reminders.reminders_send(batch)

    data = "Not sent: a problem with the client's data: "
    assert list(outcomes.values()) == [
        "sent", "skipped", "failed", "failed", "sent", "failed", "sent",
        "sent", "sent", "failed", "sent", "sent", "skipped",
    ]  # fmt: skip
    reason = dict(Reminder.objects.filter(id__in=batch).values_list("id", "reason"))
    assert reason[ids[1]].startswith("The schedule changed")
    assert reason[ids[2]] == data + "ValueError: Invalid isoformat string: 'morning'"
    assert reason[ids[3]].startswith("Could not be sent: AttributeError")
    assert reason[ids[5]].startswith(data + "The three days a week")
    assert reason[extra[1].id] == data + "ValueError: Invalid isoformat string: 'x'"
    assert reason[extra[4].id] == "Nobody at soon or watch any more."
    assert not Reminder.objects.filter(id__in=batch, status=Status.SENDING).exists()
    assert len(mail.outbox) == 7
