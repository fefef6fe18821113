"""The aftercare domain: the exercise library, protocols, each client's plan and its history."""

from __future__ import annotations

import logging

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import NoReverseMatch
from django.utils import timezone

from aftercare import videos
from aftercare.rules import routine, taper
from aftercare.rules.attention import Level, Trigger
from aftercare.rules.phases import Frequency, Phase
from aftercare.rules.safety import SIGN_TEXT
from clients.models import Channel, Client, MassageSession, Practice, Therapist

log = logging.getLogger(__name__)


class Dosage(models.Model):
    """Sets, reps and hold time: optional, shown in plain words wherever the step is
    ("2 sets of 10, hold 5 seconds"). Shared by the library and each client's copy."""

    sets = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    reps = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Repetitions in each set.",
    )
    hold_seconds = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(600)],
        help_text="How long to hold each position, in seconds (the routine times it).",
    )

    class Meta:
        abstract = True

    @property
    def dosage(self) -> str:
        return routine.dosage_words(self.sets, self.reps, self.hold_seconds)


class Exercise(Dosage):
    """One entry of a practice's exercise library. Plans copy from it; editing it later
    never changes a plan already assigned."""

    # practice=None marks the built-in library a data migration creates; each practice
    # gets its own editable copy (services.library_install).
    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, null=True, blank=True, related_name="exercises"
    )
    name = models.CharField(max_length=120)
    summary = models.CharField(
        max_length=200, blank=True, help_text="One line for lists and emails."
    )
    instructions = models.TextField()
    safety_notes = models.TextField(blank=True)
    duration_minutes = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    video_url = models.URLField(
        blank=True,
        max_length=500,
        validators=[videos.validate_video_url],
        help_text="A YouTube or Vimeo link, or the https address of an MP4 file.",
    )
    # An uploaded MP4 (served by views.media); the link wins when both are set.
    video_file = models.FileField(upload_to=videos.upload_to, blank=True, max_length=200)
    is_heat = models.BooleanField(
        default=False, help_text="Heat comes before the routine rather than as a step of its own."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


FREQUENCY_CHOICES = [(f.value, f.label) for f in Frequency]
LEVEL_CHOICES = [(level.value, level.label) for level in Level]


def text_choices(name: str, enum: type) -> type[models.TextChoices]:
    """Django choices built from a pure module's enum: same values, same labels."""
    return models.TextChoices(name, [(m.name, (m.value, m.label)) for m in enum])


TRIGGER_CHOICES = [(trigger.value, trigger.label) for trigger in Trigger]
PHASE_CHOICES = [(p.value, p.label) for p in Phase]


class StepFrequencies(models.Model):
    """How often a step comes in each phase; shared by protocol steps and plan steps."""

    flare = models.CharField(max_length=10, choices=FREQUENCY_CHOICES, default=Frequency.DAILY)
    subsiding = models.CharField(max_length=10, choices=FREQUENCY_CHOICES, default=Frequency.DAILY)
    maintenance = models.CharField(
        max_length=10, choices=FREQUENCY_CHOICES, default=Frequency.THREE_A_WEEK
    )

    class Meta:
        abstract = True

    def frequency_in(self, phase: str) -> Frequency:
        """The step's frequency in a phase. A stored value that is not a frequency
        (written by SQL or an import) reads as the column's default, with a warning in
        the log, so the client's pages still render; the therapist's page lists it."""
        if phase == Phase.HOLD:
            return Frequency.NONE
        value = getattr(self, str(phase))
        try:
            return Frequency(value)
        except ValueError:
            default = Frequency(self._meta.get_field(str(phase)).default)
            log.warning(
                "Step %s: %s frequency %r unknown; using %s", self.pk, phase, value, default
            )
            return default


class Protocol(models.Model):
    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, null=True, blank=True, related_name="protocols"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_default", "name"]

    def __str__(self) -> str:
        return self.name


class ProtocolStep(StepFrequencies):
    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="steps")
    exercise = models.ForeignKey(Exercise, on_delete=models.PROTECT, related_name="+")
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.protocol}: {self.exercise}"


