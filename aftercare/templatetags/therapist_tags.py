"""Small filters for the therapist's pages.

`{{ when|ago }}`: "just now" for under a minute (and for a time a little ahead, a clock
skew), else Django's timesince with " ago": "3 hours ago", never "0 minutes ago".
`{{ client.phone|tel }}`: the number for a tel: link, digits and a leading + only.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(value: datetime | date | None, now: datetime | None = None) -> str:
    if not value:
        return ""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    current = now or (timezone.now() if timezone.is_aware(value) else datetime.now())
    if current - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value, current)} ago"


@register.filter
def tel(value: str | None) -> str:
    number = re.sub(r"[^\d+]", "", value or "")
    return number[0] + number[1:].replace("+", "") if number else ""
