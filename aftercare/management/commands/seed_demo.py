"""Demo data: a practice, a therapist login and clients in each phase. Safe to run twice."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from aftercare import services, triage, videos
from aftercare.models import Exercise, Plan, PlanStep, Protocol, SymptomLog
from aftercare.outbox import emails
from aftercare.rules.phases import Phase
from clients import services as people
from clients.models import Client, Practice, Therapist, User

PRACTICE_NAME = "Willow Lane Massage (demo)"
THERAPIST_EMAIL = "therapist@demo.aftercare.test"
THERAPIST_PASSWORD = "demo-therapist-2026"
# A plain card saying "Demo video: your therapist's own video plays here" (640x360,
# 7 s, H.264 baseline, faststart, 10 KB), made once with ffmpeg (see aftercare/demo/README.md).
DEMO_VIDEO = Path(__file__).resolve().parents[2] / "demo" / "demo-video.mp4"

# (days ago, worst pain) of past check-ins per phase, so the charts show a story.
DEMO_PAIN = {
    Phase.FLARE: [(1, 8)],
    Phase.SUBSIDING: [(6, 8), (5, 7), (4, 6), (3, 5), (2, 4), (1, 3)],
    Phase.MAINTENANCE: [
        (20, 5),
        (18, 3),
        (15, 1),
        (13, 1),
        (11, 0),
        (9, 1),
        (7, 0),
        (4, 0),
        (1, 0),
    ],
}

DEMO_CLIENTS = [
    # name, email, zone, cadence, phase (None: no plan yet), days since session
    ("Sam Rivera", "sam@demo.aftercare.test", "Europe/London", "weekly", Phase.FLARE, 1),
    (
        "Priya Natarajan",
        "priya@demo.aftercare.test",
        "America/New_York",
        "fortnightly",
        Phase.SUBSIDING,
        6,
    ),
    (
        "Jo Whitfield",
        "jo@demo.aftercare.test",
        "Australia/Sydney",
        "monthly",
        Phase.MAINTENANCE,
        20,
    ),
    ("Alex Moreau", "alex@demo.aftercare.test", "Europe/Paris", "none", None, 0),
]


class Command(BaseCommand):
    help = "Create a demo practice with a therapist login and clients in each phase."

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not User.objects.filter(email=THERAPIST_EMAIL).exists():
            raise CommandError("seed_demo makes a known password: run it with DEBUG=1 only.")
        with transaction.atomic():
            practice, therapist = self._practice()
            protocol = Protocol.objects.filter(
                practice=practice
            ).first() or services.library_install(practice=practice)
            self._videos(practice)
            for row in DEMO_CLIENTS:
                self._client(practice, therapist, protocol, *row)
        self._report(practice)

    def _practice(self) -> tuple[Practice, Therapist]:
        practice = Practice.objects.filter(name=PRACTICE_NAME).first()
        if practice is None:
            practice = people.practice_create(
                name=PRACTICE_NAME,
                postal_address="12 Willow Lane\nBristol BS1 4DJ\nUnited Kingdom",
                sender_email="hello@willowlane.example",
                booking_url="https://willowlane.example/book",
            )
        therapist = Therapist.objects.filter(user__email=THERAPIST_EMAIL).first()
        if therapist is None:
            therapist = people.therapist_create(
                practice=practice,
                email=THERAPIST_EMAIL,
                password=THERAPIST_PASSWORD,
                display_name="Morgan Ellis",
            )
        return practice, therapist

    def _videos(self, practice: Practice) -> None:
        """The placeholder video as the upload of each demo exercise without a video. Its
        stored name comes from its content, so a second run finds it instead of copying it."""
        content = DEMO_VIDEO.read_bytes()
        name = f"{videos.UPLOAD_DIR}/demo-{hashlib.sha256(content).hexdigest()[:16]}.mp4"
        if not default_storage.exists(name):
            name = default_storage.save(name, ContentFile(content))
        no_video = {"is_heat": False, "video_url": "", "video_file": ""}
        Exercise.objects.filter(practice=practice, **no_video).update(video_file=name)
        # Demo plans made before the video existed get it too.
        PlanStep.objects.filter(plan__client__practice=practice, **no_video).update(video_file=name)

    def _client(self, practice, therapist, protocol, name, email, zone, cadence, phase, days_ago):
        if Client.objects.filter(practice=practice, email=email).exists():
            return
        client = people.client_create(
            practice=practice,
            name=name,
            email=email,
            time_zone=zone,
            massage_cadence=cadence,
            primary_therapist=therapist,
        )
        if phase is None:
            return
        session = people.session_record(
            client=client,
            therapist=therapist,
            date=timezone.localdate() - timedelta(days=days_ago),
            notes="Worked the QL and glutes on both sides; SI joint tender on the right.",
        )
        plan = services.plan_assign(
            client=client, protocol=protocol, by=therapist, phase=phase, session=session
        )
        started = timezone.now() - timedelta(days=days_ago)
        Plan.objects.filter(pk=plan.pk).update(started_at=started, phase_since=started)
        self._history(plan, client, DEMO_PAIN[phase])
        # The history was written behind the services' back: assess it as they would.
        plan.refresh_from_db()
        triage.attention_refresh(plan=plan)

    def _history(self, plan, client, worst_by_days_ago) -> None:
        """A few past check-ins so the charts have something to show."""
        today = client.local_today()
        for days_ago, worst in worst_by_days_ago:
            at = timezone.now() - timedelta(days=days_ago, hours=2)
            SymptomLog.objects.create(
                plan=plan,
                at=at,
                day=today - timedelta(days=days_ago),
                submission_key=uuid.uuid4(),
                pain_now=max(worst - 1, 0),
                worst_pain=worst,
                compared="better" if worst <= 3 else "same",
                legs="none",
                sleep="fine" if worst <= 4 else "woken",
            )

    def _report(self, practice: Practice) -> None:
        flare_client = Client.objects.filter(practice=practice, email=DEMO_CLIENTS[0][1]).first()
        self.stdout.write(self.style.SUCCESS(f"Demo practice ready: {practice.name}"))
        self.stdout.write(f"  Therapist login: {settings.SITE_URL}/login/")
        self.stdout.write(f"    email:    {THERAPIST_EMAIL}")
        self.stdout.write(f"    password: {THERAPIST_PASSWORD}")
        if flare_client:
            self.stdout.write(
                f"  Client link ({flare_client.name}, in a flare), open it at phone size:"
            )
            self.stdout.write(f"    {emails.client_link(flare_client)}")
