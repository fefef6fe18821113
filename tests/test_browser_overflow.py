"""Issue 11: every page of both sides, on a 390x844 phone and a 1280x800 desktop, lays
out no wider than the screen (nothing scrolls sideways) and axe finds no violation at
all, for people with everything on their pages: long names, long notes, long links,
alerts, check-ins, sessions, a video of each kind.

The walk is not a hand-picked list that silently falls behind: a guard below compares it
with the URLconf (tests/test_url_walk.py reads it), so a page added tomorrow fails here
until it is walked or listed as not a page, with the reason.

Pages are reached by address and by data, not by filling in forms, so the walk keeps
working while the forms change; form states (errors, the reask step) are in the page's
own browser tests and in test_browser_accessibility.py.
"""

from __future__ import annotations

import uuid

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.files.base import ContentFile
from django.urls import reverse
from sesame.utils import get_query_string

from aftercare import checkins, tokens
from aftercare.management.commands.seed_demo import DEMO_VIDEO
from aftercare.models import PlanStep, Reminder
from aftercare.outbox import reminders
from aftercare.rules.phases import Phase
from tests import factories
from tests.browser import DESKTOP, PHONE, chromium, desktop_context, phone_context
from tests.test_browser_therapist_phone import _everything, _log_in
from tests.test_url_walk import PATTERNS

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# URL names that are not pages a person looks at (each with why), or that the walk reaches
# under another name. Anything else in the URLconf must be walked below.
NOT_PAGES = {
    "client-step-done": "POST only (a tick); Today shows the result",
    "client-forget": "POST only (forget this phone); answers with the link page",
    "client-calendar": "an .ics file for calendar apps",
    "therapist-logout": "POST only",
    "therapist-plan-end": "POST only",
    "therapist-phase": "POST only",
    "therapist-alert-resolve": "POST only",
    "therapist-seen": "POST only",
    "therapist-resume": "POST only",
    "therapist-link-send": "POST only",
    "therapist-link-revoke": "POST only",
    "therapist-library-install": "POST only",
    "therapist-client-export": "a JSON download",
    "video-file": "an MP4 file",
    "healthz": "a health check for the load balancer",
    "home": "redirects to the dashboard or the login",
    "client-reminder-channel": "POST only (the channel choice); Settings shows the result",
    "client-push-subscribe": "POST only (JSON from the Settings page's script)",
    "client-push-unsubscribe": "POST only (JSON from the Settings page's script)",
    "client-push-test": "POST only (JSON from the Settings page's script)",
    "sms-webhook": "POST only, from the SMS provider",
    "pwa-sw": "the service worker's JavaScript",
    "pwa-manifest": "the web app manifest (JSON)",
}


# States the walk must really show, not just pages it opened: the therapist's "data that
# needs fixing" (Dana's long MP4 link is on no allowed host) and the Watch buttons' stills.
SHOWN = {
    "client page (everything)": ".data-problems",
    "dashboard": ".alert-warning",
    "today": ".video-load .video-poster-youtube img",
    "whole plan": ".video-load .video-poster-mp4 video",
}


def _client_pages(base: str, dana, eli) -> list[tuple[str, str, str]]:
    """(name, url, url name walked) for the client's side; Dana's newest check-in is a
    hard day (worst 8), so its "saved" page stands."""
    newest = dana.plans.get(ended_at=None).logs.order_by("-at", "-id").first()
    reminders.reminders_plan_due()
    routine = Reminder.objects.filter(client=dana, kind=Reminder.Kind.ROUTINE).first()
    assert routine is not None, "a routine reminder for the email pages"
    done = tokens.action_token(routine.id, "done")
    checkin = tokens.action_token(routine.id, "checkin")
    unsubscribe = tokens.unsubscribe_token(dana.id, "routine")
    return [
        ("today", f"{base}/c/", "client-today"),
        ("guided routine, first step", f"{base}/c/?routine=morning&step=1", ""),
        ("no signal (offline page)", f"{base}/c/offline/", "client-offline"),
        ("whole plan", f"{base}/c/plan/", "client-plan"),
        ("check-in", f"{base}/c/check-in/", "client-checkin"),
        ("check-in saved (hard day)", f"{base}/c/check-in/?saved={newest.submission_key}", ""),
        ("progress", f"{base}/c/progress/", "client-progress"),
        ("client settings", f"{base}/c/settings/", "client-settings"),
        ("warning signs", f"{base}/c/warning-signs/", "client-warning-signs"),
        ("email: done", f"{base}{reverse('email-action', args=['done', done])}", "email-action"),
        ("email: check-in", f"{base}{reverse('email-action', args=['checkin', checkin])}", ""),
        (
            "email: unsubscribe",
            f"{base}{reverse('email-unsubscribe', args=['routine', unsubscribe])}",
            "email-unsubscribe",
        ),
        ("email: expired link", f"{base}/e/done/not-a-token/", ""),
    ]


