"""Reads that are more than one line: what a page or an email needs, in few queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from aftercare import progress, schedule, taper
from aftercare.models import Alert, Completion, Plan, PlanStep, SymptomLog
from aftercare.phases import Phase
from clients.models import Client, Practice


def client_active_plan(client: Client) -> Plan | None:
    """The active plan and its steps (2 queries). The client's practice comes along in
    the plan's query, so a page that shows it (every client page does) needs no third."""
    steps = PlanStep.objects.order_by("order", "id")
    plan = (
        Plan.objects.filter(client=client, ended_at=None)
        .select_related("client__practice")
        .prefetch_related(Prefetch("steps", queryset=steps))
        .first()
    )
    if plan is not None:
        client.practice = plan.client.practice
        plan.client = client
    return plan


def client_preferences(client: Client) -> schedule.Preferences:
    return schedule.Preferences(
        morning=client.morning_time,
        evening=client.evening_time,
        reset_weekday=client.reset_weekday,
        three_x_days=tuple(client.three_x_days),
        quiet_start=client.quiet_start,
        quiet_end=client.quiet_end,
    )


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
    """The slots of one local day with the steps due and which are done (2 queries)."""
    steps_by_id = {step.id: step for step in plan.steps.all()}
    due = plan_steps_due(plan)
    prefs = client_preferences(client)
    phase = Phase(plan.phase)
    slots = schedule.slots_for_day(due, prefs, client.time_zone, day, phase)
    done: dict[str, set[int]] = {}
    for step_id, slot_name in Completion.objects.filter(step__plan=plan, day=day).values_list(
        "step_id", "slot"
    ):
        done.setdefault(slot_name, set()).add(step_id)
    views = [
        SlotView(
            slot=slot,
            steps=[steps_by_id[s.key] for s in slot.steps],
            done=done.get(str(slot.name), set()),
        )
        for slot in slots
    ]
    next_slot = None
    if not slots and phase != Phase.HOLD:
        upcoming = schedule.slots_between(
            due, prefs, client.time_zone, day + schedule.ONE_DAY, 14, phase
        )
        next_slot = upcoming[0] if upcoming else None
    return TodayView(plan=plan, day=day, slots=views, next_slot=next_slot)


NO_LOG_AFTER = timedelta(days=2)  # TAPER.md: 2 days without a log in Flare or Subsiding


@dataclass
class DashboardRow:
    client: Client
    phase: str | None
    pinned: bool
    attention: int  # 0 = fine; higher = look first (Alert.SEVERITY)
    reason: str
    last_worst: int | None
    last_at: datetime | None
    trend: str  # "up", "down", "same" or ""

    @property
    def phase_label(self) -> str:
        return Phase(self.phase).label if self.phase else ""


def practice_clients(practice: Practice, query: str = "") -> QuerySet[Client]:
    """The practice's clients with what the dashboard shows, in one query."""
    plan = Plan.objects.filter(client=OuterRef("pk"), ended_at=None)
    alert = Alert.objects.filter(
        plan__client=OuterRef("pk"), plan__ended_at=None, resolved_at=None
    ).order_by("-severity", "-created_at")
    logs = SymptomLog.objects.filter(
        plan__client=OuterRef("pk"), worst_pain__isnull=False
    ).order_by("-at")
    clients = Client.objects.filter(practice=practice).annotate(
        plan_phase=Subquery(plan.values("phase")[:1]),
        plan_since=Subquery(plan.values("phase_since")[:1]),
        plan_pinned=Subquery(plan.values("phase_pinned")[:1]),
        alert_severity=Subquery(alert.values("severity")[:1]),
        alert_message=Subquery(alert.values("message")[:1]),
        last_worst=Subquery(logs.values("worst_pain")[:1]),
        last_at=Subquery(logs.values("at")[:1]),
        before_worst=Subquery(logs.values("worst_pain")[1:2]),
    )
    if query:
        clients = clients.filter(Q(name__icontains=query) | Q(email__icontains=query))
    return clients.order_by("-active", "name")


def dashboard_rows(
    practice: Practice, query: str = "", now: datetime | None = None
) -> list[DashboardRow]:
    """Clients ordered by need of attention: open alerts first (safety at the top), then
    no check-in for 2 days in Flare or Subsiding, then everyone else by name."""
    now = now or timezone.now()
    rows = [_dashboard_row(client, now) for client in practice_clients(practice, query)]
    rows.sort(key=lambda row: (not row.client.active, -row.attention, row.client.name.lower()))
    return rows


def _dashboard_row(client: Client, now: datetime) -> DashboardRow:
    attention, reason = client.alert_severity or 0, client.alert_message or ""
    if client.plan_phase in (Phase.FLARE, Phase.SUBSIDING):
        since = max(filter(None, [client.last_at, client.plan_since]))
        if now - since >= NO_LOG_AFTER and attention < Alert.SEVERITY["no_log"]:
            attention = Alert.SEVERITY["no_log"]
            reason = f"No check-in for {(now - since).days} days"
    # A flare past 7 days is a referral whether or not the client still checks in: the
    # alert is raised by a log, so a client who went quiet mid-flare would never get one.
    if client.plan_phase == Phase.FLARE and client.plan_since:
        flare_days = (now - client.plan_since).days
        if (
            now - client.plan_since > taper.FLARE_REFER_AFTER
            and attention < Alert.SEVERITY["flare_over_7_days"]
        ):
            attention = Alert.SEVERITY["flare_over_7_days"]
            reason = f"Flare for {flare_days} days: consider referring"
    trend = ""
    if client.last_worst is not None and client.before_worst is not None:
        change = client.last_worst - client.before_worst
        trend = "up" if change > 0 else "down" if change < 0 else "same"
    return DashboardRow(
        client=client,
        phase=client.plan_phase,
        pinned=bool(client.plan_pinned),
        attention=attention,
        reason=reason,
        last_worst=client.last_worst,
        last_at=client.last_at,
        trend=trend,
    )


@dataclass
class ProgressView:
    series: list[progress.DayPoint]
    chart: progress.Chart
    sentence: str


def plan_progress(plan: Plan, client: Client, days: int = 30) -> ProgressView:
    """The last `days` days of pain and routine (2 queries)."""
    last = client.local_today()
    first = last - timedelta(days=days - 1)
    worst = SymptomLog.objects.filter(plan=plan, day__gte=first, worst_pain__isnull=False)
    done = Completion.objects.filter(step__plan=plan, day__gte=first).values_list("day", flat=True)
    series = progress.daily_series(
        worst.values_list("day", "worst_pain"), set(done), last_day=last, days=days
    )
    return ProgressView(
        series=series,
        chart=progress.pain_chart(series),
        sentence=progress.encouragement(series, Phase(plan.phase), plan.maintenance_days),
    )


def plan_logs(plan: Plan, limit: int = 30) -> list[SymptomLog]:
    return list(plan.logs.order_by("-at")[:limit])


def plan_open_alerts(plan: Plan) -> list[Alert]:
    return list(plan.alerts.filter(resolved_at=None).select_related("step"))
