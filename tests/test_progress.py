"""Progress: the daily series, the low-pain streak, the SVG chart and the one sentence drawn
from the data (pure), then the client's progress page (request)."""

from __future__ import annotations

import html
import re
import uuid
from datetime import date, datetime, time, timedelta
from itertools import pairwise

from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from aftercare import services
from aftercare.models import SymptomLog
from aftercare.rules.phases import Phase
from aftercare.rules.progress import DayPoint, daily_series, low_streak, milestone, pain_chart

LAST = date(2026, 11, 25)

pain = st.integers(min_value=0, max_value=10)
maybe_pain = st.none() | pain
phases = st.sampled_from(list(Phase))


def series_of(*worst: int | None, done: tuple[int, ...] = (), last: date = LAST) -> list[DayPoint]:
    """One point per value, the last on `last`; `done` holds indexes of days done."""
    first = last - timedelta(days=len(worst) - 1)
    return [
        DayPoint(day=first + timedelta(days=i), worst=w, done=i in done)
        for i, w in enumerate(worst)
    ]


@st.composite
def series_strategy(draw, min_size: int = 1, max_size: int = 60) -> list[DayPoint]:
    values = draw(st.lists(maybe_pain, min_size=min_size, max_size=max_size))
    done = draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    first = LAST - timedelta(days=len(values) - 1)
    return [
        DayPoint(day=first + timedelta(days=i), worst=w, done=d)
        for i, (w, d) in enumerate(zip(values, done, strict=True))
    ]


# --- daily_series ---------------------------------------------------------------------------


def test_it_makes_one_point_a_day_oldest_first_ending_on_the_last_day():
    series = daily_series([], [], last_day=LAST, days=30)
    assert len(series) == 30
    assert series[0].day == LAST - timedelta(days=29)
    assert series[-1].day == LAST
    assert all(p.worst is None and not p.done for p in series)


def test_it_takes_the_days_highest_worst_pain_and_marks_the_days_done():
    logs = [(LAST, 3), (LAST, 7), (LAST, 5), (LAST - timedelta(days=2), 0)]
    done = [LAST - timedelta(days=1), LAST - timedelta(days=1), LAST]
    series = daily_series(logs, done, last_day=LAST, days=3)
    assert [(p.worst, p.done) for p in series] == [(0, False), (None, True), (7, True)]


def test_it_leaves_out_logs_and_ticks_outside_the_window():
    logs = [(LAST - timedelta(days=3), 9), (LAST + timedelta(days=1), 9), (LAST, 2)]
    done = [LAST - timedelta(days=3)]
    series = daily_series(logs, done, last_day=LAST, days=3)
    assert [p.worst for p in series] == [None, None, 2]
    assert not any(p.done for p in series)


@given(
    logs=st.lists(st.tuples(st.integers(-40, 5), pain), max_size=40),
    done=st.sets(st.integers(-40, 5), max_size=20),
    days=st.integers(min_value=1, max_value=45),
)
@settings(max_examples=150, deadline=None)
def test_its_series_always_has_one_point_per_day_in_order(logs, done, days):
    dated = [(LAST + timedelta(days=offset), value) for offset, value in logs]
    done_days = [LAST + timedelta(days=offset) for offset in done]
    series = daily_series(dated, done_days, last_day=LAST, days=days)
    assert len(series) == days
    assert series[-1].day == LAST
    assert all(b.day - a.day == timedelta(days=1) for a, b in pairwise(series))
    for point in series:
        that_day = [value for day, value in dated if day == point.day]
        assert point.worst == (max(that_day) if that_day else None)
        assert point.done is (point.day in done_days)


# --- low_streak -----------------------------------------------------------------------------


def test_its_streak_skips_days_without_a_log():
    assert low_streak(series_of(5, 1, None, 0, None, None, 1)) == 3


def test_its_streak_stops_at_a_day_above_1():
    assert low_streak(series_of(0, 0, 2, 1, None, 0)) == 2


def test_its_streak_is_0_when_the_newest_logged_day_is_above_1():
    assert low_streak(series_of(0, 0, 0, 4, None)) == 0


def test_its_streak_is_0_without_any_log():
    assert low_streak(series_of(None, None, None)) == 0


@given(series=series_strategy(min_size=0))
def test_its_streak_is_the_run_of_logged_days_at_0_or_1_and_ignores_gaps(series):
    logged = [p.worst for p in series if p.worst is not None]
    run = 0
    for value in reversed(logged):
        if value > 1:
            break
        run += 1
    assert low_streak(series) == run
    # Taking the unlogged days out changes nothing: they neither count nor reset.
    assert low_streak([p for p in series if p.worst is not None]) == run


# --- pain_chart ----------------------------------------------------------------------------


@given(series=series_strategy())
@settings(max_examples=200)
def test_its_chart_stays_inside_the_viewbox_for_any_series(series):
    chart = pain_chart(series)
    radius = 4  # the dots' radius in the template
    logged = [p for p in series if p.worst is not None]
    assert len(chart.dots) == len(logged)
    for x, y, value, _day in chart.dots:
        assert radius <= x <= chart.width - radius
        assert radius <= y <= chart.height - radius
        assert 0 <= value <= 10
    # Left to right in time, and higher pain is higher up (smaller y).
    xs = [x for x, *_ in chart.dots]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    for (_, y1, v1, _), (_, y2, v2, _) in pairwise(chart.dots):
        assert (v1 > v2) == (y1 < y2)
    # The line joins exactly the dots.
    points = [tuple(map(float, pair.split(","))) for pair in chart.line.split()]
    assert points == [(x, y) for x, y, _, _ in chart.dots]
    # A done mark is a 6-wide bar centred on its day.
    assert len(chart.done_marks) == sum(p.done for p in series)
    for x in chart.done_marks:
        assert x - 3 >= 0 and x + 3 <= chart.width
    for y, _label in chart.gridlines:
        assert 0 <= y <= chart.height
    assert (chart.first, chart.last) == (series[0].day, series[-1].day)
    assert chart.summary