def _hold_and_signed_out_pages(base: str) -> list[tuple[str, str, str]]:
    """Pages for Eli (on hold after a warning sign) and for a phone that is not signed in."""
    return [
        ("safety screen (on hold)", f"{base}/c/safety/", "client-safety"),
        ("today (on hold)", f"{base}/c/", ""),
        ("progress (on hold)", f"{base}/c/progress/", ""),
    ]


def _signed_out_pages(base: str) -> list[tuple[str, str, str]]:
    return [
        ("new link", f"{base}/c/new-link/", "client-new-link"),
        ("home-screen start, signed out", f"{base}/c/start/", "client-start"),
        ("link expired", f"{base}/c/login/?sesame=not-a-real-token", "client-login"),
        ("short link expired", f"{base}/l/tnot-a-real-token", "client-short-login"),
        ("therapist login", f"{base}/login/", "therapist-login"),
    ]


def _therapist_pages(base: str, dana, eli, exercise) -> list[tuple[str, str, str]]:
    client = f"{base}/t/clients/{dana.public_id}"
    return [
        ("dashboard", f"{base}/t/", "therapist-dashboard"),
        ("client page (everything)", f"{client}/", "therapist-client"),
        ("client page (on hold)", f"{base}/t/clients/{eli.public_id}/", ""),
        ("add client", f"{base}/t/clients/new/", "therapist-client-add"),
        ("edit client", f"{client}/edit/", "therapist-client-edit"),
        ("session form", f"{client}/session/", "therapist-session"),
        ("plan edit", f"{client}/plan/", "therapist-plan-edit"),
        ("delete client", f"{client}/delete/", "therapist-client-delete"),
        ("exercise library", f"{base}/t/exercises/", "therapist-exercises"),
        ("exercise form", f"{base}/t/exercises/{exercise.pk}/", "therapist-exercise-edit"),
        ("new exercise", f"{base}/t/exercises/new/", "therapist-exercise-add"),
        ("therapist settings", f"{base}/t/settings/", "therapist-settings"),
    ]


def _eli_on_hold(dana):
    """A second client of Dana's practice, on hold after a "yes" to chest pain."""
    therapist = dana.primary_therapist
    eli = factories.ClientFactory(
        practice=dana.practice, name="Eli Stone-Worthington", primary_therapist=therapist
    )
    plan = factories.plan_for(eli, therapist, phase=Phase.SUBSIDING)
    checkins.symptom_log_create(
        plan=plan, submission_key=uuid.uuid4(), answers={"safety_signs": ["chest_pain"]}
    )
    return eli


def _videos_of_every_kind(dana) -> None:
    """Dana's plan: a YouTube step, a Vimeo step and an uploaded one next to the long MP4
    link (on no allowed host: "unavailable"), so every kind of Watch button is walked."""
    plan = dana.plans.get(ended_at=None)
    PlanStep.objects.filter(plan=plan, name="Lumbar decompression").update(
        video_url="https://youtu.be/dQw4w9WgXcQ"
    )
    PlanStep.objects.filter(plan=plan, name="Psoas release").update(
        video_url="https://vimeo.com/76979871"
    )
    uploaded = PlanStep.objects.get(plan=plan, name="QL and psoas stretch and strength")
    uploaded.video_url = ""
    uploaded.video_file.save("clip.mp4", ContentFile(DEMO_VIDEO.read_bytes()))


def _violations(axe: Axe, page) -> list[str]:
    result = axe.run(page).response
    assert result["testEngine"]["name"] == "axe-core" and result["passes"], "axe did not run"
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: "
        + "; ".join(", ".join(map(str, n["target"])) for n in v["nodes"][:3])
        for v in result["violations"]
    ]


