"""Reads that are more than one line: what a page or an email needs, in few queries."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connection
from django.db.models import (
    DateField,
    DateTimeField,
    F,
    FilteredRelation,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    prefetch_related_objects,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from aftercare.models import Alert, Completion, Plan, PlanStep, SymptomLog
from aftercare.rules import progress, schedule, taper
from aftercare.rules.attention import Level
from aftercare.rules.phases import Phase
from clients.models import Client, Practice, Therapist


def client_active_plan(client: Client, *, ticks_on: date | None = None) -> Plan | None:
    """The active plan and its steps (2 queries). The client's practice comes along in
    the plan's query, so a page that shows it (every client page does) needs no third.

    With `ticks_on` (a page that shows one day: Today, the guided routine) each step
    also carries that day's tick times, one subquery per slot in the steps' query, so
    the first plan_day for that day needs no query of its own."""
    steps = PlanStep.objects.order_by("order", "id")
    if ticks_on is not None:
        steps = steps.annotate(**_tick_columns(ticks_on))
    loaded = client.__dict__.pop("_active_plan", None)  # used once: a later call re-reads
    if loaded is not None:
        prefetch_related_objects([loaded], Prefetch("steps", queryset=steps))
        plan = loaded
    else:
        plan = (
            Plan.objects.filter(client=client, ended_at=None)
            .select_related("client__practice")
            .prefetch_related(Prefetch("steps", queryset=steps))
            .first()
        )
        if plan is None:
            return None
        client.practice = plan.client.practice
        plan.client = client
    if ticks_on is not None:
        plan.__dict__["_ticks_on"] = ticks_on
    return plan


# Correlated subqueries on the outer query's own table (aftercare_planstep, aftercare_plan).
TICKED_SQL = (
    "SELECT done_at FROM aftercare_completion "
    "WHERE step_id = aftercare_planstep.id AND day = %s AND slot = %s"
)
NEWEST_SESSION_SQL = (
    "SELECT MAX(date) FROM clients_massagesession WHERE client_id = aftercare_plan.client_id"
)


def _tick_columns(day: date) -> dict[str, RawSQL]:
    """When each step was ticked for each slot of `day` (NULL: not ticked); one row at
    most per (step, day, slot), by the constraint one_completion_per_slot. Plain SQL: the
    same subquery as an ORM Subquery cost ~1 ms of Python a page to compile."""
    return {
        f"ticked_{slot}": RawSQL(  # noqa: S611 (constant SQL, the values bound)
            TICKED_SQL, (day, str(slot)), output_field=DateTimeField()
        )
        for slot in schedule.SlotName
    }


def _loaded_ticks(plan: Plan, day: date) -> list[tuple[int, str, datetime]] | None:
    """The ticks client_active_plan(ticks_on=day) loaded with the steps, once: a second
    plan_day in the same request (after a tick is written) reads them afresh."""
    if plan.__dict__.pop("_ticks_on", None) != day:
        return None
    return [
        (step.id, str(slot), at)
        for step in plan.steps.all()
        for slot in schedule.SlotName
        if (at := getattr(step, f"ticked_{slot}")) is not None
    ]


def client_last_session(client: Client) -> date | None:
    """The day of the client's newest massage session (None: none yet): loaded by the
    client pages' access check with the plan (`last_session_day`), else one query."""
    if "_last_session" in client.__dict__:
        return client.__dict__["_last_session"]
    return client.sessions.aggregate(last=Max("date"))["last"]


def newest_session_day() -> RawSQL:
    """The newest session's day of the plan's client, as a column of a Plan query (plain
    SQL, like _tick_columns: cheaper to compile than a Subquery)."""
    return RawSQL(NEWEST_SESSION_SQL, (), output_field=DateField())  # noqa: S611 (constant)


def active_plan_loaded(client: Client, plan: Plan) -> None:
    """Hand client_active_plan a plan loaded with its client and practice already (the
    client pages' access check does), so it only adds the steps. Used once."""
    plan.client = client
    client.__dict__["_active_plan"] = plan
    if hasattr(plan, "last_session_day"):
        client.__dict__["_last_session"] = plan.last_session_day


def plan_state(plan: Plan) -> taper.PlanState:
    # The taper compares phase_since's date with the client's local log dates, so it
    # needs the client's wall clock, not UTC (a flare begun at 8 pm in New York is that
    # day's flare).
    zone = plan.client.zone
    return taper.PlanState(
        phase=Phase(plan.phase),
        phase_since=plan.phase_since.astimezone(zone),
        started=plan.started_at.astimezone(zone),
        pinned=plan.phase_pinned,
        maintenance_days=plan.maintenance_days,
    )


