"""The server's side of the offline app (docs/offline.md): which pages the service
worker may keep and for whom, and the time a queued tick or check-in was really made.

The service worker cannot see Set-Cookie or who is logged in, so every response under
/c/ tells it in two headers:
- X-Offline-Client: a key for the logged-in client ("none" when nobody is). The worker
  keeps one client's pages at a time and drops them when this key changes (logout, a
  different client's link, a revoked link).
- X-Offline-Store: 1 on the few pages it may keep (Today, the whole plan, the warning
  signs, the check-in form, the offline page), without a query string: a plain 200 GET that sets no cookie. The CSRF cookie is
  the exception: Django renews it on every page with a form, with the same value the
  page's forms carry (and a queued tick needs it to be sent later). A session or a
  message cookie (a page with a one-off "saved" note) means: not kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from aftercare.rules.queued import accepted_time

CLIENT_SCOPE = "/c/"
# Pages that open with no signal after one visit (url names). The check-in form too: a
# check-in made with no signal is queued; the worker gives each copy a fresh submission
# key, so two check-ins from one kept form are two check-ins, and a replay still one.
KEPT_PAGES = frozenset(
    {"client-today", "client-plan", "client-warning-signs", "client-checkin", "client-offline"}
)


def client_cache_key(client) -> str:
    """A key that names the client's offline copy without naming the client. It includes
    the login's password hash, so revoking the client's links also retires the copy."""
    value = f"{client.pk}:{client.user.password}"
    return salted_hmac("aftercare.offline.client", value).hexdigest()[:20]


def logged_in_client(request: HttpRequest):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    client = getattr(user, "client", None)
    return client if client is not None and client.active else None


class OfflineHeadersMiddleware:
    """Adds X-Offline-Client and X-Offline-Store to responses under /c/. Listed before
    the session, CSRF and messages middleware so that the cookies they set are seen."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(CLIENT_SCOPE):
            return response
        client = logged_in_client(request)
        response["X-Offline-Client"] = client_cache_key(client) if client else "none"
        match = getattr(request, "resolver_match", None)
        if (
            client is not None
            and request.method == "GET"
            and not request.GET  # the plain page only (not "?saved=…" after a check-in)
            and response.status_code == 200
            and not set(response.cookies) - {settings.CSRF_COOKIE_NAME}
            and match is not None
            and match.url_name in KEPT_PAGES
        ):
            response["X-Offline-Store"] = "1"
        return response

    def process_view(self, request: HttpRequest, view, args, kwargs) -> HttpResponse | None:
        """A replay from the phone's queue names the client it was made for
        (X-Queued-For). Under any other login it is refused before the view runs: one
        client's tick or check-in is never saved on another's plan."""
        queued_for = request.headers.get("X-Queued-For")
        if queued_for is None:
            return None
        client = logged_in_client(request)
        if client is None or client_cache_key(client) != queued_for:
            return HttpResponse(
                "Saved on a phone for someone else: not sent.",
                status=409,
                content_type="text/plain",
            )
        return None


def queued_at(request: HttpRequest, now: datetime | None = None) -> datetime:
    """When a tick or check-in was made: the X-Queued-At header of a replay from the
    phone's queue, within bounds (rules/queued.py), otherwise now."""
    return accepted_time(request.headers.get("X-Queued-At"), now or timezone.now())


def checkin_time(request: HttpRequest, plan) -> datetime:
    """A queued check-in's time, never before what the plan already knows (its newest
    check-in, its current phase): a late replay must not rewrite the history the taper
    and the therapist have already read."""
    now = timezone.now()
    when = queued_at(request, now)
    if when == now:  # not a replay (or a time the bounds refused): as ever
        return now
    floor = [plan.phase_since] if plan.phase_since else []
    newest = plan.logs.order_by("-at").values_list("at", flat=True).first()
    if newest is not None:
        floor.append(newest)
    return min(now, max([when, *floor]))
