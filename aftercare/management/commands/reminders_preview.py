"""What a client will be sent in the next days, in their local time."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from aftercare import data_problems, selectors
from aftercare.outbox.reminders import reminders_preview
from clients.models import Client


class Command(BaseCommand):
    help = (
        "Preview a client's upcoming reminders: python manage.py reminders_preview EMAIL --days 14"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("email")
        parser.add_argument("--days", type=int, default=14)

    def handle(self, *args, email: str, days: int, **options) -> None:
        if not 1 <= days <= 90:
            raise CommandError("--days must be between 1 and 90.")
        clients = list(
            Client.objects.filter(email=email.strip().lower()).select_related("practice")
        )
        if not clients:
            raise CommandError(f"No client with the email {email}.")
        for client in clients:
            self.stdout.write(f"{client.name} ({client.practice.name}), {client.zone_name}:")
            plan = selectors.client_active_plan(client)
            for problem in data_problems.client_problems(client, plan):
                self.stdout.write(f"  problem: {problem}")
            try:
                upcoming = reminders_preview(client, days=days)
            except (ValueError, KeyError, TypeError) as error:
                # Bad stored preferences the schedule refuses: say so, never a traceback.
                raise CommandError(
                    f"Cannot preview {client.email}: the reminder settings are not usable "
                    f"({error})."
                ) from error
            if not upcoming:
                self.stdout.write(f"  nothing in the next {days} days")
            for item in upcoming:
                steps = ", ".join(item.steps)
                when = item.local.strftime("%a %d %b %H:%M %Z")
                self.stdout.write(f"  {when}  {item.kind}{': ' + steps if steps else ''}")
