"""The taper as a client lives it, day by day with time travel: a flare, the steps down to
Maintenance exactly as TAPER.md says, missed days, and a pinned phase.

Every check-in goes through the check-in page on the client's phone; every change is read
back from the PhaseChange rows (reason, rule, cause, when) and from the Today page.
"""

from __future__ import annotations

import html
import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client as Browser
from django.urls import reverse

from aftercare.models import Alert, PhaseChange, Plan
from aftercare.outbox import emails
from aftercare.rules.phases import Phase
from tests import factories

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
# Monday 2 November 2026, after the clocks went back: London is on UTC.
MONDAY = datetime(2026, 11, 2, tzinfo=LONDON)


def at(day: int, hour: int = 9, minute: int = 0, zone=LONDON) -> datetime:
    """`hour`:`minute` on day `day` of the story (day 0 = Monday 2 Nov), wall clock."""
    return datetime(2026, 11, 2, hour, minute, tzinfo=zone) + timedelta(days=day)


def text(response) -> str:
    return html.unescape(response.content.decode())


def slots_of(response) -> list[str]:
    """Today's slots in the day's order (the page puts the one due now first)."""
    found = re.findall(
        r'<section class="slot[^"]*" aria-labelledby="slot-(morning|evening)"', text(response)
    )
    return sorted(found, key=["morning", "evening"].index)


def step_names_in(response, slot: str) -> list[str]:
    page = text(response)
    section = re.search(rf'aria-labelledby="slot-{slot}">(.*?)</section>', page, re.S)
    assert section, f"no {slot} slot"
    return re.findall(r"<h3>(.*?) <span", section.group(1))


def changes(plan: Plan) -> list[tuple[str, str, str, str]]:
    """(from, to, rule, cause) of every phase change, oldest first."""
    return [
        (c.from_phase, c.to_phase, c.rule, c.cause)
        for c in PhaseChange.objects.filter(plan=plan).order_by("at", "id")
    ]


class Story:
    """The client's phone, the clock and the plan."""

    def __init__(self, phone: Browser, plan: Plan, traveller) -> None:
        self.phone, self.plan, self.traveller = phone, plan, traveller

    def go(self, moment: datetime) -> None:
        self.traveller.move_to(moment, tick=False)

    def log(self, moment: datetime, worst: int, **changes) -> Phase:
        """A check-in at `moment` with this worst pain; returns the plan's phase after it."""
        self.go(moment)
        data = {
            "warning": "no",
            "pain_now": str(min(worst, 2)),
            "worst_pain": str(worst),
            "compared": "same",
            "legs": "none",
            "sleep": "fine",
            "submission_key": str(uuid.uuid4()),
            **changes,
        }
        response = self.phone.post(reverse("client-checkin"), data)
        assert response.status_code == 302, text(response)
        # Today, or first the page for a hard day (pain 7 or more: tests/test_checkin_response.py)
        assert response["Location"] == reverse("client-today") or response["Location"].startswith(
            reverse("client-checkin") + "?saved="
        )
        return self.phase()

    def phase(self) -> Phase:
        self.plan.refresh_from_db()
        return Phase(self.plan.phase)

    def today(self, moment: datetime | None = None):
        if moment is not None:
            self.go(moment)
        response = self.phone.get(reverse("client-today"))
        assert response.status_code == 200
        return response


@pytest.fixture
def story(client, practice, therapist, time_machine):
    """A client in Subsiding since Monday 07:00, logged in on their phone by the link."""

    def start(phase: Phase = Phase.SUBSIDING, zone=LONDON, first=None) -> Story:
        time_machine.move_to(first or at(0, 7, zone=zone), tick=False)
        person = factories.ClientFactory(
            practice=practice, primary_therapist=therapist, time_zone=str(zone)
        )
        plan = factories.plan_for(person, therapist, phase=phase)
        # The emailed link keeps the phone logged in for months, across the time travel.
        link = emails.client_link(person).removeprefix("http://testserver")
        assert client.get(link).status_code == 302
        return Story(client, plan, time_machine)

    return start


