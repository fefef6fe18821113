"""The reminder outbox: plan due rows, claim them, send them, sweep up after crashes.

The database is the source of truth (docs/reminders.md). A beat tick every minute:
1. plans the next slots of the plans that need it (a new local day coming into view, or
   a change a service marked: `plan_needs_planning`) as Reminder rows (unique per client,
   kind and slot: planning twice adds nothing), in bulk;
2. claims the due rows (FOR UPDATE SKIP LOCKED on PostgreSQL, then a conditional
   update) and hands their ids to workers in batches;
3. sweeps rows whose broker message was lost (queued too long) or whose worker died
   mid-send (sending too long), and hands them out again.
A worker moves a row queued -> sending with a conditional update, so two messages for
the same row send it once. Emails that go now (plan links, alerts, digests) enter through
`outbox_add` and are handed out after commit; a "try again later" from the mail server is
a later due time on the row, claimed again by the tick.
"""

from __future__ import annotations

import json
import logging
import smtplib
import socket
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import monotonic
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import get_connection
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, Max, OuterRef, Prefetch
from django.utils import timezone

from aftercare import data_problems, selectors
from aftercare.models import (
    Completion,
    Heartbeat,
    Plan,
    PlanningBookmark,
    PlanStep,
    PushSubscription,
    Reminder,
    SymptomLog,
)
from aftercare.outbox import channels, emails
from aftercare.rules import schedule
from aftercare.rules.phases import Frequency, Phase
from clients.models import Client, MassageSession, Practice, known_zone

log = logging.getLogger(__name__)

Status = Reminder.Status
Kind = Reminder.Kind

HORIZON = timedelta(hours=36)  # how far ahead routine slots become rows
ONE_DAY = timedelta(days=1)
LATE_LIMIT = timedelta(hours=3)  # a routine reminder later than this is no use any more
PLAN_CHUNK = 2000  # plans loaded per batch: memory stays flat in the number of plans
CLAIM_LIMIT = 5000  # rows claimed per statement (a tick repeats it while rows are due)
SEND_BATCH = 50  # rows per worker task
CADENCE_DAYS = {"weekly": 7, "fortnightly": 14, "monthly": 30}
FOLLOW_UP_AFTER = timedelta(days=7)
MAX_ROUTINE_PER_DAY = 2  # TAPER.md: never more than 2 routine emails a day


# --- 1. planning ---------------------------------------------------------------------------

# Incremental planning: each active plan has a bookmark (PlanningBookmark.planned_until),
# the moment up to which its rows exist (NULL: plan it at the next tick). A tick plans only
# the plans whose rows run out within DAY_AHEAD (their next local day is coming into the
# horizon) or that a service marked (plan_needs_planning: phase, preferences, zone, steps,
# pause, a new plan). A tick with nothing to plan is two indexed queries that find nothing,
# whatever the practice size.
DAY_AHEAD = timedelta(hours=20)  # planned again once its rows reach less than this ahead
PLAN_LIMIT = 50_000  # plans per tick at most: a shared rollover spreads over a few ticks


def reminders_plan_due(*, now: datetime | None = None, limit: int | None = PLAN_LIMIT) -> int:
    """Write the upcoming slots (and booking nudges) of the plans that need planning.
    Idempotent: returns how many rows were offered (existing ones are left alone).
    `limit`: plans planned at most in this call (None: every due plan)."""
    now = now or timezone.now()
    offered = planned = 0
    while limit is None or planned < limit:
        size = PLAN_CHUNK if limit is None else min(PLAN_CHUNK, limit - planned)
        # One transaction per chunk: the chunk's bookmarks stay locked (other beats skip
        # them) until the rows and the new bookmarks are written, and a service marking
        # one of them meanwhile waits, so its mark lands after and is never overwritten.
        with transaction.atomic():
            chunk = _due_plans(now, size)
            if not chunk:
                break
            offered += _write(_plan_chunk(chunk, now))
        planned += len(chunk)
        if len(chunk) < size:
            break
    return offered


def plan_needs_planning(
    *, plan: Plan | None = None, client: Client | None = None, practice: Practice | None = None
) -> int:
    """Mark a plan (or the client's active plan, or every active plan of a practice) to be
    planned at the next tick: call it after (or in the same transaction as) any change to
    what planning reads: phase, steps, the client's times, zone, quiet hours, pause,
    subscriptions, active; and for a new plan (which gets its bookmark here).

    A client without an active plan gets their booking nudges planned at once (no plan
    carries them to the tick)."""
    marked = _mark(_active_plans(plan=plan, client=client, practice=practice))
    if not marked and client is not None:
        _insert(_booking_rows_for([client.pk], timezone.now()))
    return marked


def _active_plans(
    *, plan: Plan | None = None, client: Client | None = None, practice: Practice | None = None
):
    plans = Plan.objects.filter(ended_at=None).order_by()
    if plan is not None:
        return plans.filter(pk=plan.pk)
    if client is not None:
        return plans.filter(client=client)
    if practice is not None:
        return plans.filter(client__practice=practice)
    raise TypeError("say which plan, client or practice")


def _mark(plans) -> int:
    """NULL bookmarks for these plans, made if missing, in one statement. On PostgreSQL a
    bookmark being planned is locked: the mark waits for that chunk's commit and lands
    after it, so the plan is planned again with the change."""
    ids, params = plans.values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(_MARK_SQL.format(table=_BOOKMARKS, ids=ids), params)
        return cursor.rowcount


_BOOKMARKS = PlanningBookmark._meta.db_table
# "WHERE true": SQLite needs it to read ON CONFLICT after INSERT ... SELECT.
_MARK_SQL = """
    INSERT INTO {table} (plan_id, planned_until) SELECT id, NULL FROM ({ids}) AS marked
    WHERE true ON CONFLICT (plan_id) DO UPDATE SET planned_until = NULL
"""


# One due plan, as planning reads it (plain values: planning 100,000 plans must not build
# a million model objects): plan id, client id, ended, has sessions, the phase, the client's
# active and routine emails, then what its routine slot times depend on (zone, morning,
# evening, reset weekday, 3x days as JSON text, quiet start and end, paused until) and its
# steps' frequencies (a hashable summary: _step_summary).
DuePlan = tuple


