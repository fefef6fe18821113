"""Forms: every field checked, every error said next to the field in plain words."""

from __future__ import annotations

from datetime import time, timedelta

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.templatetags.static import static
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from aftercare import services, videos
from aftercare.models import FREQUENCY_CHOICES, Exercise, PlanStep, Protocol, SymptomLog
from aftercare.rules import safety, schedule
from aftercare.rules.phases import Phase
from clients import throttle
from clients.models import WEEKDAYS, Channel, Client, Therapist, _zone_names, validate_zone

STARTING_PHASES = [(p.value, p.label) for p in Phase if p != Phase.HOLD]


class LoginForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args, ip: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ip = ip
        self.user = None

    def clean(self):
        data = super().clean()
        email, password = data.get("email"), data.get("password")
        if not email or not password:
            return data
        login_attempt_start(email, self.ip)
        user = authenticate(username=email.lower(), password=password)
        if user is None or not hasattr(user, "therapist"):
            raise ValidationError(
                "That email and password don't match a therapist account.", code="invalid"
            )
        login_attempt_succeeded(email, self.ip)
        self.user = user
        return data


def login_attempt_start(email: str, ip: str) -> None:
    """Count one login attempt for the address and for the IP; refuse once either has
    used up its attempts. Counted before the password is checked, so a burst of parallel
    guesses cannot all slip in before the first one is counted."""
    window = settings.LOGIN_WINDOW_SECONDS
    ok_email = throttle.hit(
        "login-email", email, limit=settings.LOGIN_ATTEMPTS_PER_EMAIL, window=window
    )
    ok_ip = throttle.hit("login-ip", ip, limit=settings.LOGIN_ATTEMPTS_PER_IP, window=window)
    if not (ok_email and ok_ip):
        raise ValidationError(
            f"Too many attempts. For your clients' safety, logging in is paused for up to "
            f"{window // 60} minutes. Try again later or ask the practice owner to reset your "
            "password.",
            code="throttled",
        )


def login_attempt_succeeded(email: str, ip: str) -> None:
    """Only failures count: the address starts afresh and the IP gets its attempt back,
    so a practice whose therapists share one address (NAT) never locks itself out."""
    throttle.clear("login-email", email)
    throttle.refund("login-ip", ip)


class AdminLoginForm(AdminAuthenticationForm):
    """Django admin's login with the same limits as the therapists' login."""

    def clean(self):
        email, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not email or not password:
            return super().clean()
        from aftercare.views.access import client_ip  # the address rate limits count

        ip = client_ip(self.request)
        login_attempt_start(email, ip)
        data = super().clean()  # raises for a wrong password or a user who isn't staff
        login_attempt_succeeded(email, ip)
        return data


# The time zone is typed with suggestions, not picked from a 600-option <select> (which was
# nearly all of a 40 KB page): a dozen likely zones come with the page, the full list is a
# cached static file (static/data/zones.json) fetched on first focus by static/js/zones.js,
# and the server checks what was typed with the model's own validator.
COMMON_ZONES = (
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "Asia/Dubai",
    "UTC",
)


class ZoneInput(forms.TextInput):
    """A text input with a <datalist> of likely zones (the first ones: the practice's and
    the client's own)."""

    def __init__(self, attrs=None) -> None:
        defaults = {
            "autocomplete": "off",
            "autocapitalize": "none",
            "spellcheck": "false",
            "placeholder": "e.g. Europe/London",
        }
        super().__init__({**defaults, **(attrs or {})})
        self.likely: list[str] = list(COMMON_ZONES)

    def render(self, name, value, attrs=None, renderer=None):
        attrs = dict(attrs or {})
        list_id = f"{attrs.get('id') or 'id_' + name}-zones"
        attrs["list"] = list_id
        html = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}"></option>', ((z,) for z in self.likely))
        return format_html(
            '{}<datalist id="{}" data-zones="{}">{}</datalist><script src="{}" defer></script>',
            html,
            list_id,
            static("data/zones.json"),
            options,
            static("js/zones.js"),
        )


