"""The dashboard's counts that read the whole practice, kept in the cache.

"56 clients", the page count and "3 clients with data that needs fixing" each read every
client of the practice (and every active plan's steps): ~0.1-0.3 s at 50,000 clients, on
every dashboard view. Everything else on the dashboard reads one page of rows or the
clients above calm (bounded by the therapist's work), so these counts would be the only
cost that grows with the practice. They are kept per practice in the cache instead:

- **fresh after the app's own changes**: adding, editing or deleting a client (any save
  of a Client row: the services, the settings page, Django admin) and assigning or
  ending a plan or editing a plan's steps call `forget` (at once, and again when their
  transaction commits); the next view counts again;
- **at most `TTL` late** after a change behind the app's back (SQL, an import, a video
  host removed from the settings): that is how long a "no problems" can stay stale;
- **never wrong for good, never in the way**: the stored counts carry the practice's
  current stamp (a new one per `forget`), so counts computed while a change was being
  committed are thrown away, not served; a cache that is down means counting every time.

The count of clients who need the therapist is not here: it is read live (from the
partial index `plan_needs_attention`), because a client who just logged pain 9 must be
counted at once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import astuple, dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q

from aftercare import data_problems
from clients.models import Client, Practice

log = logging.getLogger(__name__)

TTL = 60  # seconds: the longest a change made behind the app's back takes to show
STAMP_TTL = 24 * 3600
# Client fields whose change can change a count: active (the pages), the rest
# (data_problems.practice_problem_count). A save naming none of them forgets nothing.
COUNTED_FIELDS = frozenset(
    {
        "practice",
        "active",
        "time_zone",
        "massage_cadence",
        "reset_weekday",
        "morning_time",
        "evening_time",
    }
)


@dataclass(frozen=True)
class PracticeCounts:
    clients: int  # all of the practice's clients, active or not
    active: int
    problems: int  # clients with stored data the app can't use


def practice_counts(practice: Practice) -> PracticeCounts:
    """The practice's counts: from the cache (no query), else counted (4 queries)."""
    if not settings.PRACTICE_COUNTS_CACHED:  # each worker's own memory: count
        return _count(practice)
    stamp_key, counts_key = _keys(practice.pk)
    try:
        found = cache.get_many([stamp_key, counts_key])
    except Exception:  # the cache is down: count, as before there was one
        log.warning("Practice %s: cache unavailable, counting", practice.pk, exc_info=True)
        return _count(practice)
    stamp = found.get(stamp_key, "")
    stored = found.get(counts_key)
    if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == stamp:
        return PracticeCounts(*stored[1])
    counts = _count(practice)
    try:
        cache.set(counts_key, (stamp, astuple(counts)), TTL)
    except Exception:
        log.warning("Practice %s: could not cache the counts", practice.pk, exc_info=True)
    return counts


def forget(practice_id: int) -> None:
    """The practice's counts may have changed: the next view counts again. Now, and once
    more when the current transaction commits: a view counting in between sees the old
    rows, and what it stores must not outlive the commit."""
    _new_stamp(practice_id)
    transaction.on_commit(lambda: _new_stamp(practice_id))


def _new_stamp(practice_id: int) -> None:
    try:
        cache.set(_keys(practice_id)[0], uuid.uuid4().hex, STAMP_TTL)
    except Exception:  # the cached counts then show for at most TTL
        log.warning("Practice %s: could not forget the counts", practice_id, exc_info=True)


def _keys(practice_id: int) -> tuple[str, str]:
    return f"practice-counts-stamp:{practice_id}", f"practice-counts:{practice_id}"


def _count(practice: Practice) -> PracticeCounts:
    clients = Client.objects.filter(practice=practice).aggregate(
        clients=Count("id"), active=Count("id", filter=Q(active=True))
    )
    return PracticeCounts(
        clients=clients["clients"],
        active=clients["active"],
        problems=data_problems.practice_problem_count(practice),
    )


def client_loaded(sender, instance: Client, **kwargs):
    """post_init of a Client: the practice it counts in, so that a save moving it to
    another practice forgets the one it left too (read from __dict__: a deferred
    practice must not cost a query)."""
    instance.__dict__["_counted_in"] = instance.__dict__.get("practice_id")


def client_saved(sender, instance: Client, created: bool = False, update_fields=None, **kwargs):
    """post_save of a Client (connected in AftercareConfig.ready)."""
    if created or update_fields is None or COUNTED_FIELDS & set(update_fields):
        left = instance.__dict__.get("_counted_in")
        if left is not None and left != instance.practice_id:
            forget(left)  # moved: the practice it left counts one client fewer
        forget(instance.practice_id)
        instance.__dict__["_counted_in"] = instance.practice_id


def client_deleted(sender, instance: Client, **kwargs):
    """post_delete of a Client."""
    forget(instance.practice_id)
