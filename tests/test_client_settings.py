"""The client's reminder settings page and the .ics calendar feed."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from icalendar import Calendar
from sesame.utils import get_query_string

from aftercare.models import Plan, Reminder
from aftercare.outbox import reminders
from aftercare.rules.phases import Phase
from clients import services as people
from clients.models import Client

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # Wednesday; London = UTC
SETTINGS = reverse("client-settings")


@pytest.fixture
def phone(flare, client, client_person):
    client.force_login(client_person.user, backend="sesame.backends.ModelBackend")
    return client


def form(**changes) -> dict:
    data = {
        "morning_time": "08:00",
        "evening_time": "19:00",
        "reset_weekday": "6",
        "three_x_days": ["0", "2", "4"],
        "quiet_start": "21:00",
        "quiet_end": "07:30",
        "time_zone": "Europe/London",
        "routine_emails": "on",
        "booking_emails": "on",
        "pause_days": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def planned(client: Client) -> list[tuple[str, datetime]]:
    reminders.reminders_plan_due()
    return list(
        Reminder.objects.filter(client=client, status="pending")
        .order_by("due_at")
        .values_list("slot_key", "due_at")
    )


def snapshot(client: Client) -> tuple:
    client.refresh_from_db()
    fields = ("morning_time", "evening_time", "quiet_start", "quiet_end", "time_zone")
    return (
        *(getattr(client, name) for name in fields),
        client.three_x_days,
        client.paused_until,
        client.routine_emails,
        list(Reminder.objects.filter(client=client).values_list("id", "due_at")),
    )


def test_the_page_shows_the_current_settings(phone):
    page = phone.get(SETTINGS)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'name="morning_time" value="08:00"' in text
    assert 'name="time_zone" value="Europe/London"' in text
    assert "Pause all reminders for this many days" in text


def test_saving_applies_to_the_next_reminder(phone, client_person):
    assert planned(client_person)[0] == ("2026-11-25/morning", NOW.replace(hour=8))

    response = phone.post(SETTINGS, form(morning_time="09:15", time_zone="America/New_York"))

    assert response.status_code == 302
    page = phone.get(response.url)
    assert "Saved. Your next reminder follows these settings." in page.content.decode()
    client_person.refresh_from_db()
    assert (client_person.morning_time, client_person.time_zone) == (
        time(9, 15),
        "America/New_York",
    )
    # The old pending rows are gone; the next ones follow the new settings.
    assert planned(client_person)[0] == ("2026-11-25/morning", NOW.replace(hour=14, minute=15))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "“Mars/Olympus_Mons” is not a time zone we know."),
        ({"time_zone": ""}, "This field is required."),
        ({"morning_time": "25:00"}, "Enter a valid time."),
        ({"evening_time": "7pm-ish"}, "Enter a valid time."),
        ({"morning_time": ""}, "This field is required."),
        (
            {"morning_time": "20:00", "evening_time": "19:00"},
            "The evening routine time must be later than the morning one.",
        ),
        ({"morning_time": "06:00"}, "Your morning routine falls in your quiet hours. Try 07:30."),
        ({"three_x_days": ["0", "2"]}, "Pick exactly three days."),
        ({"reset_weekday": "9"}, "Select a valid choice."),
        ({"pause_days": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"pause_days": "61"}, "Ensure this value is less than or equal to 60."),
        ({"pause_days": "-3"}, "Ensure this value is greater than or equal to 1."),
        ({"pause_days": "a week"}, "Enter a whole number."),
    ],
)
def test_bad_input_gets_a_clear_message_and_saves_nothing(phone, client_person, changes, message):
    planned(client_person)
    before = snapshot(client_person)

    page = phone.post(SETTINGS, form(**changes))

    assert page.status_code == 200
    assert message in unescape(page.content.decode())
    assert snapshot(client_person) == before


def test_pausing_for_n_days(phone, client_person, clock):
    planned(client_person)
    phone.post(SETTINGS, form(pause_days="3"))

    client_person.refresh_from_db()
    assert client_person.paused_until == date(2026, 11, 27)  # today and the next two days
    assert planned(client_person) == []
    assert "Reminders are paused until Friday 27 November." in phone.get(SETTINGS).content.decode()
    clock.move_to(datetime(2026, 11, 27, 12, tzinfo=UTC))
    assert planned(client_person) == [
        ("2026-11-28/morning", datetime(2026, 11, 28, 8, tzinfo=UTC)),
        ("2026-11-28/evening", datetime(2026, 11, 28, 19, tzinfo=UTC)),
    ]


def test_resuming_now(phone, client_person):
    phone.post(SETTINGS, form(pause_days="10"))
    assert planned(client_person) == []
    page = phone.get(SETTINGS).content.decode()
    assert "Resume reminders now" in page

    phone.post(SETTINGS, form(resume="on"))

    client_person.refresh_from_db()
    assert client_person.paused_until is None
    assert planned(client_person)[0][0] == "2026-11-25/morning"


def test_unsubscribing_from_the_settings_page(phone, client_person):
    planned(client_person)
    phone.post(SETTINGS, form(routine_emails=None))
    client_person.refresh_from_db()
    assert (client_person.routine_emails, client_person.booking_emails) == (False, True)
    assert planned(client_person) == []


def test_the_settings_page_needs_the_clients_link(client, flare):
    response = client.get(SETTINGS)
    assert response.status_code in (302, 403)
    assert not response.content or b"Reminder settings" not in response.content


# --- the calendar feed ----------------------------------------------------------------------


def calendar_link(phone) -> str:
    page = phone.get(SETTINGS).content.decode()
    match = re.search(r'id="calendar-link"[^>]*value="([^"]+)"', page)
    assert match
    return unescape(match.group(1)).removeprefix("http://testserver")


def test_the_calendar_lists_the_routine_in_the_clients_zone(phone, client_person, client):
    phone.post(SETTINGS, form(time_zone="America/New_York"))
    link = calendar_link(phone)
    client.logout()  # a calendar app has no session, only the link

    response = client.get(link)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    starts = [event.decoded("dtstart") for event in events]
    zone = ZoneInfo("America/New_York")
    # Flare: a morning and an evening routine every day, at the client's own times.
    assert {start.tzinfo.key for start in starts} == {"America/New_York"}
    assert {start.astimezone(zone).time() for start in starts} == {time(8), time(19)}
    first = min(starts)
    assert first.astimezone(zone).date() == date(2026, 11, 24)  # from yesterday
    assert len(events) == 2 * 28
    morning = next(e for e in events if e.decoded("dtstart").astimezone(zone).hour == 8)
    assert str(morning["summary"]) == "Morning routine"
    assert "Passive SI reset" in str(morning["description"])
    assert morning.decoded("dtend") > morning.decoded("dtstart")
    # Each event names its zone, and the zone is described in the calendar (RFC 5545).
    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == ["America/New_York"]
    assert len({str(e["uid"]) for e in events}) == len(events)


def test_the_calendar_follows_the_phase(phone, flare, client):
    Plan.objects.filter(id=flare.id).update(phase=Phase.HOLD)
    link = calendar_link(phone)
    client.logout()
    calendar = Calendar.from_ical(client.get(link).content)
    assert calendar.walk("VEVENT") == []


def test_a_revoked_calendar_link_is_gone(phone, client, client_person):
    link = calendar_link(phone)
    people.client_links_revoke(client=client_person)
    client.logout()
    response = client.get(link)
    assert response.status_code == 404
    assert b"BEGIN:VCALENDAR" not in response.content


def test_a_login_link_is_not_a_calendar_link(flare, client, client_person):
    login_token = get_query_string(client_person.user)  # the emailed login link's token
    for url in (
        reverse("client-calendar") + login_token,
        reverse("client-calendar"),
        reverse("client-calendar") + "?sesame=forged",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"BEGIN:VCALENDAR" not in response.content


def test_an_inactive_clients_calendar_is_gone(phone, client, client_person):
    link = calendar_link(phone)
    Client.objects.filter(id=client_person.id).update(active=False)
    client.logout()
    assert client.get(link).status_code == 404
