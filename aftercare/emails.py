"""Emails as three templates each: emails/NAME-subject.txt, NAME-body.txt, NAME-body.html.

Subjects never carry pain scores or health details: they show on lock screens.
"""

from __future__ import annotations

from email.utils import formataddr, make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from sesame.utils import get_query_string

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


def alert_send(*, alert) -> None:
    """Tell the client's therapist (or every therapist of the practice) at once.

    The email says who and where to look, not the client's answers: details stay
    behind the therapist's login.
    """
    plan = alert.plan
    client = plan.client
    practice = client.practice
    therapists = [client.primary_therapist] if client.primary_therapist else []
    therapists = therapists or list(practice.therapists.select_related("user"))
    page = absolute(reverse("therapist-client", args=[client.public_id]))
    for therapist in therapists:
        make_message(
            "therapist-alert",
            to=therapist.user.email,
            practice=practice,
            context={"client": client, "therapist": therapist, "page": page, "alert": alert},
        ).send()
