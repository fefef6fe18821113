"""Today as a guided routine in Chromium, from the client's side: Start routine walks the
morning step by step (heat timer and hold timer shortened by ROUTINE_TIMER_SCALE), ends
on a finish screen that leads to the check-in; a tick on Today happens in place; the same
routine works without script; no sideways scroll and axe clean at 390x844 and 1280x800.
Screenshots: test-artifacts/today-routine/."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sesame.utils import get_query_string

from aftercare.models import Completion, PlanStep
from aftercare.rules.phases import Phase
from tests import factories
from tests.browser import DESKTOP, PHONE, chromium, shot

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

FOLDER = "today-routine"
# Watching the timer end: it must not depend on the buttons' labels, only on time passing.
STUB_VIBRATE = "navigator.vibrate = function (p) { window.vibrated = p; return true; };"


def _flare_client(morning: bool = True):
    """Dana, in a flare; the SI reset has a dose (2 sets of 10, hold 5 seconds). The plan
    is assigned at a fixed winter morning so the morning routine is the one due."""
    practice = factories.practice_with_library()
    therapist = factories.TherapistFactory(practice=practice)
    dana = factories.ClientFactory(
        practice=practice, name="Dana Brook", primary_therapist=therapist
    )
    plan = factories.plan_for(dana, therapist, Phase.FLARE)
    si_reset = PlanStep.objects.get(plan=plan, name="Passive SI reset")
    si_reset.sets, si_reset.reps, si_reset.hold_seconds = 2, 10, 5
    si_reset.video_url = "https://youtu.be/dQw4w9WgXcQ"
    si_reset.save()
    return dana, plan


def _context(browser, base: str, viewport: dict, **options):
    context = browser.new_context(
        viewport=viewport, is_mobile=viewport == PHONE, has_touch=viewport == PHONE, **options
    )

    def local_only(route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", local_only)
    return context


def _fits(page, viewport: dict) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"{page.url} is {width}px wide"


def _axe_clean(axe: Axe, page, name: str) -> None:
    result = axe.run(page).response
    assert result["passes"], "axe did not run"
    serious = [
        f"{v['id']}: {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, f"{name}: {serious}"


# 08:30 in London on a winter weekday: the morning routine is now.
MORNING_TIME = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_start_routine_walks_the_morning_step_by_step_to_the_check_in(
    require_service, live_server, settings, viewport
):
    require_service("chromium")
    settings.ROUTINE_TIMER_SCALE = 0.002  # heat: 20 min -> 2.4 s; a 5 s hold -> 10 ms
    size = "phone" if viewport == PHONE else "desktop"
    with time_machine.travel(MORNING_TIME, tick=True):
        dana, plan = _flare_client()
        base = live_server.url
        axe = Axe()
        with chromium() as browser:
            context = _context(browser, base, viewport)
            context.add_init_script(STUB_VIBRATE)
            page = context.new_page()
            page.goto(f"{base}/c/login/{get_query_string(dana.user)}")
            now = page.locator("section.slot-now")
            expect(now.locator("h2")).to_contain_text("Morning routine")
            expect(now.locator(".progress-words")).to_have_text("4 steps, about 33 minutes")
            _fits(page, viewport)
            _axe_clean(axe, page, "today")
            shot(page, FOLDER, f"{size}-1-today")

            page.get_by_role("link", name="Start routine").click()
            # Step 1: heat, with its timer.
            expect(page.get_by_role("heading", level=1)).to_have_text("Heat first")
            expect(page.get_by_text("Morning routine: step 1 of 4")).to_be_visible()
            timer = page.locator("[data-timer]")
            expect(timer.locator("[data-clock]")).to_have_text("20:00")
            page.get_by_role("button", name="Start the 20-minute timer").click()
            expect(timer.locator("[data-timer-status]")).to_have_text(
                "The timer is running. It keeps time if your screen locks."
            )
            _fits(page, viewport)
            _axe_clean(axe, page, "guided heat, timer running")
            shot(page, FOLDER, f"{size}-2-heat-timer")
            expect(timer.locator("[data-timer-status]")).to_have_text("Time's up.")
            expect(timer).to_have_class("timer is-over")
            assert page.evaluate("window.vibrated") == [300, 150, 300]
            shot(page, FOLDER, f"{size}-3-heat-over")
            page.evaluate("window.stayed = true")  # gone after a full page load
            page.get_by_role("button", name="Done, next").click()

            # Step 2: the SI reset, its dose in words, a hold timer counting holds.
            expect(page.get_by_role("heading", level=1)).to_have_text("Passive SI reset")
            assert page.evaluate("window.stayed") is True, "the next step came without a reload"
            assert page.url.endswith("/c/?routine=morning&step=2")
            expect(page.locator(".dosage")).to_contain_text("2 sets of 10, hold 5 seconds")
            page.get_by_role("link", name="Watch: Passive SI reset").click()
            page.locator(".video-frame iframe").wait_for(state="attached")
            page.get_by_role("button", name="Start holding").click()
            expect(page.locator("[data-timer-status]")).to_have_text("Release. Hold 1 of 10 done.")
            expect(page.get_by_role("button", name="Start hold 2 of 10")).to_be_visible()
            _axe_clean(axe, page, "guided step with a hold")
            shot(page, FOLDER, f"{size}-4-hold")
            page.get_by_role("button", name="Done, next").click()

            expect(page.get_by_role("heading", level=1)).to_have_text("Lumbar decompression")
            expect(page.locator("[data-timer]")).to_have_count(0)
            page.get_by_role("button", name="Done, next").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Psoas release")
            page.get_by_role("button", name="Done, next").click()

            # The finish screen leads to the check-in.
            expect(page.get_by_role("heading", level=1)).to_have_text("Morning routine done")
            _fits(page, viewport)
            _axe_clean(axe, page, "finish")
            shot(page, FOLDER, f"{size}-5-finish")
            page.get_by_role("link", name="Back to Today").click()
            expect(page.locator("section.slot-later .progress-words")).to_have_text("All done")
            shot(page, FOLDER, f"{size}-6-today-morning-done")
            page.get_by_role("link", name="Done for now — check in").click()
            expect(page).to_have_url(f"{base}/c/check-in/")

    ticks = Completion.objects.filter(step__plan=plan, slot="morning")
    assert ticks.count() == 4


def test_the_timer_keeps_true_time_when_the_tab_sleeps(require_service, live_server, settings):
    """The clock is computed from the start stamp: when the browser's timers stall (a locked
    screen, a sleeping tab) and time jumps on, the timer is over, not still counting."""
    require_service("chromium")
    with time_machine.travel(MORNING_TIME, tick=True):
        dana, _plan = _flare_client()
        base = live_server.url
        with chromium() as browser:
            context = _context(browser, base, PHONE)
            page = context.new_page()
            page.clock.install()
            page.goto(f"{base}/c/login/{get_query_string(dana.user)}")
            page.goto(f"{base}/c/?routine=morning&step=1")
            page.get_by_role("button", name="Start the 20-minute timer").click()
            page.clock.run_for(61_000)
            expect(page.locator("[data-clock]")).to_have_text("18:59")
            # Twenty minutes pass while no timer of the page runs (the phone was locked).
            page.clock.fast_forward(19 * 60_000)
            page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
            expect(page.locator("[data-timer-status]")).to_have_text("Time's up.")
            # A reload while a timer runs picks the same timer up from its start stamp.
            page.get_by_role("button", name="Start again").click()
            page.clock.run_for(5 * 60_000)
            page.reload()
            page.clock.run_for(1_000)
            expect(page.locator("[data-clock]")).to_have_text("14:59")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_tick_on_today_happens_in_place(require_service, live_server, viewport):
    require_service("chromium")
    size = "phone" if viewport == PHONE else "desktop"
    with time_machine.travel(MORNING_TIME, tick=True):
        dana, plan = _flare_client()
        base = live_server.url
        axe = Axe()
        with chromium() as browser:
            page = _context(browser, base, viewport).new_page()
            page.goto(f"{base}/c/login/{get_query_string(dana.user)}")
            page.evaluate("window.stayed = true")
            now = page.locator("section.slot-now")
            si_reset = PlanStep.objects.get(plan=plan, name="Passive SI reset")
            button = now.get_by_role("button", name="Mark “Passive SI reset” done")
            button.dblclick()  # a double tap
            card = page.locator(f"#step-morning-{si_reset.pk}")
            expect(card.locator(".done-line")).to_contain_text("Passive SI reset, done 08:3")
            expect(now.locator(".progress-words")).to_have_text(
                "1 of 4 done, about 30 minutes left"
            )
            assert now.locator("progress").evaluate("bar => bar.value") == 1
            expect(page.locator("[data-announce]")).to_have_text(
                "“Passive SI reset” done. Morning routine: 1 of 4 done, about 30 minutes left."
            )
            expect(now.get_by_role("link", name="Continue routine")).to_be_visible()
            assert page.evaluate("window.stayed") is True, "ticked without a reload"
            # Focus stays on the card: its Undo.
            assert page.evaluate("document.activeElement.textContent") == "Undo"
            _fits(page, viewport)
            _axe_clean(axe, page, "today, one step ticked in place")
            shot(page, FOLDER, f"{size}-tick-in-place")

            card.get_by_role("button", name="Undo").click()
            expect(card.get_by_role("button", name="Mark “Passive SI reset” done")).to_be_visible()
            expect(now.locator(".progress-words")).to_have_text("4 steps, about 33 minutes")
            assert page.evaluate("window.stayed") is True

            # The evening is collapsed: its steps show when asked.
            later = page.locator("section.slot-later")
            expect(later.locator(".step").first).to_be_hidden()
            later.get_by_text("Show the 2 steps").click()
            expect(later.locator(".step").first).to_be_visible()
            _axe_clean(axe, page, "today, evening open")
    assert Completion.objects.filter(step__plan=plan).count() == 0


def test_without_script_the_routine_and_the_ticks_still_work(require_service, live_server):
    require_service("chromium")
    with time_machine.travel(MORNING_TIME, tick=True):
        dana, plan = _flare_client()
        base = live_server.url
        with chromium() as browser:
            page = _context(browser, base, PHONE, java_script_enabled=False).new_page()
            page.goto(f"{base}/c/login/{get_query_string(dana.user)}")
            page.get_by_role("button", name="Mark “Lumbar decompression” done").click()
            expect(page.locator("section.slot-now .progress-words")).to_have_text(
                "1 of 4 done, about 28 minutes left"
            )
            page.get_by_role("link", name="Continue routine").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Heat first")
            expect(page.get_by_text("Set a timer for 20 minutes")).to_be_visible()
            page.get_by_role("button", name="Done, next").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Passive SI reset")
            page.get_by_role("link", name="Skip this step").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Lumbar decompression")
            expect(page.get_by_text("Done at 08:3")).to_be_visible()
            _fits(page, PHONE)
            shot(page, FOLDER, "phone-no-script-step")
    assert Completion.objects.filter(step__plan=plan).count() == 2