class Plan(models.Model):
    """The aftercare plan of one client; active until ended. One active plan per client."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="plans")
    protocol = models.ForeignKey(Protocol, on_delete=models.SET_NULL, null=True, related_name="+")
    session = models.ForeignKey(
        MassageSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="plans"
    )
    assigned_by = models.ForeignKey(
        Therapist, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    name = models.CharField(max_length=120)
    phase = models.CharField(max_length=12, choices=PHASE_CHOICES, default=Phase.SUBSIDING)
    phase_since = models.DateTimeField(default=timezone.now)
    phase_pinned = models.BooleanField(default=False)
    # Logged days in a row at worst pain <= 1 before Maintenance (TAPER.md default 7).
    maintenance_days = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(3), MaxValueValidator(28)]
    )
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Who needs the therapist (aftercare.rules.attention), kept by services.attention_refresh
    # whenever a log, a phase or "Seen" changes it, and by the tick when a clock runs out,
    # so the dashboard sorts and pages in the database.
    # db_default too: the planner and the benchmarks write rows by raw SQL.
    attention_level = models.PositiveSmallIntegerField(
        choices=LEVEL_CHOICES, default=Level.CALM.value, db_default=Level.CALM.value
    )
    attention_reason = models.CharField(max_length=300, blank=True, db_default="")
    attention_at = models.DateTimeField(null=True, blank=True)  # the newest trigger
    attention_seen_at = models.DateTimeField(null=True, blank=True)  # "Seen" tapped
    attention_recheck_at = models.DateTimeField(null=True, blank=True)  # a clock runs out

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client"], condition=models.Q(ended_at=None), name="one_active_plan"
            ),
            # Only the five levels: a stray value (SQL, an import) can't reach the digest.
            models.CheckConstraint(
                condition=models.Q(attention_level__in=[level.value for level in Level]),
                name="plan_attention_level_known",
            ),
        ]
        indexes = [
            models.Index(
                fields=["attention_recheck_at"],
                condition=models.Q(ended_at=None),
                name="plan_attention_recheck",
            ),
            # The dashboard's clients above calm and their count ("N need you"): as many
            # entries as plans needing a therapist, whatever the number of clients.
            models.Index(
                fields=["client", "attention_level", "attention_at"],
                condition=models.Q(ended_at=None, attention_level__gt=Level.CALM.value),
                name="plan_needs_attention",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} for {self.client}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None

    @property
    def phase_enum(self) -> Phase:
        return Phase(self.phase)


class PlanningBookmark(models.Model):
    """How far a plan's reminders are planned: rows exist for every routine slot up to
    `planned_until`; NULL: plan it at the next tick (docs/reminders.md). Marked (NULL) by
    reminders.plan_needs_planning whenever what planning reads changes, which also makes
    a new plan's bookmark; a bookmark whose plan has ended is dropped by the planner.

    A narrow table of its own, not a column of the plan: planning rewrites it for every
    plan it plans, and on the plan that meant a new entry in each of the plan's indexes."""

    plan = models.OneToOneField(
        Plan, on_delete=models.CASCADE, primary_key=True, related_name="bookmark"
    )
    planned_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The tick finds the plans to plan (NULL first, then the soonest to run out)
            # with two range scans of this index, in its order (planned_until, then plan:
            # NULLs last, in plan order): each stops at its LIMIT, and one that finds
            # nothing reads one entry.
            models.Index(fields=["planned_until", "plan"], name="planning_due"),
        ]

    def __str__(self) -> str:
        return f"Plan {self.plan_id} planned until {self.planned_until or '(to plan)'}"


class PlanStep(StepFrequencies, Dosage):
    """A copy of a protocol step for one client, so per-client changes never touch the
    template."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="steps")
    exercise = models.ForeignKey(Exercise, on_delete=models.SET_NULL, null=True, related_name="+")
    order = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=120)
    summary = models.CharField(max_length=200, blank=True)
    instructions = models.TextField()
    safety_notes = models.TextField(blank=True)
    duration_minutes = models.PositiveSmallIntegerField(default=5)
    video_url = models.URLField(blank=True, max_length=500, validators=[videos.validate_video_url])
    # The exercise's uploaded MP4 when the plan was assigned (the same stored file).
    video_file = models.FileField(upload_to=videos.upload_to, blank=True, max_length=200)
    is_heat = models.BooleanField(default=False)
    personal_note = models.TextField(blank=True, help_text="A note for this client only.")
    skipped = models.BooleanField(default=False, help_text="Left out of this client's plan.")
    # Set when a check-in says this step raised pain by 2 or more (TAPER.md): the step
    # leaves the routine until the therapist looks at it.
    paused_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def video(self) -> videos.Video | None:
        """A pasted link wins over an uploaded file. None, never an error, when the stored
        link no longer parses (VIDEO_MP4_HOSTS or SITE_URL changed since): the step shows
        "video unavailable" and the therapist's page says why (`video_problem`)."""
        if self.video_url:
            try:
                return videos.parse(self.video_url)
            except ValueError as error:
                log.warning("Step %s: video link not usable: %s", self.pk, error)
                return None
        if not self.video_file:
            return None
        try:
            return videos.uploaded(self.video_file.name)
        except NoReverseMatch:  # a stored name with no file name in it ("/"): an import
            log.warning(
                "Step %s: uploaded video name not usable: %r", self.pk, self.video_file.name
            )
            return None

    @property
    def video_problem(self) -> str:
        """Why the stored video link can't be shown; "" when it can (or there is none)."""
        if not self.video_url:
            return ""
        try:
            videos.parse(self.video_url)
        except ValueError as error:
            return str(error)
        return ""

    @property
    def in_routine(self) -> bool:
        return not self.skipped and self.paused_at is None


