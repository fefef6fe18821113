"""The safe ways to read stored values (zones, preferences, videos), the therapist's list of
data problems, and the validators that keep new bad values out (issue 10, item 1)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from aftercare import data_problems, selectors, services, tasks
from aftercare.models import PlanningBookmark, PlanStep, Reminder
from aftercare.outbox import reminders
from aftercare.rules.phases import Phase
from clients import services as people
from clients.models import Client, MassageSession, Practice
from tests import factories


def _set(model, obj, **values) -> None:
    """Write straight to the table, as an import or a hand-written UPDATE would."""
    model.objects.filter(pk=obj.pk).update(**values)
    obj.refresh_from_db()


# --- zones ------------------------------------------------------------------------------------


def test_a_bad_client_zone_falls_back_to_the_practices_then_utc(practice, client_person, caplog):
    practice.time_zone = "America/New_York"
    practice.save()
    _set(Client, client_person, time_zone="Mars/Base")
    client_person.practice = practice
    with caplog.at_level(logging.WARNING):
        assert client_person.zone == ZoneInfo("America/New_York")
    assert f"Client {client_person.pk}: time zone 'Mars/Base'" in caplog.text
    _set(Practice, practice, time_zone="Venus/Base")
    client_person.practice = practice
    assert (client_person.zone_name, practice.zone_name) == ("UTC", "UTC")
    assert isinstance(client_person.local_today(), date)


def test_a_good_zone_is_the_clients_own(client_person):
    client_person.time_zone = "Asia/Tokyo"
    assert client_person.zone == ZoneInfo("Asia/Tokyo")


def test_a_bad_practice_zone_keeps_the_therapist_side_up(therapist_client, practice, client_person):
    _set(Practice, practice, time_zone="Mars/Base")
    for url in (
        reverse("therapist-dashboard"),
        reverse("therapist-client", args=[client_person.public_id]),
    ):
        assert therapist_client.get(url).status_code == 200
    page = therapist_client.get(reverse("therapist-client", args=[client_person.public_id]))
    assert "time zone “Mars/Base” is not a real zone: therapist pages show times in UTC" in (
        page.content.decode()
    )


# --- the client's page ----------------------------------------------------------------------


def test_a_client_with_good_data_has_no_problems(plan, client_person):
    assert data_problems.client_problems(client_person, plan) == []


def test_the_problems_say_what_stands_in_and_where_to_fix_it(plan, client_person):
    _set(Client, client_person, time_zone="Mars/Base", massage_cadence="yearly")
    step = plan.steps.filter(is_heat=False).first()
    _set(PlanStep, step, video_url="https://old-cdn.example/a.mp4", flare="sometimes")
    plan = selectors.client_active_plan(client_person)
    problems = data_problems.client_problems(client_person, plan)
    text = "\n".join(problems)
    assert "Time zone “Mars/Base” is not a real zone: times shown in Europe/London" in text
    assert "fix it in Edit details" in text
    assert "Massage cadence “yearly”" in text
    assert f"Step “{step.name}”: its video link no longer works" in text
    assert "flare frequency “sometimes”" in text
    assert len(problems) == 4


def test_a_video_that_no_longer_parses_is_unavailable_not_an_error(phone, plan, client_person):
    step = plan.steps.filter(is_heat=False).first()
    _set(PlanStep, step, video_url="https://old-cdn.example/a.mp4")
    assert step.video is None
    assert "can't be embedded" in step.video_problem
    page = phone.get(reverse("client-today")).content.decode()
    assert "This step's video is unavailable" in page
    assert phone.get(reverse("client-plan")).status_code == 200


# --- the dashboard's count --------------------------------------------------------------------


def test_the_practice_count_names_each_client_once(
    practice, therapist, django_assert_max_num_queries
):
    fine = factories.ClientFactory(practice=practice)
    factories.plan_for(fine, therapist)
    zone = factories.ClientFactory(practice=practice)
    both = factories.ClientFactory(practice=practice)
    video = factories.ClientFactory(practice=practice)
    cadence = factories.ClientFactory(practice=practice)
    for person in (both, video):
        plan = factories.plan_for(person, therapist)
        PlanStep.objects.filter(plan=plan).update(video_url="https://old-cdn.example/a.mp4")
    Client.objects.filter(pk__in=[zone.pk, both.pk]).update(time_zone="Mars/Base")
    Client.objects.filter(pk=cadence.pk).update(massage_cadence="yearly")
    other = factories.practice_with_library()
    factories.ClientFactory(practice=other)
    Client.objects.filter(practice=other).update(time_zone="Mars/Base")
    with django_assert_max_num_queries(4):  # a fourth only because a link is broken
        assert data_problems.practice_problem_count(practice) == 4
    with django_assert_max_num_queries(3):
        assert data_problems.practice_problem_count(other) == 1


# --- loops ------------------------------------------------------------------------------------


def test_one_bad_cadence_skips_that_clients_nudges_only(clock, practice, therapist, caplog):
    bad, good = (factories.ClientFactory(practice=practice) for _ in range(2))
    for person in (bad, good):
        factories.plan_for(person, therapist)  # their nudges are planned with their plans
        MassageSession.objects.create(client=person, therapist=therapist, date=date(2026, 11, 20))
    Client.objects.filter(pk=bad.pk).update(massage_cadence="yearly")
    PlanningBookmark.objects.update(planned_until=None)  # changed behind the services' back: replan
    with caplog.at_level(logging.WARNING):
        reminders.reminders_plan_due()
    assert Reminder.objects.filter(client=good, kind="booking").exists()
    assert not Reminder.objects.filter(client=bad, kind="booking").exists()
    assert f"Client {bad.pk}: cannot plan booking nudges" in caplog.text


def test_a_bad_zone_plans_in_the_practices_zone(clock, practice, therapist):
    practice.time_zone = "America/New_York"
    practice.save()
    person = factories.ClientFactory(practice=practice)
    factories.plan_for(person, therapist, Phase.FLARE)
    Client.objects.filter(pk=person.pk).update(time_zone="Mars/Base")
    reminders.reminders_plan_due()
    morning = Reminder.objects.get(client=person, slot_key="2026-11-25/morning")
    assert morning.due_at == datetime(2026, 11, 25, 13, 0, tzinfo=UTC)  # 08:00 New York


def test_a_reminder_bad_data_stops_fails_naming_the_problem(
    clock, flare, client_person, mailoutbox
):
    reminders.reminders_plan_due()
    Client.objects.filter(pk=client_person.pk).update(
        morning_time=time(20, 0), evening_time=time(7, 0)
    )
    clock.move_to(datetime(2026, 11, 25, 8, 1, tzinfo=UTC))
    tasks.send_reminders(reminders.reminders_claim())
    row = Reminder.objects.get(client=client_person, slot_key="2026-11-25/morning")
    assert row.status == "failed"
    assert row.reason.startswith("Not sent: a problem with the client's data: Routine times")
    assert mailoutbox == []


# --- keeping new bad values out ---------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {"time_zone": "Mars/Base"},
        {"three_x_days": [7, 8, 9]},
        {"three_x_days": "mon"},
        {"reset_weekday": 9},
        {"massage_cadence": "yearly"},
    ],
)
def test_the_services_refuse_a_bad_value(practice, client_person, values):
    with pytest.raises(ValidationError):
        people.client_create(practice=practice, name="New Person", email="n@example.com", **values)
    with pytest.raises(ValidationError):
        people.client_update(client=client_person, by=None, **values)
    client_person.refresh_from_db()
    assert client_person.time_zone == "Europe/London"
    assert not Client.objects.filter(email="n@example.com").exists()


def test_settings_the_schedule_refuses_are_not_saved(client_person):
    client_person.morning_time, client_person.evening_time = time(20, 0), time(7, 0)
    with pytest.raises(ValidationError):
        services.client_settings_save(client=client_person, pause_days=None, resume=False)
    client_person.refresh_from_db()
    assert client_person.morning_time == time(8, 0)


def test_a_practice_with_a_bad_value_is_refused(db):
    with pytest.raises(ValidationError):
        people.practice_create(name="P", postal_address="1 St", sender_email="not an address")
