"""The whole story in a real browser, in order: the therapist (desktop) logs in, adds a
client, records a session and assigns the plan; the client (a phone) opens the emailed
link, plays a video, ticks steps, logs pain 8 and gets the flare routine, logs lower pain
over the next days until the plan reaches Maintenance (TAPER.md), then answers a warning
sign with "yes": the emergency screen, and the alert at the top of the therapist's
dashboard.

The days pass with time_machine: it moves the clock of this whole process, so the live
server's thread sees the same "now" as the test. A screenshot per step goes to
test-artifacts/story/.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from playwright.sync_api import expect

from aftercare.models import Alert, Completion, PhaseChange, Plan
from aftercare.rules.phases import Phase
from clients.models import Client
from tests import factories
from tests.browser import (
    DESKTOP,
    PHONE,
    chromium,
    desktop_context,
    phone_context,
    shot,
)

# serialized_rollback: a transactional test flushes the database after it runs, which
# would also remove the built-in protocol that a data migration created.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

VIDEO = "https://youtu.be/dQw4w9WgXcQ"
LINK = re.compile(r"https?://\S+/c/login/\?sesame=\S+")


def _therapist_logs_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Clients", exact=True).wait_for()


def _choose(page, field: str, label: str) -> None:
    page.locator(f"#group-{field}").get_by_label(label, exact=True).check()


def _check_in(page, base: str, worst: int, compared: str = "Better") -> str:
    """One check-in from Today on the phone; returns the message Today shows after it."""
    page.goto(f"{base}/c/")
    page.get_by_role("link", name="Check in: how's your back?").tap()
    page.get_by_role("heading", name="How is your back?").wait_for()
    _choose(page, "warning", "No, none of them")
    _choose(page, "pain_now", str(max(worst - 1, 0)))
    _choose(page, "worst_pain", str(worst))
    _choose(page, "compared", compared)
    _choose(page, "legs", "No leg symptoms")
    _choose(page, "sleep", "Slept fine")
    page.get_by_role("button", name="Save check-in").tap()
    page.wait_for_url(lambda url: url == f"{base}/c/" or "?saved=" in url)
    if "?saved=" in page.url:  # a hard day: its own page first, then back to Today
        said = page.locator("main").inner_text()
        page.get_by_role("link", name="Back to Today").tap()
        page.wait_for_url(f"{base}/c/")
        return said
    return page.locator(".messages").inner_text()


def _phase_badge(page) -> str:
    return page.locator(".phase-line .badge").first.inner_text().strip()


def test_the_whole_story(require_service, live_server, settings):
    require_service("chromium")
    base = live_server.url
    settings.SITE_URL = base  # the emailed link must point at the live server
    # Midday in London, a day ahead of the real clock (cookies stay fresh for Chromium,
    # whose own clock is not moved), so every "day" below is a plain calendar day.
    start = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=11, minute=0, second=0, microsecond=0
    )

    with time_machine.travel(start, tick=True) as clock, chromium() as browser:
        practice = factories.practice_with_library()
        therapist = factories.TherapistFactory(practice=practice, display_name="Sam Reed")
        # A client already on the list, first by name: the alert must still come first.
        earlier = factories.ClientFactory(
            practice=practice, name="Aaron Able", primary_therapist=therapist
        )
        factories.plan_for(earlier, therapist, phase=Phase.SUBSIDING)
        desk = desktop_context(browser, base).new_page()
        phone = phone_context(browser, base).new_page()
        assert desk.viewport_size == DESKTOP and phone.viewport_size == PHONE

        # 1. The therapist logs in with the real form.
        desk.goto(f"{base}/t/")
        assert "/login/" in desk.url, "the dashboard asks for a login first"
        shot(desk, "story", "01-therapist-login")
        _therapist_logs_in(desk, base, therapist.user.email)
        shot(desk, "story", "02-dashboard")

        # 2. Adds a client.
        desk.get_by_role("link", name="Add a client").first.click()
        desk.get_by_label("Name").fill("Dana Brook")
        desk.get_by_label("Email").fill("dana@example.com")
        shot(desk, "story", "03-add-client")
        desk.get_by_role("button", name="Add client").click()

        # 3. Records the session and assigns the plan, starting in Subsiding.
        desk.get_by_role("heading", name="Record session and assign plan").wait_for()
        assert desk.get_by_role("radio", name="Subsiding").is_checked()
        assert desk.get_by_label("Email the client the link to their plan").is_checked()
        shot(desk, "story", "04-session-form")
        desk.get_by_role("button", name="Save session and assign plan").click()
        desk.get_by_role("heading", name="Dana Brook").wait_for()
        assert "Dana has been emailed their link" in desk.locator(".messages").inner_text()
        dana = Client.objects.get(email="dana@example.com")
        plan = Plan.objects.get(client=dana, ended_at__isnull=True)
        assert plan.phase == Phase.SUBSIDING
        assert dana.sessions.count() == 1

        # ... and gives the SI reset its video.
        desk.get_by_role("link", name="Adjust steps").click()
        si_fields = desk.locator(
            "fieldset.tweak", has=desk.locator("legend", has_text="Passive SI reset")
        )
        si_fields.get_by_label("Video link").fill(VIDEO)
        desk.get_by_role("button", name="Save").click()
        assert "Plan steps saved" in desk.locator(".messages").inner_text()
        shot(desk, "story", "05-client-page")

        # 4. The client opens the emailed link on the phone.
        (letter,) = [m for m in mail.outbox if m.to == ["dana@example.com"]]
        link = LINK.search(letter.body).group(0)
        phone.goto(link)
        phone.get_by_role("heading", name="Hi Dana").wait_for()
        assert phone.url == f"{base}/c/", "the token leaves the address bar"
        assert _phase_badge(phone) == "Subsiding"
        assert phone.locator("section.slot").count() == 1, "subsiding: once a day"
        shot(phone, "story", "06-client-today")

        # 5. Plays a video: the player appears in place of the link.
        slot = phone.locator("section.slot").first
        slot.get_by_role("link", name="Watch: Passive SI reset").tap()
        player = slot.locator(".video-frame iframe")
        player.wait_for(state="attached")
        assert player.get_attribute("src").startswith("https://www.youtube-nocookie.com/embed/")
        shot(phone, "story", "07-video")

        # 6. Ticks two steps done.
        pressed = phone.locator("section.slot").first.locator(".step.is-done")
        for ticked, name in enumerate(("Passive SI reset", "Lumbar decompression"), start=1):
            phone.locator("section.slot").first.get_by_role(
                "button", name=f"Mark “{name}” done"
            ).tap()
            expect(pressed).to_have_count(ticked)
        assert Completion.objects.filter(step__plan=plan).count() == 2
        shot(phone, "story", "08-steps-ticked")

        # 7. Pain 8: a flare, and the routine morning and evening.
        said = _check_in(phone, base, worst=8, compared="Worse")
        assert "moved to Flare" in said
        assert _phase_badge(phone) == "Flare"
        slots = phone.locator("section.slot")
        assert slots.count() == 2, "flare: two slots today"
        assert slots.nth(0).locator("h2").inner_text().startswith("Morning routine")
        assert slots.nth(1).locator("h2").inner_text().startswith("Evening routine")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot(phone, "story", "09-flare-two-slots")

        # 8. Lower pain on the next days: 5, then 4 (6 or less twice, 2+ below the peak).
        clock.move_to(start + timedelta(days=1))
        assert "moved to" not in _check_in(phone, base, worst=5)
        assert _phase_badge(phone) == "Flare", "one settled day is not enough"
        clock.move_to(start + timedelta(days=2))
        assert "moved to Subsiding" in _check_in(phone, base, worst=4)
        assert _phase_badge(phone) == "Subsiding"
        assert phone.locator("section.slot").count() <= 1
        shot(phone, "story", "10-subsiding")

        # 9. Pain 0-1 on 7 logged days (one day skipped: missed days neither count nor
        #    reset), then Maintenance.
        logged_days = [3, 4, 5, 7, 8, 9, 10]
        for n, day in enumerate(logged_days, start=1):
            clock.move_to(start + timedelta(days=day))
            said = _check_in(phone, base, worst=n % 2, compared="Much better")
            if n < len(logged_days):
                assert "moved to" not in said, f"still Subsiding after {n} good days"
        assert "moved to Maintenance" in said
        assert _phase_badge(phone) == "Maintenance"
        shot(phone, "story", "11-maintenance")
        plan.refresh_from_db()
        assert plan.phase == Phase.MAINTENANCE
        assert list(
            PhaseChange.objects.filter(plan=plan).order_by("at").values_list("to_phase", flat=True)
        )[-3:] == [Phase.FLARE, Phase.SUBSIDING, Phase.MAINTENANCE]

        # 10. A "yes" to a warning sign: the emergency screen.
        clock.move_to(start + timedelta(days=11))
        phone.goto(f"{base}/c/")
        phone.get_by_role("link", name="Check in: how's your back?").tap()
        _choose(phone, "warning", "Yes")  # the list opens in place
        _choose(phone, "safety_signs", "Chest pain")
        phone.get_by_role("button", name="Save check-in").tap()
        phone.get_by_role("heading", name="Get medical help now").wait_for()
        assert phone.url == f"{base}/c/safety/"
        assert phone.get_by_role("alert").count() == 1
        assert phone.locator("a.call").get_attribute("href").startswith("tel:")
        shot(phone, "story", "12-emergency-screen")

        # 11. The therapist's dashboard: the alert at the top. Their 12-hour session
        #     ended days ago, so they log in again.
        desk.goto(f"{base}/t/")
        assert "/login/" in desk.url
        _therapist_logs_in(desk, base, therapist.user.email)
        # "Needs me", the default: only Dana, at the top, and why.
        rows = desk.locator("ul.dashboard-list > li.client-row")
        assert rows.count() == 1
        top = rows.first
        assert top.get_by_role("link").first.inner_text() == "Dana Brook"
        assert "level-40" in top.get_attribute("class")
        assert top.locator(".badge").first.inner_text() == "Urgent"
        assert "emergency warning sign" in top.inner_text().lower()
        shot(desk, "story", "13-dashboard-alert")
        desk.get_by_role("link", name="Everyone").click()
        rows = desk.locator("ul.dashboard-list > li.client-row")
        assert rows.count() == 2
        assert rows.first.get_by_role("link").first.inner_text() == "Dana Brook"
        assert "Aaron Able" in rows.nth(1).inner_text()

        top.get_by_role("link", name="Dana Brook").click()
        alerts = desk.locator("section.alerts")
        assert "emergency warning sign" in alerts.inner_text()
        shot(desk, "story", "14-client-alert")

    plan.refresh_from_db()
    assert plan.phase == Phase.HOLD
    assert Alert.objects.filter(plan=plan, kind="safety_emergency", resolved_at=None).exists()