def _due_plans(now: datetime, size: int) -> list[DuePlan]:
    """Plans marked for planning, then those whose rows run out soonest, locked (their
    bookmarks). Two range scans of the index planning_due, each stopping at `size`: never
    a scan of all plans. Plans another beat is planning are skipped, not waited for."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_DUE_SQL.format(where="b.planned_until IS NULL"), [size])
            chunk = cursor.fetchall()
            if len(chunk) < size:
                due = "b.planned_until <= %s"
                cursor.execute(_DUE_SQL.format(where=due), [now + DAY_AHEAD, size - len(chunk)])
                chunk += cursor.fetchall()
        return chunk
    return _due_plans_orm(now, size)


# The steps as one text per plan: its distinct (flare, subsiding, maintenance, heat)
# frequencies, sorted, so plans with the same steps share one value (one schedule).
_DUE_SQL = """
    SELECT b.plan_id, p.client_id, p.ended_at IS NOT NULL,
           EXISTS (SELECT FROM clients_massagesession s WHERE s.client_id = p.client_id),
           p.phase, c.active, c.routine_emails, c.time_zone, c.morning_time,
           c.evening_time, c.reset_weekday, c.three_x_days::text, c.quiet_start,
           c.quiet_end, c.paused_until,
           (SELECT string_agg(DISTINCT concat_ws(',', s.flare, s.subsiding, s.maintenance,
                                                 s.is_heat), ';')
            FROM aftercare_planstep s
            WHERE s.plan_id = b.plan_id AND NOT s.skipped AND s.paused_at IS NULL)
    FROM aftercare_planningbookmark b
    JOIN aftercare_plan p ON p.id = b.plan_id
    JOIN clients_client c ON c.id = p.client_id
    WHERE {where}
    ORDER BY b.planned_until, b.plan_id
    LIMIT %s
    FOR UPDATE OF b SKIP LOCKED
"""


def _due_plans_orm(now: datetime, size: int) -> list[DuePlan]:
    """The same as _DUE_SQL through the ORM (SQLite), the steps read in a second query."""
    due = (
        PlanningBookmark.objects.select_for_update(skip_locked=True, of=("self",))
        .annotate(sessions=Exists(MassageSession.objects.filter(client=OuterRef("plan__client"))))
        .values_list(*_DUE_VALUES)
    )
    in_index_order = ("planned_until", "plan_id")  # the index's order (NULLs last)
    found = list(due.filter(planned_until=None).order_by(*in_index_order)[:size])
    if len(found) < size:
        soonest = due.filter(planned_until__lte=now + DAY_AHEAD).order_by(*in_index_order)
        found += soonest[: size - len(found)]
    steps = _steps_by_plan([row[0] for row in found])
    chunk = []
    for row in found:
        plan = list(row)
        plan[2] = plan[2] is not None  # ended
        plan[11] = json.dumps(plan[11])  # the 3x days as _DUE_SQL reads them
        chunk.append((*plan, tuple(sorted(steps[plan[0]]))))
    return chunk


_DUE_VALUES = (
    "plan_id",
    "plan__client_id",
    "plan__ended_at",
    "sessions",
    "plan__phase",
    "plan__client__active",
    "plan__client__routine_emails",
    "plan__client__time_zone",
    "plan__client__morning_time",
    "plan__client__evening_time",
    "plan__client__reset_weekday",
    "plan__client__three_x_days",
    "plan__client__quiet_start",
    "plan__client__quiet_end",
    "plan__client__paused_until",
)


def _steps_by_plan(plan_ids: list[int]) -> dict[int, list[tuple]]:
    """Per plan, the distinct (flare, subsiding, maintenance, heat) frequencies of the
    steps in its routine (DISTINCT in the database), not every step row."""
    in_routine = PlanStep.objects.filter(plan_id__in=plan_ids, skipped=False, paused_at=None)
    summary = (
        in_routine.values_list("plan_id", "flare", "subsiding", "maintenance", "is_heat")
        .order_by()
        .distinct()
    )
    steps: dict[int, list[tuple]] = defaultdict(list)
    for plan_id, *values in summary:
        steps[plan_id].append(tuple(values))
    return steps


def _step_summary(steps: str | tuple | None) -> tuple[tuple, ...]:
    """_DUE_SQL's text ("daily,daily,3x_week,f;...") as _steps_by_plan's tuples."""
    if not isinstance(steps, str):
        return steps or ()
    summary = []
    for step in steps.split(";"):
        flare, subsiding, maintenance, heat = step.split(",")
        summary.append((flare, subsiding, maintenance, heat == "t"))
    return tuple(summary)


# PlanStep keeps one frequency column per phase: flare, subsiding, maintenance.
_PHASE_COLUMN = {Phase.FLARE: 0, Phase.SUBSIDING: 1, Phase.MAINTENANCE: 2}


def _kinds(phase: str, steps: str | tuple | None) -> frozenset[tuple[Frequency, bool]]:
    """The kinds of steps due in this phase: what the slot times depend on."""
    column = _PHASE_COLUMN[phase]
    return frozenset(
        (Frequency(values[column]), bool(values[3])) for values in _step_summary(steps)
    )


@dataclass
class ChunkPlan:
    """What planning a chunk comes to: the distinct schedules (their slots, and the
    moment they are planned up to), which plan follows which schedule, the booking
    nudges, and the plans that have ended (their bookmarks go)."""

    schedules: list[tuple[list[tuple[str, date, datetime]], datetime]] = field(default_factory=list)
    plan_ids: list[int] = field(default_factory=list)
    client_ids: list[int] = field(default_factory=list)
    schedule_of: list[int] = field(default_factory=list)  # per plan, its schedule's index
    bookings: list[Row] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)

    def schedule(self, slots: list[tuple[str, date, datetime]], until: datetime) -> int:
        self.schedules.append((slots, until))
        return len(self.schedules) - 1

    def follow(self, plan_id: int, client_id: int, schedule: int) -> None:
        self.plan_ids.append(plan_id)
        self.client_ids.append(client_id)
        self.schedule_of.append(schedule)

    def routine_rows(self) -> Iterator[Row]:
        for plan_id, client_id, index in zip(
            self.plan_ids, self.client_ids, self.schedule_of, strict=True
        ):
            for slot_key, day, due_at in self.schedules[index][0]:
                yield (client_id, plan_id, Kind.ROUTINE.value, slot_key, day, due_at)

    def offered(self) -> int:
        routine = sum(len(self.schedules[index][0]) for index in self.schedule_of)
        return routine + len(self.bookings)


def _plan_chunk(chunk: list[DuePlan], now: datetime) -> ChunkPlan:
    """The rows and new bookmarks of a chunk of plans.

    Clients who share a zone, preferences, phase and the kinds of steps due share their
    slot times, so each distinct schedule is computed once per chunk, not once per plan
    (and plans read alike are matched to it by one lookup). It is the same
    `schedule.slots_between` that Today and the preview use."""
    planned = ChunkPlan()
    # A plan with nothing to plan (on hold, client inactive or unsubscribed, bad data)
    # is looked at again after a while, not at every tick.
    planned.schedule([], now + HORIZON)
    schedules: dict[tuple, int] = {}  # per distinct schedule
    read_alike: dict[tuple, int] = {}  # per distinct phase, client settings and steps
    with_sessions = []
    for row in chunk:
        plan_id, client_id, ended, sessions = row[:4]
        if ended:
            planned.ended.append(plan_id)
            continue
        if sessions:
            with_sessions.append(client_id)
        what = row[4:]  # phase, active, routine emails, zone, preferences, steps
        index = read_alike.get(what)
        if index is None:
            index, alike = _schedule_of(planned, schedules, what, now, client_id, plan_id)
            if alike:
                read_alike[what] = index
        planned.follow(plan_id, client_id, index)
    # Booking nudges ride along: planned when the client's plan is (a new session comes
    # with a new plan; a cadence, zone or morning change marks the plan).
    if with_sessions:
        planned.bookings = _booking_rows_for(with_sessions, now)
    return planned


def _schedule_of(
    planned: ChunkPlan,
    schedules: dict[tuple, int],
    what: tuple,
    now: datetime,
    client_id: int,
    plan_id: int,
) -> tuple[int, bool]:
    """The index of this plan's schedule in the chunk (0: nothing to plan), and whether
    plans read alike share it (not when the zone falls back to the client's practice's,
    nor after an error, which is logged for each plan)."""
    phase, active, routine, zone, *preferences, steps = what
    if not active or not routine or phase == Phase.HOLD:
        return 0, True
    try:
        kinds = _kinds(phase, steps)
        key = (phase, _zone_name(zone, client_id), *preferences, kinds)
        index = schedules.get(key)
        if index is None:
            index = schedules[key] = planned.schedule(*_group_slots(key, now, client_id))
    except (ValueError, KeyError, TypeError) as error:
        # One bad row must not stop the tick (and every other client's reminders).
        log.warning("Client %s (plan %s): cannot plan reminders: %s", client_id, plan_id, error)
        return 0, False
    return index, known_zone(zone) is not None


def _write(planned: ChunkPlan) -> int:
    """Write a chunk's rows and new bookmarks; how many rows were offered.
    PostgreSQL: one statement (the rows are the plans joined with their schedule's
    slots in the database: a few values per plan are sent, not one row per slot)."""
    if planned.ended:
        PlanningBookmark.objects.filter(plan_id__in=planned.ended).delete()
    _insert(planned.bookings)
    if connection.vendor == "postgresql":
        slots = [
            (index, *slot)
            for index, (schedule_slots, _until) in enumerate(planned.schedules)
            for slot in schedule_slots
        ]
        slot_columns = [list(column) for column in zip(*slots, strict=True)] or [[]] * 4
        untils = [until for _slots, until in planned.schedules]
        with connection.cursor() as cursor:
            cursor.execute(
                _WRITE_SQL,
                [
                    _int_array(planned.plan_ids),
                    _int_array(planned.client_ids),
                    _int_array(planned.schedule_of),
                    *slot_columns,
                    timezone.now(),
                    untils,
                ],
            )
        return planned.offered()
    _insert(list(planned.routine_rows()))
    by_moment: dict[datetime, list[int]] = defaultdict(list)
    for plan_id, index in zip(planned.plan_ids, planned.schedule_of, strict=True):
        by_moment[planned.schedules[index][1]].append(plan_id)
    for moment, plan_ids in by_moment.items():  # a handful per chunk: one per zone
        PlanningBookmark.objects.filter(plan_id__in=plan_ids).update(planned_until=moment)
    return planned.offered()


def _int_array(values: list[int]) -> str:
    """Integers in PostgreSQL's array text form ("{1,2,3}"), cast in the statement: one
    join, where psycopg would dump a list element by element (~0.5 s per 100,000 plans)."""
    return "{" + ",".join(map(str, values)) + "}"


_WRITE_SQL = """
    WITH chunk AS MATERIALIZED (
        SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::int[])
            AS chunk(plan_id, client_id, schedule)
    ), slots AS (
        SELECT * FROM unnest(%s::int[], %s::text[], %s::date[], %s::timestamptz[])
            AS slots(schedule, slot_key, slot_day, due_at)
    ), written AS (
        INSERT INTO aftercare_reminder
            (client_id, plan_id, kind, slot_key, slot_day, due_at,
             status, reason, detail, attempts, interrupted, created_at)
        SELECT chunk.client_id, chunk.plan_id, 'routine', slots.slot_key, slots.slot_day,
               slots.due_at, 'pending', '', '', 0, false, %s
        FROM chunk JOIN slots USING (schedule)
        -- In the order they fall due: a claim (in that order) then rewrites a few pages
        -- of rows due together, not one row on each of thousands of pages.
        ORDER BY slots.due_at, chunk.plan_id
        ON CONFLICT DO NOTHING
    )
    UPDATE aftercare_planningbookmark AS b
    SET planned_until = (%s::timestamptz[])[chunk.schedule + 1]
    FROM chunk
    WHERE b.plan_id = chunk.plan_id
      -- The chunk's bookmarks found by their key (else PostgreSQL may read and hash
      -- every bookmark, for every chunk).
      AND b.plan_id = ANY(ARRAY(SELECT plan_id FROM chunk))