def test_its_chart_puts_0_at_the_bottom_line_and_10_at_the_top_line():
    chart = pain_chart(series_of(0, 10))
    grid = dict((label, y) for y, label in chart.gridlines)
    (_, y0, _, _), (_, y10, _, _) = chart.dots
    assert y0 == grid[0]
    assert y10 == grid[10]
    assert y10 < y0


def test_its_chart_has_no_line_without_a_log():
    chart = pain_chart(series_of(None, None, None, done=(1,)))
    assert chart.line == ""
    assert chart.dots == ()
    assert len(chart.done_marks) == 1
    assert chart.summary.startswith("No check-ins in the last 3 days")


def test_its_chart_summary_says_the_numbers_in_words():
    chart = pain_chart(series_of(8, None, 6, 3, done=(0, 2)))
    assert "from 8 on 22 Nov to 3 on 25 Nov" in chart.summary
    assert "highest 8" in chart.summary
    assert "Routine done on 2 days" in chart.summary


# --- milestone (the low days still needed, while it settles) -------------------------------


def test_it_counts_the_low_days_still_needed_for_the_weekly_reset():
    sentence = milestone(series_of(1, 2, 1, None, 0, 1), Phase.SUBSIDING)
    assert sentence.startswith("3 check-in days in a row at 0 or 1")
    assert "4 more" in sentence


def test_it_uses_the_plans_own_number_of_low_days():
    sentence = milestone(series_of(1, 1), Phase.SUBSIDING, maintenance_days=5)
    assert "2 check-in days in a row" in sentence
    assert "3 more" in sentence


@given(series=series_strategy(), phase=phases, maintenance_days=st.integers(3, 28))
@settings(max_examples=300)
def test_its_milestone_is_only_for_a_plan_settling_and_true_to_the_data(
    series, phase, maintenance_days
):
    sentence = milestone(series, phase, maintenance_days)
    if phase is not Phase.SUBSIDING:
        assert sentence == ""
        return
    found = re.match(r"(\d+) check-in days? in a row at 0 or 1: (\d+) more", sentence)
    if sentence:
        assert found
        assert int(found.group(1)) == low_streak(series)
        assert int(found.group(1)) + int(found.group(2)) == maintenance_days
    else:
        assert low_streak(series) in (0,) or low_streak(series) >= maintenance_days


# --- The client's progress page --------------------------------------------------------------


def _log(plan, day: date, worst: int) -> SymptomLog:
    moment = timezone.make_aware(datetime.combine(day, time(9)))
    return SymptomLog.objects.create(
        plan=plan,
        at=moment,
        day=day,
        pain_now=min(worst, 2),
        worst_pain=worst,
        compared="same",
        legs="none",
        sleep="fine",
        submission_key=uuid.uuid4(),
    )


def test_it_shows_the_client_an_accessible_chart_and_a_sentence_from_their_data(
    phone, plan, client_person
):
    today = client_person.local_today()
    plan.started_at = timezone.now() - timedelta(days=60)
    plan.save()
    for back, worst in [(12, 8), (9, 6), (6, 5), (0, 3)]:
        _log(plan, today - timedelta(days=back), worst)
    # A log older than 30 days is not on the chart.
    _log(plan, today - timedelta(days=40), 10)
    si_reset = plan.steps.get(name="Passive SI reset")
    services.step_complete(step=si_reset, day=today, slot="morning")
    services.step_complete(step=si_reset, day=today - timedelta(days=1), slot="morning")

    response = phone.get(reverse("client-progress"))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    svg = re.search(r"<svg[^>]*>(.*?)</svg>", page, re.S)
    assert svg, "the chart is an inline SVG"
    tag = re.search(r"<svg[^>]*>", page).group(0)
    assert 'role="img"' in tag
    labelled_by = re.search(r'aria-labelledby="([^"]+)"', tag).group(1)
    title = re.search(rf'<title id="{labelled_by}">(.*?)</title>', svg.group(1), re.S)
    assert title, "the chart's accessible name is its <title>"
    assert "from 8 on" in title.group(1) and "to 3 on" in title.group(1)
    assert "Routine done on 2 days" in title.group(1)
    assert len(re.findall(r'<line[^>]*class="pain-dot"', svg.group(1))) == 4
    assert len(re.findall(r'class="done-mark"', svg.group(1))) == 2

    # The trend runs from the plan's first check-in (40 days ago), past the chart's edge.
    assert "Down 7 points since you started, from 10 to 3: that's a real change." in page
    assert response.context["progress"].trend.sentence in page


def test_it_says_what_will_appear_before_the_first_tick_or_check_in(phone, plan):
    response = phone.get(reverse("client-progress"))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Your progress will show here" in page
    assert "Days done this week" in page and "Your pain over time" in page
    assert 'class="pain-dot"' not in page
    assert reverse("client-today") in page and reverse("client-checkin") in page