class Completion(models.Model):
    """A step ticked done for one slot ("2026-11-25", "morning")."""

    step = models.ForeignKey(PlanStep, on_delete=models.CASCADE, related_name="completions")
    day = models.DateField()
    slot = models.CharField(max_length=10)
    done_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["step", "day", "slot"], name="one_completion_per_slot")
        ]
        indexes = [models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.step_id} done {self.day} {self.slot}"


class PhaseChange(models.Model):
    class Cause(models.TextChoices):
        ASSIGNED = "assigned", "Plan assigned"
        LOG = "log", "A check-in"
        CLIENT = "client", "The client"
        THERAPIST = "therapist", "The therapist"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="phase_changes")
    from_phase = models.CharField(max_length=12, choices=PHASE_CHOICES, blank=True)
    to_phase = models.CharField(max_length=12, choices=PHASE_CHOICES)
    rule = models.CharField(max_length=40, blank=True)
    reason = models.CharField(max_length=300)
    cause = models.CharField(max_length=10, choices=Cause.choices)
    by = models.ForeignKey("clients.User", on_delete=models.SET_NULL, null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_phase or '-'} -> {self.to_phase} at {self.at:%Y-%m-%d %H:%M}"


class SymptomLog(models.Model):
    """One check-in. Pain on the 0-10 numeric rating scale (NPRS, free to use).

    A "yes" to a safety question ends the form: such a log has no pain answers.
    """

    # The answers' vocabulary is the rules' own (aftercare.rules.taper), defined once.
    Compared = text_choices("Compared", taper.Compared)
    Legs = text_choices("Legs", taper.Legs)
    Sleep = text_choices("Sleep", taper.Sleep)
    Safety = text_choices("Safety", taper.Safety)

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="logs")
    at = models.DateTimeField(default=timezone.now)
    day = models.DateField(help_text="The client's local date.")
    safety = models.CharField(max_length=10, choices=Safety.choices, default=Safety.NONE.value)
    safety_signs = models.JSONField(default=list, blank=True)
    pain_now = models.PositiveSmallIntegerField(null=True, validators=[MaxValueValidator(10)])
    worst_pain = models.PositiveSmallIntegerField(null=True, validators=[MaxValueValidator(10)])
    compared = models.CharField(max_length=12, choices=Compared.choices, blank=True)
    legs = models.CharField(max_length=5, choices=Legs.choices, blank=True)
    sleep = models.CharField(max_length=5, choices=Sleep.choices, blank=True)
    steps_done = models.JSONField(default=list, blank=True)
    worse_steps = models.JSONField(default=list, blank=True)
    worse_by = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(10)])
    note = models.TextField(blank=True, max_length=2000)
    flare_tap = models.BooleanField(default=False)
    gone_tap = models.BooleanField(default=False)
    # The form's one-time key: a double tap on Save finds the first log, not a second.
    submission_key = models.UUIDField(unique=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["plan", "at"])]

    def __str__(self) -> str:
        return f"Check-in {self.at:%Y-%m-%d %H:%M} (worst {self.worst_pain})"

    def safety_sign_texts(self) -> list[str]:
        return [SIGN_TEXT.get(key, key) for key in self.sign_keys()]

    def sign_keys(self) -> list[str]:
        """The stored safety signs; anything that is not a list of names (a row written
        by SQL or an import) is left out, never an error on a page."""
        signs = self.safety_signs
        return [key for key in signs if isinstance(key, str)] if isinstance(signs, list) else []


