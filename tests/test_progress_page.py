"""The client's progress page, request by request: what a new client is told will appear,
the week and the streak from their ticks, the pain trend from their check-ins, a list for
a few check-ins and a chart for many, nothing about the routine or checking in while the
plan is on hold, and never another client's numbers."""

from __future__ import annotations

import html
import re
import uuid
from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from aftercare import checkins, services
from aftercare.models import SymptomLog
from aftercare.rules.phases import Phase
from tests import factories


def page_of(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def main_of(response) -> str:
    return re.search(r"<main.*?</main>", page_of(response), re.S).group(0)


def started(plan, days_ago: int) -> None:
    plan.started_at = timezone.now() - timedelta(days=days_ago)
    plan.save(update_fields=["started_at"])


def tick(plan, client, *days_ago: int) -> None:
    step = plan.steps.get(name="Lumbar decompression")
    for ago in days_ago:
        services.step_complete(
            step=step, day=client.local_today() - timedelta(days=ago), slot="morning"
        )


def log(plan, client, days_ago: int, worst: int) -> SymptomLog:
    day = client.local_today() - timedelta(days=days_ago)
    return SymptomLog.objects.create(
        plan=plan,
        at=timezone.make_aware(datetime.combine(day, time(9))),
        day=day,
        pain_now=min(worst, 2),
        worst_pain=worst,
        compared="same",
        legs="none",
        sleep="fine",
        submission_key=uuid.uuid4(),
    )


@pytest.fixture
def settling(client_person, therapist):
    """While it settles, every day has the routine; the plan started 20 days ago."""
    plan = factories.plan_for(client_person, therapist, phase=Phase.SUBSIDING)
    started(plan, 20)
    return plan


def test_a_new_client_is_told_what_will_appear(phone, plan):
    main = main_of(phone.get(reverse("client-progress")))
    assert "Your progress will show here" in main
    assert "Days done this week" in main and "Your pain over time" in main
    assert "Your streak" not in main and "pain-chart" not in main


def test_ticks_make_the_week_and_the_streak(phone, settling, client_person):
    tick(settling, client_person, 0, 1, 2, 4, 5)  # 3 missed: a single miss
    main = main_of(phone.get(reverse("client-progress")))
    assert "Your streak: 5 days." in main
    today = client_person.local_today()
    done_this_week = sum(1 for ago in (0, 1, 2, 4, 5) if ago <= today.weekday())
    assert f"{done_this_week} of 7 days this week" in main
    # Monday to Sunday, today marked for screen readers too.
    strip = re.search(r'<ol class="week-strip".*?</ol>', main, re.S).group(0)
    assert strip.count("<li") == 7
    assert f"{today:%A} (today): done" in strip
    assert "No check-ins yet" in main
    assert reverse("client-checkin") in main


def test_a_missed_day_keeps_the_streak_and_says_so_without_blame(phone, settling, client_person):
    tick(settling, client_person, 2, 3, 4)  # yesterday missed, today still open
    main = main_of(phone.get(reverse("client-progress")))
    assert "Your streak: 3 days. One missed day doesn't end it" in main


def test_two_missed_days_start_the_streak_again(phone, settling, client_person):
    tick(settling, client_person, 3, 4)
    main = main_of(phone.get(reverse("client-progress")))
    assert "Your streak starts again with your next routine." in main


def test_days_before_the_plan_started_never_count_as_missed(phone, client_person, therapist):
    plan = factories.plan_for(client_person, therapist, phase=Phase.SUBSIDING)
    tick(plan, client_person, 0)
    main = main_of(phone.get(reverse("client-progress")))
    today = client_person.local_today()
    assert "Your streak: 1 day." in main
    assert "before your plan started" in main or today.weekday() == 0
    strip = re.search(r'<ol class="week-strip".*?</ol>', main, re.S).group(0)
    assert ": not done" not in strip  # no day of this week before the plan is a miss


def test_one_check_in_is_a_short_list_not_a_dot_on_a_chart(phone, settling, client_person):
    log(settling, client_person, 0, 6)
    main = main_of(phone.get(reverse("client-progress")))
    assert "One check-in so far: worst pain 6." in main
    assert 'class="pain-list"' in main and main.count('class="dot v-6"') == 1
    assert "pain-chart" not in main


def test_many_check_ins_are_a_chart_with_the_trend_in_words(phone, settling, client_person):
    for ago, worst in [(18, 8), (12, 7), (9, 6), (5, 5), (1, 4)]:
        log(settling, client_person, ago, worst)
    main = main_of(phone.get(reverse("client-progress")))
    assert "Down 4 points since you started, from 8 to 4: that's a real change." in main
    assert 'class="pain-chart"' in main and main.count('class="pain-dot"') == 5
    assert 'class="pain-list"' not in main


def test_a_rise_is_said_gently_with_who_to_tell(phone, settling, client_person):
    for ago, worst in [(10, 3), (8, 3), (0, 6)]:
        log(settling, client_person, ago, worst)
    main = main_of(phone.get(reverse("client-progress")))
    assert "Up 3 points this week: go gently, and tell your therapist if it keeps going." in main


def test_on_hold_it_says_who_to_talk_to_and_invites_no_check_in(
    phone, settling, client_person, practice
):
    practice.phone = "0117 496 0000"
    practice.save()
    tick(settling, client_person, 1, 2, 3)
    log(settling, client_person, 2, 5)
    checkins.symptom_log_create(
        plan=settling, submission_key=uuid.uuid4(), answers={"safety_signs": ["chest_pain"]}
    )
    settling.refresh_from_db()
    assert settling.phase == Phase.HOLD
    main = main_of(phone.get(reverse("client-progress")))
    assert "Your routine is paused" in main
    assert 'href="tel:01174960000"' in main
    assert f'call <a href="tel:{practice.emergency_number}"' in main
    assert reverse("client-checkin") not in main
    assert "Check in" not in main and "check in now" not in main.lower()
    assert "streak" not in main.lower()
    assert "today's routine" not in main.lower()


def test_it_never_shows_another_clients_numbers(phone, plan, practice, therapist):
    other = factories.ClientFactory(practice=practice, primary_therapist=therapist)
    other_plan = factories.plan_for(other, therapist)
    started(other_plan, 10)
    for ago, worst in [(8, 9), (4, 9), (0, 9)]:
        log(other_plan, other, ago, worst)
    tick(other_plan, other, 0, 1, 2)
    main = main_of(phone.get(reverse("client-progress")))
    assert "Your progress will show here" in main
    assert "9" not in re.sub(r"<[^>]+>", "", main).replace("999", "")


def test_a_therapist_cannot_open_the_clients_progress_page(therapist_client, plan):
    response = therapist_client.get(reverse("client-progress"))
    assert response.status_code in (302, 403)