def log_entry(log: SymptomLog) -> taper.LogEntry:
    """A stored check-in as the rules read it. Tolerant: a value written behind the forms'
    back (SQL, an import) is read as the nearest safe answer, so one bad old row never
    stops the next check-in (an emergency included) or the tick; the client's page names
    the bad value (data_problems)."""
    pain_now, worst = _pain_or_zero(log.pain_now), _pain_or_zero(log.worst_pain)
    safety = _answer(taper.Safety, log.safety, None)
    if safety is None:  # unreadable: a warning-sign check-in has no pain answers
        no_pain = log.pain_now is None and log.worst_pain is None
        safety = taper.Safety.DOCTOR if no_pain else taper.Safety.NONE
    steps = log.worse_steps if isinstance(log.worse_steps, list) else []
    return taper.LogEntry(
        at=log.at,
        day=log.day,
        pain_now=pain_now,
        worst_pain=worst,
        compared=_answer(taper.Compared, log.compared, taper.Compared.SAME),
        safety=safety,
        flare_tap=bool(log.flare_tap),
        gone_tap=bool(log.gone_tap),
        worse_step_keys=tuple(key for key in steps if isinstance(key, int)),
        worse_by=max(0, min(log.worse_by or 0, 10)),
        legs=_answer(taper.Legs, log.legs, taper.Legs.NONE),
        woken=log.sleep == SymptomLog.Sleep.WOKEN,
    )


def _pain_or_zero(value) -> int:
    return max(0, min(int(value or 0), 10))


def _answer(enum, value, default):
    try:
        return enum(value) if value else default
    except ValueError:
        return default


log = logging.getLogger(__name__)


def client_preferences(client: Client, *, strict: bool = False) -> schedule.Preferences:
    """The client's routine times and days as the schedule takes them.

    Stored values the schedule refuses (written by SQL or an import: evening before
    morning, a weekday 9, three_x_days that is not three weekdays) raise ValueError when
    `strict` (the reminder planner and sender: no email at a guessed time); otherwise
    the defaults stand in, with a warning in the log, so the client's pages still show
    the routine. The therapist's page lists the problem (aftercare.data_problems)."""
    try:
        return schedule.Preferences(
            morning=client.morning_time,
            evening=client.evening_time,
            reset_weekday=client.reset_weekday,
            three_x_days=tuple(client.three_x_days),
            quiet_start=client.quiet_start,
            quiet_end=client.quiet_end,
        )
    except (ValueError, TypeError) as error:  # TypeError: e.g. three_x_days = "mon"
        if strict:
            raise ValueError(f"The reminder settings are not usable: {error}") from error
        log.warning(
            "Client %s: reminder settings not usable (%s); using defaults", client.pk, error
        )
        return schedule.Preferences()


def plan_steps_due(plan: Plan) -> list[schedule.StepDue]:
    """The plan's steps as the schedule sees them in the plan's current phase."""
    return [
        schedule.StepDue(
            key=step.id,
            name=step.name,
            frequency=step.frequency_in(plan.phase),
            is_heat=step.is_heat,
        )
        for step in plan.steps.all()
        if step.in_routine
    ]


@dataclass
class SlotView:
    slot: schedule.Slot
    steps: list[PlanStep]
    done: set[int] = field(default_factory=set)
    done_at: dict[int, datetime] = field(default_factory=dict)  # when each tick was made

    @property
    def all_done(self) -> bool:
        return all(step.id in self.done for step in self.steps if not step.is_heat)

    @property
    def entries(self) -> list[tuple[PlanStep, bool]]:
        return [(step, step.id in self.done) for step in self.steps]

    @property
    def name(self) -> str:
        return str(self.slot.name)


@dataclass
class TodayView:
    plan: Plan
    day: date
    slots: list[SlotView]
    next_slot: schedule.Slot | None


def plan_day(plan: Plan, client: Client, day: date) -> TodayView:
    """The slots of one local day with the steps due and which are done (1 query; none
    when client_active_plan loaded that day's ticks with the steps)."""
    steps_by_id = {step.id: step for step in plan.steps.all()}
    due = plan_steps_due(plan)
    prefs = client_preferences(client)
    phase = Phase(plan.phase)
    slots = schedule.slots_for_day(due, prefs, client.zone_name, day, phase)
    done: dict[str, set[int]] = {}
    done_at: dict[str, dict[int, datetime]] = {}
    ticks = _loaded_ticks(plan, day)
    if ticks is None:
        ticks = Completion.objects.filter(step__plan=plan, day=day).values_list(
            "step_id", "slot", "done_at"
        )
    for step_id, slot_name, at in ticks:
        done.setdefault(slot_name, set()).add(step_id)
        done_at.setdefault(slot_name, {})[step_id] = at
    views = [
        SlotView(
            slot=slot,
            steps=[steps_by_id[s.key] for s in slot.steps],
            done=done.get(str(slot.name), set()),
            done_at=done_at.get(str(slot.name), {}),
        )
        for slot in slots
    ]
    next_slot = None
    if not slots and phase != Phase.HOLD:
        upcoming = schedule.slots_between(
            due, prefs, client.zone_name, day + schedule.ONE_DAY, 14, phase
        )
        next_slot = upcoming[0] if upcoming else None
    return TodayView(plan=plan, day=day, slots=views, next_slot=next_slot)