def test_it_steps_a_flare_down_to_maintenance_exactly_as_taper_md_says(story):
    s = story()
    assert slots_of(s.today(at(0, 8))) == ["morning"]

    # Day 0 (Mon 2 Nov): worst pain 8 -> Flare, morning and evening routines.
    assert s.log(at(0), 8) is Phase.FLARE
    today = s.today()
    assert slots_of(today) == ["morning", "evening"]
    assert step_names_in(today, "evening") == ["Heat first", "Passive SI reset"]
    assert "Morning routine" in text(today) and "Evening routine" in text(today)

    # Day 1 (Tue): 6 is one settled day, not two.
    assert s.log(at(1), 6) is Phase.FLARE
    assert slots_of(s.today()) == ["morning", "evening"]

    # Day 2 (Wed): 6 then 5, both <= 6 and at least 2 below the peak of 8 -> Subsiding.
    assert s.log(at(2), 5) is Phase.SUBSIDING
    assert slots_of(s.today()) == ["morning"]

    # Seven logged days at 0-1, with two missed days (Sat 7 and Tue 10) that neither
    # count nor reset: Thu 5, Fri 6, Sun 8, Mon 9, Wed 11, Thu 12 ...
    for day, worst in [(3, 1), (4, 0), (6, 1), (7, 1), (9, 0), (10, 1)]:
        assert s.log(at(day), worst) is Phase.SUBSIDING, f"moved on day {day}"
    # ... and Fri 13 is the seventh -> Maintenance.
    assert s.log(at(11), 1) is Phase.MAINTENANCE

    assert changes(s.plan) == [
        ("", "subsiding", "assigned", "assigned"),
        ("subsiding", "flare", "flare_high_pain", "log"),
        ("flare", "subsiding", "subsiding_two_days", "log"),
        ("subsiding", "maintenance", "maintenance_seven_days", "log"),
    ]
    rows = list(PhaseChange.objects.filter(plan=s.plan).order_by("at", "id"))
    assert [row.at for row in rows[1:]] == [at(0), at(2), at(11)]
    assert rows[1].reason == "Worst pain 8 on 2 Nov (7 or more starts a flare)"
    assert rows[2].reason == (
        "Worst pain 6 on 3 Nov and 5 on 4 Nov: 6 or less on 2 logged days in a row and "
        "at least 2 points below the flare's peak of 8"
    )
    assert rows[3].reason == "Worst pain 1 or less on the last 7 logged days (5 Nov to 13 Nov)"
    assert all(row.by is None for row in rows[1:])

    # Maintenance: the weekly reset on Sunday, nothing in the evening, rest days between.
    sunday = s.today(at(13, 7))
    assert slots_of(sunday) == ["morning"]
    assert step_names_in(sunday, "morning") == ["Passive SI reset"]
    assert "Nothing due today" in text(s.today(at(15, 7)))  # Tuesday 17 Nov
    assert not Alert.objects.filter(plan=s.plan).exists()


def test_it_counts_a_flare_begun_in_the_evening_in_the_clients_own_zone(story):
    """New York, 8 pm: already the next day in UTC. The flare's first day is still the
    client's Monday, so Tuesday's 6 and Wednesday's 5 settle it."""
    s = story(zone=NEW_YORK, first=at(0, 7, zone=NEW_YORK))
    assert s.log(at(0, 20, zone=NEW_YORK), 8) is Phase.FLARE
    assert s.log(at(1, 20, zone=NEW_YORK), 6) is Phase.FLARE
    assert s.log(at(2, 20, zone=NEW_YORK), 5) is Phase.SUBSIDING
    change = PhaseChange.objects.filter(plan=s.plan).first()
    assert change.rule == "subsiding_two_days"
    assert change.reason.endswith("below the flare's peak of 8")


def test_it_never_steps_down_on_missed_days(story):
    s = story(phase=Phase.FLARE)
    assert s.log(at(0), 8) is Phase.FLARE

    # Ten days without a check-in: still a flare, still twice a day.
    assert slots_of(s.today(at(10, 7))) == ["morning", "evening"]
    assert s.phase() is Phase.FLARE

    # One settled day after the gap is not two: the missed days are not low days.
    assert s.log(at(10), 6) is Phase.FLARE
    # Still in Flare after more than 7 days: the therapist is told.
    assert Alert.objects.filter(plan=s.plan, kind="flare_over_7_days").count() == 1
    # The next logged day settles it, however many days were missed before.
    assert s.log(at(11), 6) is Phase.SUBSIDING
    assert changes(s.plan)[-1] == ("flare", "subsiding", "subsiding_two_days", "log")


def test_it_never_moves_to_maintenance_on_missed_days(story):
    s = story()
    for day in range(3):
        assert s.log(at(day), 1) is Phase.SUBSIDING
    # Three weeks of silence do not count as low days.
    assert slots_of(s.today(at(24, 7))) == ["morning"]
    assert s.phase() is Phase.SUBSIDING
    for day in range(24, 27):
        assert s.log(at(day), 0) is Phase.SUBSIDING
    # The seventh logged day at 0-1.
    assert s.log(at(27), 1) is Phase.MAINTENANCE


