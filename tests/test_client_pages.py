"""Client pages, request by request: the emailed link, Today, Done, the whole plan, a new link."""

from __future__ import annotations

import html
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from aftercare import services
from aftercare.models import Completion, PlanStep
from aftercare.outbox import emails
from aftercare.rules.phases import Phase
from clients import services as people
from tests import factories


def text(response) -> str:
    return html.unescape(response.content.decode())


def link_path(person) -> str:
    return emails.client_link(person).removeprefix("http://testserver")


def slot_steps(response) -> dict[str, list[int]]:
    """The step ids of each slot on Today, in page order."""
    found: dict[str, list[int]] = {}
    for slot, step_id in re.findall(
        r'id="step-(morning|evening)-(\d+)"', response.content.decode()
    ):
        found.setdefault(slot, []).append(int(step_id))
    return found


def step_named(plan, name: str) -> PlanStep:
    return plan.steps.get(name=name)


def done_data(step, day, slot="morning", action="done") -> dict[str, str]:
    return {"step": str(step.pk), "day": day.isoformat(), "slot": slot, "action": action}


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- The emailed link ----------------------------------------------------------------------


def test_it_logs_the_phone_in_and_strips_the_token_from_the_address(client, client_person, plan):
    response = client.get(link_path(client_person))
    assert response.status_code == 302
    assert response["Location"] == reverse("client-today")
    assert "sesame" not in response["Location"]
    assert client.session[SESSION_KEY] == str(client_person.user.pk)
    assert "Hi " + client_person.first_name in text(client.get(response["Location"]))


def test_it_keeps_the_phone_logged_in_for_the_client_session_days(
    client, client_person, plan, settings
):
    response = client.get(link_path(client_person))
    expected = settings.CLIENT_SESSION_DAYS * 24 * 3600
    assert abs(client.session.get_expiry_age() - expected) <= 5
    assert abs(int(response.cookies[settings.SESSION_COOKIE_NAME]["max-age"]) - expected) <= 5
    assert expected > settings.SESSION_COOKIE_AGE  # longer than a therapist's session


def test_it_ignores_an_off_site_next_in_the_link(client, client_person, plan):
    response = client.get(link_path(client_person) + "&next=https://evil.example/")
    assert response.status_code == 302
    assert response["Location"] == reverse("client-today")


@pytest.mark.parametrize("query", ["?sesame=not-a-token", "?sesame=", ""])
def test_it_answers_a_bad_link_with_a_page_offering_a_new_one(client, client_person, query):
    response = client.get(reverse("client-login") + query)
    assert response.status_code == 403
    page = text(response)
    assert "This link no longer works" in page
    assert f'action="{reverse("client-new-link")}"' in page
    assert 'name="email"' in page
    assert SESSION_KEY not in client.session


def test_it_refuses_an_expired_link(client, client_person, plan, settings):
    path = link_path(client_person)
    later = timezone.now() + timedelta(seconds=settings.SESAME_MAX_AGE + 3600)
    with time_machine.travel(later, tick=False):
        response = client.get(path)
    assert response.status_code == 403
    assert "This link no longer works" in text(response)
    assert SESSION_KEY not in client.session


def test_it_still_accepts_a_link_just_before_it_expires(client, client_person, plan, settings):
    path = link_path(client_person)
    later = timezone.now() + timedelta(seconds=settings.SESAME_MAX_AGE - 3600)
    with time_machine.travel(later, tick=False):
        response = client.get(path)
    assert response.status_code == 302


def test_it_refuses_a_revoked_link(client, client_person, plan):
    path = link_path(client_person)
    people.client_links_revoke(client=client_person)
    response = client.get(path)
    assert response.status_code == 403
    assert "Email me a new link" in text(response)


def test_it_refuses_the_link_of_a_client_who_is_no_longer_active(client, client_person, plan):
    client_person.active = False
    client_person.save()
    client.get(link_path(client_person))
    response = client.get(reverse("client-today"))
    assert response.status_code == 302
    assert response["Location"] == reverse("client-new-link")


# --- Today ---------------------------------------------------------------------------------


