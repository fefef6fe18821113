"""The planning bookmark (PlanningBookmark, docs/reminders.md): where each active plan's
reminders are planned up to, in a table of its own. Every plan the app makes gets one, an
ended plan's goes, and a service's mark is never lost, even while a tick is planning that
very plan on another connection (PostgreSQL: the mark waits for the chunk's commit).

Wednesday 25 Nov 2026 06:00 UTC is "now" (the `clock` fixture); London = UTC then.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from aftercare import services
from aftercare.models import Plan, PlanningBookmark, Reminder
from aftercare.outbox import reminders
from aftercare.rules.phases import Phase
from clients.models import Client
from tests import factories
from tests.services import wait_until

Kind = Reminder.Kind


def bookmark(plan: Plan) -> PlanningBookmark | None:
    return PlanningBookmark.objects.filter(plan=plan).first()


def test_a_new_plan_gets_a_bookmark_that_says_plan_me(flare):
    assert bookmark(flare) is not None
    assert bookmark(flare).planned_until is None
    reminders.reminders_plan_due()
    assert bookmark(flare).planned_until is not None


def test_an_ended_plans_bookmark_goes_when_it_comes_due_and_the_new_plan_is_planned(
    flare, client_person, therapist, clock
):
    reminders.reminders_plan_due()
    new = factories.plan_for(client_person, therapist, phase=Phase.MAINTENANCE)  # ends flare
    assert reminders.reminders_plan_due() > 0
    assert set(Reminder.objects.filter(status="pending").values_list("plan_id", flat=True)) == {
        new.pk
    }
    # The old plan's bookmark comes due (its rows would run out): dropped, not planned.
    clock.move_to(datetime(2026, 11, 25, 23, 0, tzinfo=UTC))
    reminders.reminders_plan_due()
    assert bookmark(flare) is None
    assert bookmark(new).planned_until is not None
    assert not Reminder.objects.filter(plan=flare).exists()


def test_a_plan_ended_behind_the_services_back_drops_out_when_its_bookmark_comes_due(
    flare, client_person, clock
):
    reminders.reminders_plan_due()
    Plan.objects.filter(pk=flare.pk).update(ended_at=timezone.now())  # SQL, an import
    clock.move_to(datetime(2026, 11, 26, 6, 0, tzinfo=UTC))  # its rows run out
    Reminder.objects.all().delete()

    assert reminders.reminders_plan_due() == 0
    assert bookmark(flare) is None
    assert not Reminder.objects.exists()


def test_a_plan_without_a_bookmark_gets_one_when_marked(flare, client_person, clock):
    PlanningBookmark.objects.filter(plan=flare).delete()  # a plan written by SQL, say
    assert reminders.reminders_plan_due() == 0

    assert reminders.plan_needs_planning(client=client_person) == 1
    assert bookmark(flare).planned_until is None
    assert reminders.reminders_plan_due() == 3


def test_marking_a_practice_marks_its_active_plans_only(practice, therapist, clock):
    people = [factories.ClientFactory(practice=practice) for _ in range(3)]
    plans = [factories.plan_for(person, therapist) for person in people]
    services.plan_end(plan=plans[2])
    other = factories.plan_for(factories.ClientFactory(), factories.TherapistFactory())
    reminders.reminders_plan_due()

    assert reminders.plan_needs_planning(practice=practice) == 2
    assert {b.plan_id for b in PlanningBookmark.objects.filter(planned_until=None)} == {
        plans[0].pk,
        plans[1].pk,
    }
    assert bookmark(other).planned_until is not None
    with pytest.raises(TypeError):
        reminders.plan_needs_planning()  # never "every plan" by accident


# --- two connections (PostgreSQL) ------------------------------------------------------------


def _lock_waiters() -> int:
    """Other connections waiting for a row lock right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


class Planner(threading.Thread):
    """A tick planning one chunk on its own connection, holding the chunk's locks until
    told to write and commit."""

    def __init__(self, now: datetime, size: int) -> None:
        super().__init__(daemon=True)
        self.now, self.size = now, size
        self.locked, self.go = threading.Event(), threading.Event()
        self.chunk: list = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                self.chunk = reminders._due_plans(self.now, self.size)
                self.locked.set()
                assert self.go.wait(timeout=60)
                reminders._write(reminders._plan_chunk(self.chunk, self.now))
        except BaseException as error:  # reported by the test, never lost in a thread
            self.error = error
        finally:
            self.locked.set()
            connection.close()


class Service(threading.Thread):
    """A service's change and mark, in one transaction on its own connection."""

    def __init__(self, change) -> None:
        super().__init__(daemon=True)
        self.change = change
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                self.change()
        except BaseException as error:
            self.error = error
        finally:
            self.done.set()
            connection.close()


pg = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pg
def test_a_mark_made_while_the_plan_is_being_planned_waits_and_is_not_lost(require_service):
    require_service("postgres")
    practice = factories.practice_with_library()
    person = factories.ClientFactory(practice=practice)
    plan = factories.plan_for(person, factories.TherapistFactory(practice=practice))
    now = timezone.now()
    planner = Planner(now, size=10)
    planner.start()
    assert planner.locked.wait(timeout=30)
    assert [row[0] for row in planner.chunk] == [plan.pk]

    # The client moves their morning while the tick holds the plan's (old) schedule.
    def new_morning() -> None:
        Client.objects.filter(pk=person.pk).update(morning_time=time(10, 45))
        reminders.reminders_forget_pending(client=person)

    service = Service(new_morning)
    service.start()
    wait_until(lambda: _lock_waiters() == 1, timeout=30, message="the mark did not wait")
    assert not service.done.is_set()
    planner.go.set()
    planner.join(timeout=60)
    service.join(timeout=60)
    assert planner.error is None and service.error is None

    # The mark landed after the tick's write, and the rows of the old morning are gone.
    assert bookmark(plan).planned_until is None
    assert not Reminder.objects.filter(plan=plan, status="pending").exists()
    reminders.reminders_plan_due(now=now)
    mornings = Reminder.objects.filter(plan=plan, slot_key__endswith="/morning")
    assert mornings.exists()
    assert all(row.due_at.astimezone(person.zone).time() == time(10, 45) for row in mornings), (
        "a reminder kept the old morning"
    )


@pg
def test_two_ticks_at_once_plan_different_plans(require_service):
    require_service("postgres")
    practice = factories.practice_with_library()
    therapist = factories.TherapistFactory(practice=practice)
    plans = [
        factories.plan_for(factories.ClientFactory(practice=practice), therapist) for _ in range(5)
    ]
    first = Planner(timezone.now(), size=3)
    first.start()
    assert first.locked.wait(timeout=30)

    second = reminders.reminders_plan_due()  # another beat: skips the locked three
    first.go.set()
    first.join(timeout=60)
    assert first.error is None

    locked = {row[0] for row in first.chunk}
    assert len(locked) == 3
    planned_by_second = set(
        Reminder.objects.exclude(plan_id__in=locked).values_list("plan_id", flat=True)
    )
    assert planned_by_second == {plan.pk for plan in plans} - locked
    assert second == Reminder.objects.exclude(plan_id__in=locked).count() > 0
    assert not PlanningBookmark.objects.filter(planned_until=None).exists()
    # Each slot once, and every plan got the same slots (they share one schedule).
    keys = list(Reminder.objects.values_list("client_id", "kind", "slot_key"))
    assert len(keys) == len(set(keys)) == 5 * (second // 2)
