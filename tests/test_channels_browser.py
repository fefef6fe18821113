"""In a real browser at phone size: the client picks "A text message" in Settings, types
a number that isn't one (told next to the field, nothing saved), then their mobile
without the country code and ticks the consent box: saved in E.164, with the time they
agreed. The section stays one-handed (48 px targets), never scrolls sideways, and axe
finds nothing serious in either state. A browser that can do push sees the button to
turn notifications on."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from sesame.utils import get_query_string

from clients.models import Client
from tests import factories
from tests.browser import PHONE, chromium, phone_context, shot

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BLOCKING = {"serious", "critical"}


def serious(page) -> list[str]:
    result = Axe().run(page).response
    assert result["passes"], "axe did not run"
    return [
        f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]


def test_a_client_chooses_texts_on_their_phone(require_service, live_server):
    require_service("chromium")
    practice = factories.practice_with_library()
    practice.phone, practice.sms_enabled, practice.sms_sender = "+44 117 496 0000", True, ""
    practice.save()
    person = factories.ClientFactory(practice=practice, name="Dana Brook")

    with chromium() as browser:
        page = phone_context(browser, live_server.url).new_page()
        page.goto(f"{live_server.url}/c/login/{get_query_string(person.user)}")
        page.goto(f"{live_server.url}/c/settings/")
        section = page.get_by_role("region", name="How should we remind you?")
        section.get_by_role("heading", name="How should we remind you?").wait_for()
        # Chromium has PushManager: the button shows (client-side, push-settings.js).
        page.get_by_role("button", name="Turn on notifications on this phone").wait_for()
        assert not page.get_by_role("button", name="Send me a test notification").is_visible()

        section.get_by_label("A text message").check()
        section.get_by_label("Mobile number for texts").fill("12345")
        section.get_by_role("button", name="Save how we remind you").click()
        page.get_by_text("That number isn't complete or isn't a real number.").wait_for()
        page.get_by_text("Tick this to agree to texts").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert serious(page) == []
        shot(page, "channels", "settings-sms-errors-390")
        assert Client.objects.get(id=person.id).reminder_channel == "email"

        section = page.get_by_role("region", name="How should we remind you?")
        section.get_by_label("A text message").check()
        section.get_by_label("Mobile number for texts").fill("07123 456789")
        consent = section.get_by_label("Yes, send my reminders by text to this number")
        box = consent.bounding_box()
        label = section.get_by_text("Yes, send my reminders by text to this number")
        assert box is not None and label.bounding_box()["height"] >= 24
        consent.check()
        save = section.get_by_role("button", name="Save how we remind you")
        assert save.bounding_box()["height"] >= 48
        save.click()
        page.get_by_text("Saved. We'll remind you by text").wait_for()
        page.get_by_text("You agreed to texts at this number on").wait_for()
        assert page.get_by_label("Mobile number for texts").input_value() == "+447123456789"
        assert page.get_by_label("A text message").is_checked()
        assert serious(page) == []
        shot(page, "channels", "settings-sms-saved-390")

    person.refresh_from_db()
    assert (person.reminder_channel, person.sms_number) == ("sms", "+447123456789")
    assert person.sms_opt_in_at is not None
