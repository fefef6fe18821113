"""The domain writes: assigning plans, ticking steps, phases, the library, links, demo data."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from aftercare import services
from aftercare.management.commands import seed_demo
from aftercare.models import Completion, Exercise, PhaseChange, Plan, PlanStep, Protocol
from aftercare.outbox import emails
from aftercare.rules.phases import Phase
from clients import services as people
from clients.models import Client, MassageSession, Practice, Therapist, User
from tests import factories

DAY = date(2026, 3, 11)


def _protocol(practice) -> Protocol:
    return Protocol.objects.get(practice=practice)


# --- plan_assign -------------------------------------------------------------------


def test_it_copies_every_protocol_step_into_the_plan(client_person, therapist):
    protocol = _protocol(client_person.practice)
    plan = services.plan_assign(
        client=client_person, protocol=protocol, by=therapist, phase=Phase.FLARE
    )
    copied = list(plan.steps.order_by("order"))
    source = list(protocol.steps.select_related("exercise").order_by("order"))
    assert len(copied) == len(source) == 5
    for step, origin in zip(copied, source, strict=True):
        assert step.name == origin.exercise.name
        assert step.instructions == origin.exercise.instructions
        assert step.is_heat == origin.exercise.is_heat
        assert (step.flare, step.subsiding, step.maintenance) == (
            origin.flare,
            origin.subsiding,
            origin.maintenance,
        )
        assert step.order == origin.order
        assert not step.skipped
    assert plan.phase == Phase.FLARE
    assert plan.name == protocol.name
    assert plan.assigned_by == therapist
    assert plan.ended_at is None


def test_it_keeps_the_plan_unchanged_when_the_library_is_edited_afterwards(plan):
    exercise = Exercise.objects.get(practice=plan.client.practice, name="Passive SI reset")
    exercise.name = "Renamed in the library"
    exercise.instructions = "New words"
    exercise.video_url = "https://youtu.be/dQw4w9WgXcQ"
    exercise.save()
    protocol_step = plan.protocol.steps.get(exercise=exercise)
    protocol_step.flare = "none"
    protocol_step.save()

    step = PlanStep.objects.get(plan=plan, exercise=exercise)
    assert step.name == "Passive SI reset"
    assert step.instructions != "New words"
    assert step.video_url == ""
    assert step.flare == "2x_day"


def test_it_keeps_the_library_unchanged_when_the_plan_is_edited(plan):
    step = PlanStep.objects.get(plan=plan, name="Passive SI reset")
    step.name = "Only for this client"
    step.flare = "1x_day"
    step.save()
    exercise = Exercise.objects.get(practice=plan.client.practice, name="Passive SI reset")
    assert plan.protocol.steps.get(exercise=exercise).flare == "2x_day"


def test_it_applies_the_therapists_tweaks_to_this_plan_only(client_person, therapist):
    protocol = _protocol(client_person.practice)
    si_reset = protocol.steps.get(exercise__name="Passive SI reset")
    strength = protocol.steps.get(exercise__name="QL and psoas stretch and strength")
    psoas = protocol.steps.get(exercise__name="Psoas release")
    tweaks = {
        strength.id: services.StepTweak(include=False),
        psoas.id: services.StepTweak(personal_note="Left side only, please."),
        si_reset.id: services.StepTweak(flare="1x_day", maintenance="none"),
    }
    plan = services.plan_assign(
        client=client_person, protocol=protocol, by=therapist, phase=Phase.FLARE, tweaks=tweaks
    )
    by_name = {step.name: step for step in plan.steps.all()}
    assert by_name["QL and psoas stretch and strength"].skipped is True
    assert by_name["QL and psoas stretch and strength"].in_routine is False
    assert by_name["Psoas release"].personal_note == "Left side only, please."
    assert not by_name["Psoas release"].skipped
    si = by_name["Passive SI reset"]
    assert (si.flare, si.subsiding, si.maintenance) == ("1x_day", "1x_day", "none")
    # The protocol keeps its own frequencies.
    si_reset.refresh_from_db()
    assert (si_reset.flare, si_reset.maintenance) == ("2x_day", "1x_week")
    assert not by_name["Lumbar decompression"].skipped
    assert by_name["Lumbar decompression"].personal_note == ""


def test_it_ends_the_previous_active_plan(plan, therapist):
    newer = services.plan_assign(
        client=plan.client, protocol=plan.protocol, by=therapist, phase=Phase.SUBSIDING
    )
    plan.refresh_from_db()
    assert plan.ended_at is not None
    assert newer.ended_at is None
    assert list(Plan.objects.filter(client=plan.client, ended_at=None)) == [newer]
    # The old plan keeps its own steps; the new one has a fresh copy.
    assert plan.steps.count() == newer.steps.count() == 5
    assert not set(plan.steps.values_list("id", flat=True)) & set(
        newer.steps.values_list("id", flat=True)
    )


def test_it_records_the_assignment_as_a_phase_change(client_person, therapist):
    session = people.session_record(client=client_person, therapist=therapist, date=DAY)
    plan = services.plan_assign(
        client=client_person,
        protocol=_protocol(client_person.practice),
        by=therapist,
        phase=Phase.SUBSIDING,
        session=session,
    )
    change = PhaseChange.objects.get(plan=plan)
    assert change.to_phase == Phase.SUBSIDING
    assert change.from_phase == ""
    assert change.cause == PhaseChange.Cause.ASSIGNED
    assert change.by == therapist.user
    assert plan.session == session


# --- step_complete / step_uncomplete ------------------------------------------------


def test_it_keeps_one_completion_for_a_double_tap(plan):
    step = plan.steps.get(name="Passive SI reset")
    first = services.step_complete(step=step, day=DAY, slot="morning")
    second = services.step_complete(step=step, day=DAY, slot="morning")
    assert first.pk == second.pk
    assert Completion.objects.filter(step=step).count() == 1


def test_it_counts_each_slot_and_day_separately(plan):
    step = plan.steps.get(name="Passive SI reset")
    services.step_complete(step=step, day=DAY, slot="morning")
    services.step_complete(step=step, day=DAY, slot="evening")
    services.step_complete(step=step, day=date(2026, 3, 12), slot="morning")
    assert Completion.objects.filter(step=step).count() == 3


def test_it_unticks_only_the_named_slot(plan):
    step = plan.steps.get(name="Passive SI reset")
    services.step_complete(step=step, day=DAY, slot="morning")
    services.step_complete(step=step, day=DAY, slot="evening")
    services.step_uncomplete(step=step, day=DAY, slot="morning")
    assert list(Completion.objects.filter(step=step).values_list("slot", flat=True)) == ["evening"]
    # Unticking what isn't ticked is harmless.
    services.step_uncomplete(step=step, day=DAY, slot="morning")
    assert Completion.objects.filter(step=step).count() == 1


# --- phase_set -----------------------------------------------------------------------


def test_it_sets_and_pins_a_phase_and_logs_the_change(plan, therapist):
    change = services.phase_set(
        plan=plan, phase=Phase.SUBSIDING, pinned=True, by=therapist.user, reason="Much better"
    )
    plan.refresh_from_db()
    assert plan.phase == Phase.SUBSIDING
    assert plan.phase_pinned is True
    assert change is not None
    assert (change.from_phase, change.to_phase) == (Phase.FLARE, Phase.SUBSIDING)
    assert change.rule == "therapist_pinned"
    assert change.reason == "Much better"
    assert change.by == therapist.user


def test_it_pins_the_current_phase_without_logging_a_change(plan, therapist):
    before = PhaseChange.objects.filter(plan=plan).count()
    change = services.phase_set(plan=plan, phase=Phase.FLARE, pinned=True, by=therapist.user)
    plan.refresh_from_db()
    assert change is None
    assert plan.phase_pinned is True
    assert PhaseChange.objects.filter(plan=plan).count() == before


def test_it_unpins_a_phase(plan, therapist):
    services.phase_set(plan=plan, phase=Phase.FLARE, pinned=True, by=therapist.user)
    change = services.phase_set(plan=plan, phase=Phase.MAINTENANCE, pinned=False, by=therapist.user)
    plan.refresh_from_db()
    assert plan.phase == Phase.MAINTENANCE
    assert plan.phase_pinned is False
    assert change.rule == "therapist"


# --- library_install -----------------------------------------------------------------


def test_it_copies_the_built_in_protocol_into_a_practice(db):
    practice = factories.PracticeFactory()
    builtin = Protocol.objects.get(practice=None, is_default=True)
    protocol = services.library_install(practice=practice)

    assert protocol.practice == practice
    assert protocol.name == builtin.name
    assert protocol.is_default is True
    ours = list(protocol.steps.select_related("exercise"))
    theirs = list(builtin.steps.select_related("exercise"))
    assert [s.exercise.name for s in ours] == [s.exercise.name for s in theirs]
    assert [(s.flare, s.subsiding, s.maintenance, s.order) for s in ours] == [
        (s.flare, s.subsiding, s.maintenance, s.order) for s in theirs
    ]
    # Own editable copies, never the built-in rows.
    assert all(s.exercise.practice == practice for s in ours)
    assert not {s.exercise_id for s in ours} & {s.exercise_id for s in theirs}
    assert Exercise.objects.filter(practice=practice).count() == 5


def test_it_leaves_the_built_in_protocol_alone_when_a_copy_is_edited(practice):
    exercise = Exercise.objects.filter(practice=practice).get(name="Heat first")
    exercise.name = "Warmth"
    exercise.save()
    assert Exercise.objects.filter(practice=None, name="Heat first").exists()
    assert not Exercise.objects.filter(practice=None, name="Warmth").exists()


def test_it_marks_only_the_first_installed_copy_as_the_default(practice):
    again = services.library_install(practice=practice)
    assert again.is_default is False
    assert Protocol.objects.filter(practice=practice, is_default=True).count() == 1


# --- client_links_revoke ---------------------------------------------------------------


def _link_path(client: Client) -> str:
    link = emails.client_link(client)
    return link.removeprefix("http://testserver")


def test_it_makes_old_links_stop_working(client, client_person, plan):
    old_link = _link_path(client_person)
    people.client_links_revoke(client=client_person)

    response = client.get(old_link)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    client_person.refresh_from_db()
    assert client_person.links_revoked_at is not None


def test_it_accepts_a_link_sent_after_the_revocation(client, client_person, plan):
    people.client_links_revoke(client=client_person)
    client_person.user.refresh_from_db()
    response = client.get(_link_path(client_person))
    assert response.status_code == 302
    assert response["Location"] == reverse("client-today")


def test_it_logs_out_the_phone_that_was_logged_in(phone, client_person, plan):
    assert phone.get(reverse("client-today")).status_code == 200
    people.client_links_revoke(client=client_person)
    response = phone.get(reverse("client-today"))
    assert response.status_code == 302
    assert response["Location"] == reverse("client-new-link")


def test_it_leaves_other_clients_links_working(client, client_person, practice, therapist):
    other = factories.ClientFactory(practice=practice)
    other_link = _link_path(other)
    people.client_links_revoke(client=client_person)
    response = client.get(other_link)
    assert response.status_code == 302
    assert response["Location"] == reverse("client-today")


# --- seed_demo -----------------------------------------------------------------------


def _counts() -> dict[str, int]:
    return {
        "practices": Practice.objects.count(),
        "therapists": Therapist.objects.count(),
        "users": User.objects.count(),
        "clients": Client.objects.count(),
        "sessions": MassageSession.objects.count(),
        "plans": Plan.objects.count(),
        "active plans": Plan.objects.filter(ended_at=None).count(),
        "protocols": Protocol.objects.count(),
        "exercises": Exercise.objects.count(),
        "steps": PlanStep.objects.count(),
    }


def test_it_seeds_demo_data_and_is_safe_to_run_twice(db, settings):
    settings.DEBUG = True
    first_out = StringIO()
    call_command("seed_demo", stdout=first_out)
    after_first = _counts()
    assert after_first["practices"] == 1
    assert after_first["therapists"] == 1
    assert after_first["clients"] >= 3
    assert after_first["plans"] >= 3
    phases = set(Plan.objects.values_list("phase", flat=True))
    assert {Phase.FLARE, Phase.SUBSIDING, Phase.MAINTENANCE} <= phases
    assert "/c/login/?sesame=" in first_out.getvalue()
    assert "password" in first_out.getvalue()

    call_command("seed_demo", stdout=StringIO())
    assert _counts() == after_first


def test_it_refuses_to_seed_a_known_password_in_production(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()


def test_it_lets_the_seeded_therapist_log_in(client, db, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    response = client.post(
        reverse("therapist-login"),
        {"email": seed_demo.THERAPIST_EMAIL, "password": seed_demo.THERAPIST_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("therapist-dashboard")
