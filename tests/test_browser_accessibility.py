"""axe-core (bundled by axe-playwright-python, no network) on the main pages, the
therapist's at desktop size and the client's at phone size: no serious or critical
violations. A failure lists each violation's rule, impact and the elements it found."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axe_playwright_python.sync_playwright import Axe
from sesame.utils import get_query_string

from aftercare import checkins
from aftercare.models import PlanStep
from aftercare.rules.phases import Phase
from tests import factories
from tests.browser import chromium, desktop_context, phone_context

# serialized_rollback: a transactional test flushes the database after it runs, which
# would also remove the built-in protocol that a data migration created.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BLOCKING = ("serious", "critical")


def _answers(worst: int) -> dict:
    return {
        "safety_signs": [],
        "pain_now": max(worst - 1, 0),
        "worst_pain": worst,
        "compared": "better",
        "legs": "none",
        "sleep": "fine",
        "steps_done": [],
        "worse_steps": [],
        "worse_by": 0,
        "note": "Stiff after driving <b>home</b>",
        "flare_tap": False,
        "gone_tap": False,
    }


def _check_in(plan, answers: dict, at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        checkins.symptom_log_create(plan=plan, submission_key=uuid.uuid4(), answers=answers)


def _people():
    """Dana: in a flare with two weeks of check-ins and a video; Eli: on hold after a
    "yes" to an emergency sign (so the dashboard has an urgent row)."""
    now = datetime.now(UTC)
    with time_machine.travel(now - timedelta(days=14), tick=False):
        practice = factories.practice_with_library()
        therapist = factories.TherapistFactory(practice=practice)
        dana = factories.ClientFactory(
            practice=practice, name="Dana Brook", primary_therapist=therapist
        )
        plan = factories.plan_for(dana, therapist, phase=Phase.SUBSIDING)
        eli = factories.ClientFactory(
            practice=practice, name="Eli Stone", primary_therapist=therapist
        )
        eli_plan = factories.plan_for(eli, therapist, phase=Phase.SUBSIDING)
    step = PlanStep.objects.get(plan=plan, name="Passive SI reset")
    step.video_url = "https://youtu.be/dQw4w9WgXcQ"
    step.save()
    for days_ago, worst in [(12, 4), (10, 3), (8, 4), (6, 4), (4, 3), (2, 3), (0, 8)]:
        _check_in(plan, _answers(worst), now - timedelta(days=days_ago, minutes=5))
    _check_in(eli_plan, {"safety_signs": ["chest_pain"]}, now - timedelta(minutes=1))
    return therapist, dana, eli


def _serious(axe: Axe, page) -> list[str]:
    result = axe.run(page).response
    assert result["testEngine"]["name"] == "axe-core" and result["passes"], "axe did not run"
    found = result["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']}\n"
        + "\n".join(
            f"    {', '.join(map(str, node['target']))}: {node['html'][:160]}"
            for node in v["nodes"]
        )
        for v in found
        if v["impact"] in BLOCKING
    ]


def test_the_main_pages_have_no_serious_or_critical_axe_violations(require_service, live_server):
    require_service("chromium")
    base = live_server.url
    therapist, dana, eli = _people()
    axe = Axe()
    problems: dict[str, list[str]] = {}
    checked: list[str] = []

    def audit(page, name: str) -> None:
        page.wait_for_load_state()
        checked.append(name)
        found = _serious(axe, page)
        if found:
            problems[name] = found

    with chromium() as browser:
        desk = desktop_context(browser, base).new_page()
        desk.goto(f"{base}/login/")
        audit(desk, "therapist login")
        desk.get_by_role("button", name="Log in").click()  # empty: the errors state
        desk.locator(".invalid-feedback").first.wait_for()
        audit(desk, "therapist login, with errors")
        desk.get_by_label("Email").fill(therapist.user.email)
        desk.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
        desk.get_by_role("button", name="Log in").click()
        desk.get_by_role("heading", name="Clients", exact=True).wait_for()
        assert desk.locator("li.client-row.level-40").count() == 1
        audit(desk, "dashboard")
        for person in (dana, eli):
            desk.goto(f"{base}/t/clients/{person.public_id}/")
            audit(desk, f"client page ({person.name})")
        desk.goto(f"{base}/t/clients/{dana.public_id}/session/")
        desk.get_by_text("Adjust steps for this client").click()  # open the step tweaks
        audit(desk, "session form")

        phone = phone_context(browser, base).new_page()
        phone.goto(f"{base}/c/login/{get_query_string(dana.user)}")
        phone.get_by_role("heading", name="Hi Dana").wait_for()
        assert phone.locator("section.slot").count() == 2, "flare: both slots on Today"
        audit(phone, "client today")
        phone.get_by_role("link", name="Watch: Passive SI reset").first.tap()
        phone.locator(".video-frame iframe").first.wait_for(state="attached")
        audit(phone, "client today, a video open")
        for path, name in [
            ("/c/plan/", "whole plan"),
            ("/c/check-in/", "check-in"),
            ("/c/progress/", "progress"),
            ("/c/settings/", "settings"),
        ]:
            phone.goto(base + path)
            audit(phone, name)
        phone.goto(f"{base}/c/check-in/")
        phone.get_by_role("button", name="Save check-in").click()
        phone.locator(".has-error").first.wait_for()
        audit(phone, "check-in, with errors")

        eli_phone = phone_context(browser, base).new_page()
        eli_phone.goto(f"{base}/c/login/{get_query_string(eli.user)}")
        eli_phone.goto(f"{base}/c/safety/")
        eli_phone.get_by_role("heading", name="Get medical help now").wait_for()
        audit(eli_phone, "safety screen")

    assert len(checked) == 14
    report = "\n\n".join(f"{page}:\n" + "\n".join(items) for page, items in problems.items())
    assert not problems, f"axe found serious or critical violations:\n\n{report}"
