"""Triage: keep each plan's attention level current and tell the therapist in proportion.

The rules are pure (aftercare.rules.attention); this module reads the rows they need, stores
the result on the plan (so the dashboard sorts and pages in SQL) and adds the emails to
the outbox: urgent and today at once, soon and watch in one morning digest per therapist.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from aftercare import selectors
from aftercare.models import Plan, Reminder
from aftercare.outbox import reminders
from aftercare.rules import attention
from clients.models import Client, Practice, Therapist

log = logging.getLogger(__name__)

HISTORY_LOGS = 60  # the newest check-ins read: the rules look back 3 logged days at most
RECHECK_BATCH = 1000  # plans whose clock ran out, re-assessed per tick
RECHECK_LATER = timedelta(minutes=5)  # a plan whose re-check failed is tried again then
DIGEST_AT = time(7, 30)  # in the practice's zone (TAPER.md)
DIGEST_UNTIL = time(18, 0)  # a digest held up all day is no longer a morning digest
Kind = Reminder.Kind


def attention_refresh(*, plan: Plan, now: datetime | None = None) -> attention.Attention:
    """Re-assess one plan, store the result, and email the therapist when the plan has
    just reached urgent or today (a new trigger at that level, not the same one again).
    Call it inside the transaction that changed the plan or its logs."""
    now = now or timezone.now()
    result = assess(plan, now)
    was_level, was_at = plan.attention_level, plan.attention_at
    plan.attention_level = result.level.value
    plan.attention_reason = result.reason[:300]
    plan.attention_at = result.at
    plan.attention_recheck_at = result.recheck_at
    Plan.objects.filter(pk=plan.pk).update(
        attention_level=plan.attention_level,
        attention_reason=plan.attention_reason,
        attention_at=plan.attention_at,
        attention_recheck_at=plan.attention_recheck_at,
    )
    newer = result.at is not None and (was_at is None or result.at > was_at)
    if result.level.emails_now and (result.level > was_level or newer):
        alert_emails_add(plan=plan, result=result, now=now)
    return result


def assess(plan: Plan, now: datetime | None = None) -> attention.Attention:
    """The plan's attention as the rules see it now (reads only, stores nothing)."""
    now = now or timezone.now()
    rows = plan.logs.order_by("-at", "-id")[:HISTORY_LOGS]
    logs = [selectors.log_entry(row) for row in reversed(rows)]
    client = plan.client
    return attention.assess(
        selectors.plan_state(plan), logs, now, plan.attention_seen_at, client.paused_until
    )


def checkin_level(plan: Plan, log) -> attention.Level:
    """What one check-in itself raised: the level the client's reply is pitched at."""
    return attention.own_level(assess(plan), log.at)


def attention_seen(*, plan: Plan, by, now: datetime | None = None) -> attention.Attention:
    """The therapist has looked: the row drops to calm until something new triggers. A
    safety hold stays at its level until the therapist resumes the routine."""
    now = now or timezone.now()
    with transaction.atomic():
        plan = Plan.objects.select_for_update().select_related("client").get(pk=plan.pk)
        plan.attention_seen_at = now
        plan.save(update_fields=["attention_seen_at"])
        return attention_refresh(plan=plan, now=now)


def attention_recheck_due(*, now: datetime | None = None) -> int:
    """Plans whose clock ran out since they were last assessed (the tick, every minute).
    Only those are read, so a steady tick costs one indexed query."""
    now = now or timezone.now()
    done = 0
    for plan_id in _recheck_due_ids(now):
        try:
            done += _recheck(plan_id, now)
        except Exception:
            # One plan's bad data must not stop the others' (nor the tick's sending); it
            # is tried again a little later rather than dropped for good.
            log.exception("Plan %s: attention could not be re-assessed", plan_id)
            Plan.objects.filter(pk=plan_id).update(attention_recheck_at=now + RECHECK_LATER)
    return done


def _recheck_due_ids(now: datetime) -> list[int]:
    return list(
        Plan.objects.filter(ended_at=None, attention_recheck_at__lte=now)
        .order_by("attention_recheck_at")
        .values_list("pk", flat=True)[:RECHECK_BATCH]
    )


