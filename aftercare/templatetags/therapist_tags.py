"""Small filters for the therapist's pages.

`{{ when|ago }}`: "just now" for under a minute (and for a time a little ahead, a clock
skew), else Django's timesince with " ago": "3 hours ago", never "0 minutes ago".
`{{ client.phone|tel }}`: the number for a tel: link, digits and a leading + only.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from html import escape  # Django's escape() without its lazy-string wrapper: the same text

from django import template
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(value: datetime | date | None, now: datetime | None = None) -> str:
    if not value:
        return ""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    current = now or (timezone.now() if timezone.is_aware(value) else datetime.now())
    since = current - value
    if since < timedelta(minutes=1):
        return "just now"
    # English is the app's only language: the same words as Django's timesince without
    # a lazy translation per unit, and without its calendar under four weeks (no month
    # fits in less). That was most of the time of the dashboard's fifty rows.
    if not (translation.get_language() or "en").startswith("en"):
        return f"{timesince(value, current)} ago"
    if since < _FOUR_WEEKS and value.utcoffset() == current.utcoffset():
        return f"{_weeks_to_minutes(since.total_seconds())} ago"
    return f"{timesince(value, current, time_strings=_ENGLISH)} ago"


_FOUR_WEEKS = timedelta(weeks=4)
_CHUNKS = (("week", 7 * 24 * 3600), ("day", 24 * 3600), ("hour", 3600), ("minute", 60))


def _weeks_to_minutes(seconds: float) -> str:
    """timesince's words for under four weeks: the two largest adjacent units, the
    first not zero, "2\xa0days, 3\xa0hours" (a no-break space in each)."""
    counts = []
    for unit, chunk in _CHUNKS:
        count = int(seconds // chunk)
        counts.append((unit, count))
        seconds -= chunk * count
    first = next(i for i, (_, count) in enumerate(counts) if count)
    words = []
    for unit, count in counts[first : first + 2]:
        if not count:
            break
        words.append(f"{count}\xa0{unit}" + ("" if count == 1 else "s"))
    return ", ".join(words)


class _Unit:
    """ "%(num)d day" or "%(num)d days", as Django's TIME_STRINGS give them in English."""

    def __init__(self, unit: str) -> None:
        self.one, self.many = f"%(num)d {unit}", f"%(num)d {unit}s"

    def __mod__(self, values: dict) -> str:
        return (self.one if values["num"] == 1 else self.many) % values


_ENGLISH = {unit: _Unit(unit) for unit in ("year", "month", "week", "day", "hour", "minute")}


@register.filter
def tel(value: str | None) -> str:
    number = re.sub(r"[^\d+]", "", value or "")
    return number[0] + number[1:].replace("+", "") if number else ""


# --- the dashboard's rows ------------------------------------------------------------------

_ANY_ID = "00000000-0000-0000-0000-000000000000"


@register.simple_tag(takes_context=True)
def dashboard_rows(context, rows) -> str:
    """The dashboard's list items, one per `selectors.DashboardRow`.

    Built here rather than in the template: fifty rows of template nodes (two includes,
    two URLs, a filter and a dozen conditions each) were most of the page's time. Each
    client URL is reversed once and filled in; the CSRF field and the way back are
    made once for every "Seen" form. The markup, per row:

    <li class="client-row level-{attention}[ inactive]">
      <div class="who"><a class="name" href="{client page}">{name}</a>
        [attention badge] [phase badge [pinned] | No plan]</div>
      [<p class="reason">{reason}</p>]
      <p class="small muted"><span class="email">{email}</span> · {last check-in}</p>
      [the "Seen" form | "Resume…" on hold]
    </li>
    """
    request = context["request"]
    client_url = reverse("therapist-client", args=[_ANY_ID])
    seen_url = reverse("therapist-seen", args=[_ANY_ID])
    csrf = (
        '<input type="hidden" name="csrfmiddlewaretoken" '
        f'value="{escape(get_token(request))}">'
        f'<input type="hidden" name="back" value="{escape(request.get_full_path())}">'
    )
    now = timezone.now()
    html = "".join(_dashboard_row(row, client_url, seen_url, csrf, now) for row in rows)
    return mark_safe(html)  # noqa: S308 (every value in it went through escape())


def _dashboard_row(row, client_url: str, seen_url: str, form_fields: str, now: datetime) -> str:
    client = row.client
    public_id = str(client.public_id)
    url = escape(client_url.replace(_ANY_ID, public_id))
    name = escape(client.name)
    who = [f'<a class="name" href="{url}">{name}</a>']
    if row.attention:
        label = escape(row.level.label)
        who.append(f'<span class="badge attention attention-{row.attention}">{label}</span>')
    if row.phase:
        phase = f'<span class="badge phase-{escape(row.phase)}">{escape(row.phase_label)}</span>'
        who.append(phase + (' <span class="muted small">pinned</span>' if row.pinned else ""))
    else:
        who.append('<span class="muted small">No plan</span>')
    parts = [
        f'<li class="client-row level-{row.attention}{"" if client.active else " inactive"}">',
        f'<div class="who">{" ".join(who)}</div>',
    ]
    if row.reason:
        parts.append(f'<p class="reason">{escape(row.reason)}</p>')
    if row.last_worst is not None:
        last = f"Last worst pain <strong>{row.last_worst}</strong>{_TREND.get(row.trend, '')}"
        last += f", {escape(ago(row.last_at, now))}"
    else:
        last = "No check-in yet"
    parts.append(
        f'<p class="small muted"><span class="email">{escape(client.email)}</span> · {last}</p>'
    )
    if row.attention and row.phase != "hold":
        action = escape(seen_url.replace(_ANY_ID, public_id))
        parts.append(
            f'<form method="post" action="{action}" class="seen" data-once>{form_fields}'
            f'<button class="btn btn-small" aria-label="Seen: {name}">Seen</button></form>'
        )
    elif row.phase == "hold":
        parts.append(f'<a class="btn btn-small btn-primary" href="{url}">Resume…</a>')
    parts.append("</li>")
    return "\n".join(parts)


_TREND = {
    "up": ' <span class="trend up" title="higher than the check-in before">▲'
    '<span class="visually-hidden"> up</span></span>',
    "down": ' <span class="trend down" title="lower than the check-in before">▼'
    '<span class="visually-hidden"> down</span></span>',
}
