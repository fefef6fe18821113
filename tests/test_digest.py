"""The morning digest (TAPER.md, "Attention"): one email per therapist at 07:30 in the
practice's zone, only when a client is at soon or watch, listing each with the reason and
a link; urgent and today are not in it (they were emailed at once)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from aftercare import checkins, triage
from aftercare.models import Plan, Reminder
from aftercare.outbox import reminders
from aftercare.rules.attention import Level
from aftercare.rules.phases import Phase
from clients.models import Therapist
from tests import factories
from tests.test_checkin_pages import HEALTH_WORDS

# 25 Nov 2026 in New York (UTC-5): 07:29 and 07:30 local.
DAY = datetime(2026, 11, 25, tzinfo=UTC)
BEFORE = DAY + timedelta(hours=12, minutes=29)
AT = DAY + timedelta(hours=12, minutes=30)
Kind, Status = Reminder.Kind, Reminder.Status


def digests(therapist: Therapist | None = None):
    rows = Reminder.objects.filter(kind=Kind.DIGEST).order_by("id")
    return rows.filter(therapist=therapist) if therapist else rows


def log(plan: Plan, worst: int, **answers) -> None:
    data = {"pain_now": 0, "worst_pain": worst, "compared": "same", "legs": "none"}
    checkins.symptom_log_create(
        plan=plan, submission_key=uuid.uuid4(), answers={**data, "sleep": "fine", **answers}
    )


def digest_to(therapist: Therapist):
    found = [m for m in mail.outbox if m.to == [therapist.user.email]]
    assert len(found) <= 1, [m.subject for m in found]
    return found[0] if found else None


@pytest.fixture
def new_york(practice):
    practice.time_zone = "America/New_York"
    practice.save()
    return practice


@pytest.fixture
def colleague(new_york):
    return factories.TherapistFactory(practice=new_york)


@pytest.fixture
def caseload(clock, new_york, therapist, colleague):
    """The day before: a client of each kind, assessed as check-ins and the tick leave them."""
    clock.move_to(DAY - timedelta(hours=10), tick=False)  # 24 Nov, 09:00 in New York

    def person(name: str, primary, phase=Phase.SUBSIDING) -> Plan:
        client = factories.ClientFactory(practice=new_york, primary_therapist=primary, name=name)
        return factories.plan_for(client, therapist, phase=phase)

    plans = {
        "soon": person("Sam Soon", therapist),
        "shared": person("Nia Shared", None),
        "colleagues": person("Olly Other", colleague),
        "today": person("Tara Today", therapist),
        "calm": person("Cal Calm", therapist),
        "watch": person("Walt Watch", therapist),
    }
    log(plans["soon"], 7)
    log(plans["shared"], 4, compared="much_worse")
    log(plans["colleagues"], 8)
    log(plans["today"], 9)
    log(plans["calm"], 2)
    # Walt stopped checking in 3 days ago: the tick moved him to watch.
    then = timezone.now() - timedelta(days=3)
    Plan.objects.filter(pk=plans["watch"].pk).update(phase_since=then, started_at=then)
    plans["watch"].refresh_from_db()
    triage.attention_refresh(plan=plans["watch"])
    levels = {key: Plan.objects.get(pk=plan.pk).attention_level for key, plan in plans.items()}
    assert levels == {
        "soon": Level.SOON,
        "shared": Level.SOON,
        "colleagues": Level.SOON,
        "today": Level.TODAY,
        "calm": Level.CALM,
        "watch": Level.WATCH,
    }
    mail.outbox.clear()  # the alert for Tara went at once, the day before
    return plans


def tick(clock, when: datetime, capture) -> int:
    """What the tick does for digests at `when`: plan them; the hand-out after commit sends
    them (in this process: conftest's `_worker_in_process`)."""
    clock.move_to(when, tick=False)
    with capture(execute=True):
        return triage.digests_plan()


# --- when ----------------------------------------------------------------------------------------


def test_nothing_at_0729_local_and_the_digest_at_0730(
    clock, caseload, therapist, colleague, django_capture_on_commit_callbacks
):
    # 07:30 UTC is 02:30 in New York: the practice's zone decides, not the server's.
    assert (
        tick(clock, DAY + timedelta(hours=7, minutes=30), django_capture_on_commit_callbacks) == 0
    )
    assert tick(clock, BEFORE, django_capture_on_commit_callbacks) == 0
    assert not digests().exists() and mail.outbox == []
    assert tick(clock, AT, django_capture_on_commit_callbacks) == 2
    assert [row.status for row in digests()] == [Status.SENT, Status.SENT]
    assert digest_to(therapist) and digest_to(colleague)
    assert {row.slot_day for row in digests()} == {DAY.date()}


def test_one_digest_per_therapist_per_day_with_the_tick_every_minute(
    clock, caseload, therapist, colleague, django_capture_on_commit_callbacks
):
    for minute in range(0, 90):
        tick(clock, AT + timedelta(minutes=minute), django_capture_on_commit_callbacks)
    assert digests(therapist).count() == 1 and digests(colleague).count() == 1
    assert len(mail.outbox) == 2
    # The next morning: one more each.
    tick(clock, AT + timedelta(days=1), django_capture_on_commit_callbacks)
    tick(clock, AT + timedelta(days=1, minutes=1), django_capture_on_commit_callbacks)
    assert digests(therapist).count() == 2
    assert len(mail.outbox) == 4


def test_nobody_at_soon_or_watch_settles_the_day_with_a_skipped_row(
    clock, new_york, therapist, django_capture_on_commit_callbacks
):
    clock.move_to(BEFORE, tick=False)
    client = factories.ClientFactory(practice=new_york, primary_therapist=therapist)
    log(factories.plan_for(client, therapist), 2)
    assert tick(clock, AT, django_capture_on_commit_callbacks) == 0
    row = digests(therapist).get()
    assert (row.status, row.reason) == (Status.SKIPPED, "Nobody at soon or watch this morning.")
    assert mail.outbox == []
    tick(clock, AT + timedelta(minutes=1), django_capture_on_commit_callbacks)
    assert digests(therapist).count() == 1


# --- who --------------------------------------------------------------------------------------


def test_each_therapist_gets_their_own_clients_and_those_without_one(
    clock, caseload, therapist, colleague, django_capture_on_commit_callbacks
):
    tick(clock, AT, django_capture_on_commit_callbacks)
    mine = digest_to(therapist).body
    assert "Sam Soon" in mine and "Nia Shared" in mine and "Walt Watch" in mine
    assert "Olly Other" not in mine
    assert "Tara Today" not in mine, "today was emailed at once"
    assert "Cal Calm" not in mine
    theirs = digest_to(colleague).body
    assert "Olly Other" in theirs and "Nia Shared" in theirs
    assert "Sam Soon" not in theirs and "Walt Watch" not in theirs


def test_the_email_lists_each_client_with_the_reason_and_a_link(
    clock, caseload, therapist, django_capture_on_commit_callbacks
):
    tick(clock, AT, django_capture_on_commit_callbacks)
    message = digest_to(therapist)
    body, page = message.body, message.alternatives[0][0]
    for key, reason in (
        ("soon", "Pain 7"),
        ("shared", "Much worse"),
        ("watch", "No check-in since 21 Nov"),
    ):
        client = caseload[key].client
        link = "http://testserver" + reverse("therapist-client", args=[client.public_id])
        assert f"- {client.name} (" in body
        line = body[body.index(f"- {client.name} (") :].split("\n")
        assert reason in line[0], line[0]
        assert line[1].strip() == link
        assert link in page and reason in page
    # The most pressing first: soon before watch (the two soons logged at the same moment).
    names = ["Sam Soon", "Nia Shared", "Walt Watch"]
    assert [body.index(name) for name in names] == sorted(body.index(name) for name in names)
    assert "http://testserver" + reverse("therapist-settings") in body


def test_the_subject_carries_no_health_words(
    clock, caseload, therapist, django_capture_on_commit_callbacks
):
    tick(clock, AT, django_capture_on_commit_callbacks)
    subject = digest_to(therapist).subject
    assert subject == "3 clients to look at today"
    for word in HEALTH_WORDS:
        assert word not in subject.lower(), word
    for name in ("Sam", "Nia", "Walt"):
        assert name not in subject


def test_the_digest_is_as_things_stand_when_it_is_sent(
    clock, caseload, therapist, django_capture_on_commit_callbacks
):
    """Planned at 07:30 but sent later (a slow worker): a client seen meanwhile is not in
    it, and a digest with nobody left is skipped."""
    clock.move_to(AT, tick=False)
    with django_capture_on_commit_callbacks(execute=False):
        triage.digests_plan()
    row = digests(therapist).get()
    for key in ("soon", "shared"):
        triage.attention_seen(plan=caseload[key], by=therapist.user)
    assert reminders.reminder_send(row.id) == "sent"
    body = digest_to(therapist).body
    assert "Walt Watch" in body and "Sam Soon" not in body
    assert digest_to(therapist).subject == "1 client to look at today"
    triage.attention_seen(plan=caseload["watch"], by=therapist.user)
    triage.attention_seen(plan=caseload["colleagues"], by=therapist.user)
    colleague_row = digests().exclude(therapist=therapist).get()
    assert reminders.reminder_send(colleague_row.id) == "skipped"
    colleague_row.refresh_from_db()
    assert colleague_row.reason == "Nobody at soon or watch any more."


# --- turning it off -----------------------------------------------------------------------------


def test_a_therapist_who_turned_it_off_gets_none(
    clock, caseload, therapist, colleague, django_capture_on_commit_callbacks
):
    desk = Browser(enforce_csrf_checks=True)
    desk.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    settings_url = reverse("therapist-settings")
    page = desk.get(settings_url).content.decode()
    assert 'name="digest_emails"' in page and "checked" in page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    # The box unticked: a browser posts only the token.
    response = desk.post(settings_url, {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    therapist.refresh_from_db()
    assert therapist.digest_emails is False

    tick(clock, AT, django_capture_on_commit_callbacks)
    assert not digests(therapist).exists()
    assert digest_to(therapist) is None
    assert digest_to(colleague) is not None

    # Ticked again (signed in afresh: a therapist's session lasts 12 hours): the next
    # morning's comes.
    desk.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    page = desk.get(settings_url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    desk.post(settings_url, {"csrfmiddlewaretoken": token, "digest_emails": "on"})
    therapist.refresh_from_db()
    assert therapist.digest_emails is True
    tick(clock, AT + timedelta(days=1), django_capture_on_commit_callbacks)
    assert digest_to(therapist) is not None


def test_turned_off_after_it_was_planned_it_is_not_sent(
    clock, caseload, therapist, django_capture_on_commit_callbacks
):
    clock.move_to(AT, tick=False)
    with django_capture_on_commit_callbacks(execute=False):
        triage.digests_plan()
    Therapist.objects.filter(pk=therapist.pk).update(digest_emails=False)
    row = digests(therapist).get()
    assert reminders.reminder_send(row.id) == "skipped"
    row.refresh_from_db()
    assert row.reason == "The therapist turned the morning digest off."


# --- the outbox ---------------------------------------------------------------------------------


def test_a_digest_the_broker_refused_goes_with_the_next_claim_once(
    clock, caseload, therapist, monkeypatch, django_capture_on_commit_callbacks
):
    refused = []

    def broker_down(ids):
        refused.extend(ids)
        reminders.reminders_unclaim(ids)
        return False

    monkeypatch.setattr(reminders, "hand_out", broker_down)
    tick(clock, AT, django_capture_on_commit_callbacks)
    assert mail.outbox == []
    assert {row.status for row in digests()} == {Status.PENDING}

    claimed = reminders.reminders_claim(now=AT + timedelta(minutes=1))
    assert sorted(claimed) == sorted(refused)
    for reminder_id in claimed:
        assert reminders.reminder_send(reminder_id, now=AT + timedelta(minutes=1)) == "sent"
        assert reminders.reminder_send(reminder_id) == "not queued"  # a second worker
    assert reminders.reminders_claim(now=AT + timedelta(minutes=2)) == []
    assert digest_to(therapist).subject == "3 clients to look at today"
    assert len(mail.outbox) == 2


def test_a_practice_with_a_zone_that_is_not_real_gets_no_digest_and_stops_no_one(
    clock, caseload, therapist, django_capture_on_commit_callbacks
):
    elsewhere = factories.practice_with_library()
    stranded = factories.TherapistFactory(practice=elsewhere)
    type(elsewhere).objects.filter(pk=elsewhere.pk).update(time_zone="Mars/Base")
    tick(clock, AT, django_capture_on_commit_callbacks)
    assert digest_to(therapist) is not None
    assert not digests(stranded).exists()
