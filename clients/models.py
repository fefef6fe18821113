"""The people: the practice, its therapists, its clients and their massage sessions.

This app never imports `aftercare`; it links to aftercare pages by URL name only.
"""

from __future__ import annotations

import logging
import uuid
import zoneinfo
from datetime import date, time
from functools import lru_cache

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

log = logging.getLogger(__name__)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Everyone who logs in: therapists with email and password, clients by magic link.

    A client's user has no password and an internal address, so the same person can be
    a client of two practices without either practice learning about the other.
    """

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.name or self.email


def validate_zone(value: str) -> None:
    if value not in _zone_names():
        raise ValidationError(
            "“%(value)s” is not a time zone we know. Pick one from the list, e.g. Europe/London.",
            params={"value": value},
        )


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    # available_timezones() reads the whole tz database each call: once per process.
    return frozenset(zoneinfo.available_timezones())


FALLBACK_ZONE = "UTC"


@lru_cache(maxsize=512)
def known_zone(name: object) -> zoneinfo.ZoneInfo | None:
    """The zone a stored name stands for, or None when it is not a real zone (a value
    written by SQL or an import, or dropped by a newer tz database)."""
    if not isinstance(name, str) or not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        return None


class Practice(models.Model):
    name = models.CharField(max_length=200)
    postal_address = models.TextField(
        help_text="Shown in the footer of every email, as the law on marketing email asks."
    )
    booking_url = models.URLField(blank=True, help_text="Where clients book their next massage.")
    sender_email = models.EmailField(help_text="Reminders are sent from this address.")
    phone = models.CharField(max_length=40, blank=True)
    emergency_number = models.CharField(
        max_length=20, default="999", help_text="Shown on the emergency screen (112, 911, 999)."
    )
    time_zone = models.CharField(
        max_length=64,
        default="Europe/London",
        validators=[validate_zone],
        help_text="Times on the therapists' pages (check-ins, phase changes) are shown in it.",
    )
    # Text messages cost money: off until the practice switches them on.
    sms_enabled = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Let clients choose text-message reminders (each text is charged).",
    )
    sms_sender = models.CharField(
        max_length=20,
        blank=True,
        db_default="",
        help_text="The number texts come from (+447700900123) or a name of up to 11 letters "
        "(where the country allows it; clients cannot reply STOP to a name). Empty: the "
        "server's SMS_FROM.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The practice's zone; UTC (with a warning in the log) if the stored one is not
        a real zone, so a bad value never takes the therapist's pages down."""
        found = known_zone(self.time_zone)
        if found is None:
            log.warning(
                "Practice %s: time zone %r is not a real zone; using %s",
                self.pk,
                self.time_zone,
                FALLBACK_ZONE,
            )
            return zoneinfo.ZoneInfo(FALLBACK_ZONE)
        return found

    @property
    def zone_name(self) -> str:
        return str(self.zone.key)


class Therapist(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="therapist")
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="therapists")
    display_name = models.CharField(max_length=150)
    # The 07:30 email listing the clients at soon or watch (Settings turns it off).
    digest_emails = models.BooleanField(
        default=True,
        db_default=True,
        help_text="A morning email listing the clients who need a look soon.",
    )

    def __str__(self) -> str:
        return self.display_name


def zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


def validate_weekdays(value: list[int]) -> None:
    if not isinstance(value, list) or not all(isinstance(d, int) and 0 <= d <= 6 for d in value):
        raise ValidationError("Pick days of the week.")
    if len(set(value)) != 3:
        raise ValidationError("Pick exactly three different days.")


def default_three_days() -> list[int]:
    return [0, 2, 4]


class Channel(models.TextChoices):
    """Where a reminder goes: the client's choice on Client, what was used on an outbox row."""

    EMAIL = "email", "Email"
    PUSH = "push", "Notification"
    SMS = "sms", "Text message"


