"""In a real browser at phone size: the client opens the emailed link, plays a video and
ticks a step done."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sesame.utils import get_query_string

from aftercare.models import Completion, PlanStep
from tests import factories
from tests.browser import PHONE, browser_page, screenshot

# serialized_rollback: a transactional test flushes the database after it runs, which
# would also remove the built-in protocol that a data migration created.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_it_opens_the_link_plays_a_video_and_ticks_a_step(require_service, live_server):
    require_service("chromium")
    practice = factories.practice_with_library()
    therapist = factories.TherapistFactory(practice=practice)
    person = factories.ClientFactory(practice=practice, name="Dana Brook")
    plan = factories.plan_for(person, therapist)
    si_reset = PlanStep.objects.get(plan=plan, name="Passive SI reset")
    si_reset.video_url = "https://youtu.be/dQw4w9WgXcQ"
    si_reset.save()
    link = f"{live_server.url}/c/login/{get_query_string(person.user)}"

    with browser_page(PHONE) as page:
        page.goto(link)
        assert "sesame" not in page.url, "the token must leave the address bar"
        assert page.url.endswith("/c/")
        page.get_by_role("heading", name="Hi Dana").wait_for()
        # The routine due now comes first (morning or evening, by the time of day).
        current = page.locator("section.slot").first
        assert current.locator("h3").first.inner_text().startswith("Heat first")
        screenshot(page, "client-today-phone")

        current.get_by_role("link", name="Watch: Passive SI reset").click()
        frame = current.locator(".video-frame iframe")
        frame.wait_for(state="attached")
        assert frame.get_attribute("src").startswith("https://www.youtube-nocookie.com/embed/")

        # Ticked in place: the card collapses to one line with an Undo.
        current.get_by_role("button", name="Mark “Passive SI reset” done").click()
        expect(current.locator(".step.is-done .done-line")).to_contain_text(
            "Passive SI reset, done"
        )
        expect(current.get_by_role("button", name="Undo")).to_be_visible()
        screenshot(page, "client-today-ticked")

        # The page at phone width must not scroll sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    assert Completion.objects.filter(step=si_reset).count() == 1
