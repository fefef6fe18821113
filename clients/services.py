"""Writes about people: practices, therapists, clients, sessions and their access."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from clients.models import Client, MassageSession, Practice, Therapist, User


def practice_create(
    *, name: str, postal_address: str, sender_email: str, booking_url: str = ""
) -> Practice:
    return Practice.objects.create(
        name=name, postal_address=postal_address, sender_email=sender_email, booking_url=booking_url
    )


def therapist_create(
    *, practice: Practice, email: str, password: str, display_name: str
) -> Therapist:
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=password, name=display_name)
        return Therapist.objects.create(user=user, practice=practice, display_name=display_name)


def client_user_create() -> User:
    """A login for a client: no password, an internal address that is never mailed."""
    return User.objects.create_user(email=f"client-{uuid.uuid4().hex}@clients.invalid")


def client_create(*, practice: Practice, **fields: object) -> Client:
    with transaction.atomic():
        return Client.objects.create(practice=practice, user=client_user_create(), **fields)


def session_record(
    *, client: Client, therapist: Therapist, date, notes: str = "", duration_minutes: int = 60
) -> MassageSession:
    return MassageSession.objects.create(
        client=client,
        therapist=therapist,
        date=date,
        notes=notes,
        duration_minutes=duration_minutes,
    )


def client_links_revoke(*, client: Client) -> None:
    """Every link sent so far stops working and every phone logged in is logged out.

    django-sesame tokens and Django sessions both carry a hash of the password, so a
    fresh unusable password invalidates both at once.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=client.user_id)
        user.set_unusable_password()
        user.save(update_fields=["password"])
        client.links_revoked_at = timezone.now()
        client.save(update_fields=["links_revoked_at", "updated_at"])