class ZoneField(forms.CharField):
    """An IANA zone typed by hand: forgiving of case and spaces ("europe/new york" is
    America/New_York's cousin, not an error), strict about the zone existing."""

    widget = ZoneInput

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 64)
        super().__init__(validators=[validate_zone], **kwargs)

    def to_python(self, value):
        typed = " ".join(super().to_python(value).split())
        wanted = typed.replace(" ", "_").casefold()
        for name in _zone_names():
            if name.casefold() == wanted:
                return name
        return typed

    def suggest(self, *zones: str) -> None:
        """Put these zones (the practice's, the client's own) first in the suggestions."""
        first = [z for z in zones if z and z in _zone_names()]
        self.widget.likely = list(dict.fromkeys([*first, *COMMON_ZONES]))


class ClientForm(forms.ModelForm):
    time_zone = ZoneField(
        help_text="Reminders arrive at the client's local time. Type a city to see "
        "suggestions, e.g. Europe/London or America/New_York.",
    )

    class Meta:
        model = Client
        fields = [
            "name",
            "email",
            "phone",
            "time_zone",
            "massage_cadence",
            "primary_therapist",
            "suggested_channel",
            "notes",
        ]
        labels = {
            "massage_cadence": "Massage every",
            "suggested_channel": "Suggest reminders by",
            "notes": "Private notes",
        }
        help_texts = {
            "suggested_channel": "The client decides: they see your suggestion in their "
            "settings, and their own choice stays until they change it. Texts only when your "
            "practice sends them.",
            "notes": "Only therapists of your practice see these.",
        }
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, practice, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.practice = practice
        self.fields["primary_therapist"].queryset = Therapist.objects.filter(practice=practice)
        self.fields["email"].widget.attrs["autocomplete"] = "off"
        self.fields["time_zone"].suggest(practice.time_zone, self.instance.time_zone)
        suggested = self.fields["suggested_channel"]
        suggested.error_messages["invalid_choice"] = "Pick one of the ways in the list."
        # The field accepts every channel (so texts while they are off get the message
        # below); the list shows texts only while the practice sends them, or when texts
        # are already the suggestion, so saving the form keeps it.
        shown = [
            ("", "No suggestion"),
            (Channel.EMAIL, "Email"),
            (Channel.PUSH, "A notification on their phone"),
        ]
        if practice.sms_enabled or self.instance.suggested_channel == Channel.SMS:
            shown.append((Channel.SMS, "A text message"))
        suggested.widget.choices = shown

    def clean_suggested_channel(self) -> str:
        channel = self.cleaned_data["suggested_channel"]
        unchanged = channel == self.instance.suggested_channel and self.instance.pk
        if channel == Channel.SMS and not self.practice.sms_enabled and not unchanged:
            raise ValidationError(
                "Your practice doesn't send texts: turn texts on in Settings first, or "
                "suggest email or a notification."
            )
        return channel

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        others = Client.objects.filter(practice=self.practice, email=email)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise ValidationError("A client of your practice already has this email address.")
        return email


