"""Emails as three templates each: emails/NAME-subject.txt, NAME-body.txt, NAME-body.html.

Subjects never carry pain scores or health details: they show on lock screens.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import formataddr, make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from sesame.utils import get_query_string, get_token

from aftercare import selectors, tokens
from aftercare.rules import taper
from aftercare.rules.attention import Level
from aftercare.rules.phases import PHASE_SENTENCES, Phase
from clients.models import Client, Practice


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def client_link(client: Client, next_path: str | None = None) -> str:
    """The magic link that logs the client in on the phone that opens it."""
    url = absolute(reverse("client-login")) + get_query_string(client.user)
    if next_path:
        url += "&next=" + next_path
    return url


# The text message's short link: /l/<page letter><the same sesame token>. Only these
# pages; any other letter is a 404 (views/client.py, ClientShortLoginView).
SHORT_LINK_PAGES = {"t": "client-today", "c": "client-checkin"}


def client_short_link(client: Client, page: str = "t") -> str:
    """The login link of client_link in fewer characters, for a text message: the same
    token (same lifetime, the same revoke), the page as one letter instead of ?next=."""
    if page not in SHORT_LINK_PAGES:
        raise ValueError(f"no short link page {page!r}")
    return absolute(reverse("client-short-login", args=[page + get_token(client.user)]))


def sender(practice: Practice) -> str:
    return formataddr((practice.name, practice.sender_email or settings.DEFAULT_FROM_EMAIL))


def make_message(
    name: str,
    *,
    to: str,
    practice: Practice,
    context: dict[str, object],
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
) -> EmailMultiAlternatives:
    context = {"practice": practice, "site_url": settings.SITE_URL, **context}
    subject = render_to_string(f"emails/{name}-subject.txt", context).strip()
    text = render_to_string(f"emails/{name}-body.txt", context)
    html = render_to_string(f"emails/{name}-body.html", context)
    domain = (practice.sender_email or "aftercare@localhost").rpartition("@")[2]
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=sender(practice),
        to=[to],
        headers={"Message-ID": message_id or make_msgid(domain=domain), **(headers or {})},
    )
    message.attach_alternative(html, "text/html")
    # With an anymail provider: no open or click tracking of clients (privacy).
    message.track_opens = False
    message.track_clicks = False
    return message


def outbox_message(reminder, *, now, slot=None) -> EmailMultiAlternatives:
    """The email for one outbox row, whatever its kind (`slot`: a routine row's slot as
    the schedule sees it now)."""
    kind = reminder.kind
    if kind == "link":
        return link_message(reminder)
    if kind == "alert":
        return alert_message(reminder)
    if kind == "digest":
        return digest_message(reminder)
    return reminder_message(reminder, now=now, slot=slot)


def link_message(reminder) -> EmailMultiAlternatives:
    """The link to the client's plan (after a session, or asked for again)."""
    client = reminder.client
    return make_message(
        "plan-link",
        to=client.email,
        practice=client.practice,
        context={
            "client": client,
            "link": client_link(client),
            "first": reminder.slot_key.startswith("link/first/"),
        },
        message_id=reminder_message_id(reminder),
    )


def therapist_page(client: Client) -> str:
    return absolute(reverse("therapist-client", args=[client.public_id]))


def alert_message(reminder) -> EmailMultiAlternatives:
    """Urgent or today: who, why, and where to look. The subject says only who (lock
    screens); the reason is in the body, for the therapist's eyes."""
    plan, client, therapist = reminder.plan, reminder.client, reminder.therapist
    level = Level.URGENT if plan.attention_level >= Level.URGENT else Level.TODAY
    return make_message(
        "therapist-alert",
        to=therapist.user.email,
        practice=client.practice,
        context={
            "client": client,
            "therapist": therapist,
            "page": therapist_page(client),
            "level": level,
            "reason": reminder.detail or plan.attention_reason or "A new check-in needs a look",
            "on_hold": plan.phase == Phase.HOLD,
        },
        message_id=reminder_message_id(reminder),
    )


