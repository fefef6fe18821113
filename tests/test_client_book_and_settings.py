"""Issue 11, "Book and contact" and "Settings in plain words": the booking button on
Today when the nudge is due, Call and Email the practice, settings that explain
themselves, a quiet-hours clash that suggests a time, "Add to my calendar" links and a
light time-zone field (typed with suggestions, checked by the server)."""

from __future__ import annotations

import json
import re
from datetime import date, time, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.urls import reverse

from aftercare.forms import COMMON_ZONES
from aftercare.outbox import reminders
from clients.models import Client, MassageSession, _zone_names
from tests.test_client_settings import form, snapshot

TODAY = reverse("client-today")
SETTINGS = reverse("client-settings")
TODAY_DATE = date(2026, 11, 25)  # the clock fixture's day (London)

# The HTML of the Settings and Add-client pages, measured: 46,227 and 37,333 bytes with
# the 600-option zone <select>; 10.6 KB and 5.1 KB with the typed field.
SETTINGS_MAX_BYTES = 16_000
CLIENT_ADD_MAX_BYTES = 10_000


@pytest.fixture
def phone(flare, client, client_person):
    client.force_login(client_person.user, backend="sesame.backends.ModelBackend")
    return client


def session_ago(person: Client, days: int) -> MassageSession:
    return MassageSession.objects.create(client=person, date=TODAY_DATE - timedelta(days=days))


def page_text(response) -> str:
    return unescape(response.content.decode())


def booking_button(text: str) -> bool:
    return ">Book your next massage</a>" in text


# --- Book and contact -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cadence", "days_ago", "shown"),
    [
        ("fortnightly", 14, True),  # the nudge's own day
        ("fortnightly", 20, True),  # after it
        ("fortnightly", 13, False),  # the day before
        ("weekly", 7, True),
        ("monthly", 29, False),
        ("monthly", 30, True),
        ("none", 90, False),  # no regular massage: no nudge
    ],
)
def test_book_your_next_massage_shows_from_the_nudges_day(
    phone, client_person, cadence, days_ago, shown
):
    client_person.massage_cadence = cadence
    client_person.save()
    last = session_ago(client_person, days_ago)

    text = page_text(phone.get(TODAY))

    assert booking_button(text) is shown
    if shown:
        (_kind, _key, day, _due), _follow = reminders.booking_due(client_person, last.date)
        assert f"Suggested date: {day:%A} {day.day} {day:%B}" in text
        assert 'href="https://practice.example/book"' in text


def test_no_booking_button_without_a_session(phone):
    assert not booking_button(page_text(phone.get(TODAY)))


def test_no_booking_button_or_menu_link_without_a_booking_url(phone, client_person):
    practice = client_person.practice
    practice.booking_url = ""
    practice.save()
    session_ago(client_person, 30)

    text = page_text(phone.get(TODAY))

    assert not booking_button(text)
    assert ">Book</a>" not in text


def test_the_menu_always_offers_booking(phone, client_person):
    session_ago(client_person, 1)  # not due yet
    for url in (TODAY, SETTINGS, reverse("client-plan"), reverse("client-progress")):
        text = page_text(phone.get(url))
        nav = text[text.index('<nav aria-label="Main">') :]
        nav = nav[: nav.index("</nav>")]
        assert '<a href="https://practice.example/book" rel="noopener">Book</a>' in nav, url


def test_a_newer_session_moves_the_suggestion(phone, client_person):
    session_ago(client_person, 20)
    session_ago(client_person, 2)
    assert not booking_button(page_text(phone.get(TODAY)))


def test_call_and_email_the_practice_when_set(phone, client_person):
    practice = client_person.practice
    practice.phone = "+44 117 496 0000"
    practice.save()

    text = page_text(phone.get(TODAY))

    assert 'href="tel:+441174960000"' in text
    assert "Call +44 117 496 0000" in text
    assert f'href="mailto:{practice.sender_email}"' in text


def test_no_call_link_without_a_phone_number(phone, client_person):
    practice = client_person.practice
    practice.phone = ""
    practice.save()
    text = page_text(phone.get(TODAY))
    assert "tel:" not in text
    assert "mailto:" in text


def test_no_contact_links_without_phone_or_email(phone, client_person):
    # sender_email is required in forms; a row written some other way may still lack it.
    practice = client_person.practice
    practice.phone = ""
    practice.sender_email = ""
    practice.save()
    text = page_text(phone.get(TODAY))
    assert "tel:" not in text
    assert "mailto:" not in text
    assert 'class="wrap contact"' not in text


# --- Settings in plain words ------------------------------------------------------------


def test_every_setting_says_what_it_means_with_an_example(phone):
    text = page_text(phone.get(SETTINGS))
    assert "Your weekly check, on a good week: Sunday." in text
    assert "for example Monday, Wednesday and Friday" in text
    assert "We never email between 21:00 and 07:30." in text
    assert "for example 07:30 before work" in text
    assert "Type a city, e.g. Europe/London" in text


