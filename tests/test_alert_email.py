"""The therapist's alert email goes through the outbox (issues 9 and 10): never sent from
inside the client's request, proportionate to the attention level, retried from the
database (not by long broker countdowns), once per therapist."""

from __future__ import annotations

import smtplib
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.urls import reverse
from django.utils import timezone

from aftercare import checkins
from aftercare.models import Alert, Reminder
from aftercare.outbox import reminders
from aftercare.rules.phases import Phase
from tests import factories


def warning_yes(*signs: str) -> dict:
    return {"warning": "yes", "safety_signs": list(signs), "submission_key": str(uuid.uuid4())}


def log(plan, worst=3, **answers):
    data = {"pain_now": min(worst, 2), "worst_pain": worst, "compared": "same", "legs": "none"}
    data["sleep"] = "fine"
    return checkins.symptom_log_create(
        plan=plan, submission_key=uuid.uuid4(), answers={**data, **answers}
    )


def alert_rows():
    return Reminder.objects.filter(kind=Reminder.Kind.ALERT).order_by("id")


@pytest.fixture
def mail_down(monkeypatch):
    """The mail server drops every connection until the test calls the returned `up()`."""
    original = EmailBackend.send_messages

    def refuse(self, messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    return lambda: monkeypatch.setattr(EmailBackend, "send_messages", original)


def deliver_due(now):
    """What the next tick and a worker do: claim the due rows and send them."""
    for reminder_id in reminders.reminders_claim(now=now):
        reminders.reminder_send(reminder_id, now=now)


def test_an_emergency_emails_the_therapist_now_saying_only_they_can_resume(
    phone, plan, therapist, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        phone.post(reverse("client-checkin"), warning_yes("chest_pain"))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [therapist.user.email]
    assert message.subject == f"Urgent: {plan.client.name} needs you now"
    assert "Only you can resume their routine" in message.body
    assert "Emergency warning sign" in message.body
    assert alert_rows().get().status == Reminder.Status.SENT


def test_pain_9_emails_today_without_claiming_the_routine_is_stopped(
    phone, plan, therapist, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        log(plan, worst=9)
    assert [m.subject for m in mail.outbox] == [f"Urgent: {plan.client.name} needs you today"]
    body = mail.outbox[0].body
    assert "Pain 9" in body
    assert "Only you can resume" not in body
    assert "routine goes on as planned" in body


@pytest.mark.parametrize(
    "history",
    [
        "step_raised_pain",
        "worse_three_times",
        "much_worse",
        "pain_7",
        "woken",
    ],
)
def test_nothing_below_today_is_emailed_at_once(plan, history, django_capture_on_commit_callbacks):
    """The bug: every alert went out as "Urgent ... only you can resume". Soon and watch
    wait for the morning digest."""
    with django_capture_on_commit_callbacks(execute=True):
        if history == "step_raised_pain":
            psoas = plan.steps.get(name="Psoas release")
            log(plan, 4, worse_steps=[psoas.id], worse_by=2)
        elif history == "worse_three_times":
            for _ in range(3):
                log(plan, 4, compared="worse")
        elif history == "much_worse":
            log(plan, 5, compared="much_worse")
        elif history == "pain_7":
            log(plan, 7)
        else:
            log(plan, 4, sleep="woken")
    plan.refresh_from_db()
    assert plan.attention_level == 20  # soon
    assert mail.outbox == []
    assert not alert_rows().exists()


def test_the_same_trigger_is_emailed_once_and_a_new_one_again(
    plan, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        log(plan, 9)
        log(plan, 5, compared="better")  # the same day's pain 9 still stands: no new trigger
    assert len(mail.outbox) == 1
    with (
        time_machine.travel(timezone.now() + timedelta(days=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        log(plan, 9)
    assert len(mail.outbox) == 2


def test_the_client_sees_the_safety_screen_while_mail_is_down_and_the_email_goes_later(
    phone, plan, therapist, mail_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(reverse("client-checkin"), warning_yes("chest_pain"), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [(reverse("client-safety"), 302)]
    plan.refresh_from_db()
    assert plan.phase == Phase.HOLD
    row = alert_rows().get()
    assert row.status == Reminder.Status.PENDING
    assert row.reason.startswith("Will retry")
    assert row.due_at > timezone.now()  # retried from the database, not a broker countdown
    mail_down()  # the mail server is back
    deliver_due(row.due_at + timedelta(seconds=1))
    assert len(mail.outbox) == 1
    assert alert_rows().get().status == Reminder.Status.SENT
    deliver_due(row.due_at + timedelta(minutes=30))
    assert len(mail.outbox) == 1, "sent twice"


def test_it_still_answers_when_the_broker_is_down_too(
    phone, plan, monkeypatch, django_capture_on_commit_callbacks
):
    from celery import current_app

    monkeypatch.undo()  # the real hand-out, to a broker that refuses
    monkeypatch.setattr(
        current_app, "send_task", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("down"))
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(reverse("client-checkin"), warning_yes("chest_pain"))
    assert response.status_code == 302
    row = alert_rows().get()
    assert row.status == Reminder.Status.PENDING  # the next tick claims it
    assert Alert.objects.filter(plan=plan, kind="safety_emergency").exists()


def test_every_therapist_of_a_practice_gets_one_copy_and_a_retry_only_reaches_who_missed_it(
    practice, therapist, monkeypatch, django_capture_on_commit_callbacks
):
    other = factories.TherapistFactory(practice=practice)
    client = factories.ClientFactory(practice=practice, primary_therapist=None)
    plan = factories.plan_for(client, therapist, phase=Phase.FLARE)
    original = EmailBackend.send_messages

    def refuse_one(self, messages):
        if messages[0].to == [other.user.email]:
            raise smtplib.SMTPRecipientsRefused({other.user.email: (451, b"try later")})
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", refuse_one)
    with django_capture_on_commit_callbacks(execute=True):
        log(plan, 10)
    assert [m.to for m in mail.outbox] == [[therapist.user.email]]
    monkeypatch.setattr(EmailBackend, "send_messages", original)
    deliver_due(timezone.now() + timedelta(minutes=5))
    assert sorted(m.to[0] for m in mail.outbox) == sorted([therapist.user.email, other.user.email])
