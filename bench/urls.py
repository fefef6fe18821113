"""Bench-only URLs: every production URL plus /bench/floor/, a bare view.

The floor goes through the same middleware stack (session, auth, CSRF, CSP, no-store)
and does nothing else, so "page time / floor time" is what the page itself costs.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from aftercare.urls import urlpatterns as production


def floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/floor/", floor, name="bench-floor"), *production]