class Alert(models.Model):
    """Something the therapist should look at; open until they mark it handled."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=40, choices=TRIGGER_CHOICES)
    # The kind's attention level (aftercare.rules.attention.LEVEL_OF): higher comes first.
    severity = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=400)
    step = models.ForeignKey(PlanStep, on_delete=models.SET_NULL, null=True, blank=True)
    log = models.ForeignKey(SymptomLog, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        "clients.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-severity", "-created_at"]
        indexes = [models.Index(fields=["plan", "resolved_at"])]

    def __str__(self) -> str:
        return self.message

    @property
    def is_safety(self) -> bool:
        return self.kind in (Trigger.SAFETY_EMERGENCY, Trigger.SAFETY_DOCTOR)

    @property
    def level(self) -> Level:
        return Level(self.severity) if self.severity in Level._value2member_map_ else Level.SOON


class Reminder(models.Model):
    """The outbox: every email the app sends is a row here before it is sent (reminders,
    booking nudges, plan links, the therapist's alerts and morning digest), claimed and
    sent by the same code. The broker only carries ids, so a lost message loses nothing,
    and no web request ever talks to the mail server."""

    class Kind(models.TextChoices):
        ROUTINE = "routine", "Routine reminder"
        BOOKING = "booking", "Booking nudge"
        BOOKING_FOLLOWUP = "booking_followup", "Booking follow-up"
        LINK = "link", "Plan link"
        ALERT = "alert", "Alert to the therapist"
        DIGEST = "digest", "Morning digest"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # planned, not yet due
        QUEUED = "queued", "Queued"  # claimed by a tick, handed to a worker
        SENDING = "sending", "Sending"  # a worker is talking to the mail server
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"  # re-checked at send time: not needed (see reason)
        FAILED = "failed", "Failed"  # the mail server refused it for good

    # The client it is for or about; empty only for a digest (about several clients).
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, null=True, blank=True, related_name="reminders"
    )
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, null=True, related_name="reminders")
    # Set for the emails that go to a therapist (alerts, digests), empty for the client's.
    therapist = models.ForeignKey(
        Therapist, on_delete=models.CASCADE, null=True, blank=True, related_name="outbox"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # "2026-11-25/morning" for a routine slot, "booking/2026-11-18" for a nudge counted
    # from the session of 18 Nov. Unique with client and kind: planning twice adds nothing.
    slot_key = models.CharField(max_length=80)
    slot_day = models.DateField()
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    reason = models.CharField(max_length=300, blank=True)
    # What an alert is about, as it was when it was queued (the plan may have moved on by
    # the time a retry goes).
    detail = models.CharField(max_length=300, blank=True, db_default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    interrupted = models.BooleanField(
        default=False, help_text="A worker died while sending it; it was sent again."
    )
    # How it went (or is going): email until the send resolves the client's channel.
    channel = models.CharField(
        max_length=5, choices=Channel.choices, default=Channel.EMAIL, db_default="email"
    )
    # What did not work on the way, for the therapist: "Notification failed (410: the
    # phone turned them off); sent by email instead."
    channel_note = models.CharField(max_length=300, blank=True, db_default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "kind", "slot_key"], name="one_reminder_per_slot"
            ),
            models.UniqueConstraint(
                fields=["therapist", "kind", "slot_key"],
                condition=models.Q(client=None),
                name="one_digest_per_slot",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["client", "due_at"]),
        ]

    def __str__(self) -> str:
        who = f"client {self.client_id}" if self.client_id else f"therapist {self.therapist_id}"
        return f"{self.get_kind_display()} {self.slot_key} for {who}"


class PushSubscription(models.Model):
    """One browser (a phone, a laptop) that said yes to notifications for a client. The
    push service forgets an endpoint (404/410) when the client turns notifications off
    or uninstalls: the send deletes the row then, as do logging out and revoking."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=120)  # the browser's public key (base64url)
    auth = models.CharField(max_length=40)  # the shared auth secret (base64url)
    # The login session it was made in: "Forget this phone" removes that phone's rows.
    session_key = models.CharField(max_length=40, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Notifications for client {self.client_id} ({self.user_agent[:40] or 'a browser'})"


class Heartbeat(models.Model):
    """When a periodic job last ran (the beat tick): /healthz reports its age."""

    name = models.CharField(max_length=40, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at}"
