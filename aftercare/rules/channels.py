"""Which way a reminder reaches a client: email, a notification (web push) or a text.

Pure: the outbox (aftercare/outbox/channels.py) reads the facts from the database and
asks here. One slot reaches a person once: the client's chosen channel when it can go,
else email; when the chosen one fails for good at send time, the next in the order goes.
The rules that decide *whether* a reminder goes at all (quiet hours, two a day, paused,
hold, unsubscribed) run before this, the same for every channel.
"""

from __future__ import annotations

from dataclasses import dataclass

EMAIL, PUSH, SMS = "email", "push", "sms"
CHANNELS = (EMAIL, PUSH, SMS)
LABELS = {EMAIL: "Email", PUSH: "Notification", SMS: "Text message"}

# Only what the client is reminded of travels by push or text. Their plan link (the
# way they log in), and the therapist's alerts and digest, always go by email.
CLIENT_REMINDER_KINDS = frozenset({"routine", "booking", "booking_followup"})


@dataclass(frozen=True)
class Reach:
    """What the outbox knows about one client at send time."""

    chosen: str = EMAIL  # Client.reminder_channel
    push_devices: int = 0  # live push subscriptions
    sms_number: bool = False  # a valid number is stored
    sms_opted_in: bool = False  # the client ticked the consent box (sms_opt_in_at)
    sms_stopped: bool = False  # replied STOP and not START since (sms_stopped_at)
    sms_enabled: bool = False  # the practice switched texts on


@dataclass(frozen=True)
class Delivery:
    order: tuple[str, ...]  # try these in turn: the next only if one fails for good
    note: str = ""  # why the chosen channel is not first, for the therapist


def sms_blocker(reach: Reach) -> str:
    """Why a text cannot go to this client now, or ""."""
    if not reach.sms_enabled:
        return "the practice has texts switched off"
    if not reach.sms_number:
        return "no mobile number"
    if not reach.sms_opted_in:
        return "the client has not agreed to texts"
    if reach.sms_stopped:
        return "the client replied STOP"
    return ""


def delivery(kind: str, reach: Reach) -> Delivery:
    """The channels to try for one outbox row, in order; email is always the last."""
    if kind not in CLIENT_REMINDER_KINDS or reach.chosen not in (PUSH, SMS):
        return Delivery((EMAIL,))
    if reach.chosen == PUSH:
        if reach.push_devices > 0:
            return Delivery((PUSH, EMAIL))
        return Delivery((EMAIL,), "Notifications chosen, but no phone has them on; sent by email.")
    blocker = sms_blocker(reach)
    if blocker:
        return Delivery((EMAIL,), f"Text chosen, but {blocker}; sent by email.")
    return Delivery((SMS, EMAIL))


# --- one text, one segment ------------------------------------------------------------

SMS_LIMIT = 160  # one GSM-7 segment; a longer text is billed as two (153 each)
SMS_STOP = "Reply STOP to end texts."
# Each of these costs two of the 160 (an escape and the character).
_GSM7_EXTENDED = frozenset("^{}\\[~]|")
# Printable ASCII that GSM-7 lacks: one of them would turn the text UCS-2 (70 a segment).
_NOT_GSM7 = str.maketrans({"`": "'"})


def gsm7(text: str) -> str:
    """Plain ASCII (as the outbox makes it) with the one ASCII character GSM-7 lacks
    replaced."""
    return text.translate(_NOT_GSM7)


def gsm7_length(text: str) -> int:
    """How many of the 160 a text uses."""
    return sum(2 if character in _GSM7_EXTENDED else 1 for character in text)


def sms_text(who: str, sentence: str, steps: str, link: str) -> str:
    """'<practice>: <sentence> <steps> <link> Reply STOP…', dropping the step names
    (they are on the page the link opens) when they would make it two texts."""
    tail = f" {link} {SMS_STOP}"
    if steps:
        full = f"{who}: {sentence} {steps}{tail}"
        if gsm7_length(full) <= SMS_LIMIT:
            return full
    rest = f": {sentence}{tail}"
    # A name in brackets or braces counts two a character (GSM-7's extension table):
    # shorten the practice's name rather than send two texts.
    return _fit(who, SMS_LIMIT - gsm7_length(rest)).strip() + rest


def _fit(text: str, budget: int) -> str:
    """The longest start of `text` whose GSM-7 length is within `budget`."""
    used = 0
    for end, character in enumerate(text):
        used += gsm7_length(character)
        if used > budget:
            return text[:end]
    return text
