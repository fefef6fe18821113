"""Who may see what: every lookup is scoped to the therapist's practice or to the
client's own plan, so another id in the URL is a 404, never a leak."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone

from aftercare import selectors
from aftercare.models import Plan
from clients.models import Client, Therapist


def therapist_required(view):
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        therapist = _therapist_with_practice(user)
        if therapist is None:
            # A client who wanders into therapist pages sees "not found", not a login form.
            raise Http404("Not a therapist page for you")
        request.therapist = therapist
        # Check-in times and the phase timeline read in the practice's own time.
        with timezone.override(therapist.practice.zone):
            return view(request, *args, **kwargs)

    return wrapper


def _therapist_with_practice(user) -> Therapist | None:
    """The therapist and their practice in one query (every therapist page shows the
    practice's name); request.user.therapist elsewhere costs nothing more."""
    therapist = Therapist.objects.select_related("practice").filter(user_id=user.pk).first()
    if therapist is not None:
        user.therapist = therapist
    return therapist


def client_required(view):
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        user = request.user
        client = _client_with_plan(user) if user.is_authenticated else None
        if client is None or not client.active:
            return redirect("client-new-link")
        request.client = client
        # Times on a client's pages are the client's own (a New York client's morning
        # routine is at 08:00, not at the server's 13:00 UTC).
        with timezone.override(client.zone):
            return view(request, *args, **kwargs)

    return wrapper


def _client_with_plan(user) -> Client | None:
    """The client, their practice, their active plan and the day of their newest session
    in one query (the plan's, which most clients have); a client without a plan takes a
    second. The plan waits on the client for selectors.client_active_plan, which adds
    only its steps."""
    plan = (
        Plan.objects.filter(client__user_id=user.pk, ended_at=None)
        .select_related("client__practice")
        # Today's "Book your next massage" reads it: an index lookup here, not a query.
        .annotate(last_session_day=selectors.newest_session_day())
        .first()
    )
    if plan is None:
        client = Client.objects.select_related("practice").filter(user_id=user.pk).first()
    else:
        client = plan.client
        selectors.active_plan_loaded(client, plan)
    if client is not None:
        user.client = client  # request.user.client elsewhere costs nothing more
    return client


def practice_client(therapist: Therapist, public_id) -> Client:
    return get_object_or_404(
        Client.objects.select_related("practice", "primary_therapist"),
        practice=therapist.practice,
        public_id=public_id,
    )


def client_ip(request: HttpRequest) -> str:
    """The caller's address for rate limits. Behind N trusted proxies (TRUSTED_PROXIES=N)
    it is the Nth address from the right of X-Forwarded-For: the one our own proxy saw,
    which a caller cannot forge."""
    hops = settings.TRUSTED_PROXIES
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if hops and len(forwarded) >= hops and forwarded[-hops]:
        return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


def get_therapist(request: HttpRequest) -> Therapist:
    return request.therapist  # type: ignore[attr-defined]