"""


def _zone_name(name: object, client_id: int) -> str:
    """A stored zone that is not a real zone falls back as Client.zone does (the
    practice's, then UTC): one query, only for such a row."""
    if known_zone(name) is not None:
        return str(name)
    client = Client.objects.select_related("practice").filter(id=client_id).first()
    if client is None:
        raise ValueError(f"client {client_id} is gone")
    return client.zone_name


def _group_slots(
    key: tuple, now: datetime, client_id: int
) -> tuple[list[tuple[str, date, datetime]], datetime]:
    """(slot key, local day, due at) of the next slots of one shared schedule, and the
    moment up to which they are planned: 36 hours ahead, but never past the end of the
    client's local tomorrow (the day after is planned when it comes into view).

    Yesterday is computed too: an evening slot moved out of quiet hours fires the next
    morning, and must not fall between two plannings."""
    phase, zone, morning, evening, reset, three_x, quiet_start, quiet_end, paused, kinds = key
    steps = [
        schedule.StepDue(key=n, name="", frequency=frequency, is_heat=is_heat)
        for n, (frequency, is_heat) in enumerate(sorted(kinds))
    ]
    until = now + HORIZON
    try:
        prefs = schedule.Preferences(
            morning=morning,
            evening=evening,
            reset_weekday=reset,
            three_x_days=tuple(json.loads(three_x)),
            quiet_start=quiet_start,
            quiet_end=quiet_end,
        )
        today = now.astimezone(ZoneInfo(zone)).date()
        until = min(until, schedule.local_to_utc(today + 2 * ONE_DAY, time(0, 0), zone))
        slots = schedule.slots_between(steps, prefs, zone, today - ONE_DAY, 3, Phase(phase))
    except (ValueError, KeyError, TypeError) as error:  # data the schedule rejects
        log.warning("Client %s (and alike): cannot plan reminders: %s", client_id, error)
        return [], now + HORIZON
    planned = [
        (schedule.slot_key(slot), slot.day, slot.utc)
        for slot in slots
        if now <= slot.utc <= until and not (paused and slot.day <= paused)
    ]
    return planned, until


def _insert(rows: list[Row]) -> None:
    """Write planned rows; ON CONFLICT DO NOTHING on the unique (client, kind, slot_key)
    makes planning twice add nothing."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Reminder.objects.bulk_create(
            [Reminder(**dict(zip(ROW_FIELDS, row, strict=True))) for row in rows],
            ignore_conflicts=True,
            batch_size=2000,
        )
        return
    # PostgreSQL: one statement per chunk, columns as arrays (no model objects at all).
    columns = [list(column) for column in zip(*rows, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, [timezone.now(), *columns])


ROW_FIELDS = ("client_id", "plan_id", "kind", "slot_key", "slot_day", "due_at")
Row = tuple[int, int | None, str, str, date, datetime]
_INSERT_SQL = """
    INSERT INTO aftercare_reminder
        (client_id, plan_id, kind, slot_key, slot_day, due_at,
         status, reason, detail, attempts, interrupted, created_at)
    SELECT c, p, k, s, d, t, 'pending', '', '', 0, false, %s
    FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::date[],
                %s::timestamptz[]) AS r(c, p, k, s, d, t)
    ON CONFLICT DO NOTHING
