"""Therapist pages, request by request: log in, clients, sessions and plans, the library."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from aftercare.models import Exercise, PhaseChange, Plan, PlanStep, Protocol
from aftercare.outbox import emails
from aftercare.rules.phases import Phase
from clients.models import Client, MassageSession
from tests import factories

HEALTH_WORDS = (
    "pain",
    "back",
    "flare",
    "flared",
    "subsiding",
    "maintenance",
    "spine",
    "injury",
    "sciatica",
    "symptom",
    "symptoms",
    "hold",
    "phase",
)


def text(response) -> str:
    return html.unescape(response.content.decode())


def field_error(response, field: str) -> str:
    """The message crispy renders next to a field ("" when there is none)."""
    found = re.search(
        rf'id="error_1_id_{field}"><strong>(.*?)</strong>', response.content.decode(), re.S
    )
    return html.unescape(found.group(1)) if found else ""


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def logged_in_user_id(browser: Browser) -> str | None:
    return browser.session.get(SESSION_KEY)


# --- Log in, log out -------------------------------------------------------------------


def test_it_logs_a_therapist_in_with_email_and_password(client, therapist):
    response = client.post(
        reverse("therapist-login"),
        {"email": therapist.user.email, "password": factories.DEFAULT_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("therapist-dashboard")
    assert logged_in_user_id(client) == str(therapist.user.pk)


def test_it_accepts_the_email_in_any_case(client, therapist):
    response = client.post(
        reverse("therapist-login"),
        {"email": therapist.user.email.upper(), "password": factories.DEFAULT_PASSWORD},
    )
    assert response.status_code == 302
    assert logged_in_user_id(client) == str(therapist.user.pk)


def test_it_follows_a_same_site_next_after_login_but_not_another_site(client, therapist):
    data = {"email": therapist.user.email, "password": factories.DEFAULT_PASSWORD}
    response = client.post(reverse("therapist-login"), {**data, "next": "/t/exercises/"})
    assert response["Location"] == "/t/exercises/"
    client.logout()
    response = client.post(
        reverse("therapist-login"), {**data, "next": "https://evil.example/phish"}
    )
    assert response["Location"] == reverse("therapist-dashboard")


def test_it_says_clearly_when_the_password_is_wrong(client, therapist):
    response = client.post(
        reverse("therapist-login"), {"email": therapist.user.email, "password": "wrong"}
    )
    assert response.status_code == 200
    assert "That email and password don't match a therapist account." in text(response)
    assert logged_in_user_id(client) is None


def test_it_asks_for_both_fields(client, db):
    response = client.post(reverse("therapist-login"), {"email": "", "password": ""})
    assert response.status_code == 200
    assert field_error(response, "email") == "This field is required."
    assert field_error(response, "password") == "This field is required."


def test_it_never_lets_a_client_log_in_as_a_therapist(client, client_person):
    # Even a client user that somehow has a password is not a therapist.
    client_person.user.set_password("a client password 123")
    client_person.user.save()
    response = client.post(
        reverse("therapist-login"),
        {"email": client_person.user.email, "password": "a client password 123"},
    )
    assert response.status_code == 200
    assert "don't match a therapist account" in text(response)
    assert logged_in_user_id(client) is None


def test_it_pauses_logins_after_too_many_failures(client, therapist, settings):
    url = reverse("therapist-login")
    email = therapist.user.email
    for _ in range(settings.LOGIN_ATTEMPTS_PER_EMAIL):
        response = client.post(url, {"email": email, "password": "guess"})
        assert "don't match a therapist account" in text(response)

    response = client.post(url, {"email": email, "password": factories.DEFAULT_PASSWORD})
    assert response.status_code == 200
    assert "Too many attempts" in text(response)
    assert logged_in_user_id(client) is None


def test_it_counts_failures_per_address_whatever_the_case(client, therapist, settings):
    url = reverse("therapist-login")
    for _ in range(settings.LOGIN_ATTEMPTS_PER_EMAIL):
        client.post(url, {"email": therapist.user.email.upper(), "password": "guess"})
    response = client.post(
        url, {"email": therapist.user.email, "password": factories.DEFAULT_PASSWORD}
    )
    assert "Too many attempts" in text(response)
    assert logged_in_user_id(client) is None


def test_it_forgets_earlier_failures_after_a_good_login(client, therapist, settings):
    url = reverse("therapist-login")
    email = therapist.user.email
    for _ in range(settings.LOGIN_ATTEMPTS_PER_EMAIL - 1):
        client.post(url, {"email": email, "password": "guess"})
    client.post(url, {"email": email, "password": factories.DEFAULT_PASSWORD})
    client.logout()
    response = client.post(url, {"email": email, "password": "guess"})
    assert "don't match a therapist account" in text(response)


def test_it_logs_out_only_on_post(therapist_client, therapist):
    response = therapist_client.get(reverse("therapist-logout"))
    assert response.status_code == 405
    assert logged_in_user_id(therapist_client) == str(therapist.user.pk)

    response = therapist_client.post(reverse("therapist-logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("therapist-login")
    assert logged_in_user_id(therapist_client) is None
    assert therapist_client.get(reverse("therapist-dashboard")).status_code == 302


# --- Dashboard -------------------------------------------------------------------------


def test_it_lists_only_the_practices_own_clients(therapist_client, client_person, plan):
    elsewhere = factories.ClientFactory(practice=factories.PracticeFactory(), name="Zed Outsider")
    response = therapist_client.get(reverse("therapist-dashboard"))
    assert response.status_code == 200
    page = text(response)
    assert client_person.name in page
    assert client_person.email in page
    assert elsewhere.name not in page
    assert reverse("therapist-client", args=[client_person.public_id]) in page
    assert "Flare" in page  # the plan's phase


def test_it_searches_clients_by_name_or_email(therapist_client, practice, therapist):
    factories.ClientFactory(practice=practice, name="Ada Lovelace", email="ada@example.com")
    factories.ClientFactory(practice=practice, name="Grace Hopper", email="amazing@navy.example")
    url = reverse("therapist-dashboard")

    by_name = text(therapist_client.get(url, {"q": "lovel"}))
    assert "Ada Lovelace" in by_name
    assert "Grace Hopper" not in by_name

    by_email = text(therapist_client.get(url, {"q": "NAVY"}))
    assert "Grace Hopper" in by_email
    assert "Ada Lovelace" not in by_email

    nothing = text(therapist_client.get(url, {"q": "nobody"}))
    assert "No client matches “nobody”." in nothing


def test_it_does_not_search_into_other_practices(therapist_client, client_person):
    factories.ClientFactory(practice=factories.PracticeFactory(), name="Hidden Neighbour")
    page = text(therapist_client.get(reverse("therapist-dashboard"), {"q": "Hidden"}))
    assert "Hidden Neighbour" not in page
    assert "No client matches" in page


def test_it_shows_an_empty_state_for_a_new_practice(therapist_client, therapist):
    response = therapist_client.get(reverse("therapist-dashboard"))
    assert "No clients yet" in text(response)
    assert reverse("therapist-client-add") in text(response)


# --- Add and edit a client ----------------------------------------------------------------


def client_data(therapist=None, **overrides) -> dict[str, str]:
    data = {
        "name": "Robin Ash",
        "email": "robin@example.com",
        "phone": "07700 900123",
        "time_zone": "Europe/Berlin",
        "massage_cadence": "weekly",
        "primary_therapist": str(therapist.pk) if therapist else "",
        "notes": "Prefers mornings",
    }
    data.update(overrides)
    return data


def test_it_adds_a_client(therapist_client, therapist, practice):
    response = therapist_client.post(
        reverse("therapist-client-add"), client_data(therapist, email="Robin@Example.COM")
    )
    added = Client.objects.get(practice=practice, name="Robin Ash")
    assert response.status_code == 302
    assert response["Location"] == reverse("therapist-session", args=[added.public_id])
    assert added.email == "robin@example.com"
    assert added.time_zone == "Europe/Berlin"
    assert added.massage_cadence == "weekly"
    assert added.primary_therapist == therapist
    assert not hasattr(added.user, "therapist")
    assert not added.user.has_usable_password()


def test_it_offers_the_add_form_with_sensible_defaults(therapist_client, therapist):
    response = therapist_client.get(reverse("therapist-client-add"))
    assert response.status_code == 200
    assert response.context["form"].initial["time_zone"] == "Europe/London"
    assert response.context["form"].initial["primary_therapist"] == therapist


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"email": ""}, "email", "This field is required."),
        ({"name": ""}, "name", "This field is required."),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "“Mars/Olympus_Mons” is not a time"),
        ({"time_zone": ""}, "time_zone", "This field is required."),
        ({"massage_cadence": "daily"}, "massage_cadence", "Select a valid choice."),
    ],
)
def test_it_refuses_a_bad_client_with_a_message_next_to_the_field(
    therapist_client, therapist, overrides, field, message
):
    response = therapist_client.post(
        reverse("therapist-client-add"), client_data(therapist, **overrides)
    )
    assert response.status_code == 200
    assert field_error(response, field).startswith(message)
    assert not Client.objects.exists()


def test_it_refuses_a_second_client_with_the_same_email(therapist_client, therapist, client_person):
    before = Client.objects.count()
    response = therapist_client.post(
        reverse("therapist-client-add"),
        client_data(therapist, email=client_person.email.upper()),
    )
    assert response.status_code == 200
    assert field_error(response, "email") == (
        "A client of your practice already has this email address."
    )
    assert Client.objects.count() == before


def test_it_allows_the_same_email_in_another_practice(therapist_client, therapist, practice):
    other = factories.ClientFactory(
        practice=factories.PracticeFactory(), email="shared@example.com"
    )
    response = therapist_client.post(
        reverse("therapist-client-add"), client_data(therapist, email="shared@example.com")
    )
    assert response.status_code == 302
    ours = Client.objects.get(practice=practice, email="shared@example.com")
    assert ours.pk != other.pk
    assert ours.user_id != other.user_id


def test_it_refuses_a_primary_therapist_from_another_practice(therapist_client, therapist):
    stranger = factories.TherapistFactory(practice=factories.PracticeFactory())
    response = therapist_client.post(reverse("therapist-client-add"), client_data(stranger))
    assert response.status_code == 200
    assert field_error(response, "primary_therapist").startswith("Select a valid choice.")
    assert not Client.objects.exists()


def test_it_edits_a_client(therapist_client, therapist, client_person):
    url = reverse("therapist-client-edit", args=[client_person.public_id])
    assert client_person.name in text(therapist_client.get(url))
    response = therapist_client.post(
        url,
        client_data(
            therapist, name="Renamed Person", email=client_person.email, time_zone="Asia/Tokyo"
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("therapist-client", args=[client_person.public_id])
    client_person.refresh_from_db()
    assert client_person.name == "Renamed Person"
    assert client_person.time_zone == "Asia/Tokyo"


def test_it_refuses_an_edit_that_takes_another_clients_email(
    therapist_client, therapist, client_person, practice
):
    other = factories.ClientFactory(practice=practice)
    response = therapist_client.post(
        reverse("therapist-client-edit", args=[client_person.public_id]),
        client_data(therapist, email=other.email),
    )
    assert "already has this email address" in field_error(response, "email")
    client_person.refresh_from_db()
    assert client_person.email != other.email


def test_it_refuses_an_edit_with_an_unknown_time_zone(therapist_client, therapist, client_person):
    response = therapist_client.post(
        reverse("therapist-client-edit", args=[client_person.public_id]),
        client_data(therapist, email=client_person.email, time_zone="Europe/Atlantis"),
    )
    assert field_error(response, "time_zone").startswith("“Europe/Atlantis” is not a time zone")
    client_person.refresh_from_db()
    assert client_person.time_zone == "Europe/London"


# --- Client page ------------------------------------------------------------------------


def test_it_shows_the_clients_plan_and_link(therapist_client, client_person, plan):
    response = therapist_client.get(reverse("therapist-client", args=[client_person.public_id]))
    assert response.status_code == 200
    page = text(response)
    assert client_person.name in page
    assert plan.name in page
    assert "Flare" in page
    for step in plan.steps.all():
        assert step.name in page
    assert "/c/login/?sesame=" in page
    assert reverse("therapist-link-send", args=[client_person.public_id]) in page
    assert reverse("therapist-link-revoke", args=[client_person.public_id]) in page


def test_it_tells_browsers_not_to_keep_the_client_page(therapist_client, client_person):
    response = therapist_client.get(reverse("therapist-client", args=[client_person.public_id]))
    assert "no-store" in response["Cache-Control"]


def test_it_shows_a_client_without_a_plan(therapist_client, client_person):
    page = text(therapist_client.get(reverse("therapist-client", args=[client_person.public_id])))
    assert "No active plan" in page
    assert "No sessions recorded yet." in page


def test_its_link_on_the_client_page_logs_the_client_in(therapist_client, client_person, plan):
    response = therapist_client.get(reverse("therapist-client", args=[client_person.public_id]))
    link = re.search(r'id="client-link"[^>]*value="([^"]+)"', response.content.decode()).group(1)
    phone = Browser()
    opened = phone.get(html.unescape(link).removeprefix("http://testserver"))
    assert opened.status_code == 302
    assert logged_in_user_id(phone) == str(client_person.user.pk)


# --- Record a session and assign the plan ------------------------------------------------------


session_data = factories.session_form


def protocol_step(practice, name: str):
    return Protocol.objects.filter(practice=practice).first().steps.get(exercise__name=name)


def test_it_shows_the_session_form_with_every_step(therapist_client, client_person, practice):
    response = therapist_client.get(reverse("therapist-session", args=[client_person.public_id]))
    assert response.status_code == 200
    page = text(response)
    assert "Record session and assign plan" in page
    for step in Protocol.objects.get(practice=practice).steps.select_related("exercise"):
        assert step.exercise.name in page
        assert f'name="step-{step.pk}-flare"' in page


def test_it_records_the_session_assigns_the_plan_and_emails_the_link_once(
    therapist_client, client_person, practice, therapist, django_capture_on_commit_callbacks
):
    url = reverse("therapist-session", args=[client_person.public_id])
    with django_capture_on_commit_callbacks(execute=True):
        response = therapist_client.post(url, session_data(practice))

    assert response.status_code == 302
    assert response["Location"] == reverse("therapist-client", args=[client_person.public_id])
    session = MassageSession.objects.get(client=client_person)
    assert session.therapist == therapist
    assert session.notes == "Worked the right QL."
    assert session.date == timezone.localdate()
    plan = Plan.objects.get(client=client_person, ended_at=None)
    assert plan.session == session
    assert plan.phase == Phase.FLARE
    assert plan.steps.count() == 5

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [client_person.email]
    assert "/c/login/?sesame=" in message.body
    link = re.search(r"http://testserver(/c/login/\?sesame=\S+)", message.body).group(1)
    phone = Browser()
    assert phone.get(link).status_code == 302
    assert phone.get(reverse("client-today")).status_code == 200


def test_it_sends_no_email_when_the_therapist_unticks_send_link(
    therapist_client, client_person, practice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = therapist_client.post(
            reverse("therapist-session", args=[client_person.public_id]),
            session_data(practice, send_link=False),
        )
    assert response.status_code == 302
    assert Plan.objects.filter(client=client_person, ended_at=None).exists()
    assert mail.outbox == []


def test_it_applies_the_step_tweaks_from_the_form(
    therapist_client, client_person, practice, django_capture_on_commit_callbacks
):
    strength = protocol_step(practice, "QL and psoas stretch and strength")
    psoas = protocol_step(practice, "Psoas release")
    si_reset = protocol_step(practice, "Passive SI reset")
    data = session_data(practice, phase="subsiding")
    del data[f"step-{strength.pk}-include"]  # an unticked checkbox is not sent
    data[f"step-{psoas.pk}-personal_note"] = "Left side only."
    data[f"step-{si_reset.pk}-flare"] = "1x_day"
    with django_capture_on_commit_callbacks(execute=True):
        response = therapist_client.post(
            reverse("therapist-session", args=[client_person.public_id]), data
        )
    assert response.status_code == 302
    plan = Plan.objects.get(client=client_person, ended_at=None)
    assert plan.phase == Phase.SUBSIDING
    steps = {step.name: step for step in plan.steps.all()}
    assert steps["QL and psoas stretch and strength"].skipped is True
    assert steps["Psoas release"].personal_note == "Left side only."
    assert steps["Passive SI reset"].flare == "1x_day"
    assert steps["Lumbar decompression"].skipped is False
    si_reset.refresh_from_db()
    assert si_reset.flare == "2x_day"  # the library keeps its own


def test_it_replaces_the_current_plan(
    therapist_client, client_person, practice, plan, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        therapist_client.post(
            reverse("therapist-session", args=[client_person.public_id]),
            session_data(practice, phase="subsiding"),
        )
    plan.refresh_from_db()
    assert plan.ended_at is not None
    assert Plan.objects.get(client=client_person, ended_at=None).phase == Phase.SUBSIDING


def test_it_refuses_a_session_date_in_the_future(
    therapist_client, client_person, practice, django_capture_on_commit_callbacks
):
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        response = therapist_client.post(
            reverse("therapist-session", args=[client_person.public_id]),
            session_data(practice, date=future),
        )
    assert response.status_code == 200
    assert field_error(response, "date") == "The session date can't be in the future."
    assert not MassageSession.objects.exists()
    assert not Plan.objects.exists()
    assert mail.outbox == []


def test_it_refuses_a_bad_frequency_in_a_tweak(
    therapist_client, client_person, practice, django_capture_on_commit_callbacks
):
    si_reset = protocol_step(practice, "Passive SI reset")
    data = session_data(practice, **{f"step-{si_reset.pk}-flare": "hourly"})
    with django_capture_on_commit_callbacks(execute=True):
        response = therapist_client.post(
            reverse("therapist-session", args=[client_person.public_id]), data
        )
    assert response.status_code == 200
    assert "Flare: Select a valid choice. hourly is not one of the available choices." in text(
        response
    )
    assert not MassageSession.objects.exists()
    assert not Plan.objects.exists()
    assert mail.outbox == []


def test_it_opens_the_step_tweaks_when_one_has_an_error(therapist_client, client_person, practice):
    """The tweaks sit in a collapsed <details>: an error inside must not stay hidden."""
    si_reset = protocol_step(practice, "Passive SI reset")
    data = session_data(practice, **{f"step-{si_reset.pk}-flare": "hourly"})
    response = therapist_client.post(
        reverse("therapist-session", args=[client_person.public_id]), data
    )
    assert re.search(r'<details class="tweaks"[^>]*\bopen\b', response.content.decode())


def test_it_keeps_the_step_tweaks_collapsed_on_a_fresh_form(therapist_client, client_person):
    response = therapist_client.get(reverse("therapist-session", args=[client_person.public_id]))
    assert '<details class="tweaks">' in response.content.decode()


def test_it_refuses_another_practices_protocol(
    therapist_client, client_person, practice, django_capture_on_commit_callbacks
):
    foreign = factories.practice_with_library()
    data = session_data(practice)
    data["protocol"] = str(Protocol.objects.get(practice=foreign).pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = therapist_client.post(
            reverse("therapist-session", args=[client_person.public_id]), data
        )
    assert response.status_code == 200
    assert field_error(response, "protocol").startswith("Select a valid choice.")
    assert not Plan.objects.exists()
    assert mail.outbox == []


def test_it_saves_nothing_when_assigning_the_plan_fails_halfway(
    therapist_client, client_person, practice, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("aftercare.services.plan_assign", broken)
    with pytest.raises(RuntimeError):
        therapist_client.post(
            reverse("therapist-session", args=[client_person.public_id]), session_data(practice)
        )
    assert not MassageSession.objects.exists()
    assert not Plan.objects.exists()


# --- The client's link: send, revoke -----------------------------------------------------------


def test_it_emails_the_client_a_new_link(
    therapist_client, client_person, plan, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = therapist_client.post(
            reverse("therapist-link-send", args=[client_person.public_id])
        )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [client_person.email]
    assert client_person.practice.sender_email in message.from_email
    assert "/c/login/?sesame=" in message.body
    (html_body, mimetype) = message.alternatives[0]
    assert mimetype == "text/html"
    assert "/c/login/?sesame=" in html_body
    assert client_person.practice.postal_address.splitlines()[0] in message.body
    subject_words = set(re.findall(r"[a-z]+", message.subject.lower()))
    assert not subject_words & set(HEALTH_WORDS), message.subject


def test_email_a_new_link_tapped_twice_sends_one_and_notes_one(
    therapist_client, client_person, plan, django_capture_on_commit_callbacks
):
    url = reverse("therapist-link-send", args=[client_person.public_id])
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert therapist_client.post(url).status_code == 302
    assert len(mail.outbox) == 1
    assert client_person.audit_events.filter(action="link_sent").count() == 1


def test_it_revokes_the_clients_links(therapist_client, client_person, plan):
    old_link = emails.client_link(client_person).removeprefix("http://testserver")
    response = therapist_client.post(
        reverse("therapist-link-revoke", args=[client_person.public_id])
    )
    assert response.status_code == 302
    client_person.refresh_from_db()
    assert client_person.links_revoked_at is not None
    assert Browser().get(old_link).status_code == 403
    page = text(therapist_client.get(reverse("therapist-client", args=[client_person.public_id])))
    assert "Links last revoked" in page


# --- Adjust the plan's steps -------------------------------------------------------------------


def formset_data(plan, **changes) -> dict[str, str]:
    """The plan-edit formset as the browser posts it; `changes` maps step name -> fields."""
    steps = list(PlanStep.objects.filter(plan=plan).order_by("order", "id"))
    data = {
        "form-TOTAL_FORMS": str(len(steps)),
        "form-INITIAL_FORMS": str(len(steps)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for index, step in enumerate(steps):
        fields = {
            "id": str(step.pk),
            "personal_note": step.personal_note,
            "flare": step.flare,
            "subsiding": step.subsiding,
            "maintenance": step.maintenance,
            "video_url": step.video_url,
        }
        if step.skipped:
            fields["skipped"] = "on"
        fields.update(changes.get(step.name, {}))
        for key, value in fields.items():
            if value is not None:
                data[f"form-{index}-{key}"] = value
    return data


def test_it_shows_the_plan_steps_to_adjust(therapist_client, client_person, plan):
    response = therapist_client.get(reverse("therapist-plan-edit", args=[client_person.public_id]))
    assert response.status_code == 200
    page = text(response)
    for step in plan.steps.all():
        assert step.name in page


def test_it_saves_adjusted_steps(therapist_client, client_person, plan):
    data = formset_data(
        plan,
        **{
            "Psoas release": {"skipped": "on", "personal_note": "Not this week."},
            "Passive SI reset": {"video_url": "https://youtu.be/dQw4w9WgXcQ", "flare": "1x_day"},
        },
    )
    response = therapist_client.post(
        reverse("therapist-plan-edit", args=[client_person.public_id]), data
    )
    assert response.status_code == 302
    psoas = plan.steps.get(name="Psoas release")
    assert psoas.skipped is True
    assert psoas.personal_note == "Not this week."
    si = plan.steps.get(name="Passive SI reset")
    assert si.video_url == "https://youtu.be/dQw4w9WgXcQ"
    assert si.flare == "1x_day"
    # The library is untouched.
    assert not Exercise.objects.filter(video_url="https://youtu.be/dQw4w9WgXcQ").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("javascript:alert(document.cookie)", "Video link: Enter a valid URL."),
        (
            "https://evil.example/clip.mp4",
            "Video link: Videos from evil.example can't be embedded.",
        ),
        ("data:text/html,<script>alert(1)</script>", "Video link: Enter a valid URL."),
    ],
)
def test_it_refuses_a_bad_video_link_in_the_plan_and_saves_nothing(
    therapist_client, client_person, plan, url, message
):
    data = formset_data(
        plan,
        **{
            "Psoas release": {"personal_note": "Should not be saved."},
            "Passive SI reset": {"video_url": url},
        },
    )
    response = therapist_client.post(
        reverse("therapist-plan-edit", args=[client_person.public_id]), data
    )
    assert response.status_code == 200
    assert message in text(response)
    assert plan.steps.get(name="Passive SI reset").video_url == ""
    assert plan.steps.get(name="Psoas release").personal_note == ""


def test_it_refuses_a_bad_frequency_in_the_plan(therapist_client, client_person, plan):
    data = formset_data(plan, **{"Passive SI reset": {"flare": "hourly"}})
    response = therapist_client.post(
        reverse("therapist-plan-edit", args=[client_person.public_id]), data
    )
    assert response.status_code == 200
    assert "Select a valid choice" in text(response)
    assert plan.steps.get(name="Passive SI reset").flare == "2x_day"


def test_it_sends_a_therapist_without_a_plan_to_the_session_form(therapist_client, client_person):
    response = therapist_client.get(reverse("therapist-plan-edit", args=[client_person.public_id]))
    assert response.status_code == 302
    assert response["Location"] == reverse("therapist-session", args=[client_person.public_id])


def test_it_adds_no_step_when_the_formset_claims_an_extra_form(
    therapist_client, client_person, plan
):
    """A tampered formset with one form more than the plan has must not add a step (nor
    crash): the page only edits existing steps."""
    data = formset_data(plan)
    extra = int(data["form-TOTAL_FORMS"])
    data["form-TOTAL_FORMS"] = str(extra + 1)
    data.update(
        {
            f"form-{extra}-personal_note": "Injected",
            f"form-{extra}-flare": "2x_day",
            f"form-{extra}-subsiding": "1x_day",
            f"form-{extra}-maintenance": "1x_week",
        }
    )
    therapist_client.raise_request_exception = False
    response = therapist_client.post(
        reverse("therapist-plan-edit", args=[client_person.public_id]), data
    )
    assert response.status_code in (200, 302), "a tampered formset must not crash the page"
    assert PlanStep.objects.count() == 5
    assert not PlanStep.objects.filter(personal_note="Injected").exists()


# --- Phase, pin, end plan ---------------------------------------------------------------------


def test_it_sets_and_pins_the_phase(therapist_client, client_person, plan, therapist):
    response = therapist_client.post(
        reverse("therapist-phase", args=[client_person.public_id]),
        {"phase": "subsiding", "pinned": "on", "reason": "Settling well"},
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.phase == Phase.SUBSIDING
    assert plan.phase_pinned is True
    change = PhaseChange.objects.filter(plan=plan).first()
    assert change.to_phase == Phase.SUBSIDING
    assert change.by == therapist.user
    assert change.reason == "Settling well"
    page = text(therapist_client.get(response["Location"]))
    assert "Phase set to Subsiding." in page
    assert "Pinned" in page


def test_it_refuses_an_unknown_phase_and_changes_nothing(therapist_client, client_person, plan):
    changes = PhaseChange.objects.count()
    response = therapist_client.post(
        reverse("therapist-phase", args=[client_person.public_id]),
        {"phase": "panic", "pinned": "on"},
        follow=True,
    )
    assert "Choose a phase from the list." in messages_of(response)
    plan.refresh_from_db()
    assert plan.phase == Phase.FLARE
    assert plan.phase_pinned is False
    assert PhaseChange.objects.count() == changes


def test_it_refuses_a_phase_when_there_is_no_plan(therapist_client, client_person):
    response = therapist_client.post(
        reverse("therapist-phase", args=[client_person.public_id]),
        {"phase": "subsiding"},
        follow=True,
    )
    assert "Choose a phase from the list." in messages_of(response)
    assert not PhaseChange.objects.exists()


def test_it_ends_the_plan(therapist_client, client_person, plan):
    response = therapist_client.post(reverse("therapist-plan-end", args=[client_person.public_id]))
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.ended_at is not None
    page = text(therapist_client.get(response["Location"]))
    assert "No active plan" in page


# --- Exercise library --------------------------------------------------------------------------


def exercise_data(**overrides) -> dict[str, str]:
    data = {
        "name": "Cat-camel",
        "summary": "Gentle spine mobility on all fours.",
        "instructions": "Round, then arch, slowly.",
        "safety_notes": "Small range if it pinches.",
        "duration_minutes": "4",
        "video_url": "https://vimeo.com/76979871",
    }
    data.update(overrides)
    return data


def test_it_lists_the_practices_exercises_only(therapist_client, practice):
    other = factories.PracticeFactory()
    Exercise.objects.create(practice=other, name="Secret routine", instructions="x")
    response = therapist_client.get(reverse("therapist-exercises"))
    assert response.status_code == 200
    page = text(response)
    for exercise in Exercise.objects.filter(practice=practice):
        assert exercise.name in page
        assert reverse("therapist-exercise-edit", args=[exercise.pk]) in page
    assert "Secret routine" not in page


def test_it_adds_an_exercise(therapist_client, practice):
    response = therapist_client.post(reverse("therapist-exercise-add"), exercise_data())
    assert response.status_code == 302
    exercise = Exercise.objects.get(name="Cat-camel")
    assert exercise.practice == practice
    assert exercise.video_url == "https://vimeo.com/76979871"
    assert exercise.duration_minutes == 4


def test_it_edits_an_exercise_without_touching_assigned_plans(therapist_client, practice, plan):
    exercise = Exercise.objects.get(practice=practice, name="Psoas release")
    url = reverse("therapist-exercise-edit", args=[exercise.pk])
    assert "Psoas release" in text(therapist_client.get(url))
    response = therapist_client.post(
        url, exercise_data(name="Psoas release (ball)", video_url="https://youtu.be/dQw4w9WgXcQ")
    )
    assert response.status_code == 302
    exercise.refresh_from_db()
    assert exercise.name == "Psoas release (ball)"
    assert exercise.practice == practice
    step = plan.steps.get(exercise=exercise)
    assert step.name == "Psoas release"
    assert step.video_url == ""


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("javascript:alert(1)", "Enter a valid URL."),
        ("https://evil.example/clip.mp4", "Videos from evil.example can't be embedded."),
        ("https://www.youtube.com/watch?v=nope", "That YouTube link has no video in it."),
    ],
)
def test_it_refuses_a_bad_video_link_in_the_library(therapist_client, practice, url, message):
    exercise = Exercise.objects.get(practice=practice, name="Psoas release")
    response = therapist_client.post(
        reverse("therapist-exercise-edit", args=[exercise.pk]),
        exercise_data(name="Changed name", video_url=url),
    )
    assert response.status_code == 200
    assert field_error(response, "video_url").startswith(message)
    exercise.refresh_from_db()
    assert exercise.name == "Psoas release"
    assert exercise.video_url == ""

    response = therapist_client.post(
        reverse("therapist-exercise-add"), exercise_data(video_url=url)
    )
    assert field_error(response, "video_url").startswith(message)
    assert not Exercise.objects.filter(name="Cat-camel").exists()


def test_it_refuses_an_exercise_without_a_name_or_instructions(therapist_client, practice):
    response = therapist_client.post(
        reverse("therapist-exercise-add"), exercise_data(name="", instructions="")
    )
    assert field_error(response, "name") == "This field is required."
    assert field_error(response, "instructions") == "This field is required."
    assert not Exercise.objects.filter(summary="Gentle spine mobility on all fours.").exists()


# --- An empty library ----------------------------------------------------------------------------


@pytest.fixture
def bare_therapist_client(client, db):
    """A therapist of a practice whose library is still empty, logged in."""
    therapist = factories.TherapistFactory(practice=factories.PracticeFactory())
    client.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    client.therapist = therapist
    return client


def test_it_offers_to_install_the_library_when_a_practice_has_no_protocol(bare_therapist_client):
    practice = bare_therapist_client.therapist.practice
    person = factories.ClientFactory(practice=practice)
    session_url = reverse("therapist-session", args=[person.public_id])

    page = text(bare_therapist_client.get(session_url))
    assert "Your library has no plan yet" in page
    assert reverse("therapist-library-install") in page
    assert "Your library is empty" in text(
        bare_therapist_client.get(reverse("therapist-exercises"))
    )

    response = bare_therapist_client.post(
        reverse("therapist-library-install"), {"back": session_url}
    )
    assert response.status_code == 302
    assert response["Location"] == session_url
    assert Protocol.objects.filter(practice=practice).count() == 1
    assert Exercise.objects.filter(practice=practice).count() == 5
    assert "Record session and assign plan" in text(bare_therapist_client.get(session_url))


def test_it_never_redirects_off_site_after_installing(bare_therapist_client):
    response = bare_therapist_client.post(
        reverse("therapist-library-install"), {"back": "https://evil.example/"}
    )
    assert response["Location"] == reverse("therapist-exercises")


def test_it_installs_nothing_on_a_get(bare_therapist_client):
    response = bare_therapist_client.get(reverse("therapist-library-install"))
    assert response.status_code in (302, 405)
    assert not Protocol.objects.filter(practice=bare_therapist_client.therapist.practice).exists()
