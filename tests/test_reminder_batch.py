"""Sending a batch (reminders.reminders_send, what the worker's task runs): a fixed number
of queries whatever the batch's size, one write per email right after the server took it,
and one row's trouble (its data, its template, a busy server, its channel) stays that
row's. docs/reminders.md, "Sending a batch"."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aftercare import push, tasks
from aftercare.models import PushSubscription, Reminder
from aftercare.outbox import emails, reminders
from aftercare.rules.phases import Phase
from clients.models import Client
from tests import factories
from tests.services import at_once

Status = Reminder.Status
MORNING = "2026-11-25/morning"
EIGHT = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # London's 08:00: the morning slot

# A batch of routine rows: the claim (UPDATE ... RETURNING), the rows with their client,
# practice, plan (one query), the plans' steps, then the ticks, the routine reminders sent
# that day and the last check-ins, one query each. Then one UPDATE per email sent.
BATCH_QUERIES = 6


def clients_due(practice, therapist, clock, count: int) -> list[int]:
    """`count` clients in Flare, each with their morning reminder queued at 08:00."""
    people = [
        factories.ClientFactory(practice=practice, primary_therapist=therapist)
        for _ in range(count)
    ]
    for person in people:
        factories.plan_for(person, therapist, Phase.FLARE)
    reminders.reminders_plan_due()
    clock.move_to(EIGHT)
    rows = Reminder.objects.filter(client__in=people, slot_key=MORNING)
    rows.update(status=Status.QUEUED, queued_at=timezone.now())
    return list(rows.order_by("id").values_list("id", flat=True))


def queries_to_send(ids: list[int]) -> int:
    with CaptureQueriesContext(connection) as queries:
        outcomes = reminders.reminders_send(ids)
    assert set(outcomes.values()) <= {"sent", "skipped"}, outcomes
    return len(queries)


def test_a_batch_costs_a_fixed_number_of_queries_plus_one_write_per_email(
    practice, therapist, clock
):
    ids = clients_due(practice, therapist, clock, 55)
    five, fifty = ids[:5], ids[5:]

    assert queries_to_send(five) == BATCH_QUERIES + 5
    assert queries_to_send(fifty) == BATCH_QUERIES + 50
    assert len(mail.outbox) == 55
    assert set(Reminder.objects.filter(id__in=ids).values_list("status", flat=True)) == {"sent"}


def test_skipping_a_batch_costs_the_same_for_fifty_rows_as_for_five(practice, therapist, clock):
    ids = clients_due(practice, therapist, clock, 55)
    Client.objects.filter(reminders__id__in=ids).update(routine_emails=False)

    assert queries_to_send(ids[:5]) == queries_to_send(ids[5:]) == BATCH_QUERIES + 1
    assert not mail.outbox
    reasons = set(Reminder.objects.filter(id__in=ids).values_list("status", "reason"))
    assert reasons == {("skipped", "The client unsubscribed from routine reminders.")}


def test_each_email_is_marked_sent_before_the_next_one_goes(
    practice, therapist, clock, monkeypatch
):
    """A worker dying mid-batch leaves at most the email in flight unrecorded: the rows
    before it are "sent" already (the duplicate window stays one email wide)."""
    ids = clients_due(practice, therapist, clock, 4)
    seen = []
    real_send = mail.backends.locmem.EmailBackend.send_messages

    def send_messages(self, messages):
        seen.append(list(Reminder.objects.filter(id__in=ids).values_list("status", flat=True)))
        return real_send(self, messages)

    monkeypatch.setattr(mail.backends.locmem.EmailBackend, "send_messages", send_messages)
    reminders.reminders_send(ids)

    assert [statuses.count("sent") for statuses in seen] == [0, 1, 2, 3]
    assert [statuses.count("sending") for statuses in seen] == [4, 3, 2, 1]


def test_handed_the_same_batch_twice_each_row_goes_once(practice, therapist, clock):
    ids = clients_due(practice, therapist, clock, 3)
    assert set(reminders.reminders_send(ids).values()) == {"sent"}
    assert reminders.reminders_send(ids) == dict.fromkeys(ids, "not queued")
    assert len(mail.outbox) == 3


def test_two_a_day_counts_the_emails_sent_earlier_in_the_same_batch(flare, client_person, clock):
    reminders.reminders_plan_due()
    Reminder.objects.create(
        client=client_person,
        plan=flare,
        kind=Reminder.Kind.ROUTINE,
        slot_key="2026-11-25/midday",
        slot_day=EIGHT.date(),
        due_at=EIGHT - timedelta(hours=2),
        status=Status.SENT,
    )
    rows = Reminder.objects.filter(client=client_person, slot_day=EIGHT.date(), status="pending")
    ids = list(rows.order_by("due_at").values_list("id", flat=True))  # morning, evening
    rows.update(status=Status.QUEUED)
    clock.move_to(EIGHT)

    outcomes = reminders.reminders_send(ids)

    assert list(outcomes.values()) == ["sent", "skipped"]
    evening = Reminder.objects.get(id=ids[1])
    assert evening.reason == "Two routine reminders (by any channel) were already sent that day."


# --- one row's trouble stays that row's ------------------------------------------------------


def test_in_one_batch_bad_data_a_broken_template_and_a_busy_server_each_stop_one_row(
    practice, therapist, clock, monkeypatch
):
    ids = clients_due(practice, therapist, clock, 5)
    fine, bad_data, bad_template, busy, also_fine = ids
    bad_client = Reminder.objects.get(id=bad_data).client_id
    Client.objects.filter(id=bad_client).update(three_x_days="mon")  # as an import wrote it
    busy_address = Reminder.objects.get(id=busy).client.email

    real_message = emails.outbox_message

    def outbox_message(reminder, **kwargs):
        if reminder.id == bad_template:
            raise ValueError("a template that cannot render")
        return real_message(reminder, **kwargs)

    real_send = mail.backends.locmem.EmailBackend.send_messages

    def send_messages(self, messages):
        if messages[0].to == [busy_address]:
            raise smtplib.SMTPDataError(451, b"4.3.0 try again later")
        return real_send(self, messages)

    monkeypatch.setattr(emails, "outbox_message", outbox_message)
    monkeypatch.setattr(mail.backends.locmem.EmailBackend, "send_messages", send_messages)
    tasks.send_reminders(ids)

    found = {row.id: row for row in Reminder.objects.filter(id__in=ids)}
    assert {i: found[i].status for i in ids} == {
        fine: "sent",
        bad_data: "failed",
        bad_template: "failed",
        busy: "pending",
        also_fine: "sent",
    }
    assert found[bad_data].reason.startswith("Not sent: a problem with the client's data")
    assert "a template that cannot render" in found[bad_template].reason
    assert found[busy].reason == "Will retry: 451 4.3.0 try again later"
    assert found[busy].due_at > EIGHT
    assert len(mail.outbox) == 2


def test_a_row_the_batch_cannot_read_fails_alone(practice, therapist, clock, monkeypatch):
    ids = clients_due(practice, therapist, clock, 3)
    real_load = reminders._load_rows

    def load_rows(batch):
        if ids[1] in batch:
            raise RuntimeError("a row the ORM cannot read")
        return real_load(batch)

    monkeypatch.setattr(reminders, "_load_rows", load_rows)
    outcomes = reminders.reminders_send(ids)

    assert outcomes == {ids[0]: "sent", ids[1]: "failed", ids[2]: "sent"}
    assert "a row the ORM cannot read" in Reminder.objects.get(id=ids[1]).reason


def test_notifications_and_texts_in_a_batch_go_by_their_channel_with_the_email_to_fall_back_on(
    practice, therapist, clock, monkeypatch, settings, tmp_path
):
    settings.SMS_BACKEND, settings.SMS_FILE_PATH = "file", str(tmp_path)
    practice.sms_enabled, practice.sms_sender = True, "+447400123456"
    practice.save()
    ids = clients_due(practice, therapist, clock, 4)
    by_email, by_push, push_forgotten, by_text = (Reminder.objects.get(id=i).client for i in ids)
    for person in (by_push, push_forgotten):
        PushSubscription.objects.create(
            client=person, endpoint=f"https://push.example/{person.id}", p256dh="k", auth="a"
        )
    Client.objects.filter(id__in=[by_push.id, push_forgotten.id]).update(reminder_channel="push")
    Client.objects.filter(id=by_text.id).update(
        reminder_channel="sms", sms_number="+447123456789", sms_opt_in_at=timezone.now()
    )
    pushed = []

    def send(subscription, payload, **kwargs):
        if subscription.client_id == push_forgotten.id:
            raise push.PushError("410: gone", transient=False, gone=True)
        pushed.append((subscription.client_id, payload["slot"]))

    monkeypatch.setattr(push, "send", send)
    outcomes = reminders.reminders_send(ids)

    assert set(outcomes.values()) == {"sent"}
    channel = dict(Reminder.objects.filter(id__in=ids).values_list("client_id", "channel"))
    assert channel == {
        by_email.id: "email",
        by_push.id: "push",
        push_forgotten.id: "email",
        by_text.id: "sms",
    }
    assert pushed == [(by_push.id, MORNING)]
    assert sorted(m.to[0] for m in mail.outbox) == sorted([by_email.email, push_forgotten.email])
    assert len(list(tmp_path.glob("*.txt"))) == 1
    assert not PushSubscription.objects.filter(client=push_forgotten).exists()


# --- a batch that runs long --------------------------------------------------------------------


def test_a_long_batch_keeps_its_rows_from_the_sweep_and_leaves_the_ones_it_lost(
    practice, therapist, clock, monkeypatch, settings
):
    """The sweep takes a row "sending" for REMINDER_STUCK_SECONDS for a dead worker's. A
    live batch renews its rows' stamp as it goes; a row the sweep (or another worker) has
    taken meanwhile is not sent by this batch: one email, whoever sends it."""
    settings.REMINDER_STUCK_SECONDS = 0  # renew before every row
    ids = clients_due(practice, therapist, clock, 4)
    swept, taken = ids[2], ids[3]
    real_send = mail.backends.locmem.EmailBackend.send_messages

    def send_messages(self, messages):
        if len(mail.outbox) == 0:  # while the first email goes, two rows change hands
            Reminder.objects.filter(id=swept).update(status=Status.QUEUED, interrupted=True)
            Reminder.objects.filter(id=taken).update(sending_at=EIGHT - timedelta(minutes=1))
            clock.shift(timedelta(seconds=30))
        return real_send(self, messages)

    monkeypatch.setattr(mail.backends.locmem.EmailBackend, "send_messages", send_messages)
    outcomes = reminders.reminders_send(ids)

    assert outcomes == {ids[0]: "sent", ids[1]: "sent", swept: "not queued", taken: "not queued"}
    assert len(mail.outbox) == 2
    status = dict(Reminder.objects.filter(id__in=ids).values_list("id", "status"))
    assert (status[swept], status[taken]) == ("queued", "sending")  # left to their holders
    # The rows it kept carry the renewed stamp.
    assert Reminder.objects.get(id=ids[1]).sending_at == EIGHT + timedelta(seconds=30)


# --- two workers handed the same batch at the same instant (PostgreSQL) -----------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_four_workers_handed_the_same_batch_at_once_send_each_row_once(
    require_service, practice, therapist, clock
):
    require_service("postgres")
    ids = clients_due(practice, therapist, clock, 20)
    outcomes = at_once(lambda: reminders.reminders_send(list(reversed(ids))), 4)

    sent_by = [[i for i, outcome in found.items() if outcome == "sent"] for found in outcomes]
    everything = [i for sent in sent_by for i in sent]
    assert sorted(everything) == sorted(ids)  # each row sent, by exactly one of the four
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        Reminder.objects.filter(id__in=ids).values_list("client__email", flat=True)
    )
