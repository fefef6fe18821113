"""A calm check-in on a phone (Chromium, 390x844): pain as one row of 0-10 a thumb can hit,
the chosen number filled and strong, a visible focus ring for the keyboard, the steps
ticked from Today already ticked, and the whole calm form inside two screens. Then saved,
with and without JavaScript. Screenshots: test-artifacts/checkin-calm/."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from sesame.utils import get_query_string

from aftercare import services
from aftercare.models import SymptomLog
from aftercare.rules.phases import Phase
from tests import factories
from tests.browser import DESKTOP, PHONE, chromium, desktop_context, phone_context, shot

# serialized_rollback: a transactional test flushes the database after it runs, which
# would also remove the built-in protocol that a data migration created.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

SCALE_MIN_WIDTH = 24  # px: WCAG 2.2 target size (minimum)
SCALE_MIN_HEIGHT = 44  # px: a thumb's height
WHITE = "rgb(255, 255, 255)"


def _settling_client_with_two_ticks():
    practice = factories.practice_with_library()
    therapist = factories.TherapistFactory(practice=practice)
    person = factories.ClientFactory(practice=practice, name="Kim Lowe")
    plan = factories.plan_for(person, therapist, phase=Phase.SUBSIDING)
    heat = plan.steps.get(name="Heat first")
    si_reset = plan.steps.get(name="Passive SI reset")
    for step in (heat, si_reset):
        services.step_complete(step=step, day=person.local_today(), slot="morning")
    return person, plan, {heat.id, si_reset.id}


def _labels(page, field: str):
    return page.locator(f"#group-{field} label.choice").all()


def _one_row(page, field: str, width: int) -> None:
    boxes = [label.bounding_box() for label in _labels(page, field)]
    assert len(boxes) == 11, f"{field}: 0 to 10"
    assert len({round(box["y"]) for box in boxes}) == 1, f"{field} wraps: {boxes}"
    for box in boxes:
        assert box["width"] >= SCALE_MIN_WIDTH and box["height"] >= SCALE_MIN_HEIGHT, box
    assert boxes[-1]["x"] + boxes[-1]["width"] <= width


def _choose(page, field: str, label: str) -> None:
    page.locator(f"#group-{field}").get_by_label(label, exact=True).check()


def _style(locator, prop: str) -> str:
    return locator.evaluate(f"(el) => getComputedStyle(el).{prop}")


def _form_bottom(page) -> float:
    return page.evaluate(
        "() => { const r = document.querySelector('form.checkin').getBoundingClientRect();"
        " return r.bottom + window.scrollY; }"
    )


def _serious(page) -> list[str]:
    result = Axe().run(page).response
    assert result["passes"], "axe did not run"
    return [
        f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_a_calm_check_in_fits_two_screens_and_shows_what_is_chosen(require_service, live_server):
    require_service("chromium")
    person, plan, ticked = _settling_client_with_two_ticks()
    base = live_server.url
    with chromium() as browser:
        page = phone_context(browser, base).new_page()
        page.goto(f"{base}/c/login/{get_query_string(person.user)}")
        page.goto(f"{base}/c/check-in/")
        page.get_by_role("heading", name="How is your back?").wait_for()

        # The pain questions: one row each, real radios with a legend.
        for field in ("pain_now", "worst_pain"):
            _one_row(page, field, PHONE["width"])
            assert page.locator(f"#group-{field} input[type=radio]").count() == 11
            assert page.locator(f"#group-{field} legend").inner_text().strip()
        shot(page, "checkin-calm", "phone-empty")

        # The steps of this phase, Heat included, ticked from Today.
        steps = page.locator("#group-steps_done input[type=checkbox]")
        names = page.locator("#group-steps_done label").all_inner_texts()
        assert [n.strip() for n in names] == [
            "Heat first",
            "Passive SI reset",
            "Lumbar decompression",
            "Psoas release",
            "QL and psoas stretch and strength",
        ]
        checked = {
            int(steps.nth(i).get_attribute("value"))
            for i in range(steps.count())
            if steps.nth(i).is_checked()
        }
        assert checked == ticked

        # A calm day: No, two pains, about the same.
        _choose(page, "warning", "No, none of them")
        _choose(page, "pain_now", "3")
        _choose(page, "worst_pain", "4")
        _choose(page, "compared", "About the same")
        _choose(page, "legs", "No leg symptoms")
        _choose(page, "sleep", "Slept fine")

        # The chosen number is filled dark with white text; the others stay white.
        chosen = page.locator("#group-worst_pain label.choice").nth(4)
        other = page.locator("#group-worst_pain label.choice").nth(5)
        assert _style(chosen, "backgroundColor") == "rgb(35, 79, 59)"  # --green-dark
        assert _style(chosen, "color") == WHITE
        assert _style(other, "backgroundColor") == WHITE
        # A ticked step says so with a mark, not only a colour.
        heat = page.locator("#group-steps_done label").first
        mark = heat.locator("span").evaluate("(el) => getComputedStyle(el, '::before').content")
        assert "✓" in mark

        # The keyboard: arrow keys move the choice, and the focus ring shows where.
        page.locator("#group-pain_now input[value='3']").focus()
        page.keyboard.press("ArrowRight")
        assert page.locator("#group-pain_now input[value='4']").is_checked()
        ring = page.locator("#group-pain_now label.choice").nth(4)
        assert _style(ring, "outlineStyle") == "solid"
        assert float(_style(ring, "outlineWidth").removesuffix("px")) >= 2

        # The measure: the whole calm form, Save included, inside two screens.
        bottom = _form_bottom(page)
        assert bottom <= 2 * PHONE["height"], f"the form ends at {bottom}px"
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert not _serious(page)
        shot(page, "checkin-calm", "phone-calm-filled")

        # The note grows with what is typed.
        note = page.get_by_label("Anything to tell your therapist? (optional)")
        one_line = note.bounding_box()["height"]
        note.fill("Stiff in the morning.\nBetter after the heat.\nDrove two hours.")
        assert note.bounding_box()["height"] > one_line

        page.get_by_role("button", name="Save check-in").click()
        page.wait_for_url(f"{base}/c/")

        desk = desktop_context(browser, base).new_page()
        desk.goto(f"{base}/c/login/{get_query_string(person.user)}")
        desk.goto(f"{base}/c/check-in/")
        _one_row(desk, "pain_now", DESKTOP["width"])
        shot(desk, "checkin-calm", "desktop")

    log = SymptomLog.objects.get()
    assert (log.pain_now, log.worst_pain, log.compared) == (4, 4, "same")
    assert set(log.steps_done) == ticked


def test_the_calm_check_in_works_without_javascript(require_service, live_server):
    require_service("chromium")
    person, plan, ticked = _settling_client_with_two_ticks()
    base = live_server.url
    with chromium() as browser:
        context = browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=False
        )
        page = context.new_page()
        page.goto(f"{base}/c/login/{get_query_string(person.user)}")
        page.goto(f"{base}/c/check-in/")
        # Missing answers: clear messages, nothing saved.
        page.get_by_role("button", name="Save check-in").click()
        assert page.get_by_text("Please check the answers marked below.").is_visible()
        assert SymptomLog.objects.count() == 0
        shot(page, "checkin-calm", "phone-no-js-errors")

        # Tapping a button or chip chooses it: the input covers its label, no script needed.
        def tap(field: str, text: str) -> None:
            group = page.locator(f"#group-{field} label.choice")
            group.filter(has=page.get_by_text(text, exact=True)).tap()

        tap("warning", "No, none of them")
        page.locator("#group-pain_now label.choice").nth(2).tap()
        page.locator("#group-worst_pain label.choice").nth(5).tap()
        tap("compared", "Better")
        tap("legs", "No leg symptoms")
        tap("sleep", "Slept fine")
        page.get_by_role("button", name="Save check-in").click()
        page.wait_for_url(f"{base}/c/")
    log = SymptomLog.objects.get()
    assert (log.pain_now, log.worst_pain, log.compared) == (2, 5, "better")
    assert set(log.steps_done) == ticked
