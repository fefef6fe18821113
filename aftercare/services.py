"""Writes of the aftercare domain: assigning plans, ticking steps, changing phases.

Keyword-only, type-hinted; every multi-step write in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from aftercare import practice_counts, triage
from aftercare.models import (
    Completion,
    Exercise,
    PhaseChange,
    Plan,
    PlanStep,
    Protocol,
    ProtocolStep,
    Reminder,
)
from aftercare.outbox import reminders
from aftercare.rules.attention import Trigger
from aftercare.rules.phases import Phase
from clients.models import AuditEvent, Client, MassageSession, Practice, Therapist, User
from clients.services import audit_event_record


@dataclass(frozen=True)
class StepTweak:
    """What the therapist changed for one step of this client's plan."""

    include: bool = True
    personal_note: str = ""
    flare: str | None = None
    subsiding: str | None = None
    maintenance: str | None = None


def plan_assign(
    *,
    client: Client,
    protocol: Protocol,
    by: Therapist,
    phase: Phase,
    session: MassageSession | None = None,
    tweaks: dict[int, StepTweak] | None = None,
) -> Plan:
    """End the client's current plan (if any) and start a new one from the protocol.

    The protocol's steps are copied, so later edits to the library or this client's
    plan never affect each other. `tweaks` is keyed by ProtocolStep id.
    """
    tweaks = tweaks or {}
    now = timezone.now()
    with transaction.atomic():
        # One assignment per client at a time: a parallel one waits, then ends this plan
        # (without the lock both would insert and one would break one_active_plan).
        Client.objects.select_for_update(no_key=True).get(pk=client.pk)
        Plan.objects.filter(client=client, ended_at=None).update(ended_at=now)
        plan = Plan.objects.create(
            client=client,
            protocol=protocol,
            session=session,
            assigned_by=by,
            name=protocol.name,
            phase=phase,
            phase_since=now,
            started_at=now,
        )
        steps = protocol.steps.select_related("exercise")
        PlanStep.objects.bulk_create(
            _plan_step(plan, step, tweaks.get(step.id, StepTweak())) for step in steps
        )
        reminders.reminders_forget_pending(client=client)
        triage.attention_refresh(plan=plan, now=now)  # starts the clocks (no check-in yet)
        practice_counts.forget(client.practice_id)  # other steps' video links count now
        PhaseChange.objects.create(
            plan=plan,
            to_phase=phase,
            rule="assigned",
            reason=f"Plan assigned by {by.display_name}, starting in {Phase(phase).label}.",
            cause=PhaseChange.Cause.ASSIGNED,
            by=by.user,
        )
        audit_event_record(
            client=client,
            by=by.user,
            action=AuditEvent.Action.PLAN_ASSIGNED,
            detail=f"{plan.name}, starting in {Phase(phase).label}",
        )
    return plan


def _plan_step(plan: Plan, step: ProtocolStep, tweak: StepTweak) -> PlanStep:
    exercise = step.exercise
    return PlanStep(
        plan=plan,
        exercise=exercise,
        order=step.order,
        name=exercise.name,
        summary=exercise.summary,
        instructions=exercise.instructions,
        safety_notes=exercise.safety_notes,
        duration_minutes=exercise.duration_minutes,
        sets=exercise.sets,
        reps=exercise.reps,
        hold_seconds=exercise.hold_seconds,
        video_url=exercise.video_url,
        video_file=exercise.video_file.name,
        is_heat=exercise.is_heat,
        personal_note=tweak.personal_note,
        skipped=not tweak.include,
        flare=tweak.flare or step.flare,
        subsiding=tweak.subsiding or step.subsiding,
        maintenance=tweak.maintenance or step.maintenance,
    )


def plan_end(*, plan: Plan, by: User | None = None) -> None:
    with transaction.atomic():
        ended = Plan.objects.filter(pk=plan.pk, ended_at=None).update(ended_at=timezone.now())
        reminders.reminders_forget_pending(client=plan.client)
        practice_counts.forget(plan.client.practice_id)  # its steps' video links no longer count
        if ended:
            audit_event_record(
                client=plan.client, by=by, action=AuditEvent.Action.PLAN_ENDED, detail=plan.name
            )


def phase_set(
    *, plan: Plan, phase: Phase, pinned: bool, by: User, reason: str = "", cause: str = "therapist"
) -> PhaseChange | None:
    """The therapist sets (and optionally pins) a phase. Returns the change, if any."""
    with transaction.atomic():
        plan = Plan.objects.select_for_update().get(pk=plan.pk)
        changed = plan.phase != phase
        _phase_set_audit(plan, phase, pinned, by)
        plan.phase_pinned = pinned
        if changed:
            previous = plan.phase
            plan.phase = phase
            plan.phase_since = timezone.now()
            plan.save(update_fields=["phase", "phase_since", "phase_pinned"])
            reminders.reminders_forget_pending(client=plan.client)
            change = PhaseChange.objects.create(
                plan=plan,
                from_phase=previous,
                to_phase=phase,
                rule="therapist_pinned" if pinned else "therapist",
                reason=reason or f"Set to {Phase(phase).label} by the therapist.",
                cause=cause,
                by=by,
            )
            triage.attention_refresh(plan=plan)  # leaving a hold ends its urgency
            return change
        plan.save(update_fields=["phase_pinned"])
    return None


