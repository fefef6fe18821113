"""factory-boy factories that go through the same services the app uses."""

from __future__ import annotations

import uuid

import factory

from aftercare import services
from aftercare.models import Plan, Protocol
from aftercare.rules.phases import Phase
from clients import services as people
from clients.models import Client, Practice, Therapist

DEFAULT_PASSWORD = "correct horse battery staple"


class PracticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practice

    name = factory.Sequence(lambda n: f"Practice {n}")
    postal_address = "1 High Street\nBristol"
    sender_email = factory.Sequence(lambda n: f"hello@practice{n}.example")
    booking_url = "https://practice.example/book"


def practice_with_library() -> Practice:
    practice = PracticeFactory()
    services.library_install(practice=practice)
    return practice


class TherapistFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Therapist

    practice = factory.SubFactory(PracticeFactory)
    display_name = factory.Sequence(lambda n: f"Therapist {n}")
    email = factory.Sequence(lambda n: f"therapist{n}@example.com")
    password = DEFAULT_PASSWORD

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return people.therapist_create(**kwargs)


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Client Person{n}")
    email = factory.Sequence(lambda n: f"client{n}@example.com")
    time_zone = "Europe/London"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return people.client_create(**kwargs)


def plan_for(client: Client, therapist: Therapist, phase: Phase = Phase.FLARE) -> Plan:
    protocol = Protocol.objects.filter(practice=client.practice).first()
    if protocol is None:
        protocol = services.library_install(practice=client.practice)
    return services.plan_assign(client=client, protocol=protocol, by=therapist, phase=phase)


def checkin_answers(worst: int = 3, now: int | None = None, **changes) -> dict:
    """A complete "no warning signs" check-in, as the form posts it (None drops a field)."""
    data = {
        "warning": "no",
        "pain_now": str(min(worst, 2) if now is None else now),
        "worst_pain": str(worst),
        "compared": "same",
        "legs": "none",
        "sleep": "fine",
        "note": "",
        "submission_key": str(uuid.uuid4()),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def session_form(practice, *, send_link: bool = True, **overrides) -> dict[str, str]:
    """ "Record session and assign plan" as the form posts it: the first protocol, every
    step included with its own frequencies."""
    from django.utils import timezone

    protocol = Protocol.objects.filter(practice=practice).first()
    data = {
        "date": timezone.localdate().isoformat(),
        "notes": "Worked the right QL.",
        "protocol": str(protocol.pk),
        "phase": "flare",
    }
    if send_link:
        data["send_link"] = "on"
    for step in protocol.steps.all():
        prefix = f"step-{step.pk}"
        data[f"{prefix}-include"] = "on"
        data[f"{prefix}-personal_note"] = ""
        data[f"{prefix}-flare"] = step.flare
        data[f"{prefix}-subsiding"] = step.subsiding
        data[f"{prefix}-maintenance"] = step.maintenance
    data.update(overrides)
    return data
