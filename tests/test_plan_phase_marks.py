"""Small phone-experience points of issue 11: the plan table marks the client's current
phase; the session form says what each starting phase means."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from aftercare.models import Plan
from aftercare.rules.phases import Phase


def now_cells(response) -> list[str]:
    page = html.unescape(response.content.decode())
    table = re.search(r'<table class="plan-table">(.*?)</table>', page, re.S).group(1)
    return re.findall(r'<t[hd][^>]*class="now"[^>]*>(.*?)</t[hd]>', table, re.S)


@pytest.mark.parametrize(
    ("phase", "title"),
    [
        (Phase.FLARE, "In a flare"),
        (Phase.SUBSIDING, "While it settles"),
        (Phase.MAINTENANCE, "Once it's gone"),
    ],
)
def test_the_plan_table_marks_the_current_phase(phone, plan, phase, title):
    Plan.objects.filter(pk=plan.pk).update(phase=phase)
    cells = now_cells(phone.get(reverse("client-plan")))
    assert cells[0].startswith(title) and "now" in cells[0]
    assert len(cells) == 1 + plan.steps.count()  # the heading and every step's cell


def test_on_hold_no_column_is_marked(phone, plan):
    Plan.objects.filter(pk=plan.pk).update(phase=Phase.HOLD)
    assert now_cells(phone.get(reverse("client-plan"))) == []


def test_the_session_form_says_what_each_starting_phase_means(therapist_client, plan):
    page = html.unescape(
        therapist_client.get(
            reverse("therapist-session", args=[plan.client.public_id])
        ).content.decode()
    )
    for words in ("Flare: severe pain now", "Subsiding: settling", "Maintenance: symptoms gone"):
        assert words in page