def plan_resume(*, plan: Plan, phase: Phase, by: User) -> bool:
    """One action from a safety alert: the therapist has been in touch, the routine goes
    on in `phase`, the safety alerts are handled and the row counts as seen. False (and
    nothing done) when the plan is no longer on hold (a second tab, a second tap)."""
    with transaction.atomic():
        plan = Plan.objects.select_for_update().select_related("client").get(pk=plan.pk)
        if plan.phase != Phase.HOLD or plan.ended_at is not None:
            return False
        now = timezone.now()
        # Seen first: what the therapist looked at before resuming is not news to email.
        plan.attention_seen_at = now
        plan.save(update_fields=["attention_seen_at"])
        phase_set(
            plan=plan,
            phase=phase,
            pinned=False,
            by=by,
            reason=f"Resumed in {phase.label} by the therapist after a warning sign.",
        )
        plan.alerts.filter(
            resolved_at=None, kind__in=[Trigger.SAFETY_EMERGENCY, Trigger.SAFETY_DOCTOR]
        ).update(resolved_at=now, resolved_by=by)
    return True


def _phase_set_audit(plan: Plan, phase: Phase, pinned: bool, by: User) -> None:
    """The History line for a phase set by hand: a new phase, or only a pin changed."""
    if plan.phase != phase:
        detail = f"{Phase(plan.phase).label} → {Phase(phase).label}" + (
            ", pinned" if pinned else ""
        )
        action = AuditEvent.Action.PHASE_SET
    elif pinned != plan.phase_pinned:
        detail = Phase(phase).label
        action = AuditEvent.Action.PHASE_PINNED if pinned else AuditEvent.Action.PHASE_UNPINNED
    else:
        return
    audit_event_record(client=plan.client, by=by, action=action, detail=detail)


def step_complete(
    *, step: PlanStep, day: date, slot: str, at: datetime | None = None
) -> Completion:
    """Tick a step done for a slot (at: when, for a tick made offline and sent later).
    Ticking twice (a double tap, a replay) keeps one record."""
    try:
        with transaction.atomic():
            return Completion.objects.create(
                step=step, day=day, slot=slot, done_at=at or timezone.now()
            )
    except IntegrityError:
        return Completion.objects.get(step=step, day=day, slot=slot)


def step_uncomplete(*, step: PlanStep, day: date, slot: str) -> None:
    Completion.objects.filter(step=step, day=day, slot=slot).delete()


def library_install(*, practice: Practice) -> Protocol:
    """Copy the built-in low-back protocol (created by a data migration) into a
    practice's own library, so the practice can edit it freely."""
    builtin = Protocol.objects.filter(practice=None, is_default=True).first()
    if builtin is None:
        raise LookupError("The built-in protocol is missing: run migrations.")
    with transaction.atomic():
        protocol = Protocol.objects.create(
            practice=practice,
            name=builtin.name,
            description=builtin.description,
            is_default=not practice.protocols.filter(is_default=True).exists(),
        )
        for step in builtin.steps.select_related("exercise"):
            source = step.exercise
            exercise = Exercise.objects.create(
                practice=practice,
                name=source.name,
                summary=source.summary,
                instructions=source.instructions,
                safety_notes=source.safety_notes,
                duration_minutes=source.duration_minutes,
                sets=source.sets,
                reps=source.reps,
                hold_seconds=source.hold_seconds,
                video_url=source.video_url,
                video_file=source.video_file.name,
                is_heat=source.is_heat,
            )
            ProtocolStep.objects.create(
                protocol=protocol,
                exercise=exercise,
                order=step.order,
                flare=step.flare,
                subsiding=step.subsiding,
                maintenance=step.maintenance,
            )
    return protocol


def email_preference_set(*, client: Client, kind: str, on: bool) -> None:
    """Subscribe or unsubscribe routine reminders or booking nudges; applies at once."""
    field = {"routine": "routine_emails", "booking": "booking_emails"}[kind]
    with transaction.atomic():
        Client.objects.filter(pk=client.pk).update(**{field: on})
        setattr(client, field, on)
        reminders.plan_needs_planning(client=client)  # subscribing again plans at once
        if not on:
            kinds = (
                (Reminder.Kind.ROUTINE,)
                if kind == "routine"
                else (Reminder.Kind.BOOKING, Reminder.Kind.BOOKING_FOLLOWUP)
            )
            reminders.reminders_forget_pending(client=client, kinds=kinds)