def test_it_shows_a_flare_as_a_morning_and_an_evening_routine_with_heat_first(phone, plan):
    # The routine due now comes first: ask in the client's morning (tomorrow 08:00 in
    # London), so the order does not depend on when the suite runs.
    london = ZoneInfo("Europe/London")
    tomorrow = timezone.localtime(timezone=london).date() + timedelta(days=1)
    with time_machine.travel(datetime.combine(tomorrow, time(8), tzinfo=london), tick=False):
        phone.force_login(plan.client.user, backend="sesame.backends.ModelBackend")
        response = phone.get(reverse("client-today"))
    assert response.status_code == 200
    slots = slot_steps(response)
    heat = step_named(plan, "Heat first").pk
    si_reset = step_named(plan, "Passive SI reset").pk
    assert list(slots) == ["morning", "evening"]
    assert slots["morning"][0] == heat
    assert slots["evening"][0] == heat
    assert slots["evening"] == [heat, si_reset]
    assert set(slots["morning"]) == {
        heat,
        si_reset,
        step_named(plan, "Lumbar decompression").pk,
        step_named(plan, "Psoas release").pk,
    }
    page = text(response)
    assert "Morning routine" in page
    assert "Evening routine" in page
    assert "twice a day" in page


def test_it_shows_one_slot_while_the_back_is_subsiding(phone, client_person, therapist):
    plan = factories.plan_for(client_person, therapist, phase=Phase.SUBSIDING)
    response = phone.get(reverse("client-today"))
    slots = slot_steps(response)
    assert list(slots) == ["morning"]
    assert slots["morning"][0] == step_named(plan, "Heat first").pk
    assert "once a day" in text(response)


def test_it_shows_a_paused_notice_on_hold_and_no_done_buttons(phone, plan, therapist):
    services.phase_set(plan=plan, phase=Phase.HOLD, pinned=True, by=therapist.user)
    response = phone.get(reverse("client-today"))
    page = text(response)
    assert "Your routine is paused" in page
    assert slot_steps(response) == {}
    assert reverse("client-step-done") not in page


def test_it_shows_an_empty_state_without_a_plan(phone, client_person):
    response = phone.get(reverse("client-today"))
    assert response.status_code == 200
    assert "You don't have an aftercare plan at the moment." in text(response)
    assert "Hi " + client_person.first_name in text(response)


def test_it_tells_browsers_not_to_keep_today(phone, plan):
    response = phone.get(reverse("client-today"))
    assert "no-store" in response["Cache-Control"]


def test_it_shows_the_disclaimer_and_the_warning_signs_link(phone, plan):
    page = text(phone.get(reverse("client-today")))
    assert "not medical care" in page
    assert reverse("client-warning-signs") in page


def test_it_loads_videos_only_on_tap_through_nocookie(phone, plan):
    step = step_named(plan, "Passive SI reset")
    step.video_url = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    step.save()
    page = text(phone.get(reverse("client-today")))
    assert "Watch: Passive SI reset" in page
    assert 'data-src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?playsinline=1' in page
    assert "<iframe" not in page


def test_it_leaves_a_skipped_step_out_of_today(phone, plan):
    step = step_named(plan, "Psoas release")
    step.skipped = True
    step.save()
    response = phone.get(reverse("client-today"))
    assert step.pk not in slot_steps(response)["morning"]


# --- Done ------------------------------------------------------------------------------------


def test_it_ticks_a_step_done_and_undoes_it(phone, client_person, plan):
    step = step_named(plan, "Passive SI reset")
    today = client_person.local_today()
    response = phone.post(reverse("client-step-done"), done_data(step, today, "evening"))
    assert response.status_code == 302
    assert response["Location"] == reverse("client-today") + f"#step-evening-{step.pk}"
    assert Completion.objects.filter(step=step, day=today, slot="evening").count() == 1

    page = phone.get(reverse("client-today")).content.decode()
    card = page[page.index(f'id="step-evening-{step.pk}"') :]
    card = card[: card.index("</article>")]
    # A done step collapses to one line with its time, and an Undo.
    assert "Passive SI reset, done " in card
    assert 'name="action" value="undo"' in card

    response = phone.post(
        reverse("client-step-done"), done_data(step, today, "evening", "undo"), follow=True
    )
    assert not Completion.objects.filter(step=step).exists()
    assert "“Passive SI reset” is no longer marked done." in messages_of(response)


def test_it_keeps_one_tick_for_a_double_tap(phone, client_person, plan):
    step = step_named(plan, "Passive SI reset")
    today = client_person.local_today()
    phone.post(reverse("client-step-done"), done_data(step, today))
    phone.post(reverse("client-step-done"), done_data(step, today))
    assert Completion.objects.filter(step=step).count() == 1


