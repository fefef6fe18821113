"""Celery entry points: thin; each loads what it needs and calls a service."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction

from aftercare import reminders

log = logging.getLogger(__name__)

MAX_RETRIES = 6
TICK_BUDGET_SECONDS = 40  # beat ticks every 60 s: leave room before the next one


@shared_task(name="aftercare.tick", ignore_result=True)
def tick() -> dict[str, int]:
    """Every minute (beat): plan, claim, sweep. Idempotent; two beats at once are safe."""
    started = time.monotonic()
    planned = reminders.reminders_plan_due()
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
    return {"planned": planned, "claimed": claimed, "swept": len(swept)}


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


@shared_task(
    bind=True,
    name="aftercare.send_reminders",
    ignore_result=True,
    acks_late=True,
    max_retries=MAX_RETRIES,
)
def send_reminders(self, ids: list[int]) -> None:
    retry: list[int] = []
    last_error = ""
    mail = get_connection()  # one SMTP conversation for the whole batch (opened on first send)
    try:
        for reminder_id in ids:
            try:
                reminders.reminder_send(reminder_id, mail=mail)
            except reminders.TransientSendError as error:
                retry.append(reminder_id)
                last_error = str(error)
            except Exception as error:
                # A bug or a vanished row must not hold up the rest of the batch, nor
                # leave this row "sending" for the sweep to re-send as interrupted.
                log.exception("Reminder %s could not be sent", reminder_id)
                reminders.reminders_give_up_sending(reminder_id, error)
    finally:
        reminders.close_quietly(mail)
    if not retry:
        return
    if self.request.retries >= self.max_retries:
        reminders.reminders_give_up(retry, last_error)
        return
    # Back off 30 s, 1 min, 2 min, ... (a few seconds in tests).
    countdown = settings.REMINDER_RETRY_BASE_SECONDS * 2**self.request.retries
    raise self.retry(args=[retry], countdown=countdown)


@shared_task(
    bind=True,
    name="aftercare.send_alert_email",
    ignore_result=True,
    acks_late=True,
    max_retries=10,
)
def send_alert_email(self, alert_id: int, only: list[str] | None = None) -> None:
    """A safety alert's email that failed at once: retried for about 8 hours, to the
    therapists whose copy failed (`only`), so nobody gets it twice."""
    from aftercare import emails
    from aftercare.models import Alert

    alert = Alert.objects.select_related("plan__client").filter(pk=alert_id).first()
    if alert is None:
        return  # the client was deleted meanwhile
    try:
        emails.alert_send(alert=alert, only=only)
    except Exception as error:
        if isinstance(error, emails.AlertNotSent):
            only = error.addresses
        countdown = settings.REMINDER_RETRY_BASE_SECONDS * 2**self.request.retries
        raise self.retry(args=[alert_id, only], countdown=countdown, exc=error) from error
