"""The outbox's other ways to a client: a notification (web push) or a text message.

`delivery_for` reads what the rules need (aftercare/rules/channels.py) and says which
channels to try for a row; `send_push` and `send_sms` deliver it or raise `Failed`
(transient: the row retries later as an email would; else the next channel goes).
The texts and the notification carry the same slot as the email and the same login token
(django-sesame: the same lifetime, and revoking the client's links ends it); a text has it
in the short form /l/<page letter><token>, so that every text is one 160-character text.
"""

from __future__ import annotations

import logging
import unicodedata
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from aftercare import push, sms
from aftercare.models import PushSubscription, Reminder
from aftercare.outbox import emails
from aftercare.rules import channels as rules
from aftercare.rules.channels import EMAIL, LABELS, PUSH, SMS  # noqa: F401 (re-exported)
from clients.models import Client

log = logging.getLogger(__name__)


class Failed(Exception):
    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def reach_of(client: Client, *, push_devices: int | None = None) -> rules.Reach:
    """`push_devices`: the client's phones with notifications on, when the caller read
    them already (a batch reads them for all its clients at once)."""
    if push_devices is None and client.reminder_channel == PUSH:
        push_devices = client.push_subscriptions.count()
    return rules.Reach(
        chosen=client.reminder_channel,
        push_devices=push_devices or 0,
        sms_number=bool(client.sms_number),
        sms_opted_in=client.sms_opt_in_at is not None,
        sms_stopped=client.sms_stopped_at is not None,
        sms_enabled=client.practice.sms_enabled,
    )


def delivery_for(reminder: Reminder, *, push_devices: int | None = None) -> rules.Delivery:
    if reminder.client is None or reminder.kind not in rules.CLIENT_REMINDER_KINDS:
        return rules.Delivery((EMAIL,))
    return rules.delivery(reminder.kind, reach_of(reminder.client, push_devices=push_devices))


# --- what the notification and the text say --------------------------------------------


def _link(reminder: Reminder, checkin_first: bool) -> str:
    """Today, or the check-in when one is overdue, opened logged in on the phone."""
    next_path = reverse("client-checkin") if checkin_first else None
    return emails.client_link(reminder.client, next_path)


def _wording(reminder: Reminder, now: datetime, slot) -> tuple[str, str, bool]:
    """(short sentence, step names, check-in first) for a routine slot or a nudge."""
    if reminder.kind == Reminder.Kind.ROUTINE:
        checkin_first = emails.checkin_first(reminder.plan, now)
        name = slot.name if slot else "daily"
        steps_by_id = {step.id: step.name for step in reminder.plan.steps.all()}
        steps = (
            ", ".join(steps_by_id[s.key] for s in slot.steps if s.key in steps_by_id)
            if slot
            else ""
        )
        if checkin_first:
            return f"A quick check-in first, then your {name} routine.", steps, True
        return f"Time for your {name} routine.", steps, False
    if reminder.kind == Reminder.Kind.BOOKING_FOLLOWUP:
        return "A gentle reminder to book your next massage.", "", False
    return "Time to book your next massage.", "", False


def push_payload(reminder: Reminder, *, now: datetime, slot=None) -> dict:
    """The JSON the service worker shows: {title, body, url}, and the slot it is for."""
    sentence, steps, checkin_first = _wording(reminder, now, slot)
    return {
        "title": reminder.client.practice.name,
        "body": f"{sentence} {steps}".strip() if steps else sentence,
        "url": _link(reminder, checkin_first),
        "slot": reminder.slot_key,
        "kind": reminder.kind,
        "tag": f"aftercare-{reminder.kind}-{reminder.slot_key}",
    }


# Phone keyboards type these; one of them (or an emoji) makes a text UCS-2, billed per
# 70 characters: three texts for one.
_TYPOGRAPHY = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})

# A text's sentence is shorter than the notification's: with the practice's name (up to
# 30), the link (SITE_URL + /t/ + 31) and how to stop, a text has room for about 32.
_SMS_SENTENCES = {
    "checkin": "Check in, then {name} routine.",
    "routine": "Time for your {name} routine.",
    Reminder.Kind.BOOKING_FOLLOWUP: "A reminder to book your massage.",
    Reminder.Kind.BOOKING: "Time to book your next massage.",
}


def _plain(text: str) -> str:
    """The text in plain GSM-7 (é becomes e, an emoji goes), spaces tidied."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TYPOGRAPHY))
    ascii_text = decomposed.encode("ascii", "ignore").decode()
    printable = "".join(c if c.isprintable() else " " for c in ascii_text)  # no control codes
    return rules.gsm7(" ".join(printable.split()))


def sms_body(reminder: Reminder, *, now: datetime, slot=None) -> str:
    """One text (160 GSM-7 characters): short, plain, with the short link and how to stop."""
    _, steps, checkin_first = _wording(reminder, now, slot)
    if reminder.kind == Reminder.Kind.ROUTINE:
        key = "checkin" if checkin_first else "routine"
        sentence = _SMS_SENTENCES[key].format(name=slot.name if slot else "daily")
    else:
        sentence = _SMS_SENTENCES[reminder.kind]
    who = _plain(reminder.client.practice.name)[:30].strip()
    link = emails.client_short_link(reminder.client, "c" if checkin_first else "t")
    return rules.sms_text(who, sentence, _plain(steps), link)


# --- sending ---------------------------------------------------------------------------


def send_push(reminder: Reminder, *, now: datetime, slot=None) -> str:
    """To every phone of the client with notifications on. Sent when one accepted it; a
    404/410 deletes that phone's subscription. Returns a note for the row, or ""."""
    payload = push_payload(reminder, now=now, slot=slot)
    subscriptions = list(reminder.client.push_subscriptions.all())
    delivered, problems, transient = 0, [], False
    for subscription in subscriptions:
        try:
            push.send(subscription, payload)
        except push.PushError as error:
            problems.append(str(error))
            transient = transient or error.transient
            if error.gone:
                subscription.delete()
                log.info("Push subscription %s gone; removed", subscription.id)
            continue
        delivered += 1
        PushSubscription.objects.filter(id=subscription.id).update(last_success_at=timezone.now())
    if delivered:
        return f"Not every phone took it: {'; '.join(problems)}." if problems else ""
    if not subscriptions:
        raise Failed("no phone has notifications on", transient=False)
    raise Failed("; ".join(problems), transient=transient)


def sms_sender(client: Client) -> str:
    return client.practice.sms_sender or settings.SMS_FROM


def send_sms(reminder: Reminder, *, now: datetime, slot=None) -> str:
    client = reminder.client
    sender = sms_sender(client)
    if not sender:
        raise Failed("no sender number is set (the practice's or SMS_FROM)", transient=False)
    text = sms.Text(
        to=client.sms_number, sender=sender, body=sms_body(reminder, now=now, slot=slot)
    )
    try:
        sms.send(text)
    except sms.SmsError as error:
        if error.stopped:
            # The provider knows of a STOP we missed: no more texts until START.
            Client.objects.filter(id=client.id, sms_stopped_at=None).update(sms_stopped_at=now)
        raise Failed(str(error), transient=error.transient) from error
    return ""


SENDERS = {PUSH: send_push, SMS: send_sms}


def sms_sent_count(practice, *, now: datetime | None = None) -> int:
    """Texts sent this calendar month (the practice's time zone): what the bill counts."""
    now = (now or timezone.now()).astimezone(practice.zone)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return Reminder.objects.filter(
        client__practice=practice,
        channel=SMS,
        status=Reminder.Status.SENT,
        sent_at__gte=month_start,
    ).count()