def test_it_accepts_a_tick_for_yesterday(phone, client_person, plan):
    step = step_named(plan, "Passive SI reset")
    yesterday = client_person.local_today() - timedelta(days=1)
    phone.post(reverse("client-step-done"), done_data(step, yesterday))
    assert Completion.objects.filter(step=step, day=yesterday).exists()


def test_it_refuses_to_tick_another_clients_step(phone, client_person, plan, practice, therapist):
    # Another client's step is not there for this client: 404, never a tick.
    other = factories.ClientFactory(practice=practice)
    other_plan = factories.plan_for(other, therapist)
    theirs = step_named(other_plan, "Passive SI reset")
    response = phone.post(
        reverse("client-step-done"), done_data(theirs, client_person.local_today())
    )
    assert response.status_code == 404
    assert not Completion.objects.exists()


def test_it_refuses_to_untick_another_clients_step(phone, client_person, practice, therapist, plan):
    other = factories.ClientFactory(practice=practice)
    theirs = step_named(factories.plan_for(other, therapist), "Passive SI reset")
    day = other.local_today()
    services.step_complete(step=theirs, day=day, slot="morning")
    phone.post(reverse("client-step-done"), done_data(theirs, day, action="undo"))
    assert Completion.objects.filter(step=theirs).count() == 1


def test_it_refuses_a_step_of_an_ended_plan(phone, client_person, plan, therapist):
    old_step = step_named(plan, "Passive SI reset")
    factories.plan_for(client_person, therapist)
    phone.post(reverse("client-step-done"), done_data(old_step, client_person.local_today()))
    assert not Completion.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"slot": "noon"},
        {"slot": ""},
        {"day": "yesterday"},
        {"day": ""},
    ],
)
def test_it_refuses_a_malformed_done(phone, client_person, plan, change):
    data = done_data(step_named(plan, "Passive SI reset"), client_person.local_today())
    data.update(change)
    response = phone.post(reverse("client-step-done"), data, follow=True)
    assert response.status_code == 200
    assert "That step couldn't be updated. Please try again from this page." in messages_of(
        response
    )
    assert not Completion.objects.exists()


@pytest.mark.parametrize("step", ["abc", "", "99999999"])
def test_it_answers_404_for_a_step_that_is_not_the_clients(phone, client_person, plan, step):
    data = done_data(step_named(plan, "Passive SI reset"), client_person.local_today())
    data["step"] = step
    assert phone.post(reverse("client-step-done"), data).status_code == 404
    assert not Completion.objects.exists()


@pytest.mark.parametrize("days", [3, 2, -1])
def test_it_refuses_a_day_out_of_range(phone, client_person, plan, days):
    day = client_person.local_today() - timedelta(days=days)
    response = phone.post(
        reverse("client-step-done"),
        done_data(step_named(plan, "Passive SI reset"), day),
        follow=True,
    )
    assert "That step couldn't be updated. Please try again from this page." in messages_of(
        response
    )
    assert not Completion.objects.exists()


def test_it_refuses_to_untick_a_day_out_of_range(phone, client_person, plan):
    step = step_named(plan, "Passive SI reset")
    old_day = client_person.local_today() - timedelta(days=3)
    services.step_complete(step=step, day=old_day, slot="morning")
    phone.post(reverse("client-step-done"), done_data(step, old_day, action="undo"))
    assert Completion.objects.filter(step=step, day=old_day).exists()


def test_it_answers_get_on_done_with_405(phone, client_person, plan):
    step = step_named(plan, "Passive SI reset")
    response = phone.get(reverse("client-step-done"), done_data(step, client_person.local_today()))
    assert response.status_code == 405
    assert not Completion.objects.exists()


# --- The whole plan -------------------------------------------------------------------------


def test_it_shows_the_whole_plan_with_a_print_button(phone, client_person, plan):
    skipped = step_named(plan, "QL and psoas stretch and strength")
    skipped.skipped = True
    skipped.save()
    response = phone.get(reverse("client-plan"))
    assert response.status_code == 200
    page = text(response)
    for step in plan.steps.exclude(pk=skipped.pk):
        assert f'id="plan-step-{step.pk}"' in page
        assert step.name in page
    assert f'id="plan-step-{skipped.pk}"' not in page
    assert re.search(r"<button[^>]*data-print[^>]*>Print this plan</button>", page)
    assert "twice a day" in page  # SI reset in a flare


