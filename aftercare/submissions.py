"""Submit once: a form that creates something creates it once, however often it arrives.

A creating form carries a fresh random key (`{% submission_key %}` renders it as a hidden
field). The view is wrapped in `@first_result` (a repeat of a saved form is answered before
the form is validated) and hands its "create and redirect" step to `submit_once`, which
claims the key in the same transaction as the creation:

- the first submit inserts the key row, creates, stores where it redirected, commits;
- a repeat that arrives later finds the row and redirects to the same place;
- a repeat that arrives while the first is still running waits on the first's
  uncommitted key row (the unique index), then finds it: never a second row, a second
  email (they are sent on commit) or a 500.

If the first submit fails, its transaction (and its key row) rolls back and the repeat
does the work. A submit without a key (an old page, a script) still works, unguarded; an
IntegrityError from a parallel creation without a key (two plans for one client at once)
is retried once, in a fresh transaction, so the loser sees the winner's row and the
service decides as it would have one after the other.

The button also disables itself on submit (static/js/submit-once.js); the key is what
holds when the script did not run, or a phone resent the post.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial, wraps

from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from clients.models import SubmissionKey

log = logging.getLogger(__name__)

FIELD = "submission_key"
KEEP = timedelta(days=1)
REPEATED = "Already saved: the form was sent more than once and saved once."


def key_from(request: HttpRequest) -> uuid.UUID | None:
    """The posted submission key, or None when it is missing or not a UUID."""
    raw = request.POST.get(FIELD, "")
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


def first_result(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For a view whose form creates something: a post whose key was already used gets
    the first submit's redirect before the form is even validated (a second "Add client"
    must not be refused as "this address is taken"), and so does one that was refused
    while a parallel submit of the same form was saving."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        key = key_from(request) if request.method == "POST" else None
        earlier = _claimed(key)
        if earlier is not None:
            return _repeat(request, earlier)
        response = view(request, *args, **kwargs)
        if key is not None and not 300 <= response.status_code < 400:
            earlier = _claimed(key)
            if earlier is not None:
                return _repeat(request, earlier)
        return response

    return wrapper


def submit_once(request: HttpRequest, create: Callable[[], HttpResponse]) -> HttpResponse:
    """Run `create` (which writes and returns a redirect) once per submission key.

    `create` runs inside the transaction that claims the key, so its on-commit callbacks
    (emails) run only for the submit that created. A response that is not a redirect
    (the form was refused after all) rolls back, key included, so the same form can be
    sent again once corrected."""
    key = key_from(request)
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                claim = None
                if key is not None:
                    claim, created = SubmissionKey.objects.get_or_create(
                        key=key, defaults={"user_id": request.user.pk}
                    )
                    if not created:
                        return _repeat(request, claim)
                response = create()
                if not 300 <= response.status_code < 400:
                    transaction.set_rollback(True)
                    return response
                if claim is not None:
                    claim.result_url = response["Location"][:500]
                    claim.save(update_fields=["result_url"])
                    transaction.on_commit(partial(_prune, request.user.pk))
                return response
        except IntegrityError:
            # A parallel submit won a unique constraint (one active plan per client).
            earlier = _claimed(key)
            if earlier is not None:
                return _repeat(request, earlier)
            if attempt == 2:
                raise
            log.info("Parallel submit of %s lost a unique constraint: retrying", request.path)
    raise AssertionError("unreachable")


def _claimed(key: uuid.UUID | None) -> SubmissionKey | None:
    return SubmissionKey.objects.filter(key=key).first() if key is not None else None


def _repeat(request: HttpRequest, claim: SubmissionKey) -> HttpResponse:
    if claim.user_id != request.user.pk:
        raise SuspiciousOperation("A submission key of another user was posted.")
    messages.info(request, REPEATED)
    url = claim.result_url
    if not url or not url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        url = request.path  # cannot happen: every claimed submit stored its redirect
    return redirect(url)


def _prune(user_id: int) -> None:
    try:
        SubmissionKey.objects.filter(user_id=user_id, created_at__lt=timezone.now() - KEEP).delete()
    except Exception:  # pruning is housekeeping: never fail a saved form over it
        log.exception("Could not prune old submission keys")
