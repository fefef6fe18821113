"""At phone size (390x844), in a real browser: Today offers "Book your next massage" when
it is due and Call / Email the practice; Settings offers "Add to my calendar" and a Copy
button, and the time zone's full list arrives on focus. Neither page scrolls sideways,
and every one of these targets is at least 48px tall (one-handed)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sesame.utils import get_query_string

from clients.models import MassageSession
from tests import factories
from tests.browser import PHONE, chromium, phone_context

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Screenshots of this test go outside the repository (look at them: they are the review).
SHOTS = Path(os.environ.get("CLIENT_BOOK_SHOTS", "/tmp/aftercare-client-book"))


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def tall_enough(locator) -> None:
    box = locator.bounding_box()
    assert box is not None and box["height"] >= 48, box


def test_book_call_and_calendar_at_phone_size(require_service, live_server):
    require_service("chromium")
    practice = factories.practice_with_library()
    practice.phone = "+44 117 496 0000"
    practice.save()
    therapist = factories.TherapistFactory(practice=practice)
    person = factories.ClientFactory(
        practice=practice, name="Dana Brook", massage_cadence="fortnightly"
    )
    factories.plan_for(person, therapist)
    MassageSession.objects.create(client=person, date=person.local_today() - timedelta(days=15))
    SHOTS.mkdir(parents=True, exist_ok=True)

    with chromium() as browser:
        page = phone_context(browser, live_server.url).new_page()
        page.goto(f"{live_server.url}/c/login/{get_query_string(person.user)}")
        page.get_by_role("heading", name="Hi Dana").wait_for()

        book = page.get_by_role("link", name="Book your next massage")
        assert book.get_attribute("href") == "https://practice.example/book"
        call = page.get_by_role("link", name="Call +44 117 496 0000")
        assert call.get_attribute("href") == "tel:+441174960000"
        email = page.get_by_role("link", name="Email", exact=True)
        assert email.get_attribute("href") == f"mailto:{practice.sender_email}"
        menu_book = page.get_by_role("navigation", name="Main").get_by_role("link", name="Book")
        assert menu_book.is_visible()
        for target in (book, call, email, menu_book):
            tall_enough(target)
        no_sideways_scroll(page)
        page.screenshot(path=str(SHOTS / "today-390.png"), full_page=True)

        page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
        page.get_by_role("heading", name="Reminder settings").wait_for()
        add = page.get_by_role("link", name="Add to my calendar")
        assert add.get_attribute("href").startswith("webcal://")
        google = page.get_by_role("link", name="Add to Google Calendar")
        assert google.get_attribute("href").startswith(
            "https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2F"
        )
        copy = page.get_by_role("button", name="Copy the calendar link")
        copy.wait_for()  # shown by client.js
        for target in (add, google, copy):
            tall_enough(target)
        no_sideways_scroll(page)

        # The zone field: a dozen suggestions with the page, the whole list on focus.
        zone = page.get_by_label("Your time zone")
        options = page.locator("#id_time_zone-zones option")
        assert options.count() < 20
        zone.focus()
        options.nth(500).wait_for(state="attached")  # (CSP: no wait_for_function)
        assert options.count() == options.evaluate_all("os => new Set(os.map(o => o.value)).size")
        page.screenshot(path=str(SHOTS / "settings-390.png"), full_page=True)

        # A zone that doesn't exist: said next to the field, nothing saved.
        zone.fill("Europe/Atlantis")
        page.get_by_role("button", name="Save settings").click()
        page.get_by_text("“Europe/Atlantis” is not a time zone we know.").wait_for()
        no_sideways_scroll(page)
        page.screenshot(path=str(SHOTS / "settings-error-390.png"), full_page=True)
    person.refresh_from_db()
    assert person.time_zone == "Europe/London"
