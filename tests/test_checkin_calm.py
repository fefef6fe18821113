"""The calm check-in, request by request: "Which steps did you do?" lists the steps of the
client's current phase (Heat included when the phase has it), starts with what was ticked
on Today, never shows or accepts another client's steps or ticks, and still saves once on
a double tap."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from aftercare import services
from aftercare.models import Completion, Reminder, SymptomLog
from aftercare.rules.phases import Phase
from aftercare.tokens import action_token
from tests import factories

answers = factories.checkin_answers


def offered(response, name: str = "steps_done") -> list[int]:
    return [int(v) for v in re.findall(rf'name="{name}" value="(\d+)"', response.content.decode())]


def ticked(response) -> set[int]:
    """The step boxes that come ticked."""
    page = response.content.decode()
    return {
        int(v)
        for v in re.findall(
            r'<input type="checkbox" name="steps_done" value="(\d+)"[^>]*checked', page
        )
    }


def names(plan, ids) -> list[str]:
    by_id = {step.id: step.name for step in plan.steps.all()}
    return [by_id[i] for i in ids]


@pytest.mark.parametrize(
    "phase, expected",
    [
        # Heat before each routine; QL and psoas stretch is not part of a flare.
        (
            Phase.FLARE,
            ["Heat first", "Passive SI reset", "Lumbar decompression", "Psoas release"],
        ),
        # Heat optional but still a step of this phase; QL joins (3x a week).
        (
            Phase.SUBSIDING,
            [
                "Heat first",
                "Passive SI reset",
                "Lumbar decompression",
                "Psoas release",
                "QL and psoas stretch and strength",
            ],
        ),
        # Once it's gone: no heat.
        (
            Phase.MAINTENANCE,
            [
                "Passive SI reset",
                "Lumbar decompression",
                "Psoas release",
                "QL and psoas stretch and strength",
            ],
        ),
    ],
)
def test_it_lists_the_steps_of_the_current_phase_in_plan_order(
    phone, client_person, therapist, phase, expected
):
    plan = factories.plan_for(client_person, therapist, phase=phase)
    response = phone.get(reverse("client-checkin"))
    assert response.status_code == 200
    assert names(plan, offered(response)) == expected


def test_it_leaves_out_a_skipped_step_and_one_paused_after_it_raised_pain(phone, plan):
    psoas = plan.steps.get(name="Psoas release")
    psoas.paused_at = timezone.now()
    psoas.save()
    si_reset = plan.steps.get(name="Passive SI reset")
    si_reset.skipped = True
    si_reset.save()
    response = phone.get(reverse("client-checkin"))
    assert names(plan, offered(response)) == ["Heat first", "Lumbar decompression"]


def test_it_follows_the_therapists_frequencies_for_this_client(phone, plan):
    # The therapist takes decompression out of this client's flare routine.
    decompression = plan.steps.get(name="Lumbar decompression")
    decompression.flare = "none"
    decompression.save()
    response = phone.get(reverse("client-checkin"))
    assert decompression.id not in offered(response)


def test_it_starts_with_todays_ticks_ticked_in_any_slot(phone, plan, client_person):
    today = client_person.local_today()
    heat = plan.steps.get(name="Heat first")
    si_reset = plan.steps.get(name="Passive SI reset")
    psoas = plan.steps.get(name="Psoas release")
    services.step_complete(step=heat, day=today, slot="morning")
    services.step_complete(step=si_reset, day=today, slot="evening")
    # Yesterday's tick is not today's.
    services.step_complete(step=psoas, day=today - timedelta(days=1), slot="morning")
    response = phone.get(reverse("client-checkin"))
    assert ticked(response) == {heat.id, si_reset.id}
    assert "Ticked: what you marked done today." in response.content.decode()


def test_it_starts_with_nothing_ticked_before_a_tick(phone, plan):
    response = phone.get(reverse("client-checkin"))
    assert ticked(response) == set()
    assert "Tap each one you did." in response.content.decode()


def test_it_never_shows_another_clients_ticks_or_steps(phone, plan, practice, therapist):
    other = factories.ClientFactory(practice=practice, primary_therapist=therapist)
    other_plan = factories.plan_for(other, therapist)
    for step in other_plan.steps.all():
        services.step_complete(step=step, day=other.local_today(), slot="morning")
    response = phone.get(reverse("client-checkin"))
    other_ids = set(other_plan.steps.values_list("id", flat=True))
    assert not other_ids & set(offered(response))
    assert ticked(response) == set()
    assert not other_ids & set(offered(response, "worse_steps"))


def test_it_saves_the_pre_ticked_heat_with_the_check_in(phone, plan, client_person):
    heat = plan.steps.get(name="Heat first")
    decompression = plan.steps.get(name="Lumbar decompression")
    services.step_complete(step=heat, day=client_person.local_today(), slot="morning")
    data = answers(steps_done=[str(heat.id), str(decompression.id)])
    response = phone.post(reverse("client-checkin"), data)
    assert response.status_code == 302
    assert sorted(SymptomLog.objects.get().steps_done) == sorted([heat.id, decompression.id])
    # A double tap: the same key saves nothing more.
    phone.post(reverse("client-checkin"), data)
    assert SymptomLog.objects.count() == 1


def test_it_refuses_a_step_outside_the_current_phase_and_saves_nothing(phone, plan):
    ql = plan.steps.get(name="QL and psoas stretch and strength")  # not in a flare
    response = phone.post(reverse("client-checkin"), answers(steps_done=[str(ql.id)]))
    assert response.status_code == 200
    assert f"{ql.id} is not one of the available choices" in response.content.decode()
    assert SymptomLog.objects.count() == 0


def test_it_does_not_offer_heat_as_a_step_that_made_pain_worse(phone, plan):
    heat = plan.steps.get(name="Heat first")
    response = phone.get(reverse("client-checkin"))
    assert heat.id in offered(response, "steps_done")
    assert heat.id not in offered(response, "worse_steps")


def test_the_emailed_check_in_lists_the_same_steps_ticked_for_the_reminders_day(
    client, plan, client_person
):
    day = client_person.local_today()
    heat = plan.steps.get(name="Heat first")
    services.step_complete(step=heat, day=day, slot="morning")
    reminder = Reminder.objects.create(
        client=client_person,
        plan=plan,
        kind=Reminder.Kind.ROUTINE,
        slot_key=f"{day.isoformat()}/morning",
        slot_day=day,
        due_at=timezone.now(),
    )
    url = reverse("email-action", args=["checkin", action_token(reminder.id, "checkin")])
    response = client.get(url)
    assert response.status_code == 200
    assert names(plan, offered(response)) == [
        "Heat first",
        "Passive SI reset",
        "Lumbar decompression",
        "Psoas release",
    ]
    assert ticked(response) == {heat.id}
    assert Completion.objects.count() == 1, "opening the link changes nothing"
