"""Forms: every field checked, every error said next to the field in plain words."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.utils import timezone

from aftercare.models import FREQUENCY_CHOICES, Exercise, PlanStep, Protocol
from aftercare.phases import Phase
from clients import throttle
from clients.models import Client, Therapist, zone_choices

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
        window = settings.LOGIN_WINDOW_SECONDS
        ok_email = throttle.hit(
            "login-email", email, limit=settings.LOGIN_ATTEMPTS_PER_EMAIL, window=window
        )
        ok_ip = throttle.hit("login-ip", self.ip, limit=settings.LOGIN_ATTEMPTS_PER_IP, window=window)
        if not (ok_email and ok_ip):
            minutes = window // 60
            raise ValidationError(
                f"Too many attempts. For your clients' safety, logging in is paused for up to "
                f"{minutes} minutes. Try again later or ask the practice owner to reset your "
                "password.",
                code="throttled",
            )
        user = authenticate(username=email.lower(), password=password)
        if user is None or not hasattr(user, "therapist"):
            raise ValidationError(
                "That email and password don't match a therapist account.", code="invalid"
            )
        throttle.clear("login-email", email)
        self.user = user
        return data


class ClientForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        choices=zone_choices,
        help_text="Reminders arrive at the client's local time.",
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
            "notes",
        ]
        labels = {"massage_cadence": "Massage every", "notes": "Private notes"}
        help_texts = {"notes": "Only therapists of your practice see these."}
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, practice, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.practice = practice
        self.fields["primary_therapist"].queryset = Therapist.objects.filter(practice=practice)
        self.fields["email"].widget.attrs["autocomplete"] = "off"

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


class PlanStepForm(forms.ModelForm):
    video_url = video_field()

    class Meta:
        model = PlanStep
        fields = ["skipped", "personal_note", "flare", "subsiding", "maintenance", "video_url"]
        labels = {"skipped": "Leave out", "video_url": "Video link"}
        widgets = {"personal_note": forms.TextInput}


class PhaseForm(forms.Form):
    phase = forms.ChoiceField(choices=[(p.value, p.label) for p in Phase])
    pinned = forms.BooleanField(
        required=False, label="Pin: keep this phase whatever the check-ins say"
    )
    reason = forms.CharField(required=False, max_length=200)


class ExerciseForm(forms.ModelForm):
    video_url = video_field()

    class Meta:
        model = Exercise
        fields = [
            "name",
            "summary",
            "instructions",
            "safety_notes",
            "duration_minutes",
            "video_url",
            "is_heat",
        ]
        labels = {"video_url": "Video link", "is_heat": "This is heat (comes before the routine)"}
        widgets = {
            "instructions": forms.Textarea(attrs={"rows": 6}),
            "safety_notes": forms.Textarea(attrs={"rows": 3}),
        }


class NewLinkForm(forms.Form):
    email = forms.EmailField(
        label="Your email address",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )
