"""Production settings pass Django's deployment checklist with no warnings."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_check(**env: str) -> subprocess.CompletedProcess[str]:
    # Browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; check --deploy must
    # see the environment a production server would have.
    unset = {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env() -> dict[str, str]:
    return {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "aftercare.example",
        "SITE_URL": "https://aftercare.example",
    }


def test_it_passes_check_deploy_with_production_settings():
    result = run_check(**production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_it_would_warn_about_the_development_settings():
    # The check above can fail: with DEBUG on it reports the deployment warnings.
    result = run_check(DEBUG="1")
    assert result.returncode != 0
    assert "security.W018" in result.stdout + result.stderr  # DEBUG on in deployment


def test_it_refuses_to_start_in_production_without_a_secret_key():
    result = run_check(DEBUG="0", ALLOWED_HOSTS="aftercare.example")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_it_serves_hashed_compressed_static_files_in_production(tmp_path):
    env = {**production_env(), "STATIC_ROOT": str(tmp_path)}
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stderr
    assert list(tmp_path.glob("css/app.*.css.gz")), "hashed and gzipped by whitenoise"
    shown = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.templatetags.static import static; print(static('css/app.css'))",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    url = shown.stdout.strip().splitlines()[-1]  # after Django 5.2 shell's import notice
    assert (
        url.startswith("/static/css/app.") and url.endswith(".css") and url != "/static/css/app.css"
    )
