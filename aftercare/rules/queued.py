"""When did the client really do it? A tick or check-in made with no signal is kept on
the phone (the service worker's queue, static/js/sw.js) and sent later with the time it
was made. The server believes that time only within bounds: never in the future, never
older than MAX_AGE; otherwise it uses "now". Pure: no Django, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# A phone offline for longer than this sends its ticks as if made now (the day on the
# tick itself still has to be today or yesterday, as for any late tick).
MAX_AGE = timedelta(hours=48)


def accepted_time(raw: str | None, now: datetime, max_age: timedelta = MAX_AGE) -> datetime:
    """The queued time from the X-Queued-At header (ISO 8601 with a zone, as the
    service worker sends it), or `now` when it is missing, unreadable, naive, in the
    future or older than max_age. `now` must be aware."""
    if not raw:
        return now
    try:
        when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return now
    if when.tzinfo is None or when.utcoffset() is None:
        return now
    try:
        when = when.astimezone(UTC)
    except OverflowError:  # the first or last day of the calendar, in a far zone
        return now
    if when > now or now - when > max_age:
        return now
    return when
