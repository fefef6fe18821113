"""Check-ins: save a symptom log, let the taper decide the phase, raise alerts.

The rules live in the pure `taper` module; this module only translates rows to its
plain data and writes down what it decided.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from aftercare import triage
from aftercare.models import Alert, Completion, PhaseChange, Plan, PlanStep, SymptomLog
from aftercare.outbox import reminders
from aftercare.rules import attention, taper
from aftercare.rules.phases import Frequency, Phase
from aftercare.rules.safety import safety_level
from aftercare.selectors import log_entry, plan_state
from clients.models import AuditEvent
from clients.services import audit_event_record

log = logging.getLogger(__name__)


@dataclass
class CheckinResult:
    log: SymptomLog
    decision: taper.Decision | None = None
    new_alerts: list[Alert] = field(default_factory=list)
    duplicate: bool = False
    attention: attention.Level = attention.Level.CALM


def checkin_steps(plan: Plan) -> list[PlanStep]:
    """The steps "Which steps did you do?" lists: the routine of the plan's current phase
    (Heat too when the phase has it), not a step the phase leaves out (say QL in a flare),
    skipped for this client or paused after it raised pain. Uses the plan's prefetched
    steps (no query)."""
    return [
        step
        for step in plan.steps.all()
        if step.in_routine and step.frequency_in(plan.phase) != Frequency.NONE
    ]


def steps_ticked(plan: Plan, day: date) -> list[int]:
    """The steps ticked done on Today for a local day, in any slot: the check-in starts
    with these ticked so a client who ticked along the way answers nothing twice."""
    done = Completion.objects.filter(step__plan=plan, day=day)
    return sorted(set(done.values_list("step_id", flat=True)))


def symptom_log_create(
    *, plan: Plan, submission_key: uuid.UUID, answers: dict, now: datetime | None = None
) -> CheckinResult:
    """Save one check-in and apply what it means. A repeated submission_key (a double tap)
    returns the first log and changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the plan: two check-ins at once are decided one after the other.
        plan = Plan.objects.select_for_update().get(pk=plan.pk)
        existing = SymptomLog.objects.filter(submission_key=submission_key).first()
        if existing is not None:
            level = triage.checkin_level(plan, existing)
            return CheckinResult(log=existing, duplicate=True, attention=level)
        signs = list(answers.get("safety_signs", []))
        log = SymptomLog.objects.create(
            plan=plan,
            at=now,
            day=now.astimezone(plan.client.zone).date(),  # the client's day at `now`
            submission_key=submission_key,
            safety=safety_level(signs),
            safety_signs=signs,
            **{k: v for k, v in answers.items() if k != "safety_signs"},
        )
        return _apply(plan, log, now)


def _apply(plan: Plan, log: SymptomLog, now: datetime) -> CheckinResult:
    history = [log_entry(row) for row in plan.logs.order_by("at", "id")]
    state = plan_state(plan)
    decision = taper.next_phase(state, history, now)
    if decision.changed:
        cause = PhaseChange.Cause.CLIENT if log.flare_tap or log.gone_tap else PhaseChange.Cause.LOG
        _phase_change(plan, decision, cause, now)
        state = plan_state(plan)
    new_alerts = _raise(plan, taper.alerts(state, history, now), log, now)
    # Who needs the therapist now; urgent and today go to the outbox as an email.
    result = triage.attention_refresh(plan=plan, now=now)
    # The client's reply follows what this check-in raised, not the plan's standing level.
    level = attention.own_level(result, log.at)
    return CheckinResult(log=log, decision=decision, new_alerts=new_alerts, attention=level)


def _phase_change(plan: Plan, decision: taper.Decision, cause: str, now: datetime) -> None:
    PhaseChange.objects.create(
        plan=plan,
        from_phase=plan.phase,
        to_phase=decision.phase,
        rule=decision.rule,
        reason=decision.reason[:300],
        cause=cause,
        at=now,
    )
    # The client's own answer or button moved the phase: their name goes in the History.
    how = "the client's button" if cause == PhaseChange.Cause.CLIENT else "a check-in"
    audit_event_record(
        client=plan.client,
        by=plan.client.user,
        action=AuditEvent.Action.PHASE_CHANGED,
        detail=f"{Phase(plan.phase).label} → {Phase(decision.phase).label} after {how}",
        at=now,
    )
    plan.phase = decision.phase
    plan.phase_since = now
    plan.save(update_fields=["phase", "phase_since"])
    # The next tick plans the new phase's slots (two a day in a flare, none on hold).
    reminders.reminders_forget_pending(client=plan.client)


def _raise(plan: Plan, found: list[taper.Alert], log: SymptomLog, now: datetime) -> list[Alert]:
    """Store the alerts not already open (the therapist's list on the client page); pause
    a step that raised pain (TAPER.md). Who is emailed is triage's decision, not this."""
    open_keys = set(plan.alerts.filter(resolved_at=None).values_list("kind", "step_id"))
    created = []
    for alert in found:
        step = None
        if alert.step_key is not None:
            step = PlanStep.objects.filter(plan=plan, pk=alert.step_key).first()
            if step is None:
                continue  # not this plan's step: ignore rather than trust the form
            # Paused again even if an earlier alert is still open: it raised pain again.
            if PlanStep.objects.filter(pk=step.pk, paused_at=None).update(paused_at=now):
                reminders.plan_needs_planning(plan=plan)  # the paused step leaves the routine
        # A safety answer always alerts anew (each one is an event); other alerts are
        # conditions that stay open until the therapist marks them handled.
        if not alert.kind.startswith("safety_") and (alert.kind, alert.step_key) in open_keys:
            continue
        created.append(
            Alert.objects.create(
                plan=plan,
                kind=alert.kind,
                severity=attention.Trigger(alert.kind).level,
                message=alert.message[:400],
                step=step,
                log=log,
                created_at=now,
            )
        )
        open_keys.add((alert.kind, alert.step_key))
    return created


def alert_resolve(*, alert: Alert, by) -> None:
    """Handled: the alert closes, and the plan's attention counts as seen."""
    with transaction.atomic():
        Alert.objects.filter(pk=alert.pk, resolved_at=None).update(
            resolved_at=timezone.now(), resolved_by=by
        )
        triage.attention_seen(plan=alert.plan, by=by)
