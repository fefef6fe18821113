"""In a real browser at phone size: the check-in moves the plan. Pain 8 puts the client
in a flare and Today shows the routine twice a day; a "yes" to a warning sign shows the
emergency screen and holds the plan."""

from __future__ import annotations

import pytest
from sesame.utils import get_query_string

from aftercare.models import Alert, Plan
from aftercare.rules.phases import Phase
from tests import factories
from tests.browser import PHONE, browser_page, screenshot

# serialized_rollback: a transactional test flushes the database after it runs, which
# would also remove the built-in protocol that a data migration created.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

THUMB = 44  # px: the smallest comfortable tap target


def _client_with_plan(phase: Phase):
    practice = factories.practice_with_library()
    therapist = factories.TherapistFactory(practice=practice)
    person = factories.ClientFactory(practice=practice, name="Robin Hale")
    plan = factories.plan_for(person, therapist, phase=phase)
    return person, plan


def _choose(page, field: str, label: str) -> None:
    page.locator(f"#group-{field}").get_by_label(label, exact=True).check()


def test_it_logs_pain_8_and_today_shows_the_flare_routine_morning_and_evening(
    require_service, live_server
):
    require_service("chromium")
    person, plan = _client_with_plan(Phase.SUBSIDING)
    link = f"{live_server.url}/c/login/{get_query_string(person.user)}"

    with browser_page(PHONE) as page:
        page.goto(link)
        page.get_by_role("heading", name="Hi Robin").wait_for()
        assert page.locator("section.slot").count() == 1, "subsiding: once a day"

        page.get_by_role("link", name="Check in: how's your back?").click()
        page.get_by_role("heading", name="How is your back?").wait_for()
        # The 0-10 scale is one row of buttons a thumb can hit: as tall as a thumb, and
        # at least 24px wide (WCAG 2.2 target size) so all 11 fit a 390px phone.
        for box in page.locator("#group-pain_now label.choice").all():
            size = box.bounding_box()
            assert size["width"] >= 24 and size["height"] >= THUMB, size
        _choose(page, "warning", "No, none of them")
        _choose(page, "pain_now", "8")
        _choose(page, "worst_pain", "8")
        _choose(page, "compared", "Worse")
        _choose(page, "legs", "No leg symptoms")
        _choose(page, "sleep", "Woken by pain")
        # Woken by pain asks about night pain again, right there, before saving.
        _choose(page, "reask_night_pain", "No")
        screenshot(page, "client-checkin-pain-8")
        page.get_by_role("button", name="Save check-in").click()

        # Pain 8 is a hard day: a page saying so, then Today.
        page.get_by_role("heading", name="That sounds like a hard day").wait_for()
        assert "moved to Flare" in page.locator("main").inner_text()
        page.get_by_role("link", name="Back to Today").click()
        page.get_by_role("heading", name="Hi Robin").wait_for()
        assert page.url.endswith("/c/")
        slots = page.locator("section.slot")
        assert slots.count() == 2
        # The routine due now first (by the time of day), the other one collapsed.
        titles = sorted(slots.nth(i).locator("h2").inner_text() for i in range(2))
        assert titles[0].startswith("Evening routine")
        assert titles[1].startswith("Morning routine")
        for i in range(2):
            steps = slots.nth(i).locator("article.step h3").all_text_contents()
            assert steps[0].startswith("Heat first"), "heat comes before each flare routine"
            assert any(s.startswith("Passive SI reset") for s in steps), "SI reset twice a day"
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "client-today-flare")

    plan.refresh_from_db()
    assert plan.phase == Phase.FLARE


def test_it_shows_the_emergency_screen_after_a_yes_to_a_warning_sign(require_service, live_server):
    require_service("chromium")
    person, plan = _client_with_plan(Phase.SUBSIDING)
    link = f"{live_server.url}/c/login/{get_query_string(person.user)}"

    with browser_page(PHONE) as page:
        page.goto(link)
        page.get_by_role("link", name="Check in: how's your back?").click()
        _choose(page, "warning", "Yes")  # the list opens in place
        _choose(page, "safety_signs", "Chest pain")
        page.get_by_role("button", name="Save check-in").click()

        heading = page.get_by_role("heading", name="Get medical help now")
        heading.wait_for()
        assert page.url.endswith("/c/safety/")
        assert page.get_by_role("alert").count() == 1
        assert page.locator("a.call").get_attribute("href").startswith("tel:")
        assert "Chest pain" in page.locator("main").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "client-safety-emergency")

        # Today no longer offers the routine: only the therapist resumes it.
        page.get_by_role("link", name="Today").click()
        page.get_by_role("heading", name="Your routine is paused").wait_for()
        assert page.locator("section.slot").count() == 0

    assert Plan.objects.get(pk=plan.pk).phase == Phase.HOLD
    assert Alert.objects.filter(plan=plan, kind="safety_emergency").exists()
