"""A hostile review of Today's cached step cards and its ticks read in plain SQL (issue 13):
a client far from London, ticking late on a DST day, must see their own local day's ticks;
a corrupt step hurts only its own card."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from aftercare import selectors
from aftercare.models import PlanStep
from aftercare.rules.phases import Phase
from clients.models import Client
from tests import factories
from tests.test_step_cards import card, text

TODAY = reverse("client-today")
DONE = reverse("client-step-done")


@pytest.mark.parametrize(
    "zone, late",
    [
        ("Australia/Sydney", datetime(2027, 4, 4, 23, 30)),  # the day clocks go back
        ("Australia/Sydney", datetime(2026, 10, 4, 23, 30)),  # the day clocks go forward
        ("Asia/Kolkata", datetime(2026, 11, 25, 23, 30)),  # +05:30, no DST
        ("America/Los_Angeles", datetime(2026, 11, 1, 23, 30)),  # behind UTC, clocks back
    ],
)
def test_a_tick_at_half_past_eleven_is_that_local_days_and_gone_the_next_morning(
    client, practice, therapist, zone, late
):
    late = late.replace(tzinfo=ZoneInfo(zone))
    with time_machine.travel(late - timedelta(days=1), tick=False) as clock:
        person = factories.ClientFactory(practice=practice, time_zone=zone)
        plan = factories.plan_for(person, therapist, Phase.FLARE)
        step = plan.steps.get(name="Heat first")
        clock.move_to(late)
        client.force_login(person.user, backend="sesame.backends.ModelBackend")
        day = Client.objects.get(pk=person.pk).local_today()
        assert day == late.date()
        client.post(DONE, {"step": step.pk, "day": day.isoformat(), "slot": "morning"})
        clock.move_to(late + timedelta(minutes=20))  # 23:50 the same local day
        page = text(client.get(TODAY))
        assert "is-done" in card(page, "morning", step) and "done 23:30" in page
        # The same day read the old way (a query of its own) says the same.
        person = Client.objects.get(pk=person.pk)
        loaded = selectors.client_active_plan(person, ticks_on=day)
        fresh = selectors.plan_day(selectors.client_active_plan(person), person, day)
        assert selectors.plan_day(loaded, person, day) == fresh
        clock.move_to(late + timedelta(minutes=40))  # 00:10 the next local day
        assert "is-done" not in card(text(client.get(TODAY)), "morning", step)


def test_a_corrupt_step_hurts_only_its_own_card(phone, flare):
    """A video link that no longer parses and a step whose library exercise is gone:
    Today still draws every card, the broken one says its video is unavailable."""
    heat, other = flare.steps.get(name="Heat first"), flare.steps.exclude(name="Heat first")[0]
    PlanStep.objects.filter(pk=other.pk).update(video_url="javascript:alert(1)", exercise=None)
    page = text(phone.get(TODAY))
    assert "javascript:alert" not in page
    assert "video is unavailable" in card(page, "morning", other) or "video is unavailable" in (
        card(page, "evening", other)
    )
    assert "Heat first" in card(page, "morning", heat)


@pytest.mark.parametrize("stored", [".", "/", "videos/"])
def test_an_unusable_uploaded_file_name_hurts_only_its_own_card(phone, flare, stored):
    """A step's stored upload name that names no file (an import, a script): Today
    still draws, that card says its video is unavailable."""
    heat = flare.steps.get(name="Heat first")
    other = flare.steps.exclude(name="Heat first")[0]
    PlanStep.objects.filter(pk=other.pk).update(video_url="", video_file=stored)
    response = phone.get(TODAY)
    assert response.status_code == 200
    assert "Heat first" in card(text(response), "morning", heat)