@dataclass
class DashboardRow:
    client: Client
    plan_id: int | None
    phase: str | None
    pinned: bool
    level: Level
    reason: str
    last_worst: int | None
    last_at: datetime | None
    trend: str  # "up", "down", "same" or ""

    @property
    def phase_label(self) -> str:
        return Phase(self.phase).label if self.phase else ""

    @property
    def attention(self) -> int:
        return int(self.level)

    @classmethod
    def of(
        cls, client, plan_id, phase, pinned, level, reason, last, last_at, before
    ) -> DashboardRow:
        """`last` and `before`: the worst pain of the last check-in and of the one before."""
        trend = ""
        if last is not None and before is not None:
            trend = "up" if last > before else "down" if last < before else "same"
        return cls(
            client=client,
            plan_id=plan_id,
            phase=phase,
            pinned=bool(pinned),
            level=Level(level) if level in Level._value2member_map_ else Level.CALM,
            reason=reason or "",
            last_worst=last,
            last_at=last_at,
            trend=trend,
        )


def practice_clients(practice: Practice, query: str, needs_me: bool = False):
    """The practice's clients matching a search, with what a dashboard row shows, in the
    dashboard's order: active first, then attention level, then the newest trigger, then
    name (never name ahead of need). One query; the caller slices a page, so only a page
    is loaded, but a search reads every client of the practice (a substring of a name
    or an email has no index). Without a search the dashboard reads `Everyone`."""
    logs = SymptomLog.objects.filter(
        plan__client=OuterRef("pk"), worst_pain__isnull=False
    ).order_by("-at")
    # The active plan as one LEFT JOIN (one_active_plan: at most one row per client), not
    # a subquery per column per client. The log columns stay subqueries: PostgreSQL
    # computes them after the sort and the LIMIT, for the page's rows only.
    clients = Client.objects.filter(practice=practice).annotate(
        active_plan=FilteredRelation("plans", condition=Q(plans__ended_at=None)),
        plan_id=F("active_plan__id"),
        plan_phase=F("active_plan__phase"),
        plan_pinned=F("active_plan__phase_pinned"),
        level=Coalesce(F("active_plan__attention_level"), Value(0)),
        level_at=F("active_plan__attention_at"),
        level_reason=F("active_plan__attention_reason"),
        last_worst=Subquery(logs.values("worst_pain")[:1]),
        last_at=Subquery(logs.values("at")[:1]),
        before_worst=Subquery(logs.values("worst_pain")[1:2]),
    )
    if query:
        clients = clients.filter(Q(name__icontains=query) | Q(email__icontains=query))
    if needs_me:
        clients = clients.filter(active=True, level__gt=Level.CALM)
    ordered = clients.order_by(
        "-active", "-level", F("level_at").desc(nulls_last=True), Lower("name"), "id"
    )
    if not needs_me:
        # The paginator's count: the same clients without the plan join (a LEFT JOIN on
        # a unique active plan adds no rows).
        plain = Client.objects.filter(practice=practice)
        if query:
            plain = plain.filter(Q(name__icontains=query) | Q(email__icontains=query))
        ordered.count = plain.count
    return ordered


@dataclass(frozen=True, slots=True)
class RowClient:
    """What a dashboard row shows of the client itself."""

    id: int
    public_id: uuid.UUID
    name: str
    email: str
    active: bool


