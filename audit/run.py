"""`make audit`: Lighthouse (pinned in audit/package.json) with Debian's Chromium on the
client's Today page and the therapist dashboard, in mobile mode, against a production-
shaped server started here: DEBUG=0, gunicorn, whitenoise serving the collected static
files, demo data. Plain http on loopback, so SECURE_SSL_REDIRECT=0.

Logged-in pages: a session is made for the demo client and the demo therapist and its
cookie is passed to Lighthouse with --extra-headers. Everything lives in a temporary
folder (database, static files, mail) that is removed at the end; the reports are kept in
test-artifacts/audit/. The server is stopped whatever happens. Prints the scores; exits 1 if Today misses its target and
--strict is given.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
LIGHTHOUSE = ROOT / "audit" / "node_modules" / ".bin" / "lighthouse"
REPORTS = ROOT / "test-artifacts" / "audit"  # Lighthouse's JSON reports, kept for a look
CHROME = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CHROME_FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-background-networking "
    "--disable-component-update --disable-sync --no-first-run"
)
CATEGORIES = ("performance", "accessibility", "best-practices")
TARGETS = {"Client Today": {"performance": 95, "accessibility": 100}}

# Run in the server's environment: a session for the flare demo client and one for the
# demo therapist; prints {"client": sessionid, "therapist": sessionid}.
MAKE_SESSIONS = """
import json, django
django.setup()
from django.test import Client
from aftercare.management.commands.seed_demo import DEMO_CLIENTS, THERAPIST_EMAIL
from clients.models import Client as Person, Therapist
out = {}
for key, user, backend in (
    ("client", Person.objects.get(email=DEMO_CLIENTS[0][1]).user, "sesame.backends.ModelBackend"),
    (
        "therapist",
        Therapist.objects.get(user__email=THERAPIST_EMAIL).user,
        "django.contrib.auth.backends.ModelBackend",
    ),
):
    browser = Client()
    browser.force_login(user, backend=backend)
    out[key] = browser.cookies["sessionid"].value
print(json.dumps(out))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=ROOT, check=True, **kwargs)  # noqa: S603 (fixed commands)


def wait_until_up(url: str, server: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn stopped while starting (exit {server.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server did not answer {url} within {seconds:.0f} s")


def lighthouse(url: str, cookie: str, report: Path) -> dict[str, int]:
    env = {**os.environ, "CHROME_PATH": CHROME}
    run(
        [
            str(LIGHTHOUSE),
            url,
            "--quiet",
            "--output=json",
            f"--output-path={report}",
            f"--only-categories={','.join(CATEGORIES)}",
            "--form-factor=mobile",
            f"--chrome-flags={CHROME_FLAGS}",
            f"--extra-headers={json.dumps({'Cookie': cookie})}",
        ],
        env,
    )
    result = json.loads(report.read_text())
    final = result.get("finalDisplayedUrl") or result.get("finalUrl")
    if final != url:  # e.g. a login redirect: the score would be for the wrong page
        raise SystemExit(f"Lighthouse ended on {final}, not {url}: was the cookie refused?")
    return {name: round(100 * (result["categories"][name]["score"] or 0)) for name in CATEGORIES}


def main() -> int:
    strict = "--strict" in sys.argv[1:]
    if not LIGHTHOUSE.exists():
        print("Lighthouse is not installed: run `npm ci --prefix audit` first.", file=sys.stderr)
        return 2
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="aftercare-audit-") as tmp:
        work = Path(tmp)
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL"}
        }
        env.update(
            DEBUG="0",
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SITE_URL=base,
            SECURE_SSL_REDIRECT="0",
            STATIC_ROOT=str(work / "static"),
            VAR_DIR=str(work),
            DATABASE_URL=f"sqlite:///{work / 'audit.sqlite3'}",
            EMAIL_URL="locmem:",
            LOG_LEVEL="WARNING",
            DJANGO_SETTINGS_MODULE="aftercare.settings",
        )
        manage = [PY, "manage.py"]
        run([*manage, "migrate", "--noinput", "-v0"], env)
        run([*manage, "collectstatic", "--noinput", "-v0"], env)
        # seed_demo makes a known password, so it runs with DEBUG=1; the server does not.
        run([*manage, "seed_demo"], {**env, "DEBUG": "1"}, stdout=subprocess.DEVNULL)
        sessions = json.loads(run([PY, "-c", MAKE_SESSIONS], env, stdout=subprocess.PIPE).stdout)

        server = subprocess.Popen(  # noqa: S603 (our own gunicorn, fixed arguments)
            [
                str(Path(PY).parent / "gunicorn"),
                "aftercare.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
        )
        try:
            wait_until_up(f"{base}/login/", server)
            pages = [
                ("today", "Client Today", f"{base}/c/", f"sessionid={sessions['client']}"),
                (
                    "dashboard",
                    "Therapist dashboard",
                    f"{base}/t/",
                    f"sessionid={sessions['therapist']}",
                ),
            ]
            REPORTS.mkdir(parents=True, exist_ok=True)
            scores = {
                name: lighthouse(url, cookie, REPORTS / f"{slug}.report.json")
                for slug, name, url, cookie in pages
            }
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    missed = []
    print(f"\nLighthouse (mobile), Chromium at {CHROME}; reports in {REPORTS}")
    print(f"{'page':<22}" + "".join(f"{name:>16}" for name in CATEGORIES))
    for name, score in scores.items():
        print(f"{name:<22}" + "".join(f"{score[c]:>16}" for c in CATEGORIES))
        for category, target in TARGETS.get(name, {}).items():
            if score[category] < target:
                missed.append(f"{name}: {category} {score[category]} < target {target}")
    print("\n" + ("\n".join(f"MISSED {m}" for m in missed) if missed else "Targets met."))
    return 1 if missed and strict else 0


if __name__ == "__main__":
    sys.exit(main())
