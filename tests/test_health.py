"""/healthz: database, broker and the age of the last beat tick; 503 when one is down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from aftercare.models import Heartbeat
from aftercare.outbox import reminders
from aftercare.views import health


@pytest.fixture
def broker_up(monkeypatch):
    # The embedded filesystem broker needs no server; pin it "ok" so these tests are
    # about the view's rules, and test the real broker check separately below.
    monkeypatch.setattr(health, "check_broker", lambda: "ok")


def test_it_reports_ok_after_a_recent_tick(client, db, broker_up):
    reminders.heartbeat()
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["beat"]["status"] == "ok"
    assert 0 <= body["beat"]["last_tick_age_seconds"] <= 5
    assert "no-store" in response["Cache-Control"]


def test_it_is_down_before_beat_ever_ran(client, db, broker_up):
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["beat"] == {
        "status": "never ran",
        "last_tick_age_seconds": None,
        "max_age_seconds": 180,
    }


def test_it_is_down_when_the_last_tick_is_too_old(client, db, broker_up):
    Heartbeat.objects.create(name="tick", at=timezone.now() - timedelta(minutes=4))
    body = client.get(reverse("healthz")).json()
    assert body["status"] == "down"
    assert body["beat"]["status"] == "late"
    assert body["beat"]["last_tick_age_seconds"] >= 240


def test_it_is_down_when_the_broker_does_not_answer(client, db, monkeypatch):
    def refuse():
        raise ConnectionRefusedError("Connection refused")

    monkeypatch.setattr(health, "check_broker", refuse)
    reminders.heartbeat()
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["broker"].startswith("down: ConnectionRefusedError")
    assert response.json()["database"] == "ok"


def test_it_is_down_when_the_database_does_not_answer(client, db, broker_up, monkeypatch):
    def broken():
        raise RuntimeError("could not connect to server")

    monkeypatch.setattr(health, "check_database", broken)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "down: RuntimeError"  # no host or user names leak
    assert body["beat"]["status"] == "never ran"


def test_it_refuses_a_post(client, db):
    assert client.post(reverse("healthz")).status_code == 405


def test_its_broker_check_reaches_a_real_redis(settings, require_service):
    require_service("redis")
    from aftercare.celery import app

    app.conf.broker_url = settings.REDIS_URL
    try:
        assert health.check_broker() == "ok"
    finally:
        app.conf.broker_url = settings.CELERY_BROKER_URL


def test_its_broker_check_fails_on_a_closed_port(settings):
    from aftercare.celery import app

    app.conf.broker_url = "redis://127.0.0.1:9/0"  # the discard port: nothing listens
    try:
        with pytest.raises(Exception):  # noqa: B017 - kombu raises OperationalError here
            health.check_broker()
    finally:
        app.conf.broker_url = settings.CELERY_BROKER_URL
