"""One bad stored value never stops everyone (issue 10, item 1).

The class, not the instance: for every stored field that a page, the reminder planner or
the sender parses, a bad value is written by raw SQL (as an import, a hand-written UPDATE
or an older tzdata would leave it) for ONE client of two. Then a tick plans, claims and
sends, and every client page and every therapist page is opened. The other client's
reminders still go, no page is a server error, no reminder is blamed on the mail server,
and the therapist sees what is wrong on the client's page.

A new parsed field is one more `Case` line in CASES.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test import Client as Browser
from django.urls import reverse
from sesame.utils import get_query_string

from aftercare import tasks
from aftercare.models import PlanStep, Reminder, SymptomLog
from aftercare.outbox import reminders
from aftercare.rules.phases import Phase
from clients.models import Client, MassageSession
from tests import factories
from tests.conftest import REMINDER_NOW

MORNING = datetime(2026, 11, 25, 8, 1, tzinfo=UTC)  # 08:01 in London: both mornings due


@dataclass(frozen=True)
class Case:
    id: str
    table: str  # what the UPDATE writes (the bad client's row, or their practice's, ...)
    assignments: str  # "column = %s, ..." exactly as a hand-written UPDATE would
    values: tuple
    shown: str  # what the therapist's client page says about it


CASES = [
    Case("client zone", "client", "time_zone = %s", ("Mars/Base",), "Mars/Base"),
    Case("client zone empty", "client", "time_zone = %s", ("",), "is not a real zone"),
    Case("practice zone", "practice", "time_zone = %s", ("Mars/Base",), "Mars/Base"),
    Case(
        "routine times inverted",
        "client",
        "morning_time = %s, evening_time = %s",
        ("20:00:00", "07:00:00"),
        "Routine times",
    ),
    Case(
        "quiet hours swallow both routines",
        "client",
        "quiet_start = %s, quiet_end = %s",
        ("00:00:00", "23:59:00"),
        "Routine times",
    ),
    Case("reset weekday", "client", "reset_weekday = %s", (9,), "Weekly reset day"),
    Case("three days out of range", "client", "three_x_days = %s", ("[7, 8, 9]",), "three days"),
    Case("three days a string", "client", "three_x_days = %s", ('"mon"',), "three days"),
    Case("three days nested", "client", "three_x_days = %s", ("[[1], [2], [3]]",), "three days"),
    Case("three days null", "client", "three_x_days = %s", ("null",), "three days"),
    Case("three days an object", "client", "three_x_days = %s", ('{"a": 1}',), "three days"),
    Case("paused for ever", "client", "paused_until = %s", ("9999-12-31",), "paused until"),
    Case("cadence", "client", "massage_cadence = %s", ("yearly",), "Massage cadence"),
    Case(
        "video on a host no longer allowed",
        "step",
        "video_url = %s",
        ("https://old-cdn.example/psoas.mp4",),
        "video",
    ),
    Case("video not a link", "step", "video_url = %s", ("javascript:alert(1)",), "video"),
    Case("flare frequency", "step", "flare = %s", ("sometimes",), "sometimes"),
    Case("subsiding frequency", "step", "subsiding = %s", ("sometimes",), "sometimes"),
    Case("maintenance frequency", "step", "maintenance = %s", ("sometimes",), "sometimes"),
    Case(
        "safety signs not a list of signs",
        "log",
        "safety = %s, safety_signs = %s",
        ("doctor", '[{"a": 1}]'),
        "Check-in",
    ),
    Case("safety signs a number", "log", "safety_signs = %s", ("7",), "Check-in"),
    Case("steps done an object", "log", "steps_done = %s", ('{"a": 1}',), "Check-in"),
    Case("worse steps a string", "log", "worse_steps = %s", ('"x"',), "Check-in"),
    Case("compared", "log", "compared = %s", ("sideways",), "compared “sideways”"),
    Case("legs", "log", "legs = %s", ("three",), "legs “three”"),
    Case("sleep", "log", "sleep = %s", ("never",), "sleep “never”"),
    Case("safety", "log", "safety = %s", ("maybe",), "safety “maybe”"),
    Case("worst pain", "log", "worst_pain = %s", (11,), "worst pain 11"),
]


def _world(n: int):
    """A practice, its therapist and a client in a flare, with a session whose booking
    nudge falls due this morning, and one check-in."""
    practice = factories.practice_with_library()
    therapist = factories.TherapistFactory(practice=practice)
    person = factories.ClientFactory(
        practice=practice, primary_therapist=therapist, email=f"person{n}@example.com"
    )
    plan = factories.plan_for(person, therapist, Phase.FLARE)
    MassageSession.objects.create(client=person, therapist=therapist, date=date(2026, 11, 11))
    SymptomLog.objects.create(
        plan=plan,
        at=REMINDER_NOW,
        day=date(2026, 11, 25),
        submission_key=uuid.uuid4(),
        pain_now=4,
        worst_pain=6,
        compared="same",
    )
    return practice, therapist, person, plan


def _corrupt(case: Case, practice, person, plan) -> None:
    table, row_id = {
        "client": ("clients_client", person.id),
        "practice": ("clients_practice", practice.id),
        # A step that is in the routine this morning (not heat): its card is on Today.
        "step": (
            "aftercare_planstep",
            PlanStep.objects.filter(plan=plan, is_heat=False).order_by("order").first().id,
        ),
        "log": ("aftercare_symptomlog", plan.logs.get().id),
    }[case.table]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {case.assignments} WHERE id = %s",  # noqa: S608 (fixed text)
            [*case.values, row_id],
        )
        assert cursor.rowcount == 1


def _tick(clock, when: datetime) -> None:
    clock.move_to(when)
    reminders.reminders_plan_due()
    tasks.send_reminders(reminders.reminders_claim() + reminders.reminders_sweep())


def _client_pages(person: Client) -> list[str]:
    calendar = reverse("client-calendar") + get_query_string(person.user, scope="calendar")
    return [
        reverse(name)
        for name in (
            "client-today",
            "client-plan",
            "client-progress",
            "client-settings",
            "client-checkin",
            "client-safety",
            "client-warning-signs",
        )
    ] + [calendar]


def _therapist_pages(person: Client) -> list[str]:
    client_id = person.public_id
    return [
        reverse("therapist-dashboard"),
        reverse("therapist-client", args=[client_id]),
        reverse("therapist-client-edit", args=[client_id]),
        reverse("therapist-plan-edit", args=[client_id]),
        reverse("therapist-session", args=[client_id]),
        reverse("therapist-client-export", args=[client_id]) + "?format=json",
        reverse("therapist-client-export", args=[client_id]) + "?format=csv",
        reverse("therapist-client-delete", args=[client_id]),
        reverse("therapist-exercises"),
    ]


def _visit(user, urls: list[str], backend: str) -> dict[str, int]:
    browser = Browser(raise_request_exception=False)
    browser.force_login(user, backend=backend)
    return {url: browser.get(url).status_code for url in urls}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_one_bad_value_stops_nobody_else_and_the_therapist_sees_it(db, clock, mailoutbox, case):
    bad_practice, bad_therapist, bad, bad_plan = _world(1)
    _, good_therapist, good, good_plan = _world(2)
    reminders.reminders_plan_due()  # rows planned while the data was fine
    _corrupt(case, bad_practice, bad, bad_plan)

    _tick(clock, MORNING)

    # Everyone else's reminders went: this morning's routine and the booking nudge.
    good_rows = dict(
        Reminder.objects.filter(client=good, due_at__lte=MORNING).values_list("kind", "status")
    )
    assert good_rows == {"routine": "sent", "booking": "sent"}
    assert sum(message.to == [good.email] for message in mailoutbox) == 2
    # The bad client's rows are finished, never stuck, and never blamed on the mail server.
    for status, reason in Reminder.objects.filter(client=bad, due_at__lte=MORNING).values_list(
        "status", "reason"
    ):
        assert status in ("sent", "skipped", "failed"), (status, reason)
        assert "mail server" not in reason, reason

    # No page of the bad client is a server error, on either side.
    phone = _visit(bad.user, _client_pages(bad), "sesame.backends.ModelBackend")
    desk = _visit(
        bad_therapist.user, _therapist_pages(bad), "django.contrib.auth.backends.ModelBackend"
    )
    errors = {url: status for url, status in {**phone, **desk}.items() if status >= 500}
    assert errors == {}

    # ... nor of the other client.
    phone = _visit(good.user, _client_pages(good), "sesame.backends.ModelBackend")
    desk = _visit(
        good_therapist.user, _therapist_pages(good), "django.contrib.auth.backends.ModelBackend"
    )
    assert {url: status for url, status in {**phone, **desk}.items() if status >= 500} == {}

    # The therapist is told, on the client's page, what is wrong.
    browser = Browser()
    browser.force_login(bad_therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    page = browser.get(reverse("therapist-client", args=[bad.public_id])).content.decode()
    assert "Problems with this client" in page
    problems = page.split("Problems with this client", 1)[1].split("</section>", 1)[0]
    assert case.shown.lower() in problems.lower()
    # ... and the other client's page has no such box.
    browser.force_login(good_therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    page = browser.get(reverse("therapist-client", args=[good.public_id])).content.decode()
    assert "Problems with this client" not in page
