"""Triage and the outbox attacked as a stranger would (a hostile review, issue 9/10).

Each test is a defect the review found: it failed against the first version of triage
and passes since its fix. The docstring says what a person saw before the fix.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import OperationalError, connection
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from aftercare import checkins, services, triage
from aftercare.models import Plan, Protocol, Reminder, SymptomLog
from aftercare.outbox import reminders
from aftercare.rules import attention
from aftercare.rules.attention import Level
from aftercare.rules.phases import Phase
from tests import factories

DESK_BACKEND = "django.contrib.auth.backends.ModelBackend"
PHONE_BACKEND = "sesame.backends.ModelBackend"


def check_in(plan: Plan, worst: int = 3, now=None, **answers):
    data = {
        "pain_now": min(worst, 2),
        "worst_pain": worst,
        "compared": "same",
        "legs": "none",
        "sleep": "fine",
        **answers,
    }
    return checkins.symptom_log_create(
        plan=plan, submission_key=uuid.uuid4(), answers=data, now=now
    )


def warning_sign(plan: Plan, sign: str = "chest_pain"):
    return checkins.symptom_log_create(
        plan=plan, submission_key=uuid.uuid4(), answers={"safety_signs": [sign]}
    )


def level_of(plan: Plan) -> Level:
    plan.refresh_from_db()
    return Level(plan.attention_level)


def alert_rows():
    return Reminder.objects.filter(kind=Reminder.Kind.ALERT).order_by("id")


def deliver_due(now):
    for reminder_id in reminders.reminders_claim(now=now):
        reminders.reminder_send(reminder_id, now=now)


# === HIGH ====================================================================================


@pytest.mark.parametrize(
    "assignment",
    ["compared = 'sideways'", "legs = 'three'", "safety = 'maybe'", "worst_pain = 11"],
)
def test_one_corrupt_stored_check_in_makes_even_an_emergency_check_in_a_500(
    phone, plan, therapist, assignment, django_capture_on_commit_callbacks
):
    """A client with ONE check-in row the rules can't parse (an import, a hand-written
    UPDATE: the class of data test_corrupt_data covers for other fields) can never check
    in again: every post is a server error, including "yes" to chest pain. No hold, no
    safety screen, no alert to the therapist (selectors.log_entry parses every stored
    enum strictly and checkins._apply reads the whole history)."""
    earlier = check_in(plan, 4).log
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE aftercare_symptomlog SET {assignment} WHERE id = %s",  # noqa: S608
            [earlier.id],
        )
    phone.raise_request_exception = False
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(
            reverse("client-checkin"),
            {"warning": "yes", "safety_signs": ["chest_pain"], "submission_key": str(uuid.uuid4())},
        )
    assert response.status_code == 302  # to the emergency screen
    plan.refresh_from_db()
    assert plan.phase == Phase.HOLD
    assert level_of(plan) == Level.URGENT
    assert [m.to for m in mail.outbox] == [[therapist.user.email]]


def test_seen_on_a_client_with_a_corrupt_check_in_is_a_500(therapist_client, plan, clock):
    """The same row makes the therapist's "Seen" a 500 (and the tick's re-check gives up on
    the plan for good, attention_recheck_at = None: the client never reaches Watch)."""
    earlier = check_in(plan, 7).log
    SymptomLog.objects.filter(pk=earlier.pk).update(compared="sideways")
    therapist_client.raise_request_exception = False
    response = therapist_client.post(reverse("therapist-seen", args=[plan.client.public_id]))
    assert response.status_code == 302


def test_a_tick_never_overwrites_an_emergency_that_committed_after_it_listed_the_plans(
    flare, clock, monkeypatch, django_capture_on_commit_callbacks
):
    """The tick lists the due plans, then re-assesses each. A client's emergency check-in
    that commits in between must not be overwritten by a stale copy (it was: the tick's
    Flare copy stored calm over urgent). Each plan is now locked and read afresh."""
    real = triage._recheck_due_ids

    def listed_then_emergency(now):
        ids = real(now)
        warning_sign(flare)  # the client's emergency commits after the list was read
        return ids

    clock.move_to(timezone.now() + timedelta(hours=49))  # the no-check-in clock ran out
    monkeypatch.setattr(triage, "_recheck_due_ids", listed_then_emergency)
    triage.attention_recheck_due()
    flare.refresh_from_db()
    assert flare.phase == Phase.HOLD
    assert level_of(flare) == Level.URGENT


# === MEDIUM ==================================================================================


def test_an_alert_goes_to_a_deactivated_primary_therapist_and_to_nobody_else(
    practice, therapist, django_capture_on_commit_callbacks
):
    """The client's therapist left (their login deactivated). triage.therapists_for still
    returns only them, so an emergency email goes to a mailbox nobody reads and the
    colleagues who are still at the practice hear nothing."""
    colleague = factories.TherapistFactory(practice=practice)
    person = factories.ClientFactory(practice=practice, primary_therapist=therapist)
    plan = factories.plan_for(person, therapist, Phase.FLARE)
    therapist.user.is_active = False
    therapist.user.save()
    with django_capture_on_commit_callbacks(execute=True):
        warning_sign(plan)
    assert [m.to for m in mail.outbox] == [[colleague.user.email]]


def test_the_morning_digest_goes_to_a_deactivated_therapist_not_their_colleagues(
    db, clock, django_capture_on_commit_callbacks
):
    """Same for the digest: digest_plans keeps the client with the departed therapist."""
    practice, therapist, person, plan = _digest_world()
    colleague = factories.TherapistFactory(practice=practice)
    check_in(plan, 7)
    therapist.user.is_active = False
    therapist.user.save()
    clock.move_to(datetime(2026, 11, 25, 7, 30, tzinfo=UTC))
    with django_capture_on_commit_callbacks(execute=True):
        triage.digests_plan()
    assert [m.to for m in mail.outbox] == [[colleague.user.email]]


def test_an_emergency_in_a_practice_with_no_therapist_left_is_dropped_without_a_trace(
    db, django_capture_on_commit_callbacks
):
    """No primary therapist and no therapist left in the practice: alert_emails_add
    builds zero rows. No email, no failed row, no log line anyone would see: the
    emergency reaches nobody and nothing records that it didn't."""
    practice = factories.practice_with_library()
    lone = factories.TherapistFactory(practice=practice)
    person = factories.ClientFactory(practice=practice, primary_therapist=None)
    plan = factories.plan_for(person, lone, Phase.FLARE)
    lone.delete()
    with django_capture_on_commit_callbacks(execute=True):
        warning_sign(plan)
    assert level_of(plan) == Level.URGENT
    assert alert_rows().exists(), "no outbox row: nobody can see the alert was not sent"
    row = alert_rows().get()
    assert (row.status, row.reason) == ("failed", "Not sent: no therapist at the practice to tell.")


