"""Print a new VAPID key pair for web push, as lines for .env.

Without VAPID_* in the environment the app makes and keeps its own pair in
VAR_DIR/vapid.json; a production install sets its own (and keeps it: a new pair means
every phone has to turn notifications on again).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from aftercare import push


class Command(BaseCommand):
    help = "Generate a VAPID key pair for web push and print it for .env."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--subject",
            default="mailto:you@example.com",
            help="Who the push services can contact: mailto:you@practice or https://...",
        )

    def handle(self, *args, subject: str, **options) -> None:
        public, private = push.generate_pair()
        self.stdout.write(f"VAPID_PUBLIC_KEY={public}")
        self.stdout.write(f"VAPID_PRIVATE_KEY={private}")
        self.stdout.write(f"VAPID_SUBJECT={subject}")
