"""The printed plan in Chromium's print mode: one QR code per video, on paper only."""

from __future__ import annotations

import pytest
from sesame.utils import get_query_string

from aftercare.models import PlanStep
from tests import factories
from tests.browser import PHONE, chromium, phone_context, shot

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_the_codes_show_on_paper_and_not_on_the_screen(require_service, live_server):
    require_service("chromium")
    base = live_server.url
    practice = factories.practice_with_library()
    therapist = factories.TherapistFactory(practice=practice)
    dana = factories.ClientFactory(
        practice=practice, name="Dana Brook", primary_therapist=therapist
    )
    plan = factories.plan_for(dana, therapist)
    PlanStep.objects.filter(plan=plan).update(video_url="", video_file="")
    PlanStep.objects.filter(plan=plan, name="Passive SI reset").update(
        video_url="https://youtu.be/dQw4w9WgXcQ"
    )
    PlanStep.objects.filter(plan=plan, name="Psoas release").update(
        video_url="https://vimeo.com/76979871"
    )
    with chromium() as browser:
        page = phone_context(browser, base).new_page()
        page.goto(f"{base}/c/login/{get_query_string(dana.user)}")
        page.goto(f"{base}/c/plan/")
        codes = page.locator("figure.qr-code")
        assert codes.count() == 2
        assert not codes.first.is_visible()
        page.emulate_media(media="print")
        assert codes.nth(0).is_visible() and codes.nth(1).is_visible()
        # 26 mm square: big enough for a phone camera at arm's length.
        box = codes.first.locator("svg").bounding_box()
        assert box is not None and 90 <= box["width"] <= 110 and box["width"] == box["height"]
        assert codes.first.get_by_text("point your phone's camera").is_visible()
        # The Watch buttons are not printed.
        assert not page.locator(".video-load").first.is_visible()
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"]
        shot(page, "plan-print", "phone")
