"""Fixed-window rate limits kept in the cache (Redis in production, so every web
process shares them).

A dozen lines instead of a dependency: django-ratelimit and django-axes do much more
than the two counters we need (login attempts, "email me a new link").
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache


def _key(scope: str, subject: str) -> str:
    # Hash the subject so addresses never sit in the cache in clear text.
    digest = hashlib.sha256(subject.strip().lower().encode()).hexdigest()[:32]
    return f"throttle:{scope}:{digest}"


def hit(scope: str, subject: str, *, limit: int, window: int) -> bool:
    """Count one attempt; True while the subject is still within its limit."""
    key = _key(scope, subject)
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        count = 1
    return count <= limit


def refund(scope: str, subject: str) -> None:
    """Take back one attempt counted by hit() (a login that succeeded, say)."""
    key = _key(scope, subject)
    try:
        if (cache.get(key) or 0) > 0:
            cache.decr(key)
    except ValueError:  # expired meanwhile: nothing to take back
        pass


def over(scope: str, subject: str, *, limit: int) -> bool:
    """Whether the subject has used up its attempts, without counting one."""
    return (cache.get(_key(scope, subject)) or 0) >= limit


def clear(scope: str, subject: str) -> None:
    cache.delete(_key(scope, subject))
