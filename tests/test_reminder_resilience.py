"""Reminders stay right when a therapist changes the schedule under them, and one bad row
or one unexpected error never holds up everyone else's reminders."""

from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine
from django.urls import reverse

from aftercare import tasks
from aftercare.models import PlanStep, Reminder
from aftercare.outbox import reminders
from aftercare.rules.phases import Phase
from clients.models import MassageSession
from tests import factories

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def tick(clock, when: datetime) -> None:
    clock.move_to(when)
    reminders.reminders_plan_due()
    tasks.send_reminders(reminders.reminders_claim() + reminders.reminders_sweep())


def test_a_therapist_moving_a_client_to_another_zone_moves_their_reminders(
    therapist_client, therapist, client_person, mailoutbox
):
    with time_machine.travel(NOW, tick=False) as clock:
        factories.plan_for(client_person, therapist, Phase.SUBSIDING)
        MassageSession.objects.create(
            client=client_person, therapist=therapist, date=date(2026, 11, 24)
        )
        reminders.reminders_plan_due()  # London: morning at 08:00 UTC, nudge on 1 Dec
        response = therapist_client.post(
            reverse("therapist-client-edit", args=[client_person.public_id]),
            {
                "name": client_person.name,
                "email": client_person.email,
                "time_zone": "America/New_York",
                "massage_cadence": "monthly",
                "primary_therapist": therapist.id,
            },
        )
        assert response.status_code == 302
        for hour in range(8, 15):
            tick(clock, datetime(2026, 11, 25, hour, 0, tzinfo=UTC))
    morning = Reminder.objects.get(client=client_person, slot_key="2026-11-25/morning")
    # 08:00 in New York is 13:00 UTC: sent then, not skipped at 03:00 New York time.
    assert (morning.status, morning.due_at) == ("sent", datetime(2026, 11, 25, 13, 0, tzinfo=UTC))
    assert len(mailoutbox) == 1
    nudge = Reminder.objects.get(client=client_person, kind="booking")
    assert nudge.slot_day == date(2026, 12, 24)  # monthly from 24 Nov, not weekly


def test_one_bad_step_row_does_not_stop_the_others_reminders(therapist, practice):
    with time_machine.travel(NOW, tick=False):
        broken = factories.plan_for(
            factories.ClientFactory(practice=practice), therapist, Phase.FLARE
        )
        fine = factories.plan_for(factories.ClientFactory(practice=practice), therapist)
        PlanStep.objects.filter(plan=broken).update(flare="bogus")
        reminders.reminders_plan_due()
    assert Reminder.objects.filter(plan=fine).exists()
    assert not Reminder.objects.filter(plan=broken).exists()


def test_an_unexpected_error_fails_one_row_and_the_batch_goes_on(
    therapist, practice, monkeypatch, mailoutbox
):
    with time_machine.travel(NOW, tick=False) as clock:
        for _ in range(3):
            factories.plan_for(factories.ClientFactory(practice=practice), therapist)
        reminders.reminders_plan_due()
        clock.move_to(datetime(2026, 11, 25, 8, 1, tzinfo=UTC))
        ids = reminders.reminders_claim()
        assert len(ids) == 3
        real_why_skip = reminders.why_skip

        def broken_for_the_first(reminder, now, facts=None):
            if reminder.id == ids[0]:
                raise RuntimeError("a bug")
            return real_why_skip(reminder, now, facts)

        monkeypatch.setattr(reminders, "why_skip", broken_for_the_first)
        tasks.send_reminders(ids)
    statuses = dict(Reminder.objects.filter(id__in=ids).values_list("id", "status"))
    assert statuses == {ids[0]: "failed", ids[1]: "sent", ids[2]: "sent"}
    assert "a bug" in Reminder.objects.get(id=ids[0]).reason
    assert len(mailoutbox) == 2


def test_rows_the_broker_would_not_take_go_back_to_pending(
    therapist, practice, monkeypatch, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOW, tick=False) as clock:
        factories.plan_for(factories.ClientFactory(practice=practice), therapist)
        reminders.reminders_plan_due()
        clock.move_to(datetime(2026, 11, 25, 8, 1, tzinfo=UTC))

        def broker_down(batch):
            raise ConnectionRefusedError("broker down")

        monkeypatch.setattr(tasks.send_reminders, "delay", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            result = tasks.tick()
    assert result["claimed"] == 1
    row = Reminder.objects.get(slot_key="2026-11-25/morning")
    assert (row.status, row.queued_at) == ("pending", None)
