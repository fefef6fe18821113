"""The installable app in Chromium at phone size, against the live server: the service
worker registers, Today opens with no signal after one visit, a tick made with no signal
is recorded once when the phone is back online, and a second client logging in on the
same phone never sees the first client's pages from the phone's copy."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from sesame.utils import get_query_string

from aftercare.models import Completion, PlanStep
from tests import factories
from tests.browser import ARTIFACTS, PHONE, chromium, shot
from tests.test_browser_accessibility import _serious

# serialized_rollback: a transactional test flushes the database after it runs, which
# would also remove the built-in protocol that a data migration created.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def phone(browser):
    # No request routing here: Playwright's routes and a service worker do not mix (the
    # worker's own fetches would bypass them). Nothing on these pages leaves the server.
    return browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)


def log_in(page, base_url: str, person) -> None:
    page.goto(f"{base_url}/c/login/{get_query_string(person.user)}")
    assert page.url.endswith("/c/")


def wait_for_worker(page) -> None:
    """Until the service worker controls this page and has kept it (one visit = online)."""
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    # A page that started loading while the worker was installing stays uncontrolled
    # (as on a real phone): the next load goes through the worker.
    if not page.evaluate("() => navigator.serviceWorker.controller !== null"):
        page.reload()
    wait_until(page, "() => navigator.serviceWorker.controller !== null")


def wait_until(page, script: str, arg=None, tries: int = 100) -> None:
    """Evaluate an async function until it returns true (the page's CSP forbids eval, so
    Playwright's wait_for_function cannot poll a string here)."""
    for _ in range(tries):
        if page.evaluate(script, arg):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {script}")


KEPT = """async (path) => {
    for (const name of await caches.keys()) {
        if (!name.startsWith("aftercare-client-")) continue;
        if (await (await caches.open(name)).match(location.origin + path)) return true;
    }
    return false;
}"""


def kept(page, path: str) -> bool:
    return page.evaluate(KEPT, path)


def visit_until_kept(page, base_url: str, path: str) -> None:
    # The first page load installs the worker; the next one goes through it and is kept.
    page.goto(base_url + path)
    wait_for_worker(page)
    page.goto(base_url + path)
    wait_until(page, KEPT, path)


def client_with_plan(name: str, practice=None):
    practice = practice or factories.practice_with_library()
    therapist = factories.TherapistFactory(practice=practice)
    person = factories.ClientFactory(practice=practice, name=name)
    plan = factories.plan_for(person, therapist)
    return person, plan


def test_the_worker_registers_and_today_plan_and_signs_open_with_no_signal(
    require_service, live_server
):
    require_service("chromium")
    person, _plan = client_with_plan("Dana Brook")
    base = live_server.url
    with chromium() as browser:
        context = phone(browser)
        page = context.new_page()
        log_in(page, base, person)
        manifest = page.evaluate(
            "fetch(document.querySelector('link[rel=manifest]').href,"
            " {credentials: 'include'}).then(r => r.json())"
        )
        assert manifest["name"] == person.practice.name
        assert page.evaluate("fetch('/static/pwa/icon-512.png').then(r => r.status)") == 200
        registration = page.evaluate(
            "navigator.serviceWorker.ready.then(r => ({scope: r.scope, script: r.active.scriptURL}))"
        )
        assert registration == {"scope": f"{base}/c/", "script": f"{base}/sw.js"}
        # Chromium's own reading of the manifest: no errors, and installable (a test
        # browser context is always "incognito", which is the one thing left to say).
        cdp = context.new_cdp_session(page)
        assert cdp.send("Page.getAppManifest")["errors"] == []
        errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
        assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == []
        cdp.detach()
        for path in ("/c/", "/c/plan/", "/c/warning-signs/"):
            visit_until_kept(page, base, path)

        context.set_offline(True)
        page.goto(f"{base}/c/")
        page.get_by_role("heading", name="Hi Dana").wait_for()
        page.get_by_text("No signal: this is the copy kept on your phone").wait_for()
        shot(page, "offline", "today-offline")
        page.goto(f"{base}/c/plan/")
        assert "Whole plan" in page.content() or page.locator("table").count() > 0
        page.goto(f"{base}/c/warning-signs/")
        page.get_by_role("heading", name="Warning signs").wait_for()
        # A page never kept: the offline page, not an error.
        page.goto(f"{base}/c/progress/")
        page.get_by_role("heading", name="No signal right now").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        context.close()


def test_a_tick_made_with_no_signal_is_recorded_once_back_online(require_service, live_server):
    require_service("chromium")
    person, plan = client_with_plan("Sam Rivera")
    step = PlanStep.objects.get(plan=plan, name="Passive SI reset")
    base = live_server.url
    with chromium() as browser:
        context = phone(browser)
        page = context.new_page()
        log_in(page, base, person)
        visit_until_kept(page, base, "/c/")

        context.set_offline(True)
        page.goto(f"{base}/c/")
        # The routine due now is first (morning or evening, by the clock): tick it there.
        first = page.locator("section.slot").first
        slot = first.locator(f"[id$='-{step.id}']").get_attribute("id").split("-")[1]
        first.get_by_role("button", name="Mark “Passive SI reset” done").click()
        page.get_by_text("Saved on this phone, will send when you're back online.").first.wait_for()
        shot(page, "offline", "tick-saved-on-phone")
        assert not Completion.objects.filter(step=step).exists()

        context.set_offline(False)
        page.goto(f"{base}/c/")  # the next open sends what waits (or Background Sync)
        wait_until(page, QUEUE_EMPTY)
        # Opened again and again: the tick is there once.
        page.goto(f"{base}/c/")
        page.reload()
        card = page.locator(f"#step-{slot}-{step.id}")
        assert "is-done" in card.get_attribute("class")
        assert card.get_by_role("button", name="Undo").count() == 1
        context.close()
    assert Completion.objects.filter(step=step, slot=slot).count() == 1


QUEUE_EMPTY = """() => new Promise((resolve) => {
    const open = indexedDB.open("aftercare-offline", 1);
    open.onsuccess = () => {
        const all = open.result.transaction("queue").objectStore("queue").getAll();
        all.onsuccess = () => resolve(all.result.length === 0);
    };
})"""


def test_check_ins_made_with_no_signal_are_saved_once_each_back_online(
    require_service, live_server
):
    require_service("chromium")
    person, plan = client_with_plan("Sam Rivera")
    base = live_server.url
    with chromium() as browser:
        context = phone(browser)
        page = context.new_page()
        log_in(page, base, person)
        visit_until_kept(page, base, "/c/check-in/")

        context.set_offline(True)
        keys = []
        for pain in ("4", "3"):  # two check-ins from the kept form, on the train
            page.goto(f"{base}/c/check-in/")
            keys.append(page.locator("input[name=submission_key]").input_value())
            page.locator("input[name=warning][value=no]").check()
            page.locator(f"input[name=pain_now][value='{pain}']").check()
            page.locator(f"input[name=worst_pain][value='{pain}']").check()
            page.locator("input[name=compared][value=same]").check()
            page.locator("input[name=legs][value=none]").check()
            page.locator("input[name=sleep][value=fine]").check()
            page.get_by_role("button", name="Save check-in").click()
            page.get_by_role("heading", name="Saved on this phone").wait_for()
        assert keys[0] != keys[1], "each opening of the kept form is its own check-in"
        shot(page, "offline", "checkin-saved-on-phone")
        assert not plan.logs.exists()

        context.set_offline(False)
        page.goto(f"{base}/c/")
        wait_until(page, QUEUE_EMPTY)
        page.goto(f"{base}/c/")
        context.close()
    assert sorted(str(key) for key in plan.logs.values_list("submission_key", flat=True)) == sorted(
        keys
    )


def test_a_warning_sign_with_no_signal_says_what_to_do_now(require_service, live_server):
    require_service("chromium")
    person, plan = client_with_plan("Sam Rivera")
    base = live_server.url
    with chromium() as browser:
        context = phone(browser)
        page = context.new_page()
        log_in(page, base, person)
        visit_until_kept(page, base, "/c/check-in/")
        visit_until_kept(page, base, "/c/offline/")
        context.set_offline(True)
        page.goto(f"{base}/c/check-in/")
        page.locator("input[name=warning][value=yes]").check()
        page.locator("input[name=safety_signs]").first.check()
        page.get_by_role("button", name="Save check-in").click()
        alert = page.get_by_role("alert")
        alert.get_by_text("Don't wait for your check-in to send").wait_for()
        assert (
            alert.get_by_role("link", name=f"Call {person.practice.emergency_number}").count() == 1
        )
        shot(page, "offline", "warning-sign-saved-on-phone")
        assert _serious(Axe(), page) == []
        context.set_offline(False)
        page.goto(f"{base}/c/")
        wait_until(page, QUEUE_EMPTY)
        page.reload()
        page.get_by_role("heading", name="Your routine is paused").wait_for()
        context.close()
    plan.refresh_from_db()
    assert plan.phase == "hold"


def test_another_client_on_the_same_phone_never_sees_the_first_clients_copy(
    require_service, live_server
):
    require_service("chromium")
    first, _ = client_with_plan("Dana Brook")
    second, _ = client_with_plan("Robin Vale", practice=first.practice)
    base = live_server.url
    with chromium() as browser:
        context = phone(browser)
        page = context.new_page()
        log_in(page, base, first)
        visit_until_kept(page, base, "/c/")
        visit_until_kept(page, base, "/c/plan/")

        # Robin opens their own link on Dana's phone (and lands on their own Today).
        log_in(page, base, second)
        page.get_by_role("heading", name="Hi Robin").wait_for()
        wait_until(page, KEPT, "/c/")
        assert not kept(page, "/c/plan/"), "Dana's whole plan must be gone"
        context.set_offline(True)
        page.goto(f"{base}/c/")
        page.get_by_role("heading", name="Hi Robin").wait_for()
        assert "Dana" not in page.content()
        page.goto(f"{base}/c/plan/")  # Dana's was kept, Robin's never opened
        page.get_by_role("heading", name="No signal right now").wait_for()
        assert "Dana" not in page.content()
        context.close()


def test_logging_out_clears_the_phones_copy(require_service, live_server):
    require_service("chromium")
    person, _ = client_with_plan("Dana Brook")
    base = live_server.url
    with chromium() as browser:
        context = phone(browser)
        page = context.new_page()
        log_in(page, base, person)
        visit_until_kept(page, base, "/c/")
        page.get_by_role("button", name="Not your phone? Log out").click()
        page.get_by_role("heading", name="You're logged out").wait_for()
        wait_until(
            page, "() => caches.keys().then(n => !n.some(x => x.startsWith('aftercare-client-')))"
        )
        context.set_offline(True)
        page.goto(f"{base}/c/")
        page.get_by_role("heading", name="No signal right now").wait_for()
        assert "Dana" not in page.content()
        context.close()


IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def test_the_iphone_gets_the_home_screen_steps_after_the_first_tick(require_service, live_server):
    require_service("chromium")
    person, _ = client_with_plan("Dana Brook")
    base = live_server.url
    with chromium() as browser:
        context = browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, user_agent=IPHONE_SAFARI
        )
        page = context.new_page()
        log_in(page, base, person)
        hint = page.locator("[data-install-hint]")
        assert hint.is_hidden(), "not before the first tick"
        page.locator("section.slot").first.locator("button.btn-done").first.click()
        page.wait_for_load_state()
        hint.get_by_text("Add to Home Screen", exact=True).wait_for()
        assert hint.get_by_text("Tap Share").is_visible()
        assert hint.get_by_role("button", name="Add to home screen").is_hidden()  # no prompt on iOS
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert hint.is_visible() and hint.bounding_box()["y"] < PHONE["height"], "in sight"
        assert _serious(Axe(), page) == []
        page.screenshot(path=str(ARTIFACTS / "offline" / "install-hint-iphone.png"))
        hint.get_by_role("button", name="No thanks").click()
        assert hint.is_hidden()
        page.reload()
        assert hint.is_hidden(), "no thanks is remembered on this phone"
        context.close()


def test_no_hint_once_the_plan_runs_from_the_home_screen(require_service, live_server):
    require_service("chromium")
    person, _ = client_with_plan("Dana Brook")
    base = live_server.url
    with chromium() as browser:
        context = browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, user_agent=IPHONE_SAFARI
        )
        # iOS says navigator.standalone when opened from the home screen.
        context.add_init_script("Object.defineProperty(navigator, 'standalone', {value: true})")
        page = context.new_page()
        log_in(page, base, person)
        page.locator("section.slot").first.locator("button.btn-done").first.click()
        page.wait_for_load_state()
        page.get_by_role("heading", name="Hi Dana").wait_for()
        assert page.evaluate("localStorage.getItem('aftercare.ticked')") == "1"
        assert page.locator("[data-install-hint]").is_hidden()
        context.close()