def test_one_transient_error_in_the_tick_stops_a_plans_clocks_for_good(flare, clock, monkeypatch):
    """attention_recheck_due catches a failure and sets attention_recheck_at = None.
    After one passing error (a serialization failure, a dropped connection) the plan is
    never re-checked again: a client in Flare who stops checking in never reaches Watch."""
    real = attention.assess
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("could not serialize access due to concurrent update")
        return real(*args, **kwargs)

    monkeypatch.setattr(attention, "assess", flaky)
    clock.move_to(timezone.now() + timedelta(hours=49))
    triage.attention_recheck_due()  # fails once
    clock.move_to(timezone.now() + triage.RECHECK_LATER + timedelta(minutes=1))
    triage.attention_recheck_due()  # a few ticks later, the database fine again
    assert level_of(flare) == Level.WATCH


def test_a_plan_added_in_the_admin_never_reaches_watch(db, clock, practice, therapist):
    """Only the services start the clocks (attention_refresh). A plan added (or its phase
    changed) in the admin has attention_recheck_at = None: 3 days in Flare without a
    check-in and the therapist's dashboard still says nothing."""
    from clients.models import User

    person = factories.ClientFactory(practice=practice, primary_therapist=therapist)
    boss = User.objects.create_superuser("boss@example.com", "pw-123456789")
    desk = Browser()
    desk.force_login(boss, backend=DESK_BACKEND)
    now = timezone.localtime()
    day, hour = now.strftime("%Y-%m-%d"), now.strftime("%H:%M:%S")
    response = desk.post(
        reverse("admin:aftercare_plan_add"),
        {
            "client": person.pk,
            "protocol": Protocol.objects.filter(practice=practice).first().pk,
            "assigned_by": therapist.pk,
            "name": "By hand",
            "phase": "flare",
            "phase_since_0": day,
            "phase_since_1": hour,
            "maintenance_days": 7,
            "started_at_0": day,
            "started_at_1": hour,
            "attention_level": 0,
            "steps-TOTAL_FORMS": 0,
            "steps-INITIAL_FORMS": 0,
            "steps-MIN_NUM_FORMS": 0,
            "steps-MAX_NUM_FORMS": 1000,
        },
    )
    assert response.status_code == 302
    plan = Plan.objects.get(client=person, ended_at=None)
    clock.move_to(timezone.now() + timedelta(days=3))
    triage.attention_recheck_due()
    assert level_of(plan) == Level.WATCH