"""


def _booking_rows_for(client_ids: list[int], now: datetime) -> list[Row]:
    """The booking nudges of these clients (those with a cadence, a session, booking
    emails on and no plan on hold). Sessions first, by their client index: most clients
    of a chunk have none, and are not loaded at all."""
    last_sessions = dict(
        MassageSession.objects.filter(client_id__in=client_ids)
        .order_by()
        .values_list("client_id")
        .annotate(last=Max("date"))
    )
    if not last_sessions:
        return []
    clients = (
        Client.objects.filter(id__in=list(last_sessions), active=True, booking_emails=True)
        .exclude(massage_cadence=Client.Cadence.NONE)
        .exclude(Exists(_held_plans().filter(client=OuterRef("pk"))))
        .select_related("practice")
    )
    rows = []
    for client in clients:
        client.last_session = last_sessions[client.id]
        rows.extend(_booking_rows(client, now))
    return rows


def _held_plans():
    # A safety hold stops all reminders (TAPER.md), booking nudges included.
    return Plan.objects.filter(ended_at=None, phase=Phase.HOLD)


def routine_slots(plan: Plan, first_day: date, days: int) -> list[schedule.Slot]:
    """The plan's routine slots in its current phase; the one schedule everybody uses."""
    client = plan.client
    return schedule.slots_between(
        selectors.plan_steps_due(plan),
        selectors.client_preferences(client, strict=True),
        client.zone_name,
        first_day,
        days,
        Phase(plan.phase),
    )


def booking_due(client: Client, last_session: date) -> list[tuple[str, str, date, datetime]]:
    """(kind, slot_key, day, due_at) of the nudge and its one follow-up for a session."""
    day = last_session + timedelta(days=CADENCE_DAYS[client.massage_cadence])
    follow = day + FOLLOW_UP_AFTER
    return [
        (Kind.BOOKING, f"booking/{last_session}", day, _morning(client, day)),
        (Kind.BOOKING_FOLLOWUP, f"followup/{last_session}", follow, _morning(client, follow)),
    ]


def _morning(client: Client, day: date) -> datetime:
    return schedule.local_to_utc(day, client.morning_time, client.zone_name)


def _booking_rows(client: Client, now: datetime) -> list[Row]:
    try:
        due = booking_due(client, client.last_session)
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as error:
        # One bad row must not stop the tick (and every other client's nudges).
        log.warning("Client %s: cannot plan booking nudges: %r", client.id, error)
        return []
    # A nudge whose day is long past (an old session, a new install) is never sent late.
    return [
        (client.id, None, str(kind), key, day, due_at)
        for kind, key, day, due_at in due
        if due_at >= now - timedelta(days=1)
    ]


def reminders_forget_pending(*, client: Client, kinds: tuple[str, ...] = (Kind.ROUTINE,)) -> int:
    """Drop rows not yet claimed so the next tick plans them afresh (after a phase or a
    preference change: "changes apply to the next reminder").

    The plan is marked first: if a tick is planning it at this moment, the mark waits for
    that chunk to commit, so the delete then sees (and drops) the rows it just wrote from
    the old settings, and the next tick plans the new ones."""
    marked = _mark(_active_plans(client=client))
    deleted, _ = Reminder.objects.filter(
        client=client, kind__in=kinds, status=Status.PENDING
    ).delete()
    if not marked:
        _insert(_booking_rows_for([client.pk], timezone.now()))  # no plan carries them
    return deleted


def outbox_add(rows: list[Reminder], *, now: datetime | None = None) -> list[int]:
    """Emails that go now (a plan link, an alert, a digest): written as queued rows and
    handed to a worker after commit. The request that adds them never talks to the mail
    server; if the broker is down, the rows go back to pending and the next tick claims
    them. A row whose (recipient, kind, slot_key) exists already adds nothing."""
    now = now or timezone.now()
    ids = []
    for row in rows:
        row.status, row.queued_at, row.due_at = Status.QUEUED, now, row.due_at or now
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            continue  # the same email is already in the outbox
        ids.append(row.id)
    if ids:
        transaction.on_commit(lambda: hand_out(ids))
    return ids


def hand_out(ids: list[int]) -> bool:
    """Give queued ids to the workers (by task name: this module does not import tasks).
    False, with the rows pending again, when the broker refuses them."""
    from celery import current_app

    try:
        for batch in batches(ids):
            current_app.send_task(SEND_TASK, args=[batch])
    except Exception:
        log.exception("Could not hand out %s emails; they go back to pending", len(ids))
        reminders_unclaim(ids)
        return False
    return True


SEND_TASK = "aftercare.send_reminders"


# --- 2. claiming ---------------------------------------------------------------------------


def reminders_claim(*, now: datetime | None = None, limit: int = CLAIM_LIMIT) -> list[int]:
    """Move due rows pending -> queued; two ticks at once never claim the same row."""
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        return _claim_postgresql(now, limit)
    with transaction.atomic():
        ids = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, due_at__lte=now)
            .order_by("due_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            Reminder.objects.filter(id__in=ids, status=Status.PENDING).update(
                status=Status.QUEUED, queued_at=now
            )
    return ids


# One round trip: rows another tick has locked are skipped, not waited for or taken twice.
# In the (status, due_at) index's own order (rows due at the same moment in the order the
# index keeps them), so the scan stops at the LIMIT with nothing to sort; the ids as an
# array, so the rows are found by their key (with `id IN (...)` PostgreSQL chose to read
# the whole table for every batch).
_CLAIM_SQL = """
    UPDATE aftercare_reminder SET status = %s, queued_at = %s
    WHERE id = ANY(ARRAY(
        SELECT id FROM aftercare_reminder
        WHERE status = %s AND due_at <= %s
        ORDER BY due_at
        LIMIT %s
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING id
"""


