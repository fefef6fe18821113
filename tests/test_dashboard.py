"""The therapist's dashboard, ordered by need of attention, and the client page with the
chart, the check-ins with their notes, the open alerts and the phase timeline."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aftercare import checkins, services, triage
from aftercare.models import Alert, Plan
from aftercare.rules.phases import Phase
from tests import factories


def text(response) -> str:
    return html.unescape(response.content.decode())


def rows_of(response) -> list[str]:
    """The dashboard's client rows, top to bottom, as the HTML of each row."""
    body = re.search(r'<ul class="dashboard-list">(.*?)</ul>', response.content.decode(), re.S)
    assert body, "no client list"
    rows = re.findall(r'<li class="client-row[^"]*">.*?</li>', body.group(1), re.S)
    return [html.unescape(row) for row in rows]


def names_in_order(response) -> list[str]:
    return [
        re.search(r'<a class="name" href="[^"]+">(.*?)</a>', row).group(1)
        for row in rows_of(response)
    ]


EVERYONE = {"show": "all"}


def row_for(response, name: str) -> str:
    return next(row for row in rows_of(response) if f">{name}</a>" in row)


def check_in(plan: Plan, worst: int = 3, **answers):
    data = {
        "pain_now": min(worst, 2),
        "worst_pain": worst,
        "compared": "same",
        "legs": "none",
        "sleep": "fine",
        **answers,
    }
    return checkins.symptom_log_create(plan=plan, submission_key=uuid.uuid4(), answers=data)


def warning_sign(plan: Plan, sign: str):
    return checkins.symptom_log_create(
        plan=plan, submission_key=uuid.uuid4(), answers={"safety_signs": [sign]}
    )


def since(plan: Plan, days: float) -> Plan:
    """Move the plan's start and its phase's start `days` into the past."""
    then = timezone.now() - timedelta(days=days)
    Plan.objects.filter(pk=plan.pk).update(phase_since=then, started_at=then)
    plan.refresh_from_db()
    triage.attention_refresh(plan=plan)  # as the tick does when a clock runs out
    return plan


@pytest.fixture
def person(practice, therapist):
    def make(name: str, phase: Phase = Phase.SUBSIDING) -> Plan:
        client = factories.ClientFactory(practice=practice, primary_therapist=therapist, name=name)
        return factories.plan_for(client, therapist, phase=phase)

    return make