@pytest.mark.parametrize("level", [15, 99, -1])
def test_the_database_refuses_an_attention_level_that_is_not_one_of_the_five(plan, level):
    """A stray level (SQL, an import) once broke the whole morning digest (Level(15)
    raised while it was written) or showed a row in Needs me with nothing on it; the
    database now keeps them out (plan_attention_level_known)."""
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Plan.objects.filter(pk=plan.pk).update(attention_level=level)


def test_a_digest_row_that_cannot_be_written_fails_visibly_without_crashing(db, clock):
    """_fail_bad_data read the digest's (empty) client and crashed the handler."""
    from aftercare import tasks
    from aftercare.outbox import emails

    practice, therapist, person, plan = _digest_world()
    check_in(plan, 7)
    clock.move_to(datetime(2026, 11, 25, 7, 30, tzinfo=UTC))
    triage.digests_plan()
    row = Reminder.objects.get(kind="digest")

    def broken(*args, **kwargs):
        raise ValueError("a template that cannot render")

    original = emails.digest_message
    emails.digest_message = broken
    try:
        tasks.send_reminders([row.id])
    finally:
        emails.digest_message = original
    row.refresh_from_db()
    assert row.status == "failed"
    assert "a template that cannot render" in row.reason


def test_a_client_who_says_better_after_a_week_of_flare_is_not_told_it_sounds_like_a_hard_day(
    phone, clock, flare
):
    """The response page follows the plan's level, not the check-in: "still in Flare
    after 7 days" is soon, so a client reporting pain 3 and "better" gets "That sounds
    like a hard day ... ease off any step that makes your pain worse"."""
    clock.move_to(timezone.now() + timedelta(days=8))
    response = phone.post(reverse("client-checkin"), _answers(3, compared="better"))
    assert response.status_code == 302
    assert response["Location"] == reverse("client-today")


# === LOW =====================================================================================


def test_much_better_in_the_evening_after_a_9_in_the_morning_is_not_told_it_is_hard(
    phone, clock, flare
):
    """Same day: D stays 9, so the evening's "much better, pain 2" gets "That sounds really
    hard ... Stop any step that makes your pain worse": not in proportion to what the
    client just said."""
    phone.post(reverse("client-checkin"), _answers(9))
    clock.move_to(timezone.now() + timedelta(hours=8))
    response = phone.post(reverse("client-checkin"), _answers(2, compared="much_better"))
    page = phone.get(response["Location"]).content.decode()
    assert "really hard" not in page


