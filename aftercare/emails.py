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
from sesame.utils import get_query_string

from aftercare import tokens
from aftercare.phases import PHASE_SENTENCES, Phase
from clients.models import Client, Practice


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def client_link(client: Client, next_path: str | None = None) -> str:
    """The magic link that logs the client in on the phone that opens it."""
    url = absolute(reverse("client-login")) + get_query_string(client.user)
    if next_path:
        url += "&next=" + next_path
    return url


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


def plan_link_send(*, client: Client, first: bool = False) -> None:
    """Email the client the link to their plan (after a session, or on request)."""
    message = make_message(
        "plan-link",
        to=client.email,
        practice=client.practice,
        context={"client": client, "link": client_link(client), "first": first},
    )
    message.send()


class AlertNotSent(Exception):
    """Some therapists' copies failed; `addresses` says whose, for a retry of just those."""

    def __init__(self, addresses: list[str], error: Exception) -> None:
        super().__init__(f"{len(addresses)} not sent: {error}")
        self.addresses = addresses


def alert_send(*, alert, only: list[str] | None = None) -> None:
    """Tell the client's therapist (or every therapist of the practice) at once; `only`
    limits a retry to the addresses that failed, so nobody gets the alert twice.

    The email says who and where to look, not the client's answers: details stay
    behind the therapist's login.
    """
    plan = alert.plan
    client = plan.client
    practice = client.practice
    therapists = [client.primary_therapist] if client.primary_therapist else []
    therapists = therapists or list(practice.therapists.select_related("user"))
    page = absolute(reverse("therapist-client", args=[client.public_id]))
    failed: list[str] = []
    last_error: Exception | None = None
    for therapist in therapists:
        address = therapist.user.email
        if only is not None and address not in only:
            continue
        try:
            make_message(
                "therapist-alert",
                to=address,
                practice=practice,
                context={"client": client, "therapist": therapist, "page": page, "alert": alert},
            ).send()
        except Exception as error:  # the others still get theirs
            failed.append(address)
            last_error = error
    if failed:
        raise AlertNotSent(failed, last_error)


def _reminder_domain(practice: Practice) -> str:
    return (practice.sender_email or "aftercare@localhost").rpartition("@")[2]


def reminder_message_id(reminder) -> str:
    """Stable per row: a retry or a re-send after a crash carries the same Message-ID,
    so a mail server or client can tell it is the same email."""
    return f"<reminder.{reminder.id}.{reminder.kind}@{_reminder_domain(reminder.client.practice)}>"


def unsubscribe_url(client: Client, kind: str) -> str:
    token = tokens.unsubscribe_token(client.id, kind)
    return absolute(reverse("email-unsubscribe", args=[kind, token]))


def reminder_message(reminder, *, now) -> EmailMultiAlternatives:
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
        context.update(_routine_context(reminder, now))
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


def _routine_context(reminder, now) -> dict[str, object]:
    from aftercare import checkins, reminders, taper  # these import emails

    plan = reminder.plan
    slot = reminders.slot_of(reminder)
    steps = {step.id: step for step in plan.steps.all()}
    last_log = plan.logs.order_by("-at").values_list("at", flat=True).first()
    state = checkins.plan_state(plan)
    in_flare = now - plan.phase_since if plan.phase == "flare" else timedelta(0)
    return {
        "slot": slot,
        "steps": [steps[s.key] for s in slot.steps] if slot else [],
        "phase_sentence": PHASE_SENTENCES[Phase(plan.phase)],
        "checkin_first": taper.checkin_overdue(state.phase, last_log, state.phase_since, now),
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
