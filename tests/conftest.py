"""Shared fixtures.

Tests that need a real service (PostgreSQL, Redis, Chromium, a Celery worker) ask for it
with `require_service("postgres")` & co. Without the service they skip with the reason;
with REQUIRE_SERVICES=1 (set by .ci/run) they fail instead, so CI proves they ran.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from aftercare.rules.phases import Phase
from tests import factories

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def _service_missing(name: str) -> str | None:
    """Why the service is unusable here, or None when it is available."""
    if name == "postgres":
        return None if connection.vendor == "postgresql" else "DATABASE_URL is not PostgreSQL"
    if name == "redis":
        if not settings.REDIS_URL:
            return "REDIS_URL is not set"
        try:
            import redis

            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
        except Exception as error:  # any failure means: not usable here
            return f"Redis at REDIS_URL does not answer ({error})"
        return None
    if name == "chromium":
        return None if os.path.exists(CHROMIUM) else f"no Chromium at {CHROMIUM}"
    if name == "nginx":
        found = shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK)
        return None if found else "nginx is not installed (apt-get install nginx-light)"
    raise ValueError(f"unknown service {name}")


@pytest.fixture
def require_service():
    def require(name: str) -> None:
        reason = _service_missing(name)
        if reason is None:
            return
        if settings.REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES is set but {name} is unavailable: {reason}")
        pytest.skip(reason)

    return require


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path_factory):
    # A fast hasher for tests; rate-limit counters never leak from one test to the next;
    # uploaded files (and seed_demo's video) land in a temporary directory, not var/.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SITE_URL = "http://testserver"
    settings.MEDIA_ROOT = tmp_path_factory.getbasetemp() / "media"
    # One process: even the local-memory cache is every request's (with or without Redis).
    settings.PRACTICE_COUNTS_CACHED = True
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _worker_in_process(request, monkeypatch):
    """Outbox rows handed out after commit are sent at once, in this process, by the
    same code a worker runs (reminders.reminder_send), so a request test that runs its
    on-commit callbacks sees the email in mail.outbox. Tests marked `services` keep the
    real hand-out: a real worker process sends for them."""
    if request.node.get_closest_marker("services"):
        return
    from aftercare.outbox import reminders

    def hand_out(ids: list[int]) -> bool:
        for reminder_id in ids:
            reminders.reminder_send(reminder_id)
        return True

    monkeypatch.setattr(reminders, "hand_out", hand_out)


@pytest.fixture
def practice(db):
    return factories.practice_with_library()


@pytest.fixture
def therapist(practice):
    return factories.TherapistFactory(practice=practice)


@pytest.fixture
def client_person(practice, therapist):
    """A client of the practice (named so it doesn't clash with Django's test `client`)."""
    return factories.ClientFactory(practice=practice, primary_therapist=therapist)


@pytest.fixture
def plan(client_person, therapist):
    return factories.plan_for(client_person, therapist)


@pytest.fixture
def therapist_client(client, therapist):
    """Django's test client logged in as the therapist."""
    client.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def phone(client, client_person):
    """Django's test client logged in as the client, as after opening the emailed link."""
    client.force_login(client_person.user, backend="sesame.backends.ModelBackend")
    return client


# The reminder tests' moment: Wednesday 25 Nov 2026, 06:00 UTC (06:00 in London).
REMINDER_NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    """Time stands still at REMINDER_NOW until a test moves it."""
    with time_machine.travel(REMINDER_NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def flare(clock, client_person, therapist):
    """A plan in Flare assigned "now": morning 08:00 and evening 19:00 routines."""
    return factories.plan_for(client_person, therapist, Phase.FLARE)
