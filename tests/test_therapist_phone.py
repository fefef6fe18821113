"""Issue 11, request by request: the client page leads with what needs doing (attention,
check-ins, plan), a "Call" link when there is a phone number, the next 3 reminders with
"Show all N", an in-page nav; and the `ago` and `tel` filters."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from aftercare import checkins
from aftercare.models import Alert
from aftercare.templatetags.therapist_tags import ago, tel


def _page(therapist_client, client) -> str:
    response = therapist_client.get(reverse("therapist-client", args=[client.public_id]))
    assert response.status_code == 200
    return response.content.decode()


def _alert(plan) -> Alert:
    return Alert.objects.create(plan=plan, kind="pain_jump", severity=30, message="Pain jumped")


def _attention(page: str) -> str:
    return re.search(r'<section class="card alerts".*?</section>', page, re.S).group(0)


# --- Reminders: the next 3, then "Show all N" ------------------------------------------


def test_it_shows_the_next_three_reminders_and_the_rest_behind_show_all(
    therapist_client, flare, client_person
):
    page = _page(therapist_client, client_person)
    reminders = page[page.index('id="reminders-h"') :]
    # Flare: a morning and an evening routine a day, the 25th's both still ahead.
    assert "Next 14 days (28)" in reminders
    first = re.search(r'<ul class="reminder-list upcoming">(.*?)</ul>', reminders, re.S).group(1)
    assert first.count("<li>") == 3
    assert "Wed 25 Nov, 08:00" in first and "Thu 26 Nov, 08:00" in first
    rest = re.search(r'<details class="more show-all">(.*?)</details>', reminders, re.S).group(1)
    assert "<summary>Show all 28</summary>" in rest
    assert rest.count("<li>") == 25
    assert "Thu 26 Nov, 19:00" in rest
    assert "Thu 26 Nov, 19:00" not in first
    assert '<details class="more show-all" open' not in reminders  # collapsed


def test_it_has_no_show_all_when_nothing_is_planned(therapist_client, client_person):
    page = _page(therapist_client, client_person)  # no plan, so no reminders
    assert "Next 14 days (0)" in page
    assert "Nothing planned." in page
    assert "Show all" not in page


# --- Call the client -------------------------------------------------------------------


def test_the_attention_section_has_a_call_link_when_the_client_has_a_phone(
    therapist_client, plan, client_person
):
    client_person.phone = "+44 (0)7700 900-123"
    client_person.save()
    _alert(plan)
    attention = _attention(_page(therapist_client, client_person))
    assert 'href="tel:+4407700900123"' in attention
    assert f"Call {client_person.first_name}" in attention
    assert "+44 (0)7700 900-123" in attention


def test_there_is_no_call_link_without_a_phone_number(therapist_client, plan, client_person):
    assert client_person.phone == ""
    _alert(plan)
    page = _page(therapist_client, client_person)
    assert "Needs your attention" in _attention(page)
    assert "tel:" not in page
    assert "Call " not in page


# --- What leads -------------------------------------------------------------------------


def test_the_page_leads_with_attention_then_check_ins_then_the_plan(
    therapist_client, plan, client_person
):
    _alert(plan)
    page = _page(therapist_client, client_person)
    order = [page.index(f'id="{h}"') for h in ("alerts-h", "logs-h", "plan-h", "sessions-h")]
    assert order == sorted(order)


def test_the_in_page_nav_links_to_sections_that_exist(therapist_client, plan, client_person):
    page = _page(therapist_client, client_person)
    nav = re.search(r'<nav class="page-nav" aria-label="On this page">(.*?)</nav>', page, re.S)
    targets = re.findall(r'href="#([^"]+)"', nav.group(1))
    assert targets == ["checkins", "plan", "reminders", "sessions", "history", "client-data"]
    for target in targets:
        assert f'<section class="card" id="{target}"' in page
    assert page.index('class="page-nav"') < page.index('id="checkins"')


def test_the_check_in_cells_carry_their_column_names(therapist_client, plan, client_person):
    checkins.symptom_log_create(
        plan=plan,
        submission_key=uuid.uuid4(),
        answers={
            "safety_signs": [],
            "pain_now": 2,
            "worst_pain": 4,
            "compared": "better",
            "legs": "none",
            "sleep": "fine",
            "steps_done": [],
            "worse_steps": [],
            "worse_by": 0,
            "note": "Fine",
            "flare_tap": False,
            "gone_tap": False,
        },
    )
    page = _page(therapist_client, client_person)
    logs = re.search(r'<table class="list logs">(.*?)</table>', page, re.S).group(1)
    for label in ("When", "Now / worst", "Trend", "Notes"):
        assert f'data-label="{label}"' in logs
    assert '<th scope="col" role="columnheader">When</th>' in logs
    assert "last just now" in page


# --- The filters ------------------------------------------------------------------------

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(seconds=-30), "just now"),  # a little ahead: clocks differ
        (timedelta(minutes=1), "1\xa0minute ago"),
        (timedelta(minutes=5), "5\xa0minutes ago"),
        (timedelta(hours=3, minutes=2), "3\xa0hours, 2\xa0minutes ago"),
        (timedelta(days=2), "2\xa0days ago"),
    ],
)
def test_ago_says_just_now_for_under_a_minute(before, expected):
    assert ago(NOW - before, NOW) == expected


def test_ago_in_a_template_never_says_zero_minutes():
    template = Template("{% load therapist_tags %}{{ when|ago }}|{{ missing|ago }}")
    assert template.render(Context({"when": timezone.now()})) == "just now|"
    earlier = timezone.now() - timedelta(minutes=10)
    assert template.render(Context({"when": earlier})) == "10\xa0minutes ago|"


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+44 7700 900123", "+447700900123"),
        ("07700 900-123", "07700900123"),
        ("(020) 7946 0958 ext 2", "020794609582"),
        ("+1 +2 3", "+123"),
        ("", ""),
        (None, ""),
    ],
)
def test_tel_keeps_digits_and_a_leading_plus(number, expected):
    assert tel(number) == expected