def digest_message(reminder) -> EmailMultiAlternatives:
    """The morning list of clients at soon or watch, as they stand when it is sent."""
    therapist = reminder.therapist
    plans = selectors.digest_plans(therapist)
    total = plans.count()
    rows = [
        {
            "client": plan.client,
            "level": Level(plan.attention_level),
            "reason": plan.attention_reason,
            "page": therapist_page(plan.client),
        }
        for plan in plans[:DIGEST_MAX]
    ]
    return make_message(
        "therapist-digest",
        to=therapist.user.email,
        practice=therapist.practice,
        context={
            "therapist": therapist,
            "rows": rows,
            "total": total,
            "more": total - len(rows),
            "settings_link": absolute(reverse("therapist-settings")),
            "dashboard_link": absolute(reverse("therapist-dashboard")),
        },
        message_id=reminder_message_id(reminder),
    )


DIGEST_MAX = 50  # more than this and the dashboard's "Needs me" list is the better read


def _reminder_domain(practice: Practice) -> str:
    return (practice.sender_email or "aftercare@localhost").rpartition("@")[2]


def reminder_message_id(reminder) -> str:
    """Stable per row: a retry or a re-send after a crash carries the same Message-ID,
    so a mail server or client can tell it is the same email."""
    practice = reminder.client.practice if reminder.client else reminder.therapist.practice
    return f"<reminder.{reminder.id}.{reminder.kind}@{_reminder_domain(practice)}>"


def unsubscribe_url(client: Client, kind: str) -> str:
    token = tokens.unsubscribe_token(client.id, kind)
    return absolute(reverse("email-unsubscribe", args=[kind, token]))


def reminder_message(reminder, *, now, slot=None) -> EmailMultiAlternatives:
    """The email for one Reminder row: a routine slot or a booking nudge."""
    client = reminder.client
    kind = "routine" if reminder.kind == "routine" else "booking"
    unsubscribe = unsubscribe_url(client, kind)
    context = {
        "client": client,
        "reminder": reminder,
        "today_link": client_link(client),
        "settings_link": client_link(client, reverse("client-settings")),
        "unsubscribe_link": unsubscribe,
        "booking_url": client.practice.booking_url,
    }
    if kind == "routine":
        context.update(_routine_context(reminder, now, slot))
    template = {"routine": "routine", "booking": "booking", "booking_followup": "booking"}
    message = make_message(
        template[reminder.kind],
        to=client.email,
        practice=client.practice,
        context=context,
        message_id=reminder_message_id(reminder),
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    return message


def checkin_first(plan, now) -> bool:
    """A check-in is overdue: the reminder (email, notification or text) asks for it first."""
    last_log = last_checkin_at(plan)
    state = selectors.plan_state(plan)
    return taper.checkin_overdue(state.phase, last_log, state.phase_since, now)


def last_checkin_at(plan):
    """When the plan's client last checked in. The sender reads it for a whole batch in
    one query and leaves it on each plan (reminders.facts_for); otherwise it is asked for."""
    if hasattr(plan, "last_checkin_at"):
        return plan.last_checkin_at
    return plan.logs.order_by("-at").values_list("at", flat=True).first()


def _routine_context(reminder, now, slot) -> dict[str, object]:
    plan = reminder.plan
    steps = {step.id: step for step in plan.steps.all()}
    in_flare = now - plan.phase_since if plan.phase == "flare" else timedelta(0)
    return {
        "slot": slot,
        "steps": [steps[s.key] for s in slot.steps] if slot else [],
        "phase_sentence": PHASE_SENTENCES[Phase(plan.phase)],
        "checkin_first": checkin_first(plan, now),
        # TAPER.md / issue: a flare lasting more than 3 days suggests an earlier visit.
        "suggest_visit": in_flare > timedelta(days=3),
        "flare_days": in_flare.days,
        "done_link": absolute(
            reverse("email-action", args=["done", tokens.action_token(reminder.id, "done")])
        ),
        "checkin_link": absolute(
            reverse("email-action", args=["checkin", tokens.action_token(reminder.id, "checkin")])
        ),
    }
