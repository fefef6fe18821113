"""/healthz: is this deployment able to look after clients right now?

Three things must hold: the database answers, the broker answers, and the beat tick
ran recently (without it no reminder is planned or sent, silently). JSON for the load
balancer and for people; 503 when one of them is down.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from aftercare.models import Heartbeat

log = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


def tick_max_age() -> timedelta:
    # Three missed ticks mean beat (or the worker running the tick) is gone.
    return timedelta(seconds=3 * settings.CELERY_BEAT_SCHEDULE["reminders-tick"]["schedule"])


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_broker() -> str:
    from aftercare.celery import app

    with app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    return "ok"


def tick_age(now: datetime) -> timedelta | None:
    last = Heartbeat.objects.filter(name="tick").values_list("at", flat=True).first()
    return None if last is None else now - last


def _probe(check) -> tuple[bool, str]:
    try:
        return True, check()
    except Exception as error:  # any failure is "down"; the log has the details
        # Only the error's kind in this unauthenticated answer: its text can name hosts
        # and database users.
        log.warning("healthz: %s failed: %s", check.__name__, error)
        return False, f"down: {type(error).__name__}"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    now = timezone.now()
    db_ok, db_status = _probe(check_database)
    broker_ok, broker_status = _probe(check_broker)
    age = tick_age(now) if db_ok else None
    tick_ok = age is not None and age <= tick_max_age()
    body = {
        "status": "ok" if db_ok and broker_ok and tick_ok else "down",
        "database": db_status,
        "broker": broker_status,
        "beat": {
            "status": "ok" if tick_ok else ("never ran" if age is None else "late"),
            "last_tick_age_seconds": None if age is None else round(age.total_seconds()),
            "max_age_seconds": round(tick_max_age().total_seconds()),
        },
    }
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