# What the client's Settings page edits (aftercare.forms.ClientSettingsForm, plus the pause).
CLIENT_SETTINGS_FIELDS = (
    "morning_time",
    "evening_time",
    "reset_weekday",
    "three_x_days",
    "quiet_start",
    "quiet_end",
    "time_zone",
    "routine_emails",
    "booking_emails",
    "paused_until",
)


def client_settings_save(*, client: Client, pause_days: int | None, resume: bool) -> None:
    """Save the client's reminder settings; pending reminders are planned afresh so the
    change applies to the very next one. Raises ValidationError for values the model or
    the schedule refuses (the form says the same in words; this guards other callers)."""
    _settings_validate(client)
    today = client.local_today()
    if resume:
        client.paused_until = None
    elif pause_days:
        client.paused_until = today + timedelta(days=pause_days - 1)
    with transaction.atomic():
        # Only these columns: the therapist's edit of the name or notes, committed since
        # this request loaded the client, must not be overwritten.
        client.save(update_fields=[*CLIENT_SETTINGS_FIELDS, "updated_at"])
        reminders.reminders_forget_pending(
            client=client,
            kinds=(Reminder.Kind.ROUTINE, Reminder.Kind.BOOKING, Reminder.Kind.BOOKING_FOLLOWUP),
        )
        # A pause (or its end) moves the no-check-in clock: re-assess now.
        plan = Plan.objects.filter(client=client, ended_at=None).first()
        if plan is not None:
            plan.client = client
            triage.attention_refresh(plan=plan)


# What "Adjust steps" edits (aftercare.forms.PlanStepForm; paused_at by its "resume").
PLAN_STEP_EDITABLE_FIELDS = (
    "skipped",
    "personal_note",
    "flare",
    "subsiding",
    "maintenance",
    "video_url",
    "sets",
    "reps",
    "hold_seconds",
    "paused_at",
)


def _settings_validate(client: Client) -> None:
    from django.core.exceptions import ValidationError

    from aftercare import selectors

    client.full_clean(
        exclude=["practice", "user", "primary_therapist", "name", "email", "phone", "notes"],
        validate_unique=False,
        validate_constraints=False,
    )
    try:
        selectors.client_preferences(client, strict=True)
    except ValueError as error:
        raise ValidationError(str(error.__cause__ or error)) from error


def plan_steps_update(*, plan: Plan, steps: list[PlanStep], by: User | None) -> list[str]:
    """Save the therapist's edits to this client's steps (`steps` changed in memory, as
    a formset's `save(commit=False)` gives them). Only steps of `plan` are saved.
    Records which fields of which steps changed, not the new notes themselves."""
    with transaction.atomic():
        stored = PlanStep.objects.select_for_update().in_bulk([step.pk for step in steps])
        changes = []
        for step in steps:
            before = stored.get(step.pk)
            if before is None or before.plan_id != plan.pk:
                continue
            fields = [
                f
                for f in PlanStep._meta.concrete_fields
                if f.name in PLAN_STEP_EDITABLE_FIELDS
                and getattr(before, f.attname) != getattr(step, f.attname)
            ]
            if not fields:
                continue
            # Only what the therapist edited: a change to the step's other columns made
            # since the form loaded it (its text, a pause from a check-in) stays.
            step.save(update_fields=[f.name for f in fields])
            labels = ", ".join(str(f.verbose_name) for f in fields)
            changes.append(f"{step.name} ({labels})")
        if changes:
            reminders.plan_needs_planning(plan=plan)  # a step's frequency, skip or pause
            practice_counts.forget(plan.client.practice_id)  # a video link, a frequency
            audit_event_record(
                client=plan.client,
                by=by,
                action=AuditEvent.Action.PLAN_STEPS_EDITED,
                detail="; ".join(changes),
            )
    return changes


def client_link_send(*, client: Client, by: User | None, first: bool = False) -> None:
    """Put the email with the client's link in the outbox and note it in the History.
    The request never waits for the mail server: a worker sends it after commit."""
    with transaction.atomic():
        if link_email_add(client=client, first=first):  # not a double tap
            audit_event_record(client=client, by=by, action=AuditEvent.Action.LINK_SENT)


def link_email_add(*, client: Client, first: bool = False) -> list[int]:
    now = timezone.now()
    row = Reminder(
        client=client,
        kind=Reminder.Kind.LINK,
        # "first" picks the welcome wording; one email per minute at most: a double tap
        # (or a second tab) on "Email a new link" finds the first row and adds nothing.
        slot_key=f"link/{'first' if first else 'again'}/{now:%Y-%m-%dT%H:%M}",
        slot_day=now.date(),
        due_at=now,
    )
    return reminders.outbox_add([row], now=now)