@pytest.mark.parametrize(
    ("changes", "field", "suggestion"),
    [
        ({"morning_time": "06:00"}, "morning_time", "Try 07:30."),
        # Quiet hours ending on an odd minute: the suggestion is on the quarter hour after.
        ({"morning_time": "06:00", "quiet_end": "07:10"}, "morning_time", "Try 07:15."),
        (
            {"morning_time": "05:00", "quiet_start": "22:00", "quiet_end": "06:00"},
            "morning_time",
            "Try 06:00.",
        ),
    ],
)
def test_a_quiet_hours_clash_suggests_the_nearest_time(
    phone, client_person, changes, field, suggestion
):
    before = snapshot(client_person)
    response = phone.post(SETTINGS, form(**changes))
    text = page_text(response)
    assert response.status_code == 200
    assert f"Your morning routine falls in your quiet hours. {suggestion}" in text
    assert snapshot(client_person) == before
    # The suggestion really is accepted.
    better = re.search(r"Try (\d\d:\d\d)\.", suggestion).group(1)
    saved = phone.post(SETTINGS, form(**{**changes, field: better}))
    assert saved.status_code == 302
    client_person.refresh_from_db()
    assert client_person.morning_time == time.fromisoformat(better)


def test_an_evening_clash_suggests_an_evening_time(phone, client_person):
    # Morning and evening both in quiet hours: both reminders would come at 09:00.
    before = snapshot(client_person)
    response = phone.post(
        SETTINGS,
        form(morning_time="08:00", evening_time="22:00", quiet_start="21:00", quiet_end="09:00"),
    )
    assert response.status_code == 200
    assert (
        "Quiet hours would send the morning and evening reminders at the same time; move one "
        "of the routine times out of quiet hours. Try an evening routine at 20:45."
    ) in page_text(response)
    assert snapshot(client_person) == before


def test_add_to_my_calendar_links_instead_of_a_raw_url_field(phone):
    text = page_text(phone.get(SETTINGS))
    webcal = re.search(r'href="(webcal://testserver/c/calendar\.ics\?[^"]+)"', text).group(1)
    assert ">Add to my calendar</a>" in text
    google = "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe="")
    assert f'href="{google}"' in text
    assert re.search(r'<button type="button" id="calendar-link"[^>]*data-copy hidden>', text)
    assert "readonly" not in text
    assert "Add Subscribed Calendar" not in text  # no more iPhone-only instructions


def test_the_webcal_link_is_the_calendar_feed(phone, client):
    text = page_text(phone.get(SETTINGS))
    webcal = re.search(r'href="webcal://testserver(/c/calendar\.ics\?[^"]+)"', text).group(1)
    feed = client.get(webcal)
    assert feed.status_code == 200
    assert feed["Content-Type"].startswith("text/calendar")


# --- The time zone: light, typed, checked -----------------------------------------------


def test_the_settings_page_is_light(phone):
    response = phone.get(SETTINGS)
    assert len(response.content) < SETTINGS_MAX_BYTES
    # The weekly reset day's seven, and the zone suggestions: no 600-option list.
    assert response.content.count(b"<option") <= 7 + len(COMMON_ZONES) + 1


def test_the_add_client_page_is_light(therapist_client):
    response = therapist_client.get(reverse("therapist-client-add"))
    assert response.status_code == 200
    assert len(response.content) < CLIENT_ADD_MAX_BYTES
    text = page_text(response)
    assert 'list="id_time_zone-zones"' in text
    assert '<datalist id="id_time_zone-zones" data-zones="/static/data/zones.json">' in text


def test_the_suggestions_start_with_the_clients_own_and_the_practices_zone(phone, client_person):
    client_person.time_zone = "Asia/Tokyo"
    client_person.save()
    practice = client_person.practice
    practice.time_zone = "Europe/Lisbon"
    practice.save()
    text = page_text(phone.get(SETTINGS))
    options = re.findall(r'<option value="([^"]+)"></option>', text)
    assert options[:2] == ["Asia/Tokyo", "Europe/Lisbon"]
    assert len(options) == len(set(options))


@pytest.mark.parametrize("typed", ["Mars/Olympus_Mons", "London", "Europe/Londn", "<b>x</b>"])
def test_an_unknown_zone_typed_gets_a_clear_message_and_saves_nothing(phone, client_person, typed):
    before = snapshot(client_person)
    response = phone.post(SETTINGS, form(time_zone=typed))
    assert response.status_code == 200
    text = page_text(response)
    assert (
        f"“{typed}” is not a time zone we know. Pick one from the list, e.g. Europe/London." in text
    )
    assert "<b>x</b>" not in response.content.decode()  # escaped
    assert snapshot(client_person) == before


@pytest.mark.parametrize("typed", ["america/new_york", "America/New York", "  America/New_York "])
def test_a_zone_typed_loosely_is_saved_by_its_real_name(phone, client_person, typed):
    response = phone.post(SETTINGS, form(time_zone=typed))
    assert response.status_code == 302
    client_person.refresh_from_db()
    assert client_person.time_zone == "America/New_York"


def test_the_full_zone_list_is_exactly_what_the_server_accepts():
    # static/data/zones.json is a cached file: regenerate it after a tzdata update with
    #   python -c "import json,zoneinfo;print(json.dumps(sorted(zoneinfo.available_timezones()),
    #   separators=(',',':')))" > static/data/zones.json
    names = json.loads((Path(settings.BASE_DIR) / "static/data/zones.json").read_text())
    assert names == sorted(names)
    assert set(names) == set(_zone_names())
    assert set(COMMON_ZONES) <= set(names)