class Client(models.Model):
    class Cadence(models.TextChoices):
        WEEKLY = "weekly", "Every week"
        FORTNIGHTLY = "fortnightly", "Every 2 weeks"
        MONTHLY = "monthly", "Every month"
        NONE = "none", "No regular massage"

    # The public id goes into no URL a client sees; it keeps exports and logs free of
    # guessable sequence numbers.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="clients")
    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="client")
    name = models.CharField(max_length=150)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    time_zone = models.CharField(max_length=64, default="Europe/London", validators=[validate_zone])
    massage_cadence = models.CharField(
        max_length=12, choices=Cadence.choices, default=Cadence.FORTNIGHTLY
    )
    primary_therapist = models.ForeignKey(
        Therapist, on_delete=models.SET_NULL, null=True, blank=True, related_name="clients"
    )
    active = models.BooleanField(default=True)
    notes = models.TextField(blank=True)

    # Contact preferences: the client changes these on their Settings page.
    morning_time = models.TimeField(default=time(8, 0))
    evening_time = models.TimeField(default=time(19, 0))
    reset_weekday = models.PositiveSmallIntegerField(
        choices=WEEKDAYS, default=6, validators=[MaxValueValidator(6)]
    )
    three_x_days = models.JSONField(default=default_three_days, validators=[validate_weekdays])
    quiet_start = models.TimeField(default=time(21, 0))
    quiet_end = models.TimeField(default=time(7, 30))
    paused_until = models.DateField(null=True, blank=True)
    routine_emails = models.BooleanField(default=True)
    booking_emails = models.BooleanField(default=True)

    # How reminders reach the client (aftercare/outbox/channels.py). Email is always the
    # way back when a push or a text cannot go.
    reminder_channel = models.CharField(
        max_length=5, choices=Channel.choices, default=Channel.EMAIL, db_default="email"
    )
    # The therapist's suggestion, shown to the client on Settings; blank = none. It never
    # changes reminder_channel: the choice (and the consent to texts) is the client's.
    suggested_channel = models.CharField(
        "suggested reminders by",
        max_length=5,
        choices=Channel.choices,
        blank=True,
        default="",
        db_default="",
    )
    # Text messages: the number in E.164 (+447700900123), when the client agreed to texts
    # (kept as proof of consent), and when they replied STOP (texts end until START).
    sms_number = models.CharField(max_length=20, blank=True, db_default="")
    sms_opt_in_at = models.DateTimeField(null=True, blank=True)
    sms_stopped_at = models.DateTimeField(null=True, blank=True)

    links_revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "email"], name="client_email_per_practice")
        ]
        indexes = [
            models.Index(fields=["practice", "active"]),
            # The dashboard's calm clients by name, a page at a time (selectors.Everyone).
            models.Index("practice", "active", Lower("name"), "id", name="client_dashboard_order"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name

    def is_paused(self, today: date) -> bool:
        return self.paused_until is not None and today <= self.paused_until

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The client's zone. Never raises: a stored name that is not a real zone falls
        back to the practice's zone (then UTC), with a warning in the log; the therapist's
        page lists the problem (aftercare.data_problems)."""
        found = known_zone(self.time_zone)
        if found is None:
            found = self.practice.zone
            log.warning(
                "Client %s: time zone %r is not a real zone; using %s",
                self.pk,
                self.time_zone,
                found.key,
            )
        return found

    @property
    def zone_name(self) -> str:
        """The name of `zone`, for code that takes an IANA name (the schedule)."""
        return str(self.zone.key)

    def local_today(self) -> date:
        return timezone.now().astimezone(self.zone).date()


class MassageSession(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="sessions")
    therapist = models.ForeignKey(
        Therapist, on_delete=models.SET_NULL, null=True, related_name="sessions"
    )
    date = models.DateField(default=timezone.localdate)
    notes = models.TextField(blank=True)
    duration_minutes = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(10), MaxValueValidator(240)]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "-id"]

    def __str__(self) -> str:
        return f"{self.client} on {self.date:%d %b %Y}"


class AuditEvent(models.Model):
    """Who changed a client's details, plan or phase, and when: written by the services
    that make the change (never by signals), shown as the client page's History.

    `detail` names what changed, never the health details themselves. The events belong
    to the client: deleting the client deletes them.
    """

    class Action(models.TextChoices):
        CLIENT_ADDED = "client_added", "Client added"
        CLIENT_EDITED = "client_edited", "Details edited"
        PLAN_ASSIGNED = "plan_assigned", "Plan assigned"
        PLAN_STEPS_EDITED = "plan_steps_edited", "Plan steps adjusted"
        PLAN_ENDED = "plan_ended", "Plan ended"
        PHASE_SET = "phase_set", "Phase set"
        PHASE_PINNED = "phase_pinned", "Phase pinned"
        PHASE_UNPINNED = "phase_unpinned", "Phase unpinned"
        PHASE_CHANGED = "phase_changed", "Phase changed"
        LINK_SENT = "link_sent", "Link emailed"
        LINKS_REVOKED = "links_revoked", "Links revoked"
        DATA_EXPORTED = "data_exported", "Data exported"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept as written at the time, so the history still says who after a therapist leaves.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    detail = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["client", "-at"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_name or 'the system'}"


class SubmissionKey(models.Model):
    """One submit of a form that creates something (a client, a session and plan, an
    exercise, the library). The form carries a fresh random key; the view claims it in
    the same transaction as the creation, so a double click, a retry or five parallel
    posts of the same form create one thing and every copy answers with the first one's
    redirect (aftercare/submissions.py). Kept a day, then pruned."""

    key = models.UUIDField(unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Where the first submit went (a local path): every repeat goes there too.
    result_url = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"{self.key} → {self.result_url or '…'}"