def _recheck(plan_id: int, now: datetime) -> int:
    with transaction.atomic():
        # Locked and read afresh: a check-in committed since the list was read (an
        # emergency, say) is assessed, never overwritten by a stale copy; one that comes
        # while this runs waits for the lock and then assesses after it.
        plan = (
            Plan.objects.select_for_update(of=("self",))
            .select_related("client")
            .filter(pk=plan_id, ended_at=None, attention_recheck_at__lte=now)
            .first()
        )
        if plan is None:
            return 0
        attention_refresh(plan=plan, now=now)
        return 1


def therapists_for(client: Client) -> list[Therapist]:
    """The client's own therapist, or every therapist of the practice when none is set or
    theirs has left (a deactivated login): an alert never goes only to someone gone."""
    own = client.primary_therapist
    if own is not None and own.user.is_active:
        return [own]
    return list(client.practice.therapists.filter(user__is_active=True).select_related("user"))


def alert_emails_add(*, plan: Plan, result: attention.Attention, now: datetime) -> list[int]:
    client = plan.client
    stamp = int((result.at or now).timestamp() * 1_000_000)  # microseconds: each trigger
    rows = [
        Reminder(
            client=client,
            plan=plan,
            therapist=therapist,
            kind=Kind.ALERT,
            # One email per therapist per trigger: refreshing twice adds nothing.
            slot_key=f"alert/{plan.pk}/{stamp}/{therapist.pk}",
            slot_day=now.date(),
            due_at=now,
            # The reason as it was: a retry hours later still says what happened.
            detail=result.reason[:300],
        )
        for therapist in therapists_for(client)
    ]
    if not rows:
        # Nobody to tell: a failed row on the client's page says so, and the log.
        log.error("Client %s needs a therapist now, but the practice has none", client.pk)
        Reminder.objects.bulk_create(
            [
                Reminder(
                    client=client,
                    plan=plan,
                    kind=Kind.ALERT,
                    slot_key=f"alert/{plan.pk}/{stamp}/none",
                    slot_day=now.date(),
                    due_at=now,
                    status=Reminder.Status.FAILED,
                    reason="Not sent: no therapist at the practice to tell.",
                    detail=result.reason[:300],
                )
            ],
            ignore_conflicts=True,
        )
        return []
    return reminders.outbox_add(rows, now=now)


# --- the morning digest ----------------------------------------------------------------------


def digests_plan(*, now: datetime | None = None) -> int:
    """One digest row per therapist per local day, from 07:30 in the practice's zone. A
    therapist with nobody at soon or watch gets a skipped row (so the day is settled and
    the next tick does not look again). Returns how many were added."""
    now = now or timezone.now()
    added = 0
    for zone_name in Practice.objects.values_list("time_zone", flat=True).distinct():
        try:
            local = now.astimezone(ZoneInfo(zone_name))
        except (ValueError, KeyError):
            log.warning("Practice zone %r is not a real zone: no digest planned", zone_name)
            continue
        if not DIGEST_AT <= local.time() < DIGEST_UNTIL:
            continue
        key = f"digest/{local.date()}"
        planned = Reminder.objects.filter(therapist=OuterRef("pk"), kind=Kind.DIGEST, slot_key=key)
        therapists = (
            Therapist.objects.filter(
                practice__time_zone=zone_name, digest_emails=True, user__is_active=True
            )
            .exclude(Exists(planned))
            .select_related("user", "practice")
        )
        for therapist in therapists:
            added += _digest_add(therapist, key, local, now)
    return added


def _digest_add(therapist: Therapist, key: str, local: datetime, now: datetime) -> int:
    row = Reminder(
        therapist=therapist, kind=Kind.DIGEST, slot_key=key, slot_day=local.date(), due_at=now
    )
    if not selectors.digest_plans(therapist).exists():
        row.status, row.reason = Reminder.Status.SKIPPED, "Nobody at soon or watch this morning."
        Reminder.objects.bulk_create([row], ignore_conflicts=True)
        return 0
    return len(reminders.outbox_add([row], now=now))
