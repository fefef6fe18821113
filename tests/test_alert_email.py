"""The therapist's email for a safety alert: sent at once; if the mail server fails, the
client still sees their safety screen and a worker retries the email."""

from __future__ import annotations

import smtplib
import uuid

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.urls import reverse

from aftercare import checkins, emails, tasks
from aftercare.models import Alert
from aftercare.phases import Phase


def warning_yes(*signs: str) -> dict:
    return {"warning": "yes", "safety_signs": list(signs), "submission_key": str(uuid.uuid4())}


@pytest.fixture
def mail_down(monkeypatch):
    def refuse(*, alert, only=None):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(emails, "alert_send", refuse)


@pytest.fixture
def scheduled(monkeypatch):
    calls = []
    monkeypatch.setattr(
        tasks.send_alert_email, "apply_async", lambda **kwargs: calls.append(kwargs)
    )
    return calls


def test_it_shows_the_safety_screen_and_schedules_a_retry_when_mail_fails(
    phone, plan, mail_down, scheduled, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(reverse("client-checkin"), warning_yes("chest_pain"), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [(reverse("client-safety"), 302)]
    alert = Alert.objects.get(plan=plan)
    assert scheduled == [{"args": [alert.id, None], "countdown": 30}]
    plan.refresh_from_db()
    assert plan.phase == Phase.HOLD


def test_it_still_answers_when_the_broker_is_down_too(
    phone, plan, mail_down, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(**kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.send_alert_email, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(reverse("client-checkin"), warning_yes("fever"), follow=True)
    assert response.status_code == 200
    assert "Please contact a doctor today" in response.content.decode()
    assert Alert.objects.filter(plan=plan, kind="safety_doctor", resolved_at=None).exists()


def test_the_retry_task_sends_the_email(plan, therapist):
    alert = Alert.objects.create(plan=plan, kind="safety_emergency", severity=100, message="x")
    tasks.send_alert_email.apply(args=[alert.id])
    assert [m.to for m in mail.outbox] == [[therapist.user.email]]


def test_the_retry_task_retries_while_mail_is_down(plan, mail_down):
    alert = Alert.objects.create(plan=plan, kind="safety_emergency", severity=100, message="x")
    result = tasks.send_alert_email.apply(args=[alert.id])
    assert isinstance(result.result, Retry | smtplib.SMTPServerDisconnected)
    assert mail.outbox == []


def test_the_retry_task_does_nothing_for_a_deleted_alert(db):
    tasks.send_alert_email.apply(args=[987654])
    assert mail.outbox == []


def test_it_sends_at_once_when_mail_works(phone, plan, therapist, scheduled):
    alert = Alert.objects.create(plan=plan, kind="safety_emergency", severity=100, message="x")
    checkins.alert_email_send(alert_id=alert.id)
    assert [m.to for m in mail.outbox] == [[therapist.user.email]]
    assert scheduled == []


def test_a_retry_goes_only_to_the_therapist_whose_copy_failed(
    phone, plan, client_person, practice, therapist, monkeypatch, scheduled
):
    from tests import factories

    colleague = factories.TherapistFactory(practice=practice)
    client_person.primary_therapist = None  # every therapist of the practice is told
    client_person.save()
    real_send = emails.EmailMultiAlternatives.send

    def refuse_the_colleague(message, *args, **kwargs):
        if message.to == [colleague.user.email]:
            raise smtplib.SMTPServerDisconnected("dropped")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(emails.EmailMultiAlternatives, "send", refuse_the_colleague)
    alert = Alert.objects.create(plan=plan, kind="safety_emergency", severity=100, message="x")
    checkins.alert_email_send(alert_id=alert.id)
    assert [m.to for m in mail.outbox] == [[therapist.user.email]]
    assert scheduled == [{"args": [alert.id, [colleague.user.email]], "countdown": 30}]
    monkeypatch.setattr(emails.EmailMultiAlternatives, "send", real_send)
    tasks.send_alert_email.apply(args=[alert.id, [colleague.user.email]])
    assert [m.to for m in mail.outbox] == [[therapist.user.email], [colleague.user.email]]