def _claim_postgresql(now: datetime, limit: int) -> list[int]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, [Status.QUEUED, now, Status.PENDING, now, limit])
        return sorted(row[0] for row in cursor.fetchall())


def reminders_unclaim(ids: list[int]) -> int:
    """Queued rows whose ids never reached the broker: pending again."""
    return Reminder.objects.filter(id__in=ids, status=Status.QUEUED).update(
        status=Status.PENDING, queued_at=None
    )


def batches(ids: list[int], size: int = SEND_BATCH) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# --- 3. sweeping ---------------------------------------------------------------------------


def reminders_sweep(*, now: datetime | None = None, limit: int = CLAIM_LIMIT) -> list[int]:
    """Rows a lost broker message or a dead worker left behind, ready to hand out again.

    - queued for longer than REMINDER_REQUEUE_SECONDS: the message was lost (Redis
      flushed or restarted) or is stuck; hand it out again. A second message for a row
      is harmless: only one worker can move it to sending.
    - sending for longer than REMINDER_STUCK_SECONDS: the worker died mid-send. It is
      marked `interrupted` for the therapist and sent again (docs/reminders.md explains
      the one window where that can mean a duplicate).
    """
    now = now or timezone.now()
    queued_before = now - timedelta(seconds=settings.REMINDER_REQUEUE_SECONDS)
    sending_before = now - timedelta(seconds=settings.REMINDER_STUCK_SECONDS)
    with transaction.atomic():
        stuck = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(status=Status.SENDING, sending_at__lt=sending_before)
            .values_list("id", flat=True)[:limit]
        )
        Reminder.objects.filter(id__in=stuck, status=Status.SENDING).update(
            status=Status.QUEUED,
            queued_at=now,
            interrupted=True,
            reason="A worker stopped while sending this; sent again.",
        )
        lost = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(status=Status.QUEUED, queued_at__lt=queued_before)
            .values_list("id", flat=True)[:limit]
        )
        Reminder.objects.filter(id__in=lost, status=Status.QUEUED).update(queued_at=now)
    return stuck + lost


# --- 4. sending ----------------------------------------------------------------------------


MAX_ATTEMPTS = 8  # about 2 hours of retries (30 s, 1, 2, 4, 8, 16, 32, 60 min)
RETRY_CAP = timedelta(hours=1)


def reminder_send(reminder_id: int, *, now: datetime | None = None, mail=None) -> str:
    """Send one queued row: the batch path (reminders_send) with one id. Safe to run
    twice: only the first run finds it queued. `mail`: an email connection to share."""
    return reminders_send([reminder_id], now=now, mail=mail)[reminder_id]


def reminders_send(ids: list[int], *, now: datetime | None = None, mail=None) -> dict[int, str]:
    """Send a batch of queued rows, each by its client's channel (an email, a notification
    or a text; docs/channels.md), the emails over one SMTP conversation (`mail`; without
    one, the batch opens and closes its own). Returns each id's outcome: "sent",
    "skipped", "retry", "failed", or "not queued" (another worker has it, or it is gone).

    A fixed number of queries per batch, whatever its size (docs/reminders.md, "Sending a
    batch"): the rows are claimed queued -> sending in one UPDATE ... RETURNING, loaded
    with their client, practice, plan and steps in two queries, and what the re-checks
    read is read for the whole batch (`Facts`). Each email is marked sent by its own short
    UPDATE the moment the server accepted it: batching those writes would widen the
    duplicate window to the rest of the batch. Skips are written together at the end
    (nothing was sent for them). One row's bad data or unexpected error fails that row
    only; a "try again later" from the server puts that row back to pending, due later.
    Each row is checked at the moment it goes, and a batch slowed past FRESH_FOR reads its
    unsent rows and their facts again (`now`: a fixed moment for every row instead)."""
    pinned = now  # a caller's fixed moment; else each row is checked at the moment it goes
    outcomes = dict.fromkeys(ids, "not queued")
    lease = _claim_for_sending(ids, now or timezone.now())
    if not lease.ids:
        return outcomes
    own_connection = mail is None
    mail = mail or get_connection()
    skips: list[tuple[int, str]] = []
    todo = [reminder_id for reminder_id in outcomes if reminder_id in lease.ids]
    try:
        while todo:
            todo = _send_while_fresh(todo, lease, pinned, mail, skips, outcomes)
    finally:
        _write_skips(skips, lease)
        if own_connection:
            close_quietly(mail)
    return outcomes


# How long what a batch read (its rows, their clients and plans, the facts) stands for
# the truth. A slow mail server can stretch a batch to minutes: past this, the rows not
# sent yet are read again, so a tick, a hold, quiet hours or another batch's emails
# count as they did when each row was read just before its send. A quick batch never
# reaches it (its query count stays fixed).
FRESH_FOR = timedelta(seconds=2)


def _send_while_fresh(
    todo: list[int], lease: _Lease, pinned, mail, skips: list, outcomes: dict[int, str]
) -> list[int]:
    """Send the rows of `todo` until what was read about them is older than FRESH_FOR;
    the ids not looked at yet (read again by the caller)."""
    done: set[int] = set()
    for rows, facts in _load_batches(todo, outcomes):
        read_at = timezone.now()
        for reminder in rows:
            now = pinned or timezone.now()
            if done and pinned is None and now - read_at > FRESH_FOR:
                return [i for i in todo if i not in done and outcomes[i] == "not queued"]
            done.add(reminder.id)
            if not lease.holds(reminder.id):
                continue  # the sweep took it from a batch that ran too long
            outcomes[reminder.id] = _send_guarded(reminder, now, mail, facts, skips)
    return []


class _Lease:
    """The rows a batch holds "sending", stamped with the claim's `sending_at`. The sweep
    takes a row that has been sending for REMINDER_STUCK_SECONDS for a dead worker's, so
    a batch still working renews its stamp (one UPDATE) once a tenth of that has gone
    by: a slow mail server never makes a live batch's rows look abandoned. A row the
    sweep took anyway (its stamp is no longer ours) is left to whoever has it now."""

    def __init__(self, ids: list[int], since: datetime) -> None:
        self.ids, self.since, self.renewed = set(ids), since, monotonic()

    def holds(self, reminder_id: int) -> bool:
        if monotonic() - self.renewed > settings.REMINDER_STUCK_SECONDS / 10:
            self._renew()
        return reminder_id in self.ids

    def _renew(self) -> None:
        now = timezone.now()
        ours = Reminder.objects.filter(id__in=self.ids, status=Status.SENDING)
        ours.filter(sending_at=self.since).update(sending_at=now)
        self.ids = set(ours.filter(sending_at=now).values_list("id", flat=True))
        self.since, self.renewed = now, monotonic()