def test_it_orders_clients_by_need_of_attention_then_by_name(therapist_client, person):
    # Everyone else, by name whatever the case (created out of order).
    fine_carl = person("Carl Fine")
    check_in(fine_carl, 4)
    person("amy Fine")
    fine_bea = person("Bea Fine")
    check_in(fine_bea, 2)
    since(person("Dan Maintenance", Phase.MAINTENANCE), 10)  # weekly: not overdue

    # No check-in for 3 days while subsiding.
    since(person("Uma Quiet"), 3)
    # A step that raised pain by 2 or more.
    stepper = person("Tom Step")
    psoas = stepper.steps.get(name="Psoas release")
    check_in(stepper, 4, worse_steps=[psoas.id], worse_by=2)
    # "Worse" on 3 check-ins in a row.
    worse = person("Sam Worse")
    for _ in range(3):
        check_in(worse, 4, compared="worse")
    # Still in Flare after more than 7 days.
    check_in(since(person("Xia Flare", Phase.FLARE), 9), 7)
    # A see-a-doctor-today answer, then an emergency answer.
    warning_sign(person("Yan Doctor"), "fever")
    warning_sign(person("Zed Emergency"), "bladder_bowel")
    # Another practice's emergency is not on this dashboard.
    other = factories.practice_with_library()
    other_therapist = factories.TherapistFactory(practice=other)
    outsider = factories.ClientFactory(practice=other, name="Aaron Elsewhere")
    warning_sign(factories.plan_for(outsider, other_therapist), "chest_pain")

    response = therapist_client.get(reverse("therapist-dashboard"), EVERYONE)
    assert response.status_code == 200
    assert names_in_order(response) == [
        "Zed Emergency",
        "Yan Doctor",
        "Xia Flare",
        "Sam Worse",
        "Tom Step",
        "Uma Quiet",
        "amy Fine",
        "Bea Fine",
        "Carl Fine",
        "Dan Maintenance",
    ]
    assert ">Urgent</span>" in row_for(response, "Zed Emergency")
    assert "Emergency warning sign" in row_for(response, "Zed Emergency")
    assert ">Today</span>" in row_for(response, "Yan Doctor")
    assert "Contact-a-doctor warning sign" in row_for(response, "Yan Doctor")
    xia = row_for(response, "Xia Flare")
    assert ">Soon</span>" in xia and "Urgent" not in xia
    assert "Pain 7" in xia and "in Flare since" in xia  # the newest trigger leads
    assert "worse on 3 check-ins in a row" in row_for(response, "Sam Worse").lower()
    assert "a step raised pain by 2 (paused)" in row_for(response, "Tom Step").lower()
    assert ">Watch</span>" in row_for(response, "Uma Quiet")
    assert "o check-in since" in row_for(response, "Uma Quiet")
    assert "attention-" not in row_for(response, "Bea Fine")
    assert "Aaron Elsewhere" not in text(response)
    # "Needs me", the default, lists only those above calm, in the same order.
    needs = therapist_client.get(reverse("therapist-dashboard"))
    assert names_in_order(needs) == names_in_order(response)[:6]


def test_it_shows_last_pain_phase_and_trend_at_a_glance(therapist_client, person):
    down = person("Dee Down")
    check_in(down, 6)
    check_in(down, 3)
    up = person("Una Up", Phase.FLARE)
    check_in(up, 2)
    check_in(up, 5)
    same = person("Sol Same")
    check_in(same, 4)
    check_in(same, 4)
    person("Nat New")

    response = therapist_client.get(reverse("therapist-dashboard"), EVERYONE)
    row = row_for(response, "Dee Down")
    assert "<strong>3</strong>" in row
    assert "▼" in row and "▲" not in row
    assert "lower than the check-in before" in row
    assert "Subsiding" in row
    row = row_for(response, "Una Up")
    assert "<strong>5</strong>" in row
    assert "▲" in row and "▼" not in row
    assert "Flare" in row
    row = row_for(response, "Sol Same")
    assert "<strong>4</strong>" in row
    assert "▲" not in row and "▼" not in row
    assert "No check-in yet" in row_for(response, "Nat New")


def test_it_shows_the_last_pain_answered_not_a_safety_yes(therapist_client, person):
    plan = person("Ria Red")
    check_in(plan, 5)
    warning_sign(plan, "fever")
    row = row_for(therapist_client.get(reverse("therapist-dashboard")), "Ria Red")
    assert "<strong>5</strong>" in row
    assert "On hold" in row
    assert ">Today</span>" in row


def test_a_safety_hold_stays_on_top_until_the_therapist_resumes_the_routine(
    therapist_client, person, therapist
):
    """TAPER.md: "Seen" drops a row to calm, but the emergency and doctor levels still
    need the therapist to resume the routine."""
    plan = person("Zed Emergency")
    warning_sign(plan, "chest_pain")
    person("Amy Fine")
    url = reverse("therapist-dashboard")
    assert names_in_order(therapist_client.get(url, EVERYONE)) == ["Zed Emergency", "Amy Fine"]
    checkins.alert_resolve(alert=Alert.objects.get(), by=therapist.user)
    triage.attention_seen(plan=plan, by=therapist.user)
    assert names_in_order(therapist_client.get(url, EVERYONE)) == ["Zed Emergency", "Amy Fine"]
    services.plan_resume(plan=plan, phase=Phase.SUBSIDING, by=therapist.user)
    assert names_in_order(therapist_client.get(url, EVERYONE)) == ["Amy Fine", "Zed Emergency"]
    plan.refresh_from_db()
    assert (plan.phase, plan.attention_level) == (Phase.SUBSIDING, 0)


