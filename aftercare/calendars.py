"""The routine as an iCalendar feed (RFC 5545) for a client's calendar app."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from icalendar import Calendar, Event

from aftercare import selectors
from aftercare.outbox import reminders
from aftercare.rules.phases import Phase
from clients.models import Client

FEED_DAYS = 28
log = logging.getLogger(__name__)


def routine_calendar(client: Client) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Aftercare//routine//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"Aftercare routine ({client.practice.name})")
    calendar.add("refresh-interval;value=duration", "PT6H")
    plan = selectors.client_active_plan(client)
    if plan is not None and plan.phase != Phase.HOLD:
        domain = (client.practice.sender_email or "aftercare@localhost").rpartition("@")[2]
        first = client.local_today() - timedelta(days=1)
        try:
            slots = reminders.routine_slots(plan, first, FEED_DAYS)
        except (ValueError, TypeError) as error:
            # Stored settings the schedule refuses: an empty feed, not an error (the
            # therapist's page lists the problem).
            log.warning("Client %s: no calendar events: %s", client.pk, error)
            slots = []
        for slot in slots:
            calendar.add_component(_event(slot, client, domain))
    # RFC 5545 3.2.19: every TZID the events name is described by a VTIMEZONE.
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _event(slot, client: Client, domain: str) -> Event:
    minutes = sum(_minutes(plan_step) for plan_step in slot.steps) or 10
    event = Event()
    # One UID per client and slot: calendar apps update the event rather than adding one.
    event.add("uid", f"{client.public_id}-{slot.day}-{slot.name}@{domain}")
    event.add("dtstamp", timezone.now())
    event.add("dtstart", slot.local)
    event.add("dtend", slot.local + timedelta(minutes=minutes))
    event.add("summary", f"{str(slot.name).capitalize()} routine")
    event.add("description", "\n".join(step.name for step in slot.steps))
    return event


def _minutes(step) -> int:
    # The schedule's StepDue carries no duration; heat is the long one (20 min).
    return 20 if step.is_heat else 5
