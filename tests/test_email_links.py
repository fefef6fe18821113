"""The links in reminder emails: opening one changes nothing, one tap (POST) does, on any
device; bad tokens get a clear page; one-click unsubscribe per RFC 8058."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail
from django.test import Client as Browser
from django.urls import reverse

from aftercare import tokens
from aftercare.models import Completion, Plan, Reminder, SymptomLog
from aftercare.outbox import reminders
from aftercare.rules.phases import Phase
from clients.models import Client, MassageSession
from tests import factories

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
EXPIRED = "This link no longer works"


@pytest.fixture
def morning(flare, client_person) -> Reminder:
    reminders.reminders_plan_due()
    return Reminder.objects.get(client=client_person, slot_key="2026-11-25/morning")


def action_url(reminder: Reminder, action: str, token: str | None = None) -> str:
    return reverse("email-action", args=[action, token or tokens.action_token(reminder.id, action)])


def unsubscribe_url(client: Client, kind: str) -> str:
    return reverse("email-unsubscribe", args=[kind, tokens.unsubscribe_token(client.id, kind)])


def tamper(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def checkin_answers(**changes) -> dict:
    data = {
        "warning": "no",
        "pain_now": "3",
        "worst_pain": "4",
        "compared": "better",
        "legs": "none",
        "sleep": "fine",
        "note": "",
        "submission_key": str(uuid.uuid4()),
    }
    return {**data, **changes}


# --- "Done" ----------------------------------------------------------------------------------


def test_opening_the_done_link_shows_the_slot_and_changes_nothing(morning, client):
    page = client.get(action_url(morning, "done"))

    assert page.status_code == 200
    text = page.content.decode()
    assert "Mark your morning routine done?" in text
    assert "Wednesday 25 November" in text
    for step in ("Heat first", "Passive SI reset", "Lumbar decompression", "Psoas release"):
        assert f"<li>{step}</li>" in text
    assert "QL and psoas" not in text
    assert '<form method="post">' in text
    assert not Completion.objects.exists()


def test_one_tap_marks_the_slot_done_without_logging_in(morning, client, client_person, clock):
    browser = Browser(enforce_csrf_checks=False)
    page = browser.post(action_url(morning, "done"))

    assert page.status_code == 200
    assert "Done. Nice work!" in page.content.decode()
    done = Completion.objects.filter(day=date(2026, 11, 25), slot="morning")
    assert done.count() == 4
    assert not page.wsgi_request.user.is_authenticated
    # A second tap records nothing more; the morning reminder is no longer needed.
    browser.post(action_url(morning, "done"))
    assert done.count() == 4
    Reminder.objects.filter(id=morning.id).update(status="queued")
    clock.move_to(datetime(2026, 11, 25, 8, tzinfo=UTC))
    assert reminders.reminder_send(morning.id) == "skipped"
    assert mail.outbox == []


def test_done_for_a_plan_on_hold_records_nothing(morning, flare, client):
    Plan.objects.filter(id=flare.id).update(phase=Phase.HOLD)
    page = client.post(action_url(morning, "done"))
    assert "Nothing to mark" in page.content.decode()
    assert not Completion.objects.exists()


def test_another_clients_session_on_the_phone_is_not_used(morning, client, practice):
    other = factories.ClientFactory(practice=practice)
    client.force_login(other.user, backend="sesame.backends.ModelBackend")
    client.get(action_url(morning, "done"))
    client.post(action_url(morning, "done"))
    assert Completion.objects.filter(step__plan__client=morning.client).count() == 4
    assert not Completion.objects.filter(step__plan__client=other).exists()
    # Opening or tapping the link logs nobody out: it acts on the token, not the session.
    assert client.session["_auth_user_id"] == str(other.user.pk)


# --- "Log how I feel" ------------------------------------------------------------------------


def test_opening_the_checkin_link_shows_the_form_and_changes_nothing(morning, client):
    page = client.get(action_url(morning, "checkin"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "How is your back?" in text
    assert 'name="worst_pain"' in text
    assert not SymptomLog.objects.exists()


def test_the_checkin_link_prefills_the_steps_already_done_that_day(morning, client, flare):
    from aftercare import services

    si_reset = flare.steps.get(name="Passive SI reset")
    psoas = flare.steps.get(name="Psoas release")
    services.step_complete(step=si_reset, day=morning.slot_day, slot="morning")
    text = client.get(action_url(morning, "checkin")).content.decode()
    ticked = re.findall(r'<input[^>]*name="steps_done"[^>]*value="(\d+)"[^>]*checked', text)
    assert ticked == [str(si_reset.id)]
    assert f'value="{psoas.id}"' in text  # offered, not ticked
    assert not SymptomLog.objects.exists()


def test_a_checkin_from_the_email_is_saved_without_logging_in(morning, client, flare):
    page = client.post(action_url(morning, "checkin"), checkin_answers())

    assert page.status_code == 200
    assert "Your check-in is saved." in page.content.decode()
    log = SymptomLog.objects.get()
    assert (log.plan_id, log.worst_pain) == (flare.id, 4)


def test_a_bad_checkin_shows_the_form_again_and_saves_nothing(morning, client):
    page = client.post(action_url(morning, "checkin"), checkin_answers(worst_pain="11"))
    assert page.status_code == 200
    assert "Please check the answers marked below." in page.content.decode()
    assert not SymptomLog.objects.exists()


# --- bad tokens ------------------------------------------------------------------------------


def bad_links(reminder: Reminder) -> dict[str, str]:
    done = tokens.action_token(reminder.id, "done")
    return {
        "tampered": action_url(reminder, "done", tamper(done)),
        "another reminder's id": action_url(
            reminder, "done", tokens.action_token(reminder.id + 1000, "done")
        ),
        "a checkin token used for done": action_url(
            reminder, "done", tokens.action_token(reminder.id, "checkin")
        ),
        "a done token used for checkin": action_url(reminder, "checkin", done),
        "an unsubscribe token used for done": action_url(
            reminder, "done", tokens.unsubscribe_token(reminder.client_id, "routine")
        ),
        "an unknown action": reverse("email-action", args=["delete", done]),
        "garbage": action_url(reminder, "done", "not-a-token"),
    }


@pytest.mark.parametrize(
    "which",
    [
        "tampered",
        "another reminder's id",
        "a checkin token used for done",
        "a done token used for checkin",
        "an unsubscribe token used for done",
        "an unknown action",
        "garbage",
    ],
)
def test_a_bad_link_gets_a_clear_page_and_changes_nothing(morning, client, which):
    url = bad_links(morning)[which]
    for response in (client.get(url), client.post(url, checkin_answers())):
        assert response.status_code == 410
        assert EXPIRED in response.content.decode()
        assert "Email me a new link" in response.content.decode()
    assert not Completion.objects.exists()
    assert not SymptomLog.objects.exists()


def test_an_expired_link_changes_nothing(morning, client, clock):
    url = action_url(morning, "done")
    clock.move_to(NOW + timedelta(days=7, minutes=1))
    response = client.post(url)
    assert response.status_code == 410
    assert EXPIRED in response.content.decode()
    assert not Completion.objects.exists()


def test_a_link_for_an_ended_plan_changes_nothing(morning, flare, client, therapist):
    factories.plan_for(morning.client, therapist, Phase.SUBSIDING)  # ends the flare plan
    response = client.post(action_url(morning, "done"))
    assert response.status_code == 410
    assert not Completion.objects.exists()


# --- unsubscribing ---------------------------------------------------------------------------


def test_opening_the_unsubscribe_link_asks_and_changes_nothing(morning, client, client_person):
    page = client.get(unsubscribe_url(client_person, "routine"))
    assert page.status_code == 200
    assert "Stop routine reminders?" in page.content.decode()
    client_person.refresh_from_db()
    assert client_person.routine_emails is True
    assert Reminder.objects.filter(status="pending").count() == 3


def test_one_click_unsubscribe_stops_the_next_reminder_at_once(morning, client_person, clock):
    # The mail provider POSTs without cookies or a CSRF token (RFC 8058).
    provider = Browser(enforce_csrf_checks=True)
    page = provider.post(
        unsubscribe_url(client_person, "routine"), {"List-Unsubscribe": "One-Click"}
    )

    assert page.status_code == 200
    assert "You're unsubscribed" in page.content.decode()
    client_person.refresh_from_db()
    assert client_person.routine_emails is False
    assert not Reminder.objects.filter(status="pending").exists()
    # The next ticks plan and send nothing.
    clock.move_to(datetime(2026, 11, 25, 8, tzinfo=UTC))
    reminders.reminders_plan_due()
    assert reminders.reminders_claim() == []
    assert mail.outbox == []


def test_a_row_already_queued_is_skipped_after_unsubscribing(morning, client, client_person, clock):
    Reminder.objects.filter(id=morning.id).update(status="queued")
    client.post(unsubscribe_url(client_person, "routine"))
    clock.move_to(datetime(2026, 11, 25, 8, tzinfo=UTC))
    assert reminders.reminder_send(morning.id) == "skipped"
    assert mail.outbox == []


def test_routine_and_booking_unsubscribes_are_separate(flare, client, client_person, clock):
    Client.objects.filter(id=client_person.id).update(massage_cadence="weekly")
    MassageSession.objects.create(client=client_person, date=date(2026, 11, 18))
    reminders.reminders_plan_due()

    client.post(unsubscribe_url(client_person, "booking"))

    client_person.refresh_from_db()
    assert (client_person.routine_emails, client_person.booking_emails) == (True, False)
    kinds = set(Reminder.objects.values_list("kind", flat=True))
    assert kinds == {"routine"}
    # A booking token cannot unsubscribe from routine reminders, nor the other way.
    routine_token = tokens.unsubscribe_token(client_person.id, "routine")
    wrong = client.post(reverse("email-unsubscribe", args=["booking", routine_token]))
    assert wrong.status_code == 410
    wrong = client.post(
        reverse(
            "email-unsubscribe",
            args=["routine", tokens.unsubscribe_token(client_person.id, "booking")],
        )
    )
    assert wrong.status_code == 410
    client_person.refresh_from_db()
    assert client_person.routine_emails is True


def test_one_can_subscribe_again(morning, client, client_person):
    url = unsubscribe_url(client_person, "routine")
    client.post(url)
    page = client.post(url, {"resubscribe": "1"})
    assert "You're subscribed again" in page.content.decode()
    client_person.refresh_from_db()
    assert client_person.routine_emails is True


@pytest.mark.parametrize("kind", ["routine", "everything"])
def test_a_bad_unsubscribe_link_changes_nothing(morning, client, client_person, kind):
    token = tokens.unsubscribe_token(client_person.id, "routine")
    url = reverse("email-unsubscribe", args=[kind, tamper(token) if kind == "routine" else token])
    response = client.post(url)
    assert response.status_code == 410
    assert EXPIRED in response.content.decode()
    client_person.refresh_from_db()
    assert client_person.routine_emails is True