def test_it_ranks_a_flare_of_more_than_7_days_without_a_check_in_as_a_long_flare(
    therapist_client, person
):
    """TAPER.md: "still in Flare after 7 days" is a refer-to-clinician alert whether or not
    the client has checked in since: a client who stops checking in mid-flare must not
    rank as a mere missing check-in."""
    since(person("Zoe Longflare", Phase.FLARE), 9)
    since(person("Wil Quiet"), 3)
    response = therapist_client.get(reverse("therapist-dashboard"))
    assert names_in_order(response) == ["Zoe Longflare", "Wil Quiet"]
    assert ">Soon</span>" in row_for(response, "Zoe Longflare")
    assert "in flare since" in row_for(response, "Zoe Longflare").lower()


def _many_clients(person, first: int, count: int) -> None:
    for n in range(first, first + count):
        plan = person(f"Client {n:03d}", Phase.FLARE if n % 2 else Phase.SUBSIDING)
        check_in(plan, 5)
        check_in(plan, 4)
        if n % 3 == 0:
            warning_sign(plan, "fever")


@pytest.mark.parametrize("count", [3, 30])
def test_its_query_count_does_not_grow_with_the_clients(
    therapist_client, person, count, django_assert_max_num_queries
):
    _many_clients(person, 0, count)
    with django_assert_max_num_queries(10):
        response = therapist_client.get(reverse("therapist-dashboard"), EVERYONE)
    assert len(rows_of(response)) == count


def test_its_query_count_is_the_same_for_3_and_for_30_clients(therapist_client, person):
    url = reverse("therapist-dashboard")
    therapist_client.get(url)  # warm up the session and the template cache
    _many_clients(person, 0, 3)
    with CaptureQueriesContext(connection) as three:
        therapist_client.get(url)
    _many_clients(person, 3, 27)
    with CaptureQueriesContext(connection) as thirty:
        therapist_client.get(url)
    assert len(thirty) == len(three)


# --- The client page ---------------------------------------------------------------------------


def test_it_shows_the_therapist_the_chart_the_logs_with_notes_and_the_open_alerts(
    therapist_client, person, therapist
):
    plan = person("Pia Page")
    check_in(plan, 8, note="Moved house at the weekend")
    check_in(plan, 5, compared="better", note="Heat helps")
    psoas = plan.steps.get(name="Psoas release")
    check_in(plan, 4, worse_steps=[psoas.id], worse_by=2)
    handled = Alert.objects.create(
        plan=plan, kind="worse_three_times", severity=50, message="An old alert, handled"
    )
    checkins.alert_resolve(alert=handled, by=therapist.user)

    response = therapist_client.get(reverse("therapist-client", args=[plan.client.public_id]))
    assert response.status_code == 200
    page = text(response)

    svg = re.search(
        r'<svg[^>]*role="img"[^>]*aria-labelledby="([^"]+)"[^>]*>(.*?)</svg>', page, re.S
    )
    assert svg, "the pain chart is an SVG with an accessible name"
    title = re.search(rf'<title id="{svg.group(1)}">(.*?)</title>', svg.group(2), re.S)
    assert title and "highest 8" in title.group(1)
    assert len(re.findall(r'class="pain-dot"', svg.group(2))) == 1  # three logs, one day

    logs = re.search(r'<table class="list logs">(.*?)</table>', page, re.S).group(1)
    assert "Moved house at the weekend" in logs
    assert "Heat helps" in logs
    assert "<strong>8</strong>" in logs and "<strong>5</strong>" in logs
    assert logs.index("Heat helps") < logs.index("Moved house")  # newest first

    alerts = re.search(r'<section class="card alerts".*?</section>', page, re.S).group(0)
    step_alert = Alert.objects.get(plan=plan, kind="step_raised_pain")
    assert step_alert.message in alerts
    assert "step paused: Psoas release" in alerts
    assert reverse("therapist-alert-resolve", args=[plan.client.public_id, step_alert.id]) in alerts
    assert "An old alert, handled" not in page
    assert "Paused: raised pain" in page