# Queued -> sending for the whole batch in one statement: of any number of workers handed
# the same ids, each row goes to one.
_CLAIM_FOR_SENDING_SQL = """
    UPDATE aftercare_reminder SET status = %s, sending_at = %s, attempts = attempts + 1
    WHERE status = %s AND id IN ({ids})
    RETURNING id
"""


def _claim_for_sending(ids: list[int], now: datetime) -> _Lease:
    if not ids:
        return _Lease([], now)
    sql = _CLAIM_FOR_SENDING_SQL.format(ids=", ".join(["%s"] * len(ids)))
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [Status.SENDING, stamp, Status.QUEUED, *ids])
        return _Lease([row[0] for row in cursor.fetchall()], now)


@dataclass
class Facts:
    """What the send-time re-checks read, for a whole batch at once: one query each, and
    only for the kinds of rows in the batch that need it."""

    ticked: dict[tuple[int, date, str], set[int]]  # (plan, day, slot name) -> steps ticked
    routine_sent: dict[tuple[int, date], int]  # (client, day) -> routine rows sent
    held: set[int]  # clients with a plan on hold
    last_session: dict[int, date]  # client -> their latest massage session
    # client -> phones with notifications on (absent: not read, or stale after a push)
    push_devices: dict[int, int]
    slots: dict[int, schedule.Slot | None]  # reminder -> its slot, computed once

    def slot(self, reminder: Reminder) -> schedule.Slot | None:
        """The routine slot a row stands for, as the schedule sees it now (once a row)."""
        if reminder.id not in self.slots:
            self.slots[reminder.id] = slot_of(reminder)
        return self.slots[reminder.id]

    def sent_one(self, reminder: Reminder) -> None:
        """A routine row just went: it counts toward the day's two for the rows after it."""
        if reminder.kind == Kind.ROUTINE:
            key = (reminder.client_id, reminder.slot_day)
            self.routine_sent[key] = self.routine_sent.get(key, 0) + 1


def facts_for(rows: list[Reminder]) -> Facts:
    """Read the batch's facts; hangs each routine row's last check-in on its plan
    (`plan.last_checkin_at`, read by the email and the notification's wording)."""
    routine = [r for r in rows if r.kind == Kind.ROUTINE and r.plan and r.client]
    booking = [r for r in rows if r.kind in _BOOKING_KINDS and r.client]
    push = [
        r.client_id
        for r in rows
        if r.client and r.kind in _CLIENT_KINDS and r.client.reminder_channel == channels.PUSH
    ]
    facts = Facts({}, {}, set(), {}, {}, {})
    if routine:
        plan_ids = {r.plan_id for r in routine}
        days = {r.slot_day for r in routine}
        ticks = Completion.objects.filter(step__plan_id__in=plan_ids, day__in=days)
        for plan_id, day, slot, step_id in ticks.values_list(
            "step__plan_id", "day", "slot", "step_id"
        ):
            facts.ticked.setdefault((plan_id, day, slot), set()).add(step_id)
        sent = Reminder.objects.filter(
            client_id__in={r.client_id for r in routine},
            kind=Kind.ROUTINE,
            slot_day__in=days,
            status=Status.SENT,
        )
        facts.routine_sent = {
            (client_id, day): count
            for client_id, day, count in sent.values_list("client_id", "slot_day")
            .order_by()
            .annotate(count=Count("id"))
        }
        last_checkins = dict(
            SymptomLog.objects.filter(plan_id__in=plan_ids)
            .values_list("plan_id")
            .order_by()
            .annotate(last=Max("at"))
        )
        for reminder in routine:
            reminder.plan.last_checkin_at = last_checkins.get(reminder.plan_id)
    if booking:
        client_ids = {r.client_id for r in booking}
        facts.held = set(
            _held_plans().filter(client_id__in=client_ids).values_list("client_id", flat=True)
        )
        facts.last_session = dict(
            MassageSession.objects.filter(client_id__in=client_ids)
            .values_list("client_id")
            .order_by()
            .annotate(last=Max("date"))
        )
    if push:
        counted = dict(
            PushSubscription.objects.filter(client_id__in=push)
            .values_list("client_id")
            .order_by()
            .annotate(count=Count("id"))
        )
        facts.push_devices = {client_id: counted.get(client_id, 0) for client_id in push}
    return facts


_BOOKING_KINDS = frozenset({Kind.BOOKING, Kind.BOOKING_FOLLOWUP})
_CLIENT_KINDS = frozenset({Kind.ROUTINE, *_BOOKING_KINDS})


def _load_rows(ids: list[int]) -> list[Reminder]:
    steps = PlanStep.objects.order_by("order", "id")
    rows = list(
        Reminder.objects.filter(id__in=ids)
        .select_related(
            "client__practice", "client__user", "plan", "therapist__user", "therapist__practice"
        )
        .prefetch_related(Prefetch("plan__steps", queryset=steps))
    )
    for reminder in rows:
        if reminder.plan is not None and reminder.client is not None:
            reminder.plan.client = reminder.client  # the re-checks and the email share one load
    order = {reminder_id: n for n, reminder_id in enumerate(ids)}
    return sorted(rows, key=lambda reminder: order[reminder.id])


def _load_batches(ids: list[int], outcomes: dict[int, str]) -> Iterator[tuple[list, Facts]]:
    """The claimed rows with their facts: all together, or, if that fails (a row the
    database or the ORM cannot read), one by one, so the bad row fails alone."""
    try:
        rows = _load_rows(ids)
        facts = facts_for(rows)
    except Exception:
        log.exception("A batch of %s reminders could not be read together; one by one", len(ids))
    else:
        yield rows, facts
        return
    for reminder_id in ids:
        try:
            rows = _load_rows([reminder_id])
            facts = facts_for(rows)
        except Exception as error:
            log.exception("Reminder %s could not be read", reminder_id)
            reminders_give_up_sending(reminder_id, error)
            outcomes[reminder_id] = "failed"
            continue
        yield rows, facts


def _send_guarded(reminder: Reminder, now: datetime, mail, facts: Facts, skips: list) -> str:
    try:
        return _send_row(reminder, now, mail, facts, skips)
    except Exception as error:
        # A bug must not hold up the rest of the batch, nor leave this row "sending" for
        # the sweep to re-send as interrupted.
        log.exception("Reminder %s could not be sent", reminder.id)
        reminders_give_up_sending(reminder.id, error)
        return "failed"


