"""The therapist suggests how a client could be reminded (email, a notification, texts);
the client sees the suggestion in Settings and decides. Request by request."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.test import Client as Browser
from django.urls import reverse

from clients.models import AuditEvent, Client
from tests import factories

THERAPIST_BACKEND = "django.contrib.auth.backends.ModelBackend"
CLIENT_BACKEND = "sesame.backends.ModelBackend"


# Two browsers at once (the shared `desk` and `phone` fixtures are one).
@pytest.fixture
def desk(therapist) -> Browser:
    browser = Browser()
    browser.force_login(therapist.user, backend=THERAPIST_BACKEND)
    return browser


@pytest.fixture
def phone(client_person) -> Browser:
    browser = Browser()
    browser.force_login(client_person.user, backend=CLIENT_BACKEND)
    return browser


@pytest.fixture
def texting_practice(practice):
    practice.sms_enabled = True
    practice.sms_sender = "+447400123456"
    practice.save()
    return practice


def edit_data(person: Client, **overrides) -> dict[str, str]:
    """The therapist's client form as the browser sends it, with the client's values."""
    data = {
        "name": person.name,
        "email": person.email,
        "phone": person.phone,
        "time_zone": person.time_zone,
        "massage_cadence": person.massage_cadence,
        "primary_therapist": str(person.primary_therapist_id or ""),
        "suggested_channel": person.suggested_channel,
        "notes": person.notes,
    }
    data.update(overrides)
    return data


def suggest(desk: Browser, person: Client, channel: str):
    url = reverse("therapist-client-edit", args=[person.public_id])
    return desk.post(url, edit_data(person, suggested_channel=channel))


def stored(person: Client) -> Client:
    return Client.objects.get(pk=person.pk)


def suggestion_shown(phone: Browser) -> str:
    """The suggestion line on the client's Settings page ("" when there is none)."""
    body = phone.get(reverse("client-settings")).content.decode()
    found = re.search(r'<p class="message" id="channel-suggestion">(.*?)</p>', body, re.S)
    return html.unescape(found.group(1)) if found else ""


def marked_option(phone: Browser) -> list[str]:
    """The channels whose label carries the "Suggested" mark."""
    body = phone.get(reverse("client-settings")).content.decode()
    return re.findall(r'for="channel-(\w+)">[^<]*<span class="badge">Suggested</span>', body)


def test_the_form_offers_the_suggestion_in_plain_words(desk, client_person):
    page = desk.get(reverse("therapist-client-edit", args=[client_person.public_id]))
    body = html.unescape(page.content.decode())
    assert "Suggest reminders by" in body
    assert "The client decides" in body
    assert '<option value="" selected>No suggestion</option>' in body
    # Texts are off at this practice: not offered.
    assert 'value="sms"' not in body


def test_the_therapist_suggests_texts_and_the_client_sees_it(
    desk, phone, client_person, texting_practice
):
    response = suggest(desk, client_person, "sms")
    assert response.status_code == 302
    assert stored(client_person).suggested_channel == "sms"

    assert suggestion_shown(phone).startswith("Your therapist suggests: text messages.")
    assert marked_option(phone) == ["sms"]

    detail = desk.get(reverse("therapist-client", args=[client_person.public_id]))
    assert "Reminded by email. You suggested text message; the client decides." in (
        html.unescape(detail.content.decode())
    )
    edited = AuditEvent.objects.filter(client=client_person, action="client_edited").last()
    assert edited is not None and "suggested reminders by" in edited.detail


def test_a_suggestion_never_changes_the_clients_choice_or_consent(
    desk, phone, client_person, texting_practice
):
    suggest(desk, client_person, "sms")
    person = stored(client_person)
    assert person.reminder_channel == "email"
    assert person.sms_opt_in_at is None and person.sms_number == ""
    # The client's page still has email picked; texts are only marked.
    body = phone.get(reverse("client-settings")).content.decode()
    assert 'value="email" id="channel-email" checked' in body
    assert 'id="channel-sms" aria-describedby="sms-help" checked' not in body