def test_it_shows_the_phase_timeline_with_reasons_and_safety_answers(therapist_client, person):
    plan = person("Tia Timeline")
    check_in(plan, 9)
    warning_sign(plan, "saddle_numbness")
    response = therapist_client.get(reverse("therapist-client", args=[plan.client.public_id]))
    page = text(response)
    timeline = re.search(r'<ol class="timeline">(.*?)</ol>', page, re.S).group(1)
    assert "(7 or more starts a flare)" in timeline
    assert "answered yes to an emergency warning sign" in timeline
    assert "(A check-in)" in timeline
    assert "(Plan assigned)" in timeline
    logs = re.search(r'<table class="list logs">(.*?)</table>', page, re.S).group(1)
    assert "New numbness around your genitals, bottom or inner thighs" in logs
    assert "Emergency" in logs
    assert "routine is on hold" in page


def test_it_hides_another_practices_client_page(therapist_client):
    other = factories.practice_with_library()
    outsider = factories.ClientFactory(practice=other)
    factories.plan_for(outsider, factories.TherapistFactory(practice=other))
    response = therapist_client.get(reverse("therapist-client", args=[outsider.public_id]))
    assert response.status_code == 404


def test_it_pages_a_long_list_with_those_needing_attention_on_page_one(
    therapist_client, person, settings
):
    from aftercare.views import therapist as views

    for n in range(views.DASHBOARD_PAGE_SIZE + 5):
        person(f"Calm {n:03d}")
    check_in(person("Zara Urgent"), 5)
    warning_sign(Plan.objects.get(client__name="Zara Urgent"), "chest_pain")
    url = reverse("therapist-dashboard")
    assert names_in_order(therapist_client.get(url)) == ["Zara Urgent"]  # "Needs me"
    first = therapist_client.get(url, EVERYONE)
    assert len(rows_of(first)) == views.DASHBOARD_PAGE_SIZE
    assert names_in_order(first)[0] == "Zara Urgent"
    page = first.content.decode()
    assert "56 clients, <strong>1 needs you</strong>" in page
    assert "Page 1 of 2" in page and 'rel="next" href="?show=all&amp;page=2"' in page
    second = therapist_client.get(url, {"show": "all", "page": "2"})
    assert len(rows_of(second)) == 6
    assert 'rel="prev" href="?show=all&amp;page=1"' in second.content.decode()
    # A page number that makes no sense shows a real page, never an error.
    assert therapist_client.get(url, {"page": "999"}).status_code == 200
    assert therapist_client.get(url, {"page": "abc", "show": "x"}).status_code == 200
    searched = therapist_client.get(url, {"q": "Calm", "page": "2"})
    assert 'rel="prev" href="?q=Calm&amp;show=all&amp;page=1"' in searched.content.decode()


def test_it_shows_the_therapist_times_in_the_practices_time_zone(
    therapist_client, person, practice
):
    from datetime import UTC, datetime

    import time_machine

    practice.time_zone = "America/New_York"
    practice.save()
    plan = person("Tia Times")
    with time_machine.travel(datetime(2026, 11, 25, 15, 0, tzinfo=UTC), tick=False):
        check_in(plan, 4, note="morning stiffness")
    page = therapist_client.get(
        reverse("therapist-client", args=[plan.client.public_id])
    ).content.decode()
    assert "25 Nov, 10:00" in page  # 15:00 UTC is 10:00 in New York
    assert "25 Nov, 15:00" not in page