def test_it_shows_the_whole_plan_empty_state_without_a_plan(phone, client_person):
    response = phone.get(reverse("client-plan"))
    assert "You don't have an aftercare plan at the moment." in text(response)


# --- Email me a new link ----------------------------------------------------------------------


def test_it_emails_a_new_link_to_a_known_address(
    client, client_person, plan, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("client-new-link"), {"email": client_person.email.upper()})
    assert response.status_code == 200
    assert "Check your email" in text(response)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [client_person.email]
    path = re.search(r"http://testserver(/c/login/\?sesame=\S+)", mail.outbox[0].body).group(1)
    assert client.get(path)["Location"] == reverse("client-today")


def test_it_says_the_same_for_an_unknown_address_and_sends_nothing(
    client, client_person, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(reverse("client-new-link"), {"email": client_person.email})
    assert len(mail.outbox) == 1
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        unknown = client.post(reverse("client-new-link"), {"email": "stranger@example.com"})
    assert unknown.status_code == known.status_code == 200
    assert mail.outbox == []
    assert text(unknown).replace("stranger@example.com", "X") == text(known).replace(
        client_person.email, "X"
    )


def test_it_sends_nothing_to_an_inactive_client(
    client, client_person, django_capture_on_commit_callbacks
):
    client_person.active = False
    client_person.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("client-new-link"), {"email": client_person.email})
    assert "Check your email" in text(response)
    assert mail.outbox == []


def test_it_asks_again_for_an_invalid_address(client, db):
    response = client.post(reverse("client-new-link"), {"email": "nope"})
    assert response.status_code == 200
    assert "Enter a valid email address." in text(response)
    assert mail.outbox == []


def test_it_limits_new_links_per_address(
    client, client_person, settings, django_capture_on_commit_callbacks
):
    url = reverse("client-new-link")
    start = timezone.now()
    for n in range(settings.NEW_LINK_PER_EMAIL):
        # A minute apart: taps within one minute are one email (the next test).
        with (
            time_machine.travel(start + timedelta(minutes=n), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            client.post(url, {"email": client_person.email})
    assert len(mail.outbox) == settings.NEW_LINK_PER_EMAIL

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"email": client_person.email.upper()})
    assert "We've sent several links already" in text(response)
    assert len(mail.outbox) == settings.NEW_LINK_PER_EMAIL


def test_tapping_send_twice_emails_one_link(
    client, client_person, django_capture_on_commit_callbacks
):
    """A double tap (or a second tab) within a minute finds the first email in the outbox."""
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("client-new-link"), {"email": client_person.email})
        assert "Check your email" in text(response)
    assert len(mail.outbox) == 1


def test_it_limits_unknown_addresses_the_same_way(client, db, settings):
    url = reverse("client-new-link")
    for _ in range(settings.NEW_LINK_PER_EMAIL):
        client.post(url, {"email": "stranger@example.com"})
    response = client.post(url, {"email": "stranger@example.com"})
    assert "We've sent several links already" in text(response)


# --- Warning signs, forget this phone -------------------------------------------------------------


def test_it_shows_the_warning_signs_to_anyone(client, db):
    response = client.get(reverse("client-warning-signs"))
    assert response.status_code == 200
    page = text(response)
    assert "Warning signs" in page
    assert "your emergency number" in page


def test_it_shows_the_practices_emergency_number_to_its_client(phone, client_person):
    client_person.practice.emergency_number = "112"
    client_person.practice.save()
    page = text(phone.get(reverse("client-warning-signs")))
    assert "Call 112" in page


def test_it_forgets_the_phone(phone, plan):
    assert phone.get(reverse("client-today")).status_code == 200
    response = phone.post(reverse("client-forget"))
    assert response.status_code == 200
    assert "You're logged out" in text(response)
    assert SESSION_KEY not in phone.session
    after = phone.get(reverse("client-today"))
    assert after.status_code == 302
    assert after["Location"] == reverse("client-new-link")


def test_it_forgets_the_phone_only_on_post(phone, client_person, plan):
    assert phone.get(reverse("client-forget")).status_code == 405
    assert phone.session[SESSION_KEY] == str(client_person.user.pk)