def _send_row(reminder: Reminder, now: datetime, mail, facts: Facts, skips: list) -> str:
    try:
        reason = why_skip(reminder, now, facts)
    except (ValueError, KeyError, TypeError) as error:
        return _fail_bad_data(reminder, error)
    if reason:
        skips.append((reminder.id, reason))
        return "skipped"
    try:
        slot = facts.slot(reminder) if reminder.kind == Kind.ROUTINE else None
        devices = facts.push_devices.get(reminder.client_id)
        delivery = channels.delivery_for(reminder, push_devices=devices)
    except Exception as error:
        log.exception("Reminder %s: the channel could not be chosen", reminder.id)
        return _fail_bad_data(reminder, error)
    # One slot reaches the person once: the chosen channel, else the next in the order
    # (email last). Every rule above has run already, whichever channel goes.
    notes = [delivery.note] if delivery.note else []
    for channel in delivery.order:
        if channel == channels.EMAIL:
            outcome = _send_email(reminder, now, slot, mail, _note(notes, channel, delivery))
            if outcome == "sent":
                facts.sent_one(reminder)
            return outcome
        if channel == channels.PUSH:
            # A 410 deletes the phone: the client's next row counts their phones again.
            facts.push_devices.pop(reminder.client_id, None)
        try:
            extra = channels.SENDERS[channel](reminder, now=now, slot=slot)
        except channels.Failed as error:
            label = channels.LABELS[channel]
            if error.transient and reminder.attempts < MAX_ATTEMPTS:
                return _retry_later(
                    reminder, now, error, channel=channel, note=f"{label}: will retry."
                )
            notes.append(f"{label} failed: {error}.")
            log.info(
                "Reminder %s: %s failed (%s), trying the next way", reminder.id, channel, error
            )
            continue
        _mark_sent(reminder, channel, _note([*notes, extra] if extra else notes, channel, delivery))
        facts.sent_one(reminder)
        return "sent"
    raise AssertionError("every delivery order ends with email")


def _note(notes: list[str], used: str, delivery) -> str:
    """What the therapist reads next to the row: what failed, and what went instead."""
    if not notes:
        return ""
    fell_back = used != delivery.order[0]
    tail = f" Sent by {channels.LABELS[used].lower()} instead." if fell_back else ""
    return (" ".join(notes) + tail)[:300]


def _send_email(reminder: Reminder, now: datetime, slot, mail, note: str) -> str:
    # The connection is closed only after the row is marked sent, so the window in
    # which a crash can cause a duplicate (the server said 250, the row is not yet
    # "sent") excludes the QUIT round trip (docs/reminders.md).
    sent_by = {"channel": channels.EMAIL, "channel_note": note}
    try:
        message = emails.outbox_message(reminder, now=now, slot=slot)
    except Exception as error:
        # Our data, not the mail server: say so, and go on with the rest of the batch.
        log.exception("Email %s could not be written", reminder.id)
        return _fail_bad_data(reminder, error)
    try:
        message.connection = mail
        mail.open()
        message.send()
    except Exception as error:
        close_quietly(mail)  # a failed conversation: the next send starts a fresh one
        if is_transient(error):
            return _retry_later(reminder, now, error, note=note)
        _finish(
            reminder,
            Status.FAILED,
            f"The mail server refused it: {_describe(error)}",
            **sent_by,
        )
        log.warning("Email %s failed for good: %s", reminder.id, error)
        return "failed"
    _mark_sent(reminder, channels.EMAIL, note)
    return "sent"


# The one write per email, right after the server accepted it (or the notification or
# text went): as plain SQL, since it sits inside the duplicate window (docs/reminders.md).
_SENT_SQL = """
    UPDATE aftercare_reminder
    SET status = %s, reason = '', sent_at = %s, channel = %s, channel_note = %s
    WHERE id = %s AND status = %s
"""


def _mark_sent(reminder: Reminder, channel: str, note: str) -> None:
    sent_at = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            _SENT_SQL, [Status.SENT, sent_at, channel, note[:300], reminder.id, Status.SENDING]
        )


_SKIPS_SQL = """
    UPDATE aftercare_reminder AS r SET status = %s, reason = v.reason
    FROM unnest(%s::bigint[], %s::text[]) AS v(id, reason)
    WHERE r.id = v.id AND r.status = %s AND r.sending_at = %s
"""


def _write_skips(skips: list[tuple[int, str]], lease: _Lease) -> None:
    """The batch's skipped rows with their reasons: one statement on PostgreSQL (one per
    distinct reason elsewhere). Only rows still ours: the lease's stamp."""
    skips = [(reminder_id, reason[:300]) for reminder_id, reason in skips]
    if not skips:
        return
    if connection.vendor == "postgresql":
        ids, reasons = (list(column) for column in zip(*skips, strict=True))
        with connection.cursor() as cursor:
            cursor.execute(_SKIPS_SQL, [Status.SKIPPED, ids, reasons, Status.SENDING, lease.since])
        return
    by_reason: dict[str, list[int]] = defaultdict(list)
    for reminder_id, reason in skips:
        by_reason[reason].append(reminder_id)
    for reason, ids in by_reason.items():
        Reminder.objects.filter(id__in=ids, status=Status.SENDING, sending_at=lease.since).update(
            status=Status.SKIPPED, reason=reason
        )


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, doubling, at most an hour (a few seconds in tests)."""
    base = timedelta(seconds=settings.REMINDER_RETRY_BASE_SECONDS)
    return min(base * 2 ** max(attempts - 1, 0), RETRY_CAP)


def _retry_later(
    reminder: Reminder,
    now: datetime,
    error: Exception,
    *,
    channel: str = channels.EMAIL,
    note: str = "",
) -> str:
    sent_by = {"channel": channel, "channel_note": note[:300]}
    if reminder.attempts >= MAX_ATTEMPTS:
        _finish(
            reminder,
            Status.FAILED,
            f"Gave up after {reminder.attempts} tries: {_describe(error)}",
            **sent_by,
        )
        log.warning("Email %s: gave up after %s tries: %s", reminder.id, reminder.attempts, error)
        return "failed"
    Reminder.objects.filter(id=reminder.id, status=Status.SENDING).update(
        status=Status.PENDING,
        queued_at=None,
        due_at=now + retry_delay(reminder.attempts),
        reason=f"Will retry: {_describe(error)}"[:300],
        **sent_by,
    )
    return "retry"


def _fail_bad_data(reminder: Reminder, error: Exception) -> str:
    """A row that the client's stored data keeps from being checked or written: failed,
    with the data problem in the therapist's words (never "the mail server refused it")."""
    problems = (
        data_problems.client_problems(reminder.client, reminder.plan) if reminder.client else []
    )
    detail = "; ".join(problems) if problems else _describe(error)
    log.warning(
        "Client %s: reminder %s not sent, bad data: %s", reminder.client_id, reminder.id, detail
    )
    _finish(reminder, Status.FAILED, f"Not sent: a problem with the client's data: {detail}")
    return "failed"


def close_quietly(connection) -> None:
    # The message was accepted or refused already: a failing QUIT changes nothing.
    try:
        connection.close()
    except Exception as error:
        log.info("Closing the mail connection failed: %s", error)


