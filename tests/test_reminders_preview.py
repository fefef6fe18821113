"""`manage.py reminders_preview EMAIL --days N`: a client's next reminders from the shell."""

from __future__ import annotations

from datetime import UTC, date, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from aftercare.models import Plan
from aftercare.rules.phases import Phase
from clients.models import Client, MassageSession
from tests import factories

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # Wednesday


def preview(*args: str) -> list[str]:
    out = StringIO()
    call_command("reminders_preview", *args, stdout=out)
    return out.getvalue().splitlines()


def test_it_prints_local_times_kinds_and_steps(clock, practice, therapist):
    person = factories.ClientFactory(
        practice=practice, name="Ada Lovelace", email="ada@example.com", time_zone="Asia/Tokyo"
    )
    factories.plan_for(person, therapist, Phase.SUBSIDING)
    Client.objects.filter(id=person.id).update(massage_cadence="weekly")
    MassageSession.objects.create(client=person, date=date(2026, 11, 24))

    lines = preview("ADA@example.com ", "--days", "3")

    assert lines == [
        f"Ada Lovelace ({practice.name}), Asia/Tokyo:",
        # 06:00 UTC is 15:00 in Tokyo: today's morning has passed.
        "  Thu 26 Nov 08:00 JST  Routine reminder: Heat first, Passive SI reset, "
        "Lumbar decompression, Psoas release",
        "  Fri 27 Nov 08:00 JST  Routine reminder: Heat first, Passive SI reset, "
        "Lumbar decompression, Psoas release, QL and psoas stretch and strength",
    ]
    lines = preview("ada@example.com", "--days", "7")
    assert "  Tue 01 Dec 08:00 JST  Booking nudge" in lines


def test_it_says_when_nothing_is_coming(clock, practice, therapist):
    person = factories.ClientFactory(practice=practice, email="held@example.com")
    plan = factories.plan_for(person, therapist)
    Plan.objects.filter(id=plan.id).update(phase=Phase.HOLD)
    Client.objects.filter(id=person.id).update(massage_cadence="weekly")
    MassageSession.objects.create(client=person, date=date(2026, 11, 24))
    assert preview("held@example.com")[1:] == ["  nothing in the next 14 days"]


def test_an_unknown_email_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No client with the email nobody@example.com."):
        preview("nobody@example.com")


@pytest.mark.parametrize("days", ["0", "91", "-1"])
def test_days_out_of_range_is_a_clear_error(db, days):
    with pytest.raises(CommandError, match="--days must be between 1 and 90."):
        preview("a@example.com", "--days", days)


def test_a_broken_time_zone_is_named_and_the_practices_zone_stands_in(clock, practice, therapist):
    person = factories.ClientFactory(practice=practice, email="lost@example.com")
    factories.plan_for(person, therapist)
    Client.objects.filter(id=person.id).update(time_zone="Atlantis/Capital")
    output = "\n".join(preview("lost@example.com"))
    assert "Time zone “Atlantis/Capital” is not a real zone" in output
    assert "Europe/London:" in output  # the practice's zone stands in
    assert "Routine reminder" in output


def test_settings_the_schedule_refuses_are_a_clear_error(clock, practice, therapist):
    person = factories.ClientFactory(practice=practice, email="lost@example.com")
    factories.plan_for(person, therapist)
    Client.objects.filter(id=person.id).update(reset_weekday=9)
    with pytest.raises(CommandError, match="not usable"):
        preview("lost@example.com")
