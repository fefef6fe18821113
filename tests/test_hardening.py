"""What a hostile tester found (issue 10), from the user's side: revoked and deactivated
clients' links, email subjects, login throttles, GETs that changed things, and saves
that overwrote a field someone else had just changed."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html import unescape
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.test import Client as Browser
from django.urls import reverse

from aftercare import privacy, services, tokens
from aftercare.models import Completion, Reminder, SymptomLog
from aftercare.outbox import emails, reminders
from clients import services as people
from clients.models import AuditEvent, Client, Practice, User
from tests import factories

EXPIRED = "This link no longer works"
THERAPIST_BACKEND = "django.contrib.auth.backends.ModelBackend"
CLIENT_BACKEND = "sesame.backends.ModelBackend"


def checkin_answers() -> dict:
    return {
        "warning": "no",
        "pain_now": "3",
        "worst_pain": "4",
        "compared": "better",
        "legs": "none",
        "sleep": "fine",
        "note": "",
        "submission_key": str(uuid.uuid4()),
    }


@pytest.fixture
def morning(flare, client_person) -> Reminder:
    reminders.reminders_plan_due()
    return Reminder.objects.get(client=client_person, slot_key="2026-11-25/morning")


def action_url(reminder: Reminder, action: str) -> str:
    return reverse("email-action", args=[action, tokens.action_token(reminder.id, action)])


def assert_link_is_dead(browser: Browser, url: str) -> None:
    for response in (browser.get(url), browser.post(url, checkin_answers())):
        assert response.status_code == 410, url
        assert EXPIRED in response.content.decode()
    assert not Completion.objects.exists()
    assert not SymptomLog.objects.exists()


# --- 1. Revoking ends every token that acts for the client ----------------------------------------


@pytest.mark.parametrize("action", ["done", "checkin"])
def test_revoking_links_ends_the_emailed_action_links(
    morning, client, client_person, clock, action
):
    url = action_url(morning, action)  # the reminder email went out at 06:00
    clock.shift(timedelta(minutes=30))
    people.client_links_revoke(client=Client.objects.get(pk=client_person.pk))

    assert_link_is_dead(client, url)


def test_links_emailed_after_revoking_work(morning, client, client_person, clock):
    people.client_links_revoke(client=client_person)
    clock.shift(timedelta(seconds=5))
    response = client.post(action_url(morning, "done"))
    assert response.status_code == 200
    assert "Done. Nice work!" in response.content.decode()
    assert Completion.objects.filter(step__plan__client=client_person).exists()


def test_unsubscribe_links_keep_working_after_revoking(morning, client, client_person, clock):
    url = reverse(
        "email-unsubscribe", args=["routine", tokens.unsubscribe_token(client_person.id, "routine")]
    )
    clock.shift(timedelta(minutes=30))
    people.client_links_revoke(client=client_person)
    response = Browser(enforce_csrf_checks=True).post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "You're unsubscribed" in response.content.decode()
    client_person.refresh_from_db()
    assert client_person.routine_emails is False


def calendar_link(person: Client) -> str:
    phone = Browser()
    phone.force_login(person.user, backend=CLIENT_BACKEND)
    page = phone.get(reverse("client-settings")).content.decode()
    match = re.search(r'id="calendar-link"[^>]*value="([^"]+)"', page)
    assert match
    return unescape(match.group(1)).removeprefix("http://testserver")


def test_revoking_ends_the_calendar_feed_and_a_new_link_gives_a_new_one(
    flare, client, client_person, clock
):
    old = calendar_link(client_person)
    clock.shift(timedelta(minutes=30))
    people.client_links_revoke(client=client_person)
    assert client.get(old).status_code == 404
    clock.shift(timedelta(minutes=1))
    new = calendar_link(User.objects.get(pk=client_person.user_id).client)
    assert client.get(new).status_code == 200
    assert client.get(old).status_code == 404


@pytest.mark.parametrize("action", ["done", "checkin"])
def test_a_deactivated_clients_action_links_do_nothing(morning, client, client_person, action):
    url = action_url(morning, action)
    Client.objects.filter(pk=client_person.pk).update(active=False)
    assert_link_is_dead(client, url)


def test_a_deleted_clients_links_get_a_clear_page(morning, client, client_person):
    urls = [action_url(morning, "done"), action_url(morning, "checkin")]
    unsubscribe = reverse(
        "email-unsubscribe", args=["routine", tokens.unsubscribe_token(client_person.id, "routine")]
    )
    calendar = calendar_link(client_person)
    privacy.client_delete(client=client_person)

    for url in urls:
        assert_link_is_dead(client, url)
    for response in (client.get(unsubscribe), client.post(unsubscribe)):
        assert response.status_code == 410
        assert EXPIRED in response.content.decode()
    response = client.get(calendar)
    assert response.status_code == 404
    assert b"BEGIN:VCALENDAR" not in response.content


def test_a_deactivated_clients_calendar_feed_is_gone(flare, client, client_person):
    link = calendar_link(client_person)
    Client.objects.filter(pk=client_person.pk).update(active=False)
    response = client.get(link)
    assert response.status_code == 404
    assert b"BEGIN:VCALENDAR" not in response.content


# --- 3. Email subjects are plain text ------------------------------------------------------------


SUBJECTS = Path(django_settings.BASE_DIR) / "templates" / "emails"
SUBJECT_TEMPLATES = sorted(
    path.name.removesuffix("-subject.txt") for path in SUBJECTS.glob("*-subject.txt")
)


def test_every_email_has_a_subject_template():
    assert {"plan-link", "routine", "booking", "therapist-alert"} <= set(SUBJECT_TEMPLATES)


@pytest.mark.parametrize("name", SUBJECT_TEMPLATES)
def test_email_subjects_are_not_html_escaped(name):
    practice = Practice(
        name="Ben & Jerry's Massage",
        postal_address="1 High St",
        sender_email="hello@benandjerrys.example",
    )
    person = Client(name='Ann "Annie" O\'Neil & Co', email="ann@example.com", practice=practice)
    context = {
        "client": person,
        "first": True,
        "alert": SimpleNamespace(is_safety=True, message="x"),
        "slot": SimpleNamespace(name="morning"),
        "reminder": SimpleNamespace(kind="booking"),
        "therapist": SimpleNamespace(display_name="Theo & Co"),
        "checkin_first": False,
        "rows": [],
    }
    message = emails.make_message(name, to="ann@example.com", practice=practice, context=context)

    assert not re.search(r"&(amp|#x27|#39|quot|lt|gt);", message.subject), message.subject
    source = (SUBJECTS / f"{name}-subject.txt").read_text()
    if "practice.name" in source:
        assert "Ben & Jerry's Massage" in message.subject
    if "client.name" in source:
        assert 'Ann "Annie" O\'Neil & Co' in message.subject
    if name == "plan-link":
        assert message.subject == "Your aftercare plan from Ben & Jerry's Massage"


# --- 4. Login throttles ----------------------------------------------------------------------------


ADMIN_PASSWORD = "admin-password-for-tests"


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("boss@example.com", ADMIN_PASSWORD)


def test_the_admin_login_is_rate_limited(client, superuser):
    url = reverse("admin:login")
    for _ in range(20):
        response = client.post(url, {"username": superuser.email, "password": "guess"})
        assert response.status_code == 200
        assert client.session.get(SESSION_KEY) is None
    response = client.post(
        url, {"username": superuser.email, "password": ADMIN_PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 200
    assert "Too many attempts" in unescape(response.content.decode())
    assert client.session.get(SESSION_KEY) is None


def test_the_admin_login_limits_guesses_per_ip_across_addresses(client, superuser, settings):
    settings.LOGIN_ATTEMPTS_PER_IP = 3
    url = reverse("admin:login")
    for n in range(3):
        client.post(url, {"username": f"guess{n}@example.com", "password": "guess"})
    response = client.post(url, {"username": superuser.email, "password": ADMIN_PASSWORD})
    assert "Too many attempts" in unescape(response.content.decode())
    assert client.session.get(SESSION_KEY) is None


def test_the_admin_login_still_logs_in(client, superuser):
    response = client.post(
        reverse("admin:login"),
        {"username": superuser.email, "password": ADMIN_PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert client.session.get(SESSION_KEY) == str(superuser.pk)


def test_successful_logins_from_one_address_never_lock_the_practice_out(practice, settings):
    """A practice behind one NAT address: a busy morning of good logins is not an attack."""
    settings.LOGIN_ATTEMPTS_PER_IP = 3
    url = reverse("therapist-login")
    therapists = [factories.TherapistFactory(practice=practice) for _ in range(6)]
    for therapist in therapists:
        browser = Browser()
        response = browser.post(
            url, {"email": therapist.user.email, "password": factories.DEFAULT_PASSWORD}
        )
        assert response.status_code == 302, unescape(response.content.decode())
        assert browser.session.get(SESSION_KEY) == str(therapist.user.pk)


def test_failures_still_count_toward_the_per_address_limit(practice, settings):
    settings.LOGIN_ATTEMPTS_PER_IP = 3
    url = reverse("therapist-login")
    good = factories.TherapistFactory(practice=practice)
    browser = Browser()
    for n in range(2):  # good logins in between do not count...
        browser.post(url, {"email": f"guess{n}@example.com", "password": "guess"})
        Browser().post(url, {"email": good.user.email, "password": factories.DEFAULT_PASSWORD})
    browser.post(url, {"email": "guess9@example.com", "password": "guess"})
    # ...but the third failure from this address pauses logins from it.
    response = browser.post(url, {"email": good.user.email, "password": factories.DEFAULT_PASSWORD})
    assert "Too many attempts" in unescape(response.content.decode())
    assert browser.session.get(SESSION_KEY) is None


# --- 5. No GET changes anything ------------------------------------------------------------------


def desk_for(therapist) -> Browser:
    browser = Browser(enforce_csrf_checks=True)
    browser.force_login(therapist.user, backend=THERAPIST_BACKEND)
    return browser


def export_url(person: Client) -> str:
    return reverse("therapist-client-export", args=[person.public_id])


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_opening_the_export_address_exports_nothing(therapist, client_person, kind):
    response = desk_for(therapist).get(export_url(client_person), {"format": kind})
    assert response.status_code == 405
    assert not response.has_header("Content-Disposition")
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DATA_EXPORTED).exists()


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_the_export_buttons_post_with_a_csrf_token(therapist, client_person, kind):
    desk = desk_for(therapist)
    for page_url in (
        reverse("therapist-client", args=[client_person.public_id]),
        reverse("therapist-client-delete", args=[client_person.public_id]),
    ):
        page = desk.get(page_url).content.decode()
        forms = re.findall(r"(<form[^>]*>)(.*?)</form>", page, re.S)
        mine = [
            (tag, body)
            for tag, body in forms
            if f'action="{export_url(client_person)}"' in tag and f'value="{kind}"' in body
        ]
        assert mine, f"an export ({kind}) form on {page_url}"
        tag, body = mine[0]
        assert 'method="post"' in tag
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)

    response = desk.post(export_url(client_person), {"format": kind, "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DATA_EXPORTED).count() == 1


def test_an_export_post_without_a_csrf_token_is_refused(therapist, client_person):
    response = desk_for(therapist).post(export_url(client_person), {"format": "json"})
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DATA_EXPORTED).exists()


@pytest.mark.parametrize("action", ["done", "checkin"])
@pytest.mark.parametrize("who", ["another client", "the client", "a therapist"])
def test_opening_an_emailed_link_logs_nobody_out(morning, practice, therapist, who, action):
    user = {
        "another client": lambda: factories.ClientFactory(practice=practice).user,
        "the client": lambda: morning.client.user,
        "a therapist": lambda: therapist.user,
    }[who]()
    browser = Browser()
    backend = THERAPIST_BACKEND if who == "a therapist" else CLIENT_BACKEND
    browser.force_login(user, backend=backend)

    response = browser.get(action_url(morning, action))

    assert response.status_code == 200
    assert browser.session.get(SESSION_KEY) == str(user.pk)


def test_a_tap_on_a_shared_phone_acts_for_the_links_client_only(morning, practice, client):
    other = factories.ClientFactory(practice=practice)
    client.force_login(other.user, backend=CLIENT_BACKEND)
    response = client.post(action_url(morning, "done"))
    assert "Done. Nice work!" in response.content.decode()
    assert Completion.objects.filter(step__plan__client=morning.client).count() == 4
    assert not Completion.objects.filter(step__plan__client=other).exists()
    # Whoever was signed in on the phone is still signed in, as themselves.
    assert client.session.get(SESSION_KEY) == str(other.user.pk)


# --- 6. Saves write only the fields they edit -----------------------------------------------------


def test_saving_settings_keeps_the_therapists_concurrent_edit(flare, client_person, therapist):
    phone_copy = Client.objects.get(pk=client_person.pk)  # the client's settings page loads
    # Meanwhile the therapist edits the client's name and notes.
    people.client_update(
        client=Client.objects.get(pk=client_person.pk),
        by=therapist.user,
        name="Sam Renamed",
        notes="Tight left QL",
    )
    phone_copy.morning_time = phone_copy.morning_time.replace(hour=7)
    services.client_settings_save(client=phone_copy, pause_days=3, resume=False)

    stored = Client.objects.get(pk=client_person.pk)
    assert (stored.name, stored.notes) == ("Sam Renamed", "Tight left QL")
    assert stored.morning_time.hour == 7
    assert stored.paused_until is not None


def test_settings_save_writes_exactly_the_settings_forms_fields():
    from aftercare.forms import ClientSettingsForm

    assert set(services.CLIENT_SETTINGS_FIELDS) == {
        *ClientSettingsForm._meta.fields,
        "paused_until",
    }


def test_saving_settings_through_the_page_keeps_a_concurrent_edit(
    flare, client, client_person, therapist, monkeypatch
):
    """The therapist saves between the phone's request loading the client and saving."""
    from aftercare.forms import ClientSettingsForm

    real_clean = ClientSettingsForm.clean

    def clean_while_the_therapist_edits(form):
        Client.objects.filter(pk=client_person.pk).update(notes="Edited meanwhile", name="New Name")
        return real_clean(form)

    monkeypatch.setattr(ClientSettingsForm, "clean", clean_while_the_therapist_edits)
    client.force_login(client_person.user, backend=CLIENT_BACKEND)
    response = client.post(
        reverse("client-settings"),
        {
            "morning_time": "07:30",
            "evening_time": "19:00",
            "reset_weekday": "6",
            "three_x_days": ["0", "2", "4"],
            "quiet_start": "21:00",
            "quiet_end": "07:00",
            "time_zone": "Europe/London",
            "routine_emails": "on",
            "booking_emails": "on",
            "pause_days": "",
        },
    )
    assert response.status_code == 302
    stored = Client.objects.get(pk=client_person.pk)
    assert (stored.name, stored.notes) == ("New Name", "Edited meanwhile")
    assert stored.morning_time.strftime("%H:%M") == "07:30"


def test_adjusting_steps_keeps_a_concurrent_change_to_other_fields(flare, therapist):
    from aftercare.models import PlanStep

    step = flare.steps.get(name="Passive SI reset")
    stale = PlanStep.objects.get(pk=step.pk)  # the therapist's form loads the step
    # Meanwhile the step's text is corrected (in the admin).
    PlanStep.objects.filter(pk=step.pk).update(instructions="Corrected text")
    stale.personal_note = "Go gently"
    services.plan_steps_update(plan=flare, steps=[stale], by=therapist.user)

    stored = PlanStep.objects.get(pk=step.pk)
    assert stored.personal_note == "Go gently"
    assert stored.instructions == "Corrected text"
    detail = AuditEvent.objects.filter(action=AuditEvent.Action.PLAN_STEPS_EDITED).get().detail
    assert "instructions" not in detail.lower()