class Everyone:
    """The practice's clients in the dashboard's order (the same as `practice_clients`),
    for the paginator: each page is one query whose cost does not grow with the practice.

    The order falls into three runs, each read in its own index's order and cut to the
    page inside the run (LIMIT, OFFSET), then joined (UNION ALL):
    1. active clients above calm, from the partial plan index `plan_needs_attention`
       (as many as the therapist has work): level, newest trigger, name, id;
    2. calm active clients (a calm plan has no trigger time), by name and id, straight
       from the index `client_dashboard_order` (practice, active, lower(name), id);
    3. inactive clients, in the full order (few: only Django admin makes them).
    The check-in columns are computed for the page's rows only, outside the runs (an
    OFFSET would compute them for every row it skips). The runs' lengths come from the
    caller: `needs` counted live, `clients` and `active` maybe from the cache
    (aftercare.practice_counts). A deep page reads the index entries before it: page
    500 of 50,000 clients reads 25,000 (~0.1 s); a search is the quicker way there.
    Hand-written SQL (portable: PostgreSQL and SQLite): the ORM's union() refuses a LIMIT
    inside its parts on SQLite, and compiling the ORM's version cost more than the query.
    """

    def __init__(self, practice: Practice, needs: int, clients: int, active: int) -> None:
        self.practice_id = practice.pk
        self.needs, self.clients, self.active = needs, clients, active

    def count(self) -> int:
        return self.clients

    def __len__(self) -> int:
        return self.clients

    def __getitem__(self, page: slice) -> list[DashboardRow]:
        start, stop = page.start or 0, self.clients if page.stop is None else page.stop
        runs, params = [], []
        # Never below 0: the cached counts may be a little older than `needs`.
        lengths = (self.needs, max(self.active - self.needs, 0), max(self.clients - self.active, 0))
        for run, length in enumerate(lengths):
            offset = min(max(start, 0), length)
            limit = max(min(stop, length) - offset, 0)
            start, stop = start - length, stop - length
            if limit:
                runs.append(_RUNS[run])
                params += [self.practice_id, run < 2, limit, offset]
        if not runs:
            return []
        sql = _PAGE.format(runs=" UNION ALL ".join(runs))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [_row(*values) for values in cursor.fetchall()]


# The columns of a row, in _row's order; c: the client, p: their active plan (or NULLs).
_RUN_COLUMNS = """c.id, c.public_id, c.name, c.email, c.active, p.id AS plan_id, p.phase,
    p.phase_pinned, COALESCE(p.attention_level, 0) AS level, p.attention_at AS level_at,
    p.attention_reason, LOWER(c.name) AS name_key"""
_RUN = """SELECT * FROM (
    SELECT {n} AS run, {columns}
    FROM clients_client c {join} aftercare_plan p ON p.client_id = c.id AND p.ended_at IS NULL
    WHERE c.practice_id = %s AND c.active = %s {where}
    ORDER BY {order} LIMIT %s OFFSET %s) AS run_{n}"""
_NEED_ORDER = "level DESC, level_at DESC NULLS LAST, name_key, c.id"
_RUNS = (
    _RUN.format(
        n=1, columns=_RUN_COLUMNS, join="JOIN", where="AND p.attention_level > 0", order=_NEED_ORDER
    ),
    _RUN.format(
        n=2,
        columns=_RUN_COLUMNS,
        join="LEFT JOIN",
        where="AND (p.attention_level = 0 OR p.attention_level IS NULL)",
        order="name_key, c.id",
    ),
    _RUN.format(n=3, columns=_RUN_COLUMNS, join="LEFT JOIN", where="", order=_NEED_ORDER),
)
# The check-ins of all the client's plans, newest first.
_LOGS = """(SELECT log_row.{column} FROM aftercare_symptomlog log_row
    JOIN aftercare_plan log_plan ON log_plan.id = log_row.plan_id
    WHERE log_plan.client_id = page.id AND log_row.worst_pain IS NOT NULL
    ORDER BY log_row.at DESC LIMIT 1 OFFSET {skip})"""
# Only constants are formatted into the SQL (S608); every value is a parameter.
_PAGE = (
    "SELECT page.*, "  # noqa: S608
    + ", ".join(
        (
            _LOGS.format(column="worst_pain", skip=0),
            _LOGS.format(column="at", skip=0),
            _LOGS.format(column="worst_pain", skip=1),
        )
    )
    + " FROM ({runs}) AS page ORDER BY run, level DESC,"
    # Run 2 is by name alone, as its index reads it (a calm plan with a trigger time
    # could only be written behind the app's back: it must not reorder the page).
    + " CASE WHEN run = 2 THEN NULL ELSE level_at END DESC NULLS LAST, name_key, id"
)


