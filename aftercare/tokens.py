"""Signed, expiring, single-purpose tokens for the links in reminder emails.

Each purpose has its own salt, so a "done" token can never unsubscribe, and a token
names one reminder (or one client for unsubscribing), never a login.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.core import signing

ACTION_MAX_AGE = 7 * 24 * 3600  # "Done" / "Log how I feel" from an email: a week
UNSUBSCRIBE_MAX_AGE = 365 * 24 * 3600  # unsubscribe links must keep working (RFC 8058)
ACTIONS = ("done", "checkin")
UNSUBSCRIBE_KINDS = ("routine", "booking")


def _salt(purpose: str) -> str:
    return f"aftercare.email.{purpose}"


def action_token(reminder_id: int, action: str) -> str:
    assert action in ACTIONS
    return signing.dumps(reminder_id, salt=_salt(action), compress=False)


def read_action(token: str, action: str) -> int | None:
    if action not in ACTIONS:
        return None
    try:
        value = signing.loads(token, salt=_salt(action), max_age=ACTION_MAX_AGE)
    except signing.BadSignature:  # also SignatureExpired
        return None
    return value if isinstance(value, int) else None


def signed_at(token: str) -> datetime | None:
    """When a token was signed (to the second). Only meaningful for a token that one of
    the read_* functions accepted: the timestamp is part of what the signature covers."""
    try:
        stamp = token.rsplit(":", 2)[1]  # payload:timestamp:signature
        return datetime.fromtimestamp(signing.b62_decode(stamp), tz=UTC)
    except (IndexError, ValueError, OverflowError):
        return None


def unsubscribe_token(client_id: int, kind: str) -> str:
    assert kind in UNSUBSCRIBE_KINDS
    return signing.dumps(client_id, salt=_salt(f"unsubscribe.{kind}"))


def read_unsubscribe(token: str, kind: str) -> int | None:
    if kind not in UNSUBSCRIBE_KINDS:
        return None
    try:
        value = signing.loads(token, salt=_salt(f"unsubscribe.{kind}"), max_age=UNSUBSCRIBE_MAX_AGE)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None
