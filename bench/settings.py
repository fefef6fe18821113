"""Bench-only settings: production settings plus a floor view, over plain HTTP on loopback.

Used by gunicorn during `make bench` only (DJANGO_SETTINGS_MODULE=bench.settings). The
middleware stack, templates, database and cache are exactly the production ones.
"""

from aftercare.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

# The bench talks plain HTTP to 127.0.0.1: secure-only cookies would never be sent back.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
