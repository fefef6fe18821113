"""Scale out (docs/scaling.md): the same code on more processes. Two Celery workers and
two beats, all real, on PostgreSQL and Redis, drain a morning peak together: every
reminder is sent exactly once, none is lost, and both workers and both beats took part.

The peak is 5,000 reminders here so the test stays under a minute on a shared machine;
`make bench` measures 100,000 and 1,000,000 plans. Without PostgreSQL and Redis this
skips; with REQUIRE_SERVICES=1 it fails instead.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection

from aftercare.models import PlanningBookmark, Reminder
from tests import factories
from tests.services import wait_until

# The pipeline's fixtures (services, broker, sink, spawn) and helpers.
from tests.test_reminder_reliability import (  # noqa: F401
    all_finished,
    assert_exactly_once,
    booking_rows,
    broker,
    message_ids,
    quiet_for,
    services,
    sink,
    spawn,
    statuses,
    waiting,
)

pytestmark = [
    pytest.mark.services,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PEAK = 5_000  # reminders all due at once
PLANS = 300  # plans the two beats plan between them


def test_two_workers_and_two_beats_drain_a_peak_once_each(spawn, sink):  # noqa: F811
    practice = factories.practice_with_library()
    therapist = factories.TherapistFactory(practice=practice)
    rows = booking_rows(PEAK, clients=50, practice=practice)
    ids = message_ids(rows)
    assert len(ids) == PEAK
    people = [factories.ClientFactory(practice=practice) for _ in range(PLANS)]
    plans = [factories.plan_for(person, therapist) for person in people]
    to_plan = PlanningBookmark.objects.filter(plan__in=plans, planned_until=None)
    assert to_plan.count() == PLANS

    tick_env = {"TICK_SECONDS": 1, "REMINDER_STUCK_SECONDS": 60}
    workers = [spawn("worker", concurrency=2, **tick_env) for _ in range(2)]
    beats = [spawn("beat", name, **tick_env) for name in ("beat-a", "beat-b")]

    wait_until(
        lambda: all_finished(ids),
        timeout=300,  # ~30 s on an idle 2-core machine; much longer when it is shared
        interval=0.5,
        message=lambda: f"still waiting: {len(waiting(ids))} of {PEAK}",
    )
    quiet_for(sink, 1.5, timeout=30)

    # No loss, no duplicate.
    assert set(statuses(ids).values()) == {Reminder.Status.SENT}
    assert_exactly_once(sink, ids)
    assert len(sink) == PEAK
    # Every plan planned, its rows once each (the unique key), by whichever beat's tick.
    assert not to_plan.exists()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM aftercare_reminder WHERE kind = 'routine' "
            "GROUP BY client_id, slot_key HAVING count(*) > 1"
        )
        assert cursor.fetchall() == []
    routine = Reminder.objects.filter(plan__in=plans, kind=Reminder.Kind.ROUTINE)
    assert routine.values("plan").distinct().count() == PLANS
    # The work was shared: both beats ticked, both workers sent.
    for process in beats:
        assert process.log.read_text().count("Sending due task reminders-tick") >= 2
    for process in workers:
        sent = re.findall(
            r"Task aftercare.send_reminders\[[^\]]+\] succeeded", process.log.read_text()
        )
        assert sent, f"{process.name} sent nothing:\n{process.tail()}"
