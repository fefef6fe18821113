"""Issue 11: therapists check the app between clients on their phones. Every therapist
page fits a 390px phone (and a 1280px desktop) with no horizontal scroll, for a client
with everything on the page: a plan, check-ins, alerts, sessions, history, long words."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from aftercare import checkins
from aftercare.models import Alert, Exercise, PlanStep
from aftercare.rules.phases import Phase
from clients import services as people
from tests import factories
from tests.browser import DESKTOP, PHONE, chromium, desktop_context, phone_context

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Screenshots for a person to look at; outside the repository unless asked otherwise.
SHOTS = Path(os.environ.get("PHONE_SHOTS", "/tmp/therapist-phone"))
# No hyphens or spaces: nothing where a browser may break the line.
LONG_URL = "https://videos.example.com/aftercare/lowback/passivesireset_withaverylongname_v2.mp4"


def _answers(worst: int, note: str = "") -> dict:
    return {
        "safety_signs": [],
        "pain_now": max(worst - 1, 0),
        "worst_pain": worst,
        "compared": "worse" if worst > 5 else "better",
        "legs": "none",
        "sleep": "fine",
        "steps_done": [],
        "worse_steps": [],
        "worse_by": 0,
        "note": note,
        "flare_tap": worst > 6,
        "gone_tap": False,
    }


def _everything():
    """Dana: a plan, two weeks of check-ins (long notes), alerts, sessions, history, a
    phone number and long words everywhere a therapist might paste them. Fay: a client
    in a practice whose library is empty (the "no plan yet" page)."""
    now = datetime.now(UTC)
    with time_machine.travel(now - timedelta(days=14), tick=False):
        practice = factories.practice_with_library()
        therapist = factories.TherapistFactory(practice=practice)
        dana = factories.ClientFactory(
            practice=practice,
            name="Dana Brookfield-Montgomery",
            email="dana.brookfieldmontgomery.longaddress@physiotherapyclinic.example.com",
            phone="+44 7700 900123",
            primary_therapist=therapist,
        )
        plan = factories.plan_for(dana, therapist, phase=Phase.SUBSIDING)
        for days_ago in (14, 0):
            people.session_record(
                client=dana,
                therapist=therapist,
                date=date.today() - timedelta(days=days_ago),
                notes=f"Worked the left QL and glutes. Video: {LONG_URL}",
            )
    step = PlanStep.objects.get(plan=plan, name="Passive SI reset")
    step.video_url = LONG_URL
    step.personal_note = "Keep the knees together; SupercalifragilisticexpialidociousStretching"
    step.save()
    Exercise.objects.filter(practice=practice).update(video_url=LONG_URL)
    for days_ago, worst in [(12, 4), (10, 3), (8, 4), (6, 4), (4, 3), (2, 3), (0, 8)]:
        with time_machine.travel(now - timedelta(days=days_ago, minutes=5), tick=False):
            checkins.symptom_log_create(
                plan=plan,
                submission_key=uuid.uuid4(),
                answers=_answers(worst, f"Stiff after driving {LONG_URL}"),
            )
    Alert.objects.create(
        plan=plan,
        kind="pain_jump",
        severity=30,
        message="Worst pain 8, up from 3: NumbnessAndTinglingDownTheLeftLegSinceYesterdayEvening",
    )
    other = factories.PracticeFactory()
    lone = factories.TherapistFactory(practice=other)
    fay = factories.ClientFactory(practice=other, name="Fay Lone", primary_therapist=lone)
    return therapist, dana, lone, fay


def _log_in(page, base: str, therapist) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(therapist.user.email)
    page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Clients", exact=True).wait_for()


def _screenshots(page, name: str) -> None:
    """The whole page as the therapist first sees it, and in screen-high pieces."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    for number, top in enumerate(range(0, height, PHONE["height"])):
        clip = {
            "x": 0,
            "y": top,
            "width": PHONE["width"],
            "height": min(PHONE["height"], height - top),
        }
        page.screenshot(path=str(SHOTS / f"{name}-{number + 1}.png"), full_page=True, clip=clip)


def _width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_every_therapist_page_fits_a_phone_and_a_desktop(require_service, live_server):
    require_service("chromium")
    base = live_server.url
    therapist, dana, lone, fay = _everything()
    exercise = Exercise.objects.filter(practice=dana.practice).first()
    client = f"{base}/t/clients/{dana.public_id}"
    pages = [
        ("client page", f"{client}/"),
        ("client add", f"{base}/t/clients/new/"),
        ("client edit", f"{client}/edit/"),
        ("session form", f"{client}/session/"),
        ("plan edit", f"{client}/plan/"),
        ("exercise library", f"{base}/t/exercises/"),
        ("exercise form", f"{base}/t/exercises/{exercise.pk}/"),
        ("new exercise", f"{base}/t/exercises/new/"),
        ("settings", f"{base}/t/settings/"),
        ("client delete", f"{client}/delete/"),
    ]
    widths: dict[str, int] = {}
    too_wide: list[str] = []

    def measure(page, name: str, viewport: dict) -> None:
        page.wait_for_load_state()
        width = _width(page)
        widths[f"{name} @{viewport['width']}"] = width
        if width > viewport["width"]:
            too_wide.append(f"{name}: {width}px at {viewport['width']}px")

    with chromium() as browser:
        for viewport, context_for in ((PHONE, phone_context), (DESKTOP, desktop_context)):
            page = context_for(browser, base).new_page()
            page.goto(f"{base}/login/")
            measure(page, "login", viewport)
            _log_in(page, base, therapist)
            for name, url in pages:
                page.goto(url)
                if viewport == PHONE and name in ("client page", "session form"):
                    _screenshots(page, name.replace(" ", "-"))
                if viewport == DESKTOP and name == "client page":
                    SHOTS.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(SHOTS / "client-page-desktop.png"))
                # Everything open: the session form's step tweaks, the client page's
                # phase form, earlier check-ins, "Show all" reminders.
                page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
                measure(page, name, viewport)
                if viewport == PHONE and name == "session form":
                    _screenshots(page, "session-form-open")
            page.context.close()

            page = context_for(browser, base).new_page()
            _log_in(page, base, lone)
            page.goto(f"{base}/t/clients/{fay.public_id}/session/")
            page.get_by_role("heading", name="Your library has no plan yet").wait_for()
            measure(page, "no_protocol", viewport)
            page.context.close()

    print("\n".join(f"{name}: {width}" for name, width in widths.items()))
    assert len(widths) == 2 * (len(pages) + 2)
    assert not too_wide, "pages wider than the screen:\n" + "\n".join(too_wide)
