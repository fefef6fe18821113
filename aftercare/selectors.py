"""Reads that are more than one line: what a page or an email needs, in few queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Prefetch, Q, QuerySet

from aftercare import schedule
from aftercare.models import Completion, Plan, PlanStep
from aftercare.phases import Phase
from clients.models import Client, Practice


def client_active_plan(client: Client) -> Plan | None:
    steps = PlanStep.objects.order_by("order", "id")
    return (
        Plan.objects.filter(client=client, ended_at=None)
        .prefetch_related(Prefetch("steps", queryset=steps))
        .first()
    )


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
            key=step.id, name=step.name, frequency=step.frequency_in(plan.phase), is_heat=step.is_heat
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
    for step_id, slot_name in Completion.objects.filter(
        step__plan=plan, day=day
    ).values_list("step_id", "slot"):
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


def practice_clients(practice: Practice, query: str = "") -> QuerySet[Client]:
    clients = Client.objects.filter(practice=practice).prefetch_related(
        Prefetch("plans", queryset=Plan.objects.filter(ended_at=None), to_attr="active_plans")
    )
    if query:
        clients = clients.filter(Q(name__icontains=query) | Q(email__icontains=query))
    return clients.order_by("-active", "name")
