"""The production WSGI app, wrapped to report each request's server time and query count.

Two response headers, read by bench/run.py:
- X-Bench-Ms: wall time from the moment gunicorn hands the request to Django until
  Django starts the response (middleware, view, template), in milliseconds;
- X-Bench-Queries: how many SQL statements Django ran for it.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection  # noqa: E402

django_application = get_wsgi_application()


def application(environ, start_response):
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    started = time.perf_counter()

    def timed_start_response(status, headers, exc_info=None):
        elapsed_ms = (time.perf_counter() - started) * 1000
        headers = [
            *headers,
            ("X-Bench-Ms", f"{elapsed_ms:.3f}"),
            ("X-Bench-Queries", str(queries)),
        ]
        return start_response(status, headers, exc_info)

    with connection.execute_wrapper(count):
        return django_application(environ, timed_start_response)