def test_it_starts_the_count_again_after_a_day_above_1(story):
    s = story()
    for day in range(6):
        s.log(at(day), 1)
    assert s.log(at(6), 2) is Phase.SUBSIDING
    for day in range(7, 13):
        assert s.log(at(day), 0) is Phase.SUBSIDING
    assert s.log(at(13), 0) is Phase.MAINTENANCE


def test_it_moves_from_maintenance_to_subsiding_on_two_logs_24_hours_apart(story):
    s = story(phase=Phase.MAINTENANCE)
    assert s.log(at(0, 9), 2) is Phase.MAINTENANCE
    assert s.log(at(1, 8, 59), 3) is Phase.MAINTENANCE  # 23 h 59 min: not yet
    assert s.log(at(1, 9), 2) is Phase.SUBSIDING  # exactly 24 h after the first
    assert changes(s.plan)[-1] == ("maintenance", "subsiding", "maintenance_to_subsiding", "log")


def test_it_moves_from_maintenance_straight_to_flare_at_7(story):
    s = story(phase=Phase.MAINTENANCE)
    assert s.log(at(0), 7) is Phase.FLARE
    assert changes(s.plan)[-1] == ("maintenance", "flare", "maintenance_to_flare", "log")
    assert slots_of(s.today()) == ["morning", "evening"]


def test_it_starts_a_flare_on_a_jump_of_2_over_the_last_3_logged_days(story):
    s = story()
    for day, worst in [(0, 2), (2, 3), (5, 1)]:  # mean 2, with gaps between
        s.log(at(day), worst)
    assert s.log(at(6), 3) is Phase.SUBSIDING  # 1 above the mean
    assert s.log(at(7), 4) is Phase.SUBSIDING  # mean of 3, 1, 3 is 2.33: 4 is not 2 above
    assert s.log(at(8), 5) is Phase.FLARE  # mean of 1, 3, 4 is 2.67: 5 is
    assert changes(s.plan)[-1][2] == "flare_relative_jump"


@pytest.fixture
def desk(therapist):
    browser = Browser()
    browser.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    return browser


def test_it_ignores_logs_while_the_phase_is_pinned(story, desk, therapist):
    s = story(phase=Phase.FLARE)
    url = reverse("therapist-phase", args=[s.plan.client.public_id])
    s.go(at(0, 8))
    desk.post(url, {"phase": "subsiding", "pinned": "on", "reason": "Settling, keep daily"})
    assert s.phase() is Phase.SUBSIDING and s.plan.phase_pinned

    # Pain 9, a flare tap, then a week at 0 with "gone": nothing moves a pinned phase.
    assert s.log(at(0), 9) is Phase.SUBSIDING
    assert s.log(at(1), 5, flare_tap="on") is Phase.SUBSIDING
    for day in range(2, 10):
        assert s.log(at(day), 0) is Phase.SUBSIDING
    assert s.log(at(10), 0, pain_now="0", gone_tap="on") is Phase.SUBSIDING
    assert changes(s.plan) == [
        ("", "flare", "assigned", "assigned"),
        ("flare", "subsiding", "therapist_pinned", "therapist"),
    ]
    pinned = PhaseChange.objects.filter(plan=s.plan).first()
    assert (pinned.reason, pinned.by) == ("Settling, keep daily", therapist.user)

    # Unpinned, the next log counts again.
    s.go(at(11, 8))
    desk.post(url, {"phase": "subsiding"})
    assert s.phase() is Phase.SUBSIDING and not s.plan.phase_pinned
    assert s.log(at(11), 8) is Phase.FLARE
    assert changes(s.plan)[-1] == ("subsiding", "flare", "flare_high_pain", "log")


def test_it_puts_even_a_pinned_plan_on_hold_for_a_warning_sign(story, desk):
    s = story(phase=Phase.FLARE)
    s.go(at(0, 8))
    desk.post(
        reverse("therapist-phase", args=[s.plan.client.public_id]),
        {"phase": "flare", "pinned": "on"},
    )
    s.go(at(0, 9))
    s.phone.post(
        reverse("client-checkin"),
        {"warning": "yes", "safety_signs": ["chest_pain"], "submission_key": str(uuid.uuid4())},
    )
    assert s.phase() is Phase.HOLD
    assert changes(s.plan)[-1] == ("flare", "hold", "hold_emergency", "log")
    # Days later, still on hold: only the therapist resumes.
    assert slots_of(s.today(at(5, 9))) == []
    assert s.phase() is Phase.HOLD