def test_a_retried_alert_loses_its_reason(
    plan, monkeypatch, clock, django_capture_on_commit_callbacks
):
    """alert_message reads the plan's level and reason when the email is finally sent.
    Pain 9 while the mail server is down; next morning the client logs pain 2; the
    retry then says only "needs you today. A new check-in needs a look." and never
    what happened (pain 9)."""
    import smtplib

    from django.core.mail.backends.locmem import EmailBackend

    original = EmailBackend.send_messages

    def refuse(self, messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        check_in(plan, 9)
    assert alert_rows().get().status == Reminder.Status.PENDING
    clock.move_to(timezone.now() + timedelta(days=1))
    check_in(plan, 2, compared="much_better")
    monkeypatch.setattr(EmailBackend, "send_messages", original)
    deliver_due(timezone.now())
    assert len(mail.outbox) == 1
    assert "Pain 9" in mail.outbox[0].body, mail.outbox[0].body


def test_both_legs_reported_twice_the_same_day_emails_twice(
    plan, django_capture_on_commit_callbacks
):
    """ "One email per trigger": a second pain 9 the same day adds nothing, but a second
    "both legs" the same day is a second "Urgent: ... needs you today" (the rule keeps the
    newest log's time for legs, the first for pain)."""
    with django_capture_on_commit_callbacks(execute=True):
        check_in(plan, 4, legs="both")
    with django_capture_on_commit_callbacks(execute=True):
        check_in(plan, 4, legs="both")
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]


def test_resume_sends_the_therapist_an_urgent_email_about_what_they_just_resumed(
    therapist_client, plan, django_capture_on_commit_callbacks
):
    """A pain 9 check-in that slipped in while the plan went on hold (a second tab; the
    service doesn't refuse logs on hold) is not emailed then (urgent stands). When the
    therapist taps Resume, plan_resume refreshes before marking seen, so the pain 9 is
    "new" and the therapist gets "Urgent: ... needs you today" for the client they just
    handled."""
    with django_capture_on_commit_callbacks(execute=True):
        warning_sign(plan)
        check_in(plan, 9)
    assert len(mail.outbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        therapist_client.post(
            reverse("therapist-resume", args=[plan.client.public_id]), {"phase": "subsiding"}
        )
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]


def test_resume_posted_from_two_tabs_changes_the_phase_twice(plan, therapist):
    """The view checks "on hold" without a lock and services.plan_resume doesn't re-check:
    two Resume posts (Subsiding in one tab, Flare in another) both act; the client ends
    up in Flare with two "Resumed ... after a warning sign" lines in the History."""
    warning_sign(plan)
    services.plan_resume(plan=plan, phase=Phase.SUBSIDING, by=therapist.user)
    services.plan_resume(plan=plan, phase=Phase.FLARE, by=therapist.user)
    plan.refresh_from_db()
    assert plan.phase == Phase.SUBSIDING
    assert plan.phase_changes.filter(reason__startswith="Resumed").count() == 1


def test_a_digest_of_56_clients_says_50(db, clock, django_capture_on_commit_callbacks):
    """DIGEST_MAX cuts the list at 50, and the subject and first line count the cut list:
    "50 clients to look at today" when 56 are at soon or watch, with no "and 6 more"."""
    practice, therapist, person, plan = _digest_world()
    Plan.objects.filter(pk=plan.pk).update(attention_level=20, attention_reason="Pain 7")
    for _ in range(55):
        other = factories.ClientFactory(practice=practice, primary_therapist=therapist)
        other_plan = factories.plan_for(other, therapist, Phase.SUBSIDING)
        Plan.objects.filter(pk=other_plan.pk).update(attention_level=10, attention_reason="Quiet")
    clock.move_to(datetime(2026, 11, 25, 7, 30, tzinfo=UTC))
    with django_capture_on_commit_callbacks(execute=True):
        triage.digests_plan()
    assert "56" in mail.outbox[0].subject, mail.outbox[0].subject


# --- helpers used above -------------------------------------------------------------------


def _digest_world(zone: str = "Europe/London"):
    practice = factories.practice_with_library()
    practice.time_zone = zone
    practice.save()
    therapist = factories.TherapistFactory(practice=practice)
    person = factories.ClientFactory(practice=practice, primary_therapist=therapist, time_zone=zone)
    plan = factories.plan_for(person, therapist, Phase.SUBSIDING)
    return practice, therapist, person, plan


_answers = factories.checkin_answers
