"""The client's "How should we remind you?" form: email, notifications or texts.

Saving it is `save_reminder_channel`: the consent to texts is kept with its time (the
proof carriers ask for) and starts again when the number changes.
"""

from __future__ import annotations

import phonenumbers
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from clients.models import Channel, Client, Practice

TEXTABLE = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.PAGER,
    phonenumbers.PhoneNumberType.VOIP,
}


def practice_region(practice: Practice) -> str | None:
    """The practice's country ("GB"), read from its phone number or its text sender, for
    numbers a client types without the country code. None when neither says."""
    for number in (practice.phone, practice.sms_sender):
        if not number or not number.strip().startswith("+"):
            continue
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
        except phonenumbers.NumberParseException:
            continue
        if region and region != "ZZ":
            return region
    return None


def normalise_mobile(raw: str, region: str | None) -> str:
    """The number in E.164 (+447700900123), or a ValidationError in plain words."""
    example = "+44 7400 123456"
    if region:
        sample = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if sample is not None:
            example = phonenumbers.format_number(
                sample, phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        raise ValidationError(
            f"That doesn't look like a phone number. Type it with the country code, for "
            f"example {example}."
        ) from error
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            f"That number isn't complete or isn't a real number. Check it, with the country "
            f"code, for example {example}."
        )
    if phonenumbers.number_type(number) not in TEXTABLE:
        raise ValidationError("That looks like a landline: texts need a mobile number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class ReminderChannelForm(forms.Form):
    reminder_channel = forms.ChoiceField(
        choices=[
            (Channel.EMAIL, "Email"),
            (Channel.PUSH, "A notification on this phone"),
            (Channel.SMS, "A text message"),
        ],
        widget=forms.RadioSelect,
        label="How should we remind you?",
    )
    sms_number = forms.CharField(
        required=False,
        max_length=30,
        label="Mobile number for texts",
        help_text="With the country code if you're abroad, for example +44 7400 123456.",
    )
    sms_consent = forms.BooleanField(
        required=False,
        label="Yes, send my reminders by text to this number",
        help_text="At most two texts a day, never in your quiet hours. Reply STOP to end "
        "them at any time. Your network may charge for texts you receive.",
    )

    def __init__(self, *args, client: Client, **kwargs) -> None:
        kwargs.setdefault(
            "initial",
            {
                "reminder_channel": client.reminder_channel,
                "sms_number": client.sms_number,
                "sms_consent": client.sms_opt_in_at is not None,
            },
        )
        super().__init__(*args, **kwargs)
        self.client = client
        self.fields["sms_number"].widget.attrs.update(
            {"autocomplete": "tel", "inputmode": "tel", "type": "tel"}
        )

    def clean_sms_number(self) -> str:
        raw = self.cleaned_data["sms_number"].strip()
        if not raw:
            return ""
        return normalise_mobile(raw, practice_region(self.client.practice))

    def clean(self):
        data = super().clean()
        channel = data.get("reminder_channel")
        if channel == Channel.SMS:
            if not self.client.practice.sms_enabled:
                raise ValidationError(
                    "Your practice doesn't send texts yet. Pick email or a notification."
                )
            if "sms_number" in data and not data["sms_number"]:
                self.add_error("sms_number", "Type the mobile number we should text.")
            if not data.get("sms_consent"):
                self.add_error(
                    "sms_consent", "Tick this to agree to texts, or pick another way above."
                )
        if channel == Channel.PUSH and not self.client.push_subscriptions.exists():
            self.add_error(
                "reminder_channel",
                "Turn on notifications on your phone first (the button below); until then "
                "we remind you by email.",
            )
        return data


def save_reminder_channel(*, client: Client, channel: str, number: str, consent: bool) -> None:
    """Store the choice. Saving the same values twice changes nothing (the consent keeps
    its first time); a new number, or taking consent back, ends the old consent."""
    now = timezone.now()
    fields = ["reminder_channel", "sms_number", "sms_opt_in_at", "sms_stopped_at", "updated_at"]
    number_changed = number != client.sms_number
    client.reminder_channel = channel
    client.sms_number = number
    if not consent or not number:
        client.sms_opt_in_at = None
    elif number_changed or client.sms_opt_in_at is None:
        client.sms_opt_in_at = now
        # A fresh, explicit yes on this page starts texts again after a STOP.
        client.sms_stopped_at = None
    # Rows already planned pick the channel when they go: nothing to plan again.
    client.save(update_fields=fields)
