"""The body of a step's card on Today (name, dosage, summary, note, video, how to do it),
rendered once and cached: most of Today's rendering, and the same for every request.

What is cached is only what a step's own columns say: never whether it is done, the
client's name, the day, the slot or a CSRF token (the card's frame and its Done form,
in includes/step_card.html, are rendered per request around it).

The cache key is a digest of everything the body shows (the step's card fields, the
templates' source, the video settings and the language), not a stamp kept by the
services: an edit by any path (Adjust steps, the admin, a script, SQL) changes the key,
so a stale card cannot be served and there is nothing to invalidate. Two steps with
the same content share an entry (every plan copied from the same library step), which
keeps the cache's size in the number of distinct steps, not of clients; a step with a
personal note has its own. Entries never change once written, so each process keeps
them in memory (the "step_cards" cache, LocMemCache, a bounded LRU): no network round
trip on the page. docs/performance.md, "Today".
"""

from __future__ import annotations

import functools
import hashlib
import logging

from django.conf import settings
from django.core.cache import caches
from django.template.loader import get_template, render_to_string
from django.urls import get_script_prefix
from django.utils import translation
from django.utils.safestring import SafeString

from aftercare.models import PlanStep

BODY_TEMPLATE = "includes/step_card_body.html"
# Every template the body renders: a change to one (a deploy) changes every key.
TEMPLATES = (BODY_TEMPLATE, "includes/video.html")
# Every column the body shows. A new column shown on the card must be added here
# (tests/test_step_cards.py renders a step with each field changed, to catch a miss).
FIELDS = (
    "name",
    "duration_minutes",
    "sets",
    "reps",
    "hold_seconds",
    "summary",
    "personal_note",
    "is_heat",
    "video_url",
    "video_file",
    "instructions",
    "safety_notes",
)
CACHE_ALIAS = "step_cards"
log = logging.getLogger(__name__)
TIMEOUT = 7 * 24 * 3600


def bodies(steps: list[PlanStep]) -> dict[int, SafeString]:
    """Each step's card body by step id: from the cache, the missing ones rendered and
    stored (one get_many and at most one set_many)."""
    setting = _setting_stamp()
    keys = {step.id: _key(step, setting) for step in steps}
    cache = caches[CACHE_ALIAS]
    try:
        found = cache.get_many(set(keys.values()))
    except Exception:  # a cache moved to a server that is down: render, never fail Today
        log.warning("Step cards: the cache can't be read; rendering", exc_info=True)
        found, cache = {}, None
    out: dict[int, SafeString] = {}
    missing: dict[str, str] = {}
    for step in steps:
        key = keys[step.id]
        html = found.get(key)
        if html is None:
            # A SafeString (escaped by the template), and still one out of the cache
            # (pickled with its class); a plain str from elsewhere would be escaped.
            html = missing.get(key) or render_to_string(BODY_TEMPLATE, {"step": step})
            missing[key] = html
        out[step.id] = html
    if missing and cache is not None:
        try:
            cache.set_many(missing, TIMEOUT)
        except Exception:
            log.warning("Step cards: the cache can't be written", exc_info=True)
    return out


def _key(step: PlanStep, setting: str) -> str:
    digest = hashlib.blake2b(digest_size=20)
    digest.update(_templates_stamp().encode())
    digest.update(setting.encode())
    for name in FIELDS:
        value = getattr(step, name)
        if name == "video_file":
            value = value.name or ""
        digest.update(b"\x1f" + repr(value).encode())
    return "card:" + digest.hexdigest()


def _setting_stamp() -> str:
    """What else the body depends on: the hosts a video link may come from and the
    address an upload is served at (videos.parse, videos.uploaded), and the language."""
    return repr(
        (
            settings.SITE_URL,
            tuple(settings.VIDEO_MP4_HOSTS),
            get_script_prefix(),
            translation.get_language(),
        )
    )


@functools.cache
def _templates_stamp() -> str:
    digest = hashlib.blake2b(digest_size=16)
    for name in TEMPLATES:
        digest.update(get_template(name).template.source.encode())
    return digest.hexdigest()
