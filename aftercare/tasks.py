"""Celery entry points: thin; each loads what it needs and calls a service."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.core.mail import get_connection
from django.db import transaction

from aftercare import triage
from aftercare.outbox import reminders

log = logging.getLogger(__name__)

TICK_BUDGET_SECONDS = 40  # beat ticks every 60 s: leave room before the next one


@shared_task(name="aftercare.tick", ignore_result=True)
def tick() -> dict[str, int]:
    """Every minute (beat): plan, claim, sweep. Idempotent; two beats at once are safe."""
    started = time.monotonic()
    planned = reminders.reminders_plan_due()
    # Clocks that ran out (no check-in for 2 days, a long flare) raise attention levels;
    # the morning digests are planned once a day per therapist.
    rechecked = _isolated(triage.attention_recheck_due)
    _isolated(triage.digests_plan)
    claimed = 0
    # A morning peak can bring more due rows than one claim takes: keep claiming (each
    # batch handed out at once) until none are left or the tick's time is nearly up.
    while True:
        ids = reminders.reminders_claim()
        refused = _hand_out(ids)
        claimed += len(ids)
        if (
            refused
            or len(ids) < reminders.CLAIM_LIMIT
            or time.monotonic() - started > TICK_BUDGET_SECONDS
        ):
            break  # (the broker refusing: claiming again would only spin)
    swept = reminders.reminders_sweep()
    _hand_out(swept)
    reminders.heartbeat()
    return {"planned": planned, "claimed": claimed, "swept": len(swept), "rechecked": rechecked}


def _isolated(step) -> int:
    """A failing step of the tick is logged, and the rest of the tick (sending) goes on."""
    try:
        return step()
    except Exception:
        log.exception("Tick: %s failed", step.__name__)
        return 0


def _hand_out(ids: list[int]) -> list[list[int]]:
    """Publish the ids in batches after commit, so a worker never looks for a row before
    it is queued. Returns the batches the broker refused (filled in as they run)."""
    refused: list[list[int]] = []
    for batch in reminders.batches(ids):
        transaction.on_commit(lambda batch=batch: _publish(batch, refused))
    return refused


def _publish(batch: list[int], refused: list[list[int]]) -> None:
    try:
        send_reminders.delay(batch)
    except Exception:
        refused.append(batch)
        # The broker is down: give the rows back, so the next tick claims them again
        # instead of them waiting for the sweep.
        log.exception("Could not hand out %s reminders; they go back to pending", len(batch))
        reminders.reminders_unclaim(batch)


@shared_task(name=reminders.SEND_TASK, ignore_result=True, acks_late=True)
def send_reminders(ids: list[int]) -> None:
    """Send a batch over one SMTP conversation (reminders.reminders_send: a fixed number
    of queries per batch, one bad row fails alone). A row the mail server asks to retry
    goes back to pending with a later due time: the tick claims it again, so no retry
    waits in the broker past its visibility timeout."""
    mail = get_connection()  # one SMTP conversation for the whole batch (opened on first send)
    try:
        reminders.reminders_send(ids, mail=mail)
    finally:
        reminders.close_quietly(mail)
