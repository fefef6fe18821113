"""Process helpers for the tests that run the real services: a `celery worker` or
`celery beat` subprocess pointed at pytest-django's test database, and `wait_until`.

Every process is started in its own session (process group) so that `kill()` takes
its pool children with it, exactly like `kill -9` on a whole worker would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
CELERY = [sys.executable, "-m", "celery", "-A", "aftercare"]


class Timeout(AssertionError):
    pass


T = TypeVar("T")


def at_once(work: Callable[[], T], times: int) -> list[T]:
    """Run `work` in `times` threads released together, each with its own database
    connection (closed after), as that many workers or beats would; returns what each
    returned. An error in any thread fails the caller, never vanishes with the thread."""
    start = threading.Barrier(times)
    results: list[T] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            start.wait(timeout=30)
            results.append(work())
        except BaseException as error:  # reported below, never lost in a thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(results) == times, "a thread did not finish within 60 s"
    return results


def wait_until(
    predicate: Callable[[], object],
    *,
    timeout: float,
    interval: float = 0.1,
    message: str | Callable[[], str] = "condition not met",
) -> object:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise Timeout(f"after {timeout:.0f} s: {text}")
        time.sleep(interval)


def worker_database_url() -> str:
    """DATABASE_URL of the database this test process uses (pytest-django's test_* one)."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{'@' if auth else ''}{host}{port}/{quote(db['NAME'], safe='')}"


def service_env(var_dir: Path, **extra: object) -> dict[str, str]:
    """The environment of a worker or beat that shares this test's database and broker."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update(
        DATABASE_URL=worker_database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        REDIS_URL=settings.REDIS_URL,
        VAR_DIR=str(var_dir),
        SITE_URL="http://testserver",
        DB_CONN_MAX_AGE="0",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
        CELERY_TASK_ALWAYS_EAGER="0",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


class Process:
    """A celery subprocess whose output goes to a log file (shown when a test fails)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log = log
        self.popen: subprocess.Popen | None = None

    def start(self, *, ready: str | None, timeout: float = 60) -> Process:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"\n=== start {' '.join(self.args)}\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                self.args,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        start = self.log.stat().st_size
        if ready:
            wait_until(
                lambda: self._started(ready, start),
                timeout=timeout,
                interval=0.2,
                message=lambda: f"{self.name} did not start:\n{self.tail()}",
            )
        return self

    def _started(self, ready: str, offset: int) -> bool:
        if self.popen is not None and self.popen.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")
        with self.log.open("rb") as log:
            log.seek(offset)
            return ready.encode() in log.read()

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group (the worker and its pool children) and reap it."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored
            self.popen.wait(timeout=10)
        self.popen = None

    def stop(self, timeout: float = 15) -> None:
        """A warm shutdown (SIGTERM), then SIGKILL if it takes too long."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def worker(
    var_dir: Path, *, concurrency: int = 1, app: str = "aftercare", **env: object
) -> Process:
    """`celery -A aftercare worker` for the test database (not started yet)."""
    node = f"reliability-{uuid.uuid4().hex[:8]}@%h"
    args = [
        *CELERY[:-1],
        app,
        "worker",
        "--loglevel=INFO",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        node,
    ]
    return Process("worker", args, service_env(var_dir, **env), var_dir / "worker.log")


def beat(var_dir: Path, name: str, **env: object) -> Process:
    """`celery -A aftercare beat` with its own schedule and pid files (not started yet)."""
    args = [
        *CELERY,
        "beat",
        "--loglevel=INFO",
        f"--schedule={var_dir / f'{name}-schedule'}",
        f"--pidfile={var_dir / f'{name}.pid'}",
    ]
    return Process(name, args, service_env(var_dir, **env), var_dir / f"{name}.log")


WORKER_READY = " ready."
BEAT_READY = "beat: Starting..."