def test_the_walk_covers_every_page_in_the_urlconf():
    """A URL added to the app is walked below or listed in NOT_PAGES with the reason."""
    walked = {
        "client-today",
        "client-plan",
        "client-checkin",
        "client-progress",
        "client-settings",
        "client-warning-signs",
        "client-safety",
        "client-new-link",
        "client-start",
        "client-offline",
        "client-login",
        "client-short-login",
        "email-action",
        "email-unsubscribe",
        "therapist-login",
        "therapist-dashboard",
        "therapist-client",
        "therapist-client-add",
        "therapist-client-edit",
        "therapist-session",
        "therapist-plan-edit",
        "therapist-client-delete",
        "therapist-exercises",
        "therapist-exercise-edit",
        "therapist-exercise-add",
        "therapist-settings",
    }
    unknown = set(PATTERNS) - walked - set(NOT_PAGES)
    assert not unknown, f"walk these pages in test_browser_overflow.py (or say why not): {unknown}"
    assert not (walked | set(NOT_PAGES)) - set(PATTERNS), "a walked name is not in the URLconf"


def test_no_page_scrolls_sideways_or_has_an_axe_violation(require_service, live_server):
    require_service("chromium")
    base = live_server.url
    therapist, dana, _lone, fay = _everything()
    eli = _eli_on_hold(dana)
    _videos_of_every_kind(dana)
    exercise = dana.practice.exercises.first()
    client_pages = _client_pages(base, dana, eli)
    hold_pages = _hold_and_signed_out_pages(base)
    signed_out = _signed_out_pages(base)
    therapist_pages = _therapist_pages(base, dana, eli, exercise)
    walked_names = {
        n
        for pages in (client_pages, hold_pages, signed_out, therapist_pages)
        for _, _, n in pages
        if n
    }
    assert walked_names <= set(PATTERNS)

    axe = Axe()
    measured: dict[str, int] = {}
    too_wide: list[str] = []
    problems: dict[str, list[str]] = {}

    def check(page, name: str, viewport: dict) -> None:
        page.wait_for_load_state()
        # Everything a tap can open is open: earlier check-ins, "how to do it", show all.
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        where = f"{name} @{viewport['width']}"
        if name in SHOWN:
            assert page.locator(SHOWN[name]).count() > 0, f"{where}: no {SHOWN[name]}"
        # Against the screen's width, not innerWidth: a phone (is_mobile) widens its
        # layout viewport to fit a too-wide page, so innerWidth grows with the overflow
        # and `scrollWidth <= innerWidth` could never fail there.
        width = page.evaluate("document.scrollingElement.scrollWidth")
        measured[where] = width
        if width > viewport["width"]:
            too_wide.append(f"{where}: {width}px wide on a {viewport['width']}px screen")
        found = _violations(axe, page)
        if found:
            problems[where] = found

    def walk(page, pages, viewport) -> None:
        for name, url, _ in pages:
            response = page.goto(url)
            assert response is not None and response.status < 500, f"{name}: {url}"
            # The page itself, not a redirect to another (e.g. the saved page to Today).
            assert page.url == url, f"{name}: {url} went to {page.url}"
            check(page, name, viewport)

    with chromium() as browser:
        for viewport, context_for in ((PHONE, phone_context), (DESKTOP, desktop_context)):
            page = context_for(browser, base).new_page()
            walk(page, signed_out, viewport)
            page.goto(f"{base}/c/login/{get_query_string(dana.user)}")
            walk(page, client_pages, viewport)
            page.context.close()

            page = context_for(browser, base).new_page()
            page.goto(f"{base}/c/login/{get_query_string(eli.user)}")
            walk(page, hold_pages, viewport)
            page.context.close()

            page = context_for(browser, base).new_page()
            page.goto(f"{base}/c/login/{get_query_string(fay.user)}")
            page.goto(f"{base}/c/")
            check(page, "no plan yet (client)", viewport)
            page.context.close()

            page = context_for(browser, base).new_page()
            _log_in(page, base, therapist)
            walk(page, therapist_pages, viewport)
            page.context.close()

    print("\n".join(f"{name}: {width}" for name, width in measured.items()))
    pages_per_viewport = (
        len(client_pages) + len(hold_pages) + len(signed_out) + len(therapist_pages) + 1
    )
    assert len(measured) == 2 * pages_per_viewport
    report = "\n".join(f"{where}:\n  " + "\n  ".join(found) for where, found in problems.items())
    assert not too_wide, "pages wider than the screen:\n" + "\n".join(too_wide)
    assert not problems, f"axe violations:\n{report}"
