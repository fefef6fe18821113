"""The progress page in Chromium, at 390x844 and 1280x800, in each state a client meets:
new (nothing yet), one check-in (a list, not a lonely dot), a month of ticks and
check-ins (the chart), and on hold after a warning sign (who to talk to, no check-in).
No horizontal scroll, the week on one row, axe clean. Screenshots:
test-artifacts/progress/."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from sesame.utils import get_query_string

from aftercare import checkins, services
from aftercare.models import SymptomLog
from aftercare.rules.phases import Phase
from tests import factories
from tests.browser import DESKTOP, PHONE, chromium, desktop_context, phone_context, shot

# serialized_rollback: a transactional test flushes the database after it runs, which
# would also remove the built-in protocol that a data migration created.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _client(name: str, practice, therapist, started_days_ago: int = 30):
    person = factories.ClientFactory(practice=practice, name=name, primary_therapist=therapist)
    plan = factories.plan_for(person, therapist, phase=Phase.SUBSIDING)
    plan.started_at = timezone.now() - timedelta(days=started_days_ago)
    plan.save(update_fields=["started_at"])
    return person, plan


def _log(plan, person, days_ago: int, worst: int) -> None:
    day = person.local_today() - timedelta(days=days_ago)
    SymptomLog.objects.create(
        plan=plan,
        at=timezone.make_aware(datetime.combine(day, time(9))),
        day=day,
        pain_now=min(worst, 2),
        worst_pain=worst,
        compared="better",
        legs="none",
        sleep="fine",
        submission_key=uuid.uuid4(),
    )


def _tick(plan, person, *days_ago: int) -> None:
    step = plan.steps.get(name="Lumbar decompression")
    for ago in days_ago:
        day = person.local_today() - timedelta(days=ago)
        services.step_complete(step=step, day=day, slot="morning")


def _people():
    practice = factories.practice_with_library()
    practice.phone = "0117 496 0000"
    practice.save()
    therapist = factories.TherapistFactory(practice=practice)
    new, _ = _client("Nell New", practice, therapist, started_days_ago=0)
    one, one_plan = _client("Olly One", practice, therapist, started_days_ago=2)
    _log(one_plan, one, 0, 6)
    _tick(one_plan, one, 0, 1)
    month, month_plan = _client("Mia Month", practice, therapist)
    for ago in range(0, 29, 3):
        _log(month_plan, month, ago, max(8 - (28 - ago) // 4, 2) if ago else 3)
    _tick(month_plan, month, *[d for d in range(0, 29) if d % 5 != 2])
    held, held_plan = _client("Hal Hold", practice, therapist)
    _log(held_plan, held, 3, 5)
    _tick(held_plan, held, 1, 2, 3)
    checkins.symptom_log_create(
        plan=held_plan, submission_key=uuid.uuid4(), answers={"safety_signs": ["fever"]}
    )
    return {"new": new, "one": one, "month": month, "hold": held}


def _serious(page) -> list[str]:
    result = Axe().run(page).response
    assert result["passes"], "axe did not run"
    return [
        f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_the_progress_page_reads_well_in_every_state_on_a_phone_and_a_desk(
    require_service, live_server
):
    require_service("chromium")
    base = live_server.url
    people = _people()
    problems: dict[str, list[str]] = {}
    with chromium() as browser:
        for size, make in (("phone", phone_context), ("desktop", desktop_context)):
            width = PHONE["width"] if size == "phone" else DESKTOP["width"]
            for state, person in people.items():
                page = make(browser, base).new_page()
                page.goto(f"{base}/c/login/{get_query_string(person.user)}")
                page.goto(f"{base}/c/progress/")
                page.get_by_role("heading", name="Your progress", exact=True).wait_for()
                main = page.locator("main")
                text = main.inner_text()
                assert page.evaluate("document.documentElement.scrollWidth") <= width, state
                found = _serious(page)
                if found:
                    problems[f"{state} ({size})"] = found
                shot(page, "progress", f"{size}-{state}")

                if state == "new":
                    assert "Your progress will show here" in text
                    assert main.get_by_role("link", name="See today's routine").is_visible()
                elif state == "one":
                    assert "One check-in so far: worst pain 6." in text
                    assert "After a few more check-ins" in text
                    assert main.locator(".pain-list li").count() == 1
                    assert main.locator("svg.pain-chart").count() == 0
                    dot = main.locator(".pain-list .dot").bounding_box()
                    assert dot["width"] >= 28 and dot["height"] >= 28, dot
                elif state == "month":
                    assert main.locator("svg.pain-chart").is_visible()
                    assert "since you started" in text
                    # The week on one row, today marked.
                    cells = main.locator(".week-strip li").all()
                    assert len(cells) == 7
                    assert len({round(c.bounding_box()["y"]) for c in cells}) == 1
                    assert main.locator(".week-strip li[aria-current=date]").count() == 1
                    assert main.get_by_role("link", name="Check in now").is_visible()
                else:  # on hold after a warning sign
                    assert "Your routine is paused" in text
                    assert main.get_by_role("link", name="Call 0117 496 0000").is_visible()
                    assert main.locator("a[href$='/c/check-in/']").count() == 0
                    assert "check in now" not in text.lower() and "streak" not in text.lower()
                    assert "after a few more" not in text.lower()
                page.context.close()
    report = "\n".join(f"{name}: {items}" for name, items in problems.items())
    assert not problems, f"axe found serious or critical violations:\n{report}"