class SessionPlanForm(forms.Form):
    """Record a session and assign the plan in one go."""

    date = forms.DateField(
        initial=timezone.localdate,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    notes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What you worked on; private to your practice.",
    )
    protocol = forms.ModelChoiceField(queryset=Protocol.objects.none(), empty_label=None)
    phase = forms.ChoiceField(
        choices=STARTING_PHASES,
        label="Starting phase",
        initial=Phase.SUBSIDING,
        widget=forms.RadioSelect,
        # What each phase means for the client, so the choice is not a guess.
        help_text=(
            "Flare: severe pain now (7 or more) or just flared; the routine comes twice a "
            "day. Subsiding: settling; once a day. Maintenance: symptoms gone; a weekly "
            "reset and a few short sessions a week. Check-ins move the phase from here."
        ),
    )
    send_link = forms.BooleanField(
        required=False, initial=True, label="Email the client the link to their plan"
    )

    def __init__(self, *args, practice, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["protocol"].queryset = Protocol.objects.filter(practice=practice)

    def clean_date(self):
        day = self.cleaned_data["date"]
        if day > timezone.localdate() + timedelta(days=1):
            raise ValidationError("The session date can't be in the future.")
        return day


class StepTweakForm(forms.Form):
    """One protocol step, as adjusted for this client when the plan is assigned."""

    include = forms.BooleanField(required=False, initial=True, label="Include")
    personal_note = forms.CharField(
        required=False, max_length=1000, label="Note for this client", widget=forms.TextInput
    )
    flare = forms.ChoiceField(choices=FREQUENCY_CHOICES, label="Flare")
    subsiding = forms.ChoiceField(choices=FREQUENCY_CHOICES, label="Subsiding")
    maintenance = forms.ChoiceField(choices=FREQUENCY_CHOICES, label="Maintenance")


def video_field() -> forms.URLField:
    # The model field's validator still runs: only YouTube, Vimeo or MP4 on allowed hosts.
    return forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Video link",
        help_text="A YouTube or Vimeo link, or the https address of an MP4 file.",
    )


# Sets, reps and hold (optional): the same labels and messages in the library and on one
# client's steps. The bounds are the model's validators.
DOSAGE_FIELDS = ("sets", "reps", "hold_seconds")
DOSAGE_LABELS = {"sets": "Sets", "reps": "Reps (per set)", "hold_seconds": "Hold (seconds)"}
DOSAGE_ERRORS = {
    "sets": {
        "min_value": "Sets: at least 1, or leave it empty.",
        "max_value": "Sets: at most 10.",
        "invalid": "Sets: a whole number, e.g. 2.",
    },
    "reps": {
        "min_value": "Reps: at least 1, or leave it empty.",
        "max_value": "Reps: at most 100.",
        "invalid": "Reps: a whole number, e.g. 10.",
    },
    "hold_seconds": {
        "min_value": "Hold: at least 1 second, or leave it empty.",
        "max_value": "Hold: at most 600 seconds (10 minutes).",
        "invalid": "Hold: a whole number of seconds, e.g. 30.",
    },
}


class PlanStepForm(forms.ModelForm):
    video_url = video_field()
    resume = forms.BooleanField(
        required=False, label="Put back in the routine (it was paused: it raised pain)"
    )

    def save(self, commit: bool = True) -> PlanStep:
        if self.cleaned_data.get("resume"):
            self.instance.paused_at = None
        return super().save(commit)

    class Meta:
        model = PlanStep
        fields = [
            "skipped",
            "personal_note",
            "flare",
            "subsiding",
            "maintenance",
            "video_url",
            *DOSAGE_FIELDS,
        ]
        labels = {"skipped": "Leave out", "video_url": "Video link", **DOSAGE_LABELS}
        error_messages = DOSAGE_ERRORS
        widgets = {"personal_note": forms.TextInput}


class PhaseForm(forms.Form):
    phase = forms.ChoiceField(choices=[(p.value, p.label) for p in Phase])
    pinned = forms.BooleanField(
        required=False, label="Pin: keep this phase whatever the check-ins say"
    )
    reason = forms.CharField(required=False, max_length=200)


class ResumeForm(forms.Form):
    """Resume after a warning sign: the phase the routine goes on in (never Hold)."""

    phase = forms.ChoiceField(
        choices=[(p.value, p.label) for p in Phase if p is not Phase.HOLD],
        initial=Phase.SUBSIDING.value,
        label="Go on in",
    )


class TherapistSettingsForm(forms.ModelForm):
    class Meta:
        model = Therapist
        fields = ["digest_emails"]
        labels = {"digest_emails": "Email me a morning digest"}
        help_texts = {
            "digest_emails": "At 07:30 on days when a client needs a look soon (pain up, much "
            "worse, no check-in for 2 days...). Urgent ones always reach you at once."
        }