def _row(
    run,
    id,
    public_id,
    name,
    email,
    active,
    plan_id,
    phase,
    pinned,
    level,
    level_at,
    reason,
    name_key,
    last_worst,
    last_at,
    before_worst,
) -> DashboardRow:
    """A row from raw SQL: SQLite hands back a UUID as hex, a boolean as 0/1 and a
    datetime as text, which the ORM would have converted."""
    client = RowClient(id, _uuid(public_id), name, email, bool(active))
    return DashboardRow.of(
        client, plan_id, phase, pinned, level, reason, last_worst, _when(last_at), before_worst
    )


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _when(value) -> datetime | None:
    """SQLite stores UTC without a zone, as text or (declared columns) a naive datetime."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


def needs_me_count(practice: Practice) -> int:
    """Active clients whose plan is above calm: from the partial index
    `plan_needs_attention`, so it costs what the therapist's work does."""
    return Plan.objects.filter(
        client__practice=practice,
        client__active=True,
        ended_at=None,
        attention_level__gt=Level.CALM,
    ).count()


def dashboard_row(client: Client) -> DashboardRow:
    """A row from `practice_clients`' annotated client."""
    return DashboardRow.of(
        client,
        client.plan_id,
        client.plan_phase,
        client.plan_pinned,
        client.level,
        client.level_reason,
        client.last_worst,
        client.last_at,
        client.before_worst,
    )


@dataclass
class ProgressView:
    series: list[progress.DayPoint]
    chart: progress.Chart
    routine: progress.Routine
    trend: progress.Trend | None  # None before the first check-in
    milestone: str  # while it settles: the low days still needed, else ""
    on_hold: bool
    empty: bool  # nothing ticked and no check-in yet: the page says what will appear


def plan_progress(plan: Plan, client: Client, days: int = 30) -> ProgressView:
    """The last `days` days of pain and routine, this week, the streak and the pain trend
    since the plan started (3 queries: check-ins, ticks, phase changes)."""
    zone = client.zone
    last = client.local_today()
    start = min(plan.started_at.astimezone(zone).date(), last)
    first = last - timedelta(days=days - 1)
    worst_by_day: dict[date, int] = {}
    for day, worst in SymptomLog.objects.filter(plan=plan, worst_pain__isnull=False).values_list(
        "day", "worst_pain"
    ):
        worst_by_day[day] = max(worst_by_day.get(day, 0), worst)
    done = set(Completion.objects.filter(step__plan=plan).values_list("day", flat=True).distinct())
    series = progress.daily_series(
        [(d, w) for d, w in worst_by_day.items() if d >= first], done, last_day=last, days=days
    )
    phase = Phase(plan.phase)
    routine = progress.routine_progress(
        start=start, today=last, done=done, due=_routine_days(plan, client)
    )
    since_start = sorted((d, w) for d, w in worst_by_day.items() if start <= d <= last)
    return ProgressView(
        series=series,
        chart=progress.pain_chart(series),
        routine=routine,
        trend=progress.pain_trend(since_start, last),
        milestone=progress.milestone(series, phase, plan.maintenance_days),
        on_hold=phase == Phase.HOLD,
        empty=not done and not worst_by_day,
    )


def _routine_days(plan: Plan, client: Client) -> progress.RoutineDays:
    """Which days had the routine due, phase by phase (a hold or a day off is a rest day)."""
    zone = client.zone
    changes = []
    for at, to_phase in plan.phase_changes.order_by("at", "id").values_list("at", "to_phase"):
        if to_phase in Phase._value2member_map_:  # a row written behind the app's back: skip
            changes.append((at.astimezone(zone).date(), Phase(to_phase)))
    steps = [step for step in plan.steps.all() if step.in_routine]
    by_phase = {
        phase: [
            schedule.StepDue(
                key=step.id,
                name=step.name,
                frequency=step.frequency_in(phase),
                is_heat=step.is_heat,
            )
            for step in steps
        ]
        for phase in Phase
    }
    return progress.RoutineDays(
        by_phase, changes, Phase(plan.phase), client_preferences(client), client.zone_name
    )


def plan_logs(plan: Plan, limit: int = 30) -> list[SymptomLog]:
    return list(plan.logs.order_by("-at")[:limit])


def plan_open_alerts(plan: Plan) -> list[Alert]:
    return list(plan.alerts.filter(resolved_at=None).select_related("step"))


def digest_plans(therapist: Therapist) -> QuerySet[Plan]:
    """Active plans of the therapist's clients at soon or watch, the most pressing first."""
    # Their own clients, and those with no therapist or one who has left (as alerts go).
    mine = (
        Q(client__primary_therapist=therapist)
        | Q(client__primary_therapist=None)
        | Q(client__primary_therapist__user__is_active=False)
    )
    return (
        Plan.objects.filter(
            mine,
            ended_at=None,
            client__practice_id=therapist.practice_id,
            client__active=True,
            attention_level__gte=Level.WATCH,
            attention_level__lte=Level.SOON,
        )
        .select_related("client")
        .order_by("-attention_level", "-attention_at", "client_id")
    )
