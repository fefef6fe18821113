"""Set up a practice on a new deployment: the practice, its first therapist and the
low-back plan in its library, in one command (instead of clicking through the admin).

    python manage.py practice_create --name "Back in Balance Massage" \
        --address "12 Mill Lane, Bristol BS1 4XY" --sender hello@backinbalance.example \
        --booking-url https://backinbalance.example/book \
        --therapist-email ana@backinbalance.example --therapist-name "Ana Flores"

The therapist's password is asked for at the prompt (or read from THERAPIST_PASSWORD).
"""

from __future__ import annotations

import getpass
import os

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator, validate_email
from django.db import transaction

from aftercare import services
from clients import services as people
from clients.models import User, validate_zone


class Command(BaseCommand):
    help = "Create a practice, its first therapist and its low-back plan."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True, help="The practice's name")
        parser.add_argument("--address", required=True, help="Postal address (email footers)")
        parser.add_argument("--sender", required=True, help="The address reminders come from")
        parser.add_argument("--booking-url", default="", help="Where clients book")
        parser.add_argument("--emergency-number", default="999", help="112, 911, 999...")
        parser.add_argument(
            "--time-zone", default="Europe/London", help="The practice's IANA time zone"
        )
        parser.add_argument("--therapist-email", required=True)
        parser.add_argument("--therapist-name", required=True)

    def handle(self, *args, **options) -> None:
        self._check(options)
        password = os.environ.get("THERAPIST_PASSWORD") or self._ask_password()
        try:
            validate_password(password)
        except ValidationError as error:
            raise CommandError("Password: " + " ".join(error.messages)) from error
        with transaction.atomic():
            practice = people.practice_create(
                name=options["name"],
                postal_address=options["address"],
                sender_email=options["sender"],
                booking_url=options["booking_url"],
            )
            practice.emergency_number = options["emergency_number"]
            practice.time_zone = options["time_zone"]
            practice.save(update_fields=["emergency_number", "time_zone"])
            people.therapist_create(
                practice=practice,
                email=options["therapist_email"],
                password=password,
                display_name=options["therapist_name"],
            )
            services.library_install(practice=practice)
        self.stdout.write(
            f"Created {practice.name} with {options['therapist_name']} "
            f"<{options['therapist_email']}> and the low-back plan. Log in at /login/."
        )

    def _check(self, options) -> None:
        for key in ("sender", "therapist_email"):
            try:
                validate_email(options[key])
            except ValidationError as error:
                raise CommandError(f"--{key.replace('_', '-')}: not an email address") from error
        try:
            validate_zone(options["time_zone"])
        except ValidationError as error:
            raise CommandError(f"--time-zone: {error.messages[0]}") from error
        if options["booking_url"]:
            try:
                URLValidator(schemes=["https", "http"])(options["booking_url"])
            except ValidationError as error:
                raise CommandError("--booking-url: not a web address") from error
        if User.objects.filter(email__iexact=options["therapist_email"]).exists():
            raise CommandError(f"{options['therapist_email']} already has an account.")

    def _ask_password(self) -> str:
        first = getpass.getpass("Password for the therapist: ")
        if first != getpass.getpass("Again: "):
            raise CommandError("The passwords don't match.")
        return first