def reminders_give_up_sending(reminder_id: int, error: Exception) -> int:
    """An unexpected error while sending: the row is marked failed, visibly, not left
    "sending" (nor sent again later as if a worker had died)."""
    return Reminder.objects.filter(id=reminder_id, status=Status.SENDING).update(
        status=Status.FAILED, reason=f"Could not be sent: {_describe(error)}"[:300]
    )


def _finish(reminder: Reminder, status: str, reason: str, **extra) -> None:
    Reminder.objects.filter(id=reminder.id, status=Status.SENDING).update(
        status=status, reason=reason[:300], **extra
    )


def is_transient(error: Exception) -> bool:
    """4xx answers, dropped connections and timeouts are worth another try; 5xx is final.
    A refused login (535) is our configuration, not the reminder's fault: retry it, so
    fixing the password in time still delivers what was due."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    return isinstance(
        error, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError | socket.timeout | OSError
    )


def _describe(error: Exception) -> str:
    if isinstance(error, channels.Failed):
        return str(error)  # already in the therapist's words
    if isinstance(error, smtplib.SMTPRecipientsRefused) and error.recipients:
        # {address: (550, b"5.1.1 <address>: mailbox unavailable")}: the server's words.
        return "; ".join(
            f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
            for code, text in error.recipients.values()
        )
    if isinstance(error, smtplib.SMTPResponseException):
        message = error.smtp_error
        text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
        return f"{error.smtp_code} {text}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def why_skip(reminder: Reminder, now: datetime, facts: Facts | None = None) -> str:
    """Re-check a row just before sending; the reason it is not needed, or "".
    `facts`: what the checks read, for the row's whole batch (read here if not given)."""
    if reminder.kind == Kind.ALERT:
        return ""  # the therapist hears of it even if the plan moved on meanwhile
    if reminder.kind == Kind.DIGEST:
        return _why_skip_digest(reminder)
    client = reminder.client
    if not client.active:
        return "The client is no longer active."
    if reminder.kind == Kind.LINK:
        return ""  # asked for just now: pauses and unsubscribes don't stop a link
    facts = facts or facts_for([reminder])
    local_now = now.astimezone(client.zone)
    if client.is_paused(local_now.date()):
        return f"Reminders paused until {client.paused_until:%d %b}."
    if reminder.kind == Kind.ROUTINE:
        return _why_skip_routine(reminder, client, now, local_now, facts)
    return _why_skip_booking(reminder, client, facts)


def _why_skip_routine(
    reminder: Reminder, client: Client, now: datetime, local_now, facts: Facts
) -> str:
    plan = reminder.plan
    if plan is None or plan.ended_at is not None:
        return "The plan has ended."
    if plan.phase == Phase.HOLD:
        return "The plan is on hold: only the therapist can resume it."
    if not client.routine_emails:
        return "The client unsubscribed from routine reminders."
    # Lateness counts from the slot, not the row's due time (a retry moves that on).
    if now - reminder.due_at > LATE_LIMIT and reminder.attempts <= 1:
        return "Too late: the slot had passed when a worker got to it."
    prefs = selectors.client_preferences(client, strict=True)
    if schedule.in_quiet_hours(local_now.time(), prefs):
        return "Quiet hours."
    slot = facts.slot(reminder)
    if slot is None:
        return "The schedule changed (phase or preferences): no routine in this slot now."
    if now - slot.utc > LATE_LIMIT:
        return "Too late: the slot had passed when a worker got to it."
    if _slot_done(plan, slot, facts):
        return "Already done: every step of this slot was ticked."
    sent = facts.routine_sent.get((client.id, reminder.slot_day), 0)
    if sent >= MAX_ROUTINE_PER_DAY:
        return "Two routine reminders (by any channel) were already sent that day."
    return ""


def _why_skip_digest(reminder: Reminder) -> str:
    therapist = reminder.therapist
    if therapist is None:
        return "The therapist no longer exists."
    if not therapist.digest_emails:
        return "The therapist turned the morning digest off."
    # One digest per therapist a day: this query per row costs nothing worth batching.
    if not selectors.digest_plans(therapist).exists():
        return "Nobody at soon or watch any more."
    return ""


def _why_skip_booking(reminder: Reminder, client: Client, facts: Facts) -> str:
    if not client.booking_emails:
        return "The client unsubscribed from booking nudges."
    if client.massage_cadence == Client.Cadence.NONE:
        return "The client has no regular massage cadence."
    if client.id in facts.held:
        return "The plan is on hold: only the therapist can resume it."
    counted_from = date.fromisoformat(reminder.slot_key.split("/", 1)[1])
    last_session = facts.last_session.get(client.id)
    if last_session is not None and last_session > counted_from:
        return "A newer session was recorded."
    return ""


def _current_slot(reminder: Reminder, plan: Plan) -> schedule.Slot | None:
    for slot in routine_slots(plan, reminder.slot_day, 1):
        if schedule.slot_key(slot) == reminder.slot_key:
            return slot
    return None


def _slot_done(plan: Plan, slot: schedule.Slot, facts: Facts) -> bool:
    needed = {step.key for step in slot.steps if not step.is_heat}
    return needed <= facts.ticked.get((plan.id, slot.day, str(slot.name)), set())


def slot_of(reminder: Reminder) -> schedule.Slot | None:
    """The routine slot a reminder stands for, as the schedule sees it now."""
    return _current_slot(reminder, reminder.plan) if reminder.plan else None


# --- preview (therapist page and `manage.py reminders_preview`) -------------------------------


@dataclass(frozen=True)
class Upcoming:
    local: datetime
    kind: str
    steps: tuple[str, ...]


def reminders_preview(
    client: Client, *, days: int = 14, now: datetime | None = None
) -> list[Upcoming]:
    """What the client will be sent in the next `days` days, in their local time."""
    now = now or timezone.now()
    zone = client.zone
    today = now.astimezone(zone).date()
    upcoming: list[Upcoming] = []
    plan = selectors.client_active_plan(client)
    if plan is not None and plan.phase != Phase.HOLD and client.routine_emails:
        for slot in routine_slots(plan, today, days):
            if slot.utc >= now and not client.is_paused(slot.day):
                names = tuple(step.name for step in slot.steps)
                upcoming.append(Upcoming(slot.utc.astimezone(zone), Kind.ROUTINE.label, names))
    last_session = client.sessions.aggregate(last=Max("date"))["last"]
    held = plan is not None and plan.phase == Phase.HOLD
    if (
        last_session
        and not held
        and client.booking_emails
        and client.massage_cadence != Client.Cadence.NONE
    ):
        for kind, _key, _day, due_at in booking_due(client, last_session):
            if now <= due_at <= now + timedelta(days=days):
                upcoming.append(Upcoming(due_at.astimezone(zone), Kind(kind).label, ()))
    return sorted(upcoming, key=lambda item: item.local)


def heartbeat(name: str = "tick") -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"at": timezone.now()})