class VideoUploadForm(forms.ModelForm):
    """An exercise's uploaded MP4 checked (extension, `ftyp`, size); also the admin's form."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["video_file"].help_text = videos.upload_help()
        self.fields["video_file"].max_length = None  # the stored name is ours, not theirs

    def clean_video_file(self):
        upload = self.cleaned_data.get("video_file")
        if isinstance(upload, UploadedFile):  # not the file already saved, nor "clear"
            videos.validate_upload(upload)
        return upload


class ExerciseForm(VideoUploadForm):
    video_url = video_field()

    class Meta:
        model = Exercise
        fields = [
            "name",
            "summary",
            "instructions",
            "safety_notes",
            "duration_minutes",
            *DOSAGE_FIELDS,
            "video_url",
            "video_file",
            "is_heat",
        ]
        error_messages = DOSAGE_ERRORS
        labels = {
            **DOSAGE_LABELS,
            "video_url": "Video link",
            "video_file": "Or upload a video (MP4)",
            "is_heat": "This is heat (comes before the routine)",
        }
        widgets = {
            "instructions": forms.Textarea(attrs={"rows": 6}),
            "safety_notes": forms.Textarea(attrs={"rows": 3}),
            "video_file": forms.ClearableFileInput(attrs={"accept": "video/mp4,.mp4"}),
        }


class NewLinkForm(forms.Form):
    email = forms.EmailField(
        label="Your email address",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
        error_messages={"required": "Enter the email address your therapist has for you."},
    )


PAIN_CHOICES = [(n, str(n)) for n in range(11)]
WORSE_BY_CHOICES = [(1, "A little (about 1 point)"), (2, "A lot (2 points or more)")]


# "Both legs" or "woken by pain" asks the matching warning sign again before the log is
# saved (TAPER.md, "Attention"): the client may have skipped past the list.
# sign -> (the answer's field, the value that asks it)
REASKS: dict[str, tuple[str, str]] = {
    "legs_weak": ("legs", "both"),
    "night_pain": ("sleep", "woken"),
}
YES_NO = [("yes", "Yes"), ("no", "No")]
REASK_REQUIRED = "Please answer this one before we save: it keeps you safe."
SIGNS_PROMPT = (
    "Tick the signs you have now. If none of these fit, tick “None of these after all” "
    "and carry on."
)


class CheckinForm(forms.Form):
    """The symptom check-in. Safety first: a "yes" there stops the rest of the form."""

    warning = forms.ChoiceField(
        label="Do you have any of the warning signs?",
        choices=[("no", "No, none of them"), ("yes", "Yes")],
        widget=forms.RadioSelect,
        error_messages={"required": "Please answer this first: it keeps you safe."},
    )
    safety_signs = forms.MultipleChoiceField(
        required=False,
        choices=[(k, t) for k, t in safety.EMERGENCY_SIGNS + safety.DOCTOR_SIGNS],
        widget=forms.CheckboxSelectMultiple,
        label="Which ones?",
    )
    pain_now = forms.TypedChoiceField(
        required=False,
        coerce=int,
        choices=PAIN_CHOICES,
        widget=forms.RadioSelect,
        label="Pain right now",
    )
    worst_pain = forms.TypedChoiceField(
        required=False,
        coerce=int,
        choices=PAIN_CHOICES,
        widget=forms.RadioSelect,
        label="Worst pain since your last check-in",
    )
    compared = forms.ChoiceField(
        required=False,
        choices=SymptomLog.Compared.choices,
        widget=forms.RadioSelect,
        label="Compared with last time",
    )
    legs = forms.ChoiceField(
        required=False,
        choices=SymptomLog.Legs.choices,
        widget=forms.RadioSelect,
        label="Pain, numbness or tingling in your legs",
    )
    steps_done = forms.TypedMultipleChoiceField(
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        label="Which steps did you do?",
    )
    worse_steps = forms.TypedMultipleChoiceField(
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        label="Did any step make your pain worse?",
    )
    worse_by = forms.TypedChoiceField(
        required=False,
        coerce=int,
        choices=WORSE_BY_CHOICES,
        widget=forms.RadioSelect,
        empty_value=0,
        label="How much worse?",
    )
    sleep = forms.ChoiceField(
        required=False,
        choices=SymptomLog.Sleep.choices,
        widget=forms.RadioSelect,
        label="Last night",
    )
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 1}),
        label="Anything to tell your therapist? (optional)",
    )
    flare_tap = forms.BooleanField(required=False, label="I'm having a flare")
    gone_tap = forms.BooleanField(required=False, label="My symptoms are gone")
    submission_key = forms.UUIDField(widget=forms.HiddenInput)
    # "Yes" then no sign: a way on instead of a dead end. The check-in carries on as a "no".
    signs_none = forms.BooleanField(required=False, label="None of these after all")
    reask_legs_weak = forms.ChoiceField(
        required=False,
        choices=YES_NO,
        widget=forms.RadioSelect,
        label="You said both legs. Are your legs weak or numb, is a leg getting weaker, "
        "or is it hard to walk?",
    )
    reask_night_pain = forms.ChoiceField(
        required=False,
        choices=YES_NO,
        widget=forms.RadioSelect,
        label="You said pain woke you. Is your pain worse at night, or does it not ease "
        "when you rest?",
    )
    # The re-asks the client was shown (comma-separated signs): shown and unanswered is an
    # error; never shown means the page asks them first (a second step without JS).
    reask_asked = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)

    REQUIRED_WITHOUT_WARNING = ("pain_now", "worst_pain", "compared", "legs", "sleep")

    def __init__(self, *args, steps, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["steps_done"].choices = [(step.id, step.name) for step in steps]
        # Heat is a warm-up, not an exercise the taper pauses: not a step that "made it worse".
        self.fields["worse_steps"].choices = [
            (step.id, step.name) for step in steps if not step.is_heat
        ]

    def clean(self):
        data = super().clean()
        self.reask_pending: list[str] = []
        if data.get("safety_signs"):
            # A ticked sign counts even if "No" was left selected: never drop a red flag.
            data["warning"] = "yes"
            self.errors.pop("warning", None)
        elif data.get("warning") == "yes" and data.get("signs_none"):
            data["warning"] = "no"  # "None of these after all": carry on with the check-in
        if data.get("warning") == "yes":
            if not data.get("safety_signs"):
                # Not an error at the worst moment: the list, a kind prompt, a way on.
                self.add_error("safety_signs", SIGNS_PROMPT)
            return data
        self._clean_reasks(data)
        # Unanswered safety question: flag the other missing answers too, so the client
        # fixes everything in one go instead of being sent back twice.
        for name in self.REQUIRED_WITHOUT_WARNING:
            if data.get(name) in (None, ""):
                self.add_error(name, "Please choose one.")
        if data.get("worse_steps") and not data.get("worse_by"):
            self.add_error("worse_by", "Tell us roughly how much worse.")
        if data.get("flare_tap") and data.get("gone_tap"):
            self.add_error("gone_tap", "Choose either a flare or symptoms gone, not both.")
        worst, now = data.get("worst_pain"), data.get("pain_now")
        if data.get("gone_tap") and worst is not None and worst > 1:
            self.add_error(
                "gone_tap",
                f"Your worst pain was {worst}. “Gone” means a worst pain of 0 or 1; "
                "untick this or change your answer.",
            )
        if worst is not None and now is not None and now > worst:
            self.add_error("worst_pain", "Your worst pain can't be lower than your pain right now.")
        return data

    def _clean_reasks(self, data: dict) -> None:
        asked = self.reasks_asked()
        for sign, (field, value) in REASKS.items():
            name = f"reask_{sign}"
            if data.get(field) != value:
                data[name] = ""  # the client changed the answer that asked it
            elif data.get(name) not in ("yes", "no"):
                if sign in asked:
                    self.add_error(name, REASK_REQUIRED)
                else:
                    self.reask_pending.append(sign)

    def reasks_asked(self) -> set[str]:
        raw = self.data.get(self.add_prefix("reask_asked"), "") if self.is_bound else ""
        return {sign for sign in str(raw).split(",") if sign in REASKS}

    def reasks_shown(self) -> list[str]:
        """The re-asks the page shows in place: those the current answers call for."""
        if not self.is_bound:
            return []
        return [
            sign
            for sign, (field, value) in REASKS.items()
            if self.data.get(self.add_prefix(field)) == value
        ]

    def only_reask_errors(self) -> bool:
        """Invalid only because a re-ask shown was left unanswered."""
        names = {f"reask_{sign}" for sign in REASKS}
        return bool(self.errors) and set(self.errors) <= names

    def needs_a_sign(self) -> bool:
        """Whether "Yes" came with no sign ticked (the page asks kindly, not as an error)."""
        return self.is_bound and SIGNS_PROMPT in self.errors.get("safety_signs", [])

    def answers(self) -> dict:
        """What the log stores: only the safety signs when a sign was ticked. A "yes" to a
        re-asked sign stores that sign with the answers already given (the taper ignores
        a safety log's pain; the therapist still sees what the client said)."""
        data = self.cleaned_data
        if data["warning"] == "yes":
            return {"safety_signs": data["safety_signs"]}
        return {
            "safety_signs": [s for s in REASKS if data.get(f"reask_{s}") == "yes"],
            "pain_now": data["pain_now"],
            "worst_pain": data["worst_pain"],
            "compared": data["compared"],
            "legs": data["legs"],
            "sleep": data["sleep"],
            "steps_done": data["steps_done"],
            "worse_steps": data["worse_steps"],
            "worse_by": data["worse_by"] if data["worse_steps"] else 0,
            "note": data["note"],
            "flare_tap": data["flare_tap"],
            "gone_tap": data["gone_tap"],
        }


class ClientSettingsForm(forms.ModelForm):
    """What the client controls: when reminders come, quiet hours, pause, unsubscribe.
    Every field says what it means with an example in the client's words."""

    time_zone = ZoneField(
        label="Your time zone",
        help_text="Where you are, so reminders come at your local time. Type a city, "
        "e.g. Europe/London, and pick it from the list.",
    )
    three_x_days = forms.TypedMultipleChoiceField(
        coerce=int,
        choices=WEEKDAYS,
        widget=forms.CheckboxSelectMultiple,
        label="Your three days a week",
        help_text="While your back settles, some steps come three times a week, for "
        "example Monday, Wednesday and Friday. Pick the three days that suit you.",
    )
    pause_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=60,
        label="Pause all reminders for this many days",
        help_text="Away, ill or just need a break? For example 7 for a week away. "
        "Leave empty to keep them coming.",
    )
    resume = forms.BooleanField(required=False, label="Resume reminders now")

    class Meta:
        model = Client
        # Exactly what the settings service saves (it adds the pause, set from pause_days).
        fields = [name for name in services.CLIENT_SETTINGS_FIELDS if name != "paused_until"]
        labels = {
            "morning_time": "Morning routine at",
            "evening_time": "Evening routine at (only while flared up)",
            "reset_weekday": "Weekly reset day",
            "quiet_start": "No emails from",
            "quiet_end": "until",
            "routine_emails": "Email me routine reminders",
            "booking_emails": "Remind me to book my next massage",
        }
        help_texts = {
            "morning_time": "Your reminder comes at this time, for example 07:30 before work.",
            "evening_time": "Only on flare days, for example 19:00 after dinner.",
            "reset_weekday": "Your weekly check, on a good week: for example Sunday. Once your "
            "back is calm, the routine comes once a week, on this day.",
            "quiet_start": "For example 21:00.",
            "quiet_end": "For example 07:30. A reminder due in between waits until then.",
            "routine_emails": "One email when a routine is due; none if you've already done it.",
            "booking_emails": "A nudge when it's time for your next massage.",
        }
        widgets = {
            name: forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
            for name in ("morning_time", "evening_time", "quiet_start", "quiet_end")
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        client = self.instance
        if client.pk:
            self.fields["time_zone"].suggest(client.time_zone, client.practice.time_zone)
            if client.quiet_start != client.quiet_end:
                self.fields["quiet_start"].help_text = (
                    f"We never email between {client.quiet_start:%H:%M} and "
                    f"{client.quiet_end:%H:%M}."
                )
            day = dict(WEEKDAYS).get(client.reset_weekday, "Sunday")
            self.fields["reset_weekday"].help_text = (
                f"Your weekly check, on a good week: {day}. Once your back is calm, the "
                "routine comes once a week, on this day."
            )

    def clean_three_x_days(self) -> list[int]:
        days = sorted(set(self.cleaned_data["three_x_days"]))
        if len(days) != 3:
            raise ValidationError("Pick exactly three days.")
        return days

    def clean(self):
        data = super().clean()
        needed = ("morning_time", "evening_time", "reset_weekday", "three_x_days")
        if any(data.get(name) is None for name in needed) or self.errors:
            return data
        try:
            # The schedule is the judge of what makes a workable set of preferences.
            prefs = self._prefs(data)
        except ValueError as error:
            raise ValidationError(self._with_suggestion(str(error), data)) from error
        if schedule.in_quiet_hours(data["morning_time"], prefs):
            message = "Your morning routine falls in your quiet hours."
            better = quiet_hours_way_out(data, "morning_time")
            if better:
                message += f" Try {better:%H:%M}."
            self.add_error("morning_time", message)
        return data

    @staticmethod
    def _with_suggestion(message: str, data) -> str:
        """A quiet-hours clash of the evening: say the nearest evening time that works."""
        better = quiet_hours_way_out(data, "evening_time")
        return f"{message} Try an evening routine at {better:%H:%M}." if better else message

    @staticmethod
    def _prefs(data) -> schedule.Preferences:
        return schedule.Preferences(
            morning=data["morning_time"],
            evening=data["evening_time"],
            reset_weekday=data["reset_weekday"],
            three_x_days=tuple(data["three_x_days"]),
            quiet_start=data["quiet_start"],
            quiet_end=data["quiet_end"],
        )


def quiet_hours_way_out(data, field: str):
    """The nearest time for `field` (morning_time or evening_time) outside the quiet hours
    that the schedule accepts, on the quarter hour: the end of the quiet hours for the
    morning, just before they start for the evening. None when there is none."""
    start, end = data["quiet_start"], data["quiet_end"]
    if start == end:
        return None
    if field == "morning_time":
        minutes = -(-(end.hour * 60 + end.minute) // 15) * 15  # up to the quarter hour
    else:
        minutes = ((start.hour * 60 + start.minute - 1) // 15) * 15  # down, before the start
    if not 0 <= minutes < 24 * 60:
        return None
    candidate = time(minutes // 60, minutes % 60)
    try:
        prefs = ClientSettingsForm._prefs({**data, field: candidate})
    except ValueError:
        return None
    return None if schedule.in_quiet_hours(candidate, prefs) else candidate


class ClientDeleteForm(forms.Form):
    """Deleting a client cannot be undone: the therapist types the client's name."""

    confirm_name = forms.CharField(
        max_length=150, label="Type the client's name to confirm", strip=True
    )

    def __init__(self, *args, client: Client, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.client = client
        self.fields["confirm_name"].widget.attrs["autocomplete"] = "off"

    def clean_confirm_name(self) -> str:
        typed = self.cleaned_data["confirm_name"]
        if " ".join(typed.split()).casefold() != " ".join(self.client.name.split()).casefold():
            raise ValidationError("That is not the client's name as written above.")
        return typed
