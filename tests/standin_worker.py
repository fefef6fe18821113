"""The Celery app for a test worker that pushes to the local push-service stand-in.

The app refuses to push to any address inside our network (aftercare/push.py); the
stand-in listens on 127.0.0.1, so a test's worker allows that one host. Tests only:
`spawn("worker", app="tests.standin_worker")` (tests/test_reminder_reliability.py)."""

from aftercare import push
from aftercare.celery import app

push.STANDIN_HOSTS = frozenset({"127.0.0.1"})

__all__ = ["app"]
