"""In Chromium at phone size (390x844): the warning signs open in place on "Yes" and the pain
questions step aside; "both legs" asks about weak legs right under the answer; a worse
check-in ends on a page that says who knows and offers one tap to book or call."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from sesame.utils import get_query_string

from aftercare import checkins
from aftercare.models import Plan, SymptomLog
from aftercare.rules.phases import Phase
from tests import factories
from tests.browser import PHONE, browser_page, screenshot

# serialized_rollback: a transactional test flushes the database after it runs, which
# would also remove the built-in protocol that a data migration created.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

THUMB = 44  # px: the smallest comfortable tap target


def _client_with_plan(phase: Phase = Phase.SUBSIDING, **practice_fields):
    practice = factories.practice_with_library()
    for name, value in practice_fields.items():
        setattr(practice, name, value)
    practice.save()
    therapist = factories.TherapistFactory(practice=practice)
    person = factories.ClientFactory(practice=practice, name="Robin Hale")
    plan = factories.plan_for(person, therapist, phase=phase)
    return person, plan


def _history(plan: Plan, worsts: list[int]) -> None:
    """Earlier check-ins, one a day, ending yesterday."""
    now = timezone.now()
    for days_ago, worst in zip(range(len(worsts), 0, -1), worsts, strict=True):
        checkins.symptom_log_create(
            plan=plan,
            submission_key=uuid.uuid4(),
            answers={
                "safety_signs": [],
                "pain_now": min(worst, 2),
                "worst_pain": worst,
                "compared": "same",
                "legs": "none",
                "sleep": "fine",
            },
            now=now - timedelta(days=days_ago),
        )


def _group(page, field: str):
    return page.locator(f"#group-{field}")


def _choose(page, field: str, label: str) -> None:
    _group(page, field).get_by_label(label, exact=True).check()


def _open_checkin(page, live_server, person) -> None:
    page.goto(f"{live_server.url}/c/login/{get_query_string(person.user)}")
    page.get_by_role("link", name="Check in: how's your back?").click()
    page.get_by_role("heading", name="How is your back?").wait_for()


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _accessible(page) -> None:
    """No serious or critical axe-core violations (as tests/test_browser_accessibility.py)."""
    result = Axe().run(page).response
    assert result["passes"], "axe did not run"
    found = [
        f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not found, found


def _big_enough(locator) -> None:
    for box in locator.all():
        size = box.bounding_box()
        assert size["width"] >= THUMB and size["height"] >= THUMB, size


def test_yes_opens_the_warning_signs_in_place_and_no_puts_the_questions_back(
    require_service, live_server
):
    require_service("chromium")
    person, plan = _client_with_plan(phone="0117 496 0000")
    with browser_page(PHONE) as page:
        _open_checkin(page, live_server, person)
        signs = _group(page, "safety_signs")
        assert not signs.is_visible(), "closed until the client says Yes or opens it"
        assert _group(page, "pain_now").is_visible()

        _choose(page, "warning", "Yes")
        signs.get_by_label("Chest pain").wait_for(state="visible")
        assert _group(page, "pain_now").is_hidden(), "the pain questions step aside"
        assert page.get_by_text("See the warning signs").is_hidden()
        assert page.locator(".signs-call a[href='tel:01174960000']").is_visible()
        _big_enough(signs.locator("label.choice"))
        _fits(page)
        _accessible(page)
        screenshot(page, "client-checkin-warning-yes")
        page.screenshot(path="/tmp/h4-checkin-disclosed.png", full_page=True)

        _choose(page, "warning", "No, none of them")
        signs.wait_for(state="hidden")
        assert _group(page, "pain_now").is_visible()

        # A sign ticked, then No: the tick stays in sight, since it still counts.
        _choose(page, "warning", "Yes")
        fever = signs.get_by_label("A fever or chills")
        fever.check()
        _choose(page, "warning", "No, none of them")
        assert fever.is_visible() and fever.is_checked()
        fever.uncheck()

        # Yes by mistake: "None of these after all" carries on with the check-in.
        _choose(page, "warning", "Yes")
        page.get_by_label("None of these after all").check()
        _group(page, "pain_now").wait_for(state="visible")
        assert _group(page, "warning").get_by_label("No, none of them").is_checked()
        assert signs.is_hidden()
        _choose(page, "pain_now", "3")
        _choose(page, "worst_pain", "4")
        _choose(page, "compared", "About the same")
        _choose(page, "legs", "No leg symptoms")
        _choose(page, "sleep", "Slept fine")
        page.get_by_role("button", name="Save check-in").click()
        page.get_by_role("heading", name="Hi Robin").wait_for()
        assert "Thanks, your check-in is saved." in page.locator(".messages").inner_text()

    log = SymptomLog.objects.get(plan=plan)
    assert (log.safety, log.worst_pain) == ("none", 4)


def test_both_legs_asks_about_weak_legs_right_under_the_answer(require_service, live_server):
    require_service("chromium")
    person, plan = _client_with_plan()
    with browser_page(PHONE) as page:
        _open_checkin(page, live_server, person)
        reask = _group(page, "reask_legs_weak")
        _choose(page, "warning", "No, none of them")
        _choose(page, "pain_now", "4")
        _choose(page, "worst_pain", "5")
        _choose(page, "compared", "Worse")
        assert reask.is_hidden()
        _choose(page, "legs", "In both legs")
        reask.wait_for(state="visible")
        legs_box = _group(page, "legs").bounding_box()
        reask_box = reask.bounding_box()
        assert legs_box["y"] + legs_box["height"] <= reask_box["y"] + 1, "right under it"
        assert "Are your legs weak or numb" in reask.inner_text()
        _big_enough(reask.locator("label.choice"))
        # Changing the answer takes the question away; back again brings it back.
        _choose(page, "legs", "In one leg")
        reask.wait_for(state="hidden")
        _choose(page, "legs", "In both legs")
        reask.wait_for(state="visible")
        _choose(page, "sleep", "Slept fine")
        _accessible(page)
        reask.scroll_into_view_if_needed()
        page.screenshot(path="/tmp/h4-checkin-reask.png")

        # It must be answered: Save stays on the page and says so.
        page.get_by_role("button", name="Save check-in").click()
        reask.get_by_text("Please answer this one before we save").wait_for()
        assert page.url.endswith("/c/check-in/")

        _choose(page, "reask_legs_weak", "No")
        page.get_by_role("button", name="Save check-in").click()
        page.get_by_role("heading", name="That sounds really hard").wait_for()
        assert "Your therapist has been told today" in page.locator("main").inner_text()
        _fits(page)

    # One log: the blocked Save sent nothing (database reads stay outside the browser
    # block, whose greenlet would keep its own connection open).
    log = SymptomLog.objects.get(plan=plan)
    assert (log.legs, log.safety) == ("both", "none")


def test_both_legs_and_yes_to_weak_legs_shows_the_emergency_screen(require_service, live_server):
    require_service("chromium")
    person, plan = _client_with_plan(phone="0117 496 0000")
    with browser_page(PHONE) as page:
        _open_checkin(page, live_server, person)
        _choose(page, "warning", "No, none of them")
        _choose(page, "pain_now", "4")
        _choose(page, "worst_pain", "5")
        _choose(page, "compared", "Worse")
        _choose(page, "legs", "In both legs")
        _choose(page, "reask_legs_weak", "Yes")
        _choose(page, "sleep", "Slept fine")
        page.get_by_role("button", name="Save check-in").click()
        page.get_by_role("heading", name="Get medical help now").wait_for()
        assert page.locator("a.call").get_attribute("href") == "tel:999"
        assert page.locator("main a[href='tel:01174960000']").count() == 1
        _fits(page)
        screenshot(page, "client-safety-reask-legs")

    assert Plan.objects.get(pk=plan.pk).phase == Phase.HOLD
    assert SymptomLog.objects.get(plan=plan).safety_signs == ["legs_weak"]


def test_a_worse_check_in_ends_on_a_page_with_one_tap_to_book_or_call(require_service, live_server):
    require_service("chromium")
    person, plan = _client_with_plan(phone="0117 496 0000")
    _history(plan, [3, 3, 4])
    practice_name = person.practice.name
    with browser_page(PHONE) as page:
        _open_checkin(page, live_server, person)
        _choose(page, "warning", "No, none of them")
        _choose(page, "pain_now", "5")
        _choose(page, "worst_pain", "7")
        _choose(page, "compared", "Much worse")
        _choose(page, "legs", "No leg symptoms")
        _choose(page, "sleep", "Slept fine")
        page.get_by_role("button", name="Save check-in").click()

        page.get_by_role("heading", name="That sounds like a hard day", level=1).wait_for()
        main = page.locator("main").inner_text()
        assert "Your therapist will see your check-in." in main
        assert "ease off any step that makes your pain worse" in main
        assert "Your plan has moved to Flare" in main
        main = page.locator("main")
        book = main.get_by_role("link", name="Book an earlier visit")
        assert book.get_attribute("href") == "https://practice.example/book"
        call = main.get_by_role("link", name=f"Call {practice_name}")
        assert call.get_attribute("href") == "tel:01174960000"
        today = main.get_by_role("link", name="Back to Today")
        _big_enough(page.locator("main a.btn"))
        _fits(page)
        _accessible(page)
        screenshot(page, "client-checkin-hard-day")
        page.screenshot(path="/tmp/h4-response-soon.png", full_page=True)

        today.click()
        page.get_by_role("heading", name="Hi Robin").wait_for()
        assert page.locator("section.slot").count() == 2, "the flare routine, twice a day"


def test_pain_9_says_the_therapist_has_been_told_today(require_service, live_server):
    require_service("chromium")
    person, plan = _client_with_plan(phone="0117 496 0000")
    _history(plan, [5, 6])
    with browser_page(PHONE) as page:
        _open_checkin(page, live_server, person)
        _choose(page, "warning", "No, none of them")
        _choose(page, "pain_now", "8")
        _choose(page, "worst_pain", "9")
        _choose(page, "compared", "Much worse")
        _choose(page, "legs", "No leg symptoms")
        _choose(page, "sleep", "Slept fine")
        page.get_by_role("button", name="Save check-in").click()
        page.get_by_role("heading", name="That sounds really hard").wait_for()
        main = page.locator("main").inner_text()
        assert "Your therapist has been told today and will be in touch." in main
        assert "call NHS 111 for advice" in main
        assert page.get_by_role("heading", name="If it gets worse").is_visible()
        assert page.locator("main a[href='tel:999']").count() == 1
        _fits(page)
        _accessible(page)
        page.screenshot(path="/tmp/h4-response-today.png", full_page=True)