def test_the_suggestion_is_not_shown_once_the_client_follows_it(desk, phone, client_person):
    suggest(desk, client_person, "email")
    assert stored(client_person).suggested_channel == "email"
    assert suggestion_shown(phone) == ""
    assert marked_option(phone) == []
    detail = desk.get(reverse("therapist-client", args=[client_person.public_id]))
    assert "You suggested email, and that is their choice." in detail.content.decode()


def test_no_suggestion_shows_nothing(phone, client_person):
    assert suggestion_shown(phone) == ""
    assert marked_option(phone) == []


def test_the_suggestion_can_be_taken_back(desk, phone, client_person):
    suggest(desk, client_person, "push")
    assert suggestion_shown(phone).startswith(
        "Your therapist suggests: a notification on your phone."
    )
    suggest(desk, stored(client_person), "")
    assert stored(client_person).suggested_channel == ""
    assert suggestion_shown(phone) == ""


@pytest.mark.parametrize("bad", ["fax", "SMS", "email ", "x" * 200])
def test_an_unknown_way_gets_a_clear_message_and_nothing_is_saved(desk, client_person, bad):
    before = stored(client_person)
    response = suggest(desk, client_person, bad)
    assert response.status_code == 200
    assert "Pick one of the ways in the list." in html.unescape(response.content.decode())
    after = stored(client_person)
    assert after.suggested_channel == "" and after.updated_at == before.updated_at


def test_texts_cannot_be_suggested_while_the_practice_has_them_off(desk, client_person):
    response = suggest(desk, client_person, "sms")
    assert response.status_code == 200
    assert "Your practice doesn't send texts" in html.unescape(response.content.decode())
    assert stored(client_person).suggested_channel == ""


def test_texts_switched_off_later_keep_the_form_saveable_and_hide_the_suggestion(
    desk, phone, client_person, texting_practice
):
    suggest(desk, client_person, "sms")
    texting_practice.sms_enabled = False
    texting_practice.save()
    # The client can't pick texts now, so Settings suggests nothing.
    assert suggestion_shown(phone) == ""
    # The therapist can still save other edits; the old suggestion stays until changed.
    response = suggest(desk, stored(client_person), "sms")
    assert response.status_code == 302


def test_submitting_twice_is_safe(desk, phone, client_person, texting_practice):
    first = suggest(desk, client_person, "sms")
    second = suggest(desk, stored(client_person), "sms")
    assert first.status_code == second.status_code == 302
    assert stored(client_person).suggested_channel == "sms"
    assert stored(client_person).reminder_channel == "email"
    # The second save changed nothing, so it recorded nothing.
    assert AuditEvent.objects.filter(client=client_person, action="client_edited").count() == 1
    assert suggestion_shown(phone).startswith("Your therapist suggests: text messages.")


def test_another_practices_therapist_cannot_suggest(client_person, texting_practice):
    other = factories.practice_with_library()
    other.sms_enabled = True
    other.save()
    stranger = factories.TherapistFactory(practice=other)
    desk = Browser()
    desk.force_login(stranger.user, backend=THERAPIST_BACKEND)
    response = suggest(desk, client_person, "sms")
    assert response.status_code == 404
    assert stored(client_person).suggested_channel == ""


def test_the_client_cannot_set_a_suggestion_for_themselves(phone, client_person):
    response = suggest(phone, client_person, "push")
    assert response.status_code in (302, 403, 404)
    assert stored(client_person).suggested_channel == ""


def test_the_export_includes_the_suggestion(desk, client_person, texting_practice):
    suggest(desk, client_person, "sms")
    response = desk.post(
        reverse("therapist-client-export", args=[client_person.public_id]), {"format": "json"}
    )
    assert response.status_code == 200
    exported = json.loads(response.content)
    client_part = exported["client"]
    assert client_part["suggested_channel"] == "sms"
    assert client_part["reminder_channel"] == "email"
