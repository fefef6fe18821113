"""Writes about people: practices, therapists, clients, sessions and their access."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from clients.models import AuditEvent, Client, MassageSession, Practice, Therapist, User


def practice_create(
    *, name: str, postal_address: str, sender_email: str, booking_url: str = ""
) -> Practice:
    practice = Practice(
        name=name, postal_address=postal_address, sender_email=sender_email, booking_url=booking_url
    )
    practice.full_clean()
    practice.save()
    return practice


def therapist_create(
    *, practice: Practice, email: str, password: str, display_name: str
) -> Therapist:
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=password, name=display_name)
        return Therapist.objects.create(user=user, practice=practice, display_name=display_name)


def client_user_create() -> User:
    """A login for a client: no password, an internal address that is never mailed."""
    return User.objects.create_user(email=f"client-{uuid.uuid4().hex}@clients.invalid")


def client_create(*, practice: Practice, by: User | None = None, **fields: object) -> Client:
    """Raises ValidationError for a value the model refuses (a zone that is not real,
    weekdays out of range...), whoever calls: a form, a command or an import."""
    _validate(Client(practice=practice, **fields), fields)
    with transaction.atomic():
        client = Client.objects.create(practice=practice, user=client_user_create(), **fields)
        audit_event_record(client=client, by=by, action=AuditEvent.Action.CLIENT_ADDED)
        return client


def client_update(*, client: Client, by: User | None, **fields: object) -> list[str]:
    """Save the therapist's edits; returns (and records) the names of the fields that
    changed. Compared with the stored row, since a bound ModelForm already changed
    `client` in memory."""
    with transaction.atomic():
        stored = Client.objects.select_for_update().get(pk=client.pk)
        changed = [name for name, value in fields.items() if getattr(stored, name) != value]
        for name, value in fields.items():
            setattr(client, name, value)
        _validate(client, fields)
        # Only the edited fields: a one-click unsubscribe or a pause committed since the
        # form was loaded must not be overwritten.
        client.save(update_fields=[*fields, "updated_at"])
        if changed:
            # Names only: the notes and contact details themselves stay out of the history.
            labels = [str(Client._meta.get_field(name).verbose_name) for name in changed]
            audit_event_record(
                client=client,
                by=by,
                action=AuditEvent.Action.CLIENT_EDITED,
                detail="Changed: " + ", ".join(labels),
            )
    return changed


def _validate(instance, fields) -> None:
    """The model's field validators for the fields being written (full_clean), so a bad
    value is refused before it is stored rather than breaking pages and reminders later.
    Uniqueness stays with the database constraint."""
    names = {field.name for field in instance._meta.fields}
    instance.full_clean(
        exclude=names - set(fields), validate_unique=False, validate_constraints=False
    )


def session_record(
    *, client: Client, therapist: Therapist, date, notes: str = "", duration_minutes: int = 60
) -> MassageSession:
    from aftercare.outbox import reminders

    session = MassageSession.objects.create(
        client=client,
        therapist=therapist,
        date=date,
        notes=notes,
        duration_minutes=duration_minutes,
    )
    reminders.plan_needs_planning(client=client)  # its booking nudges
    return session


def client_links_revoke(*, client: Client, by: User | None = None) -> None:
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
        # Notifications carry a login link: the phones that had them on get none now.
        client.push_subscriptions.all().delete()
        audit_event_record(client=client, by=by, action=AuditEvent.Action.LINKS_REVOKED)


def audit_event_record(
    *, client: Client, by: User | None, action: str, detail: str = "", at: datetime | None = None
) -> AuditEvent:
    """One line of the client's History. Call it inside the write's transaction, so the
    record and the change commit (or roll back) together."""
    return AuditEvent.objects.create(
        client=client,
        actor=by,
        actor_name=actor_name(by),
        action=action,
        detail=detail[:300],
        at=at or timezone.now(),
    )


def actor_name(user: User | None) -> str:
    if user is None:
        return ""
    therapist = getattr(user, "therapist", None)
    if therapist is not None:
        return therapist.display_name
    client = getattr(user, "client", None)
    if client is not None:
        return f"{client.name} (client)"
    return user.name or user.email
