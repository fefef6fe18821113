"""The progress rules a client reads every day (pure): the routine's days this week, the
streak that survives one missed day, the days the routine was due, and the pain trend in
words, checked case by case as a clinician would read them and as properties."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from aftercare.rules import schedule
from aftercare.rules.phases import Frequency, Phase
from aftercare.rules.progress import (
    Mark,
    RoutineDays,
    daily_series,
    day_mark,
    pain_chart,
    pain_trend,
    routine_progress,
    routine_streak,
)

TODAY = date(2026, 11, 25)  # a Wednesday
D, M, R, T = Mark.DONE, Mark.MISSED, Mark.REST, Mark.TODAY


class Every:
    """Every day has the routine due (a flare or while it settles)."""

    def __contains__(self, day) -> bool:
        return True


def days_ago(*offsets: int) -> set[date]:
    return {TODAY - timedelta(days=n) for n in offsets}


# --- the streak, case by case -------------------------------------------------------------


def test_a_streak_counts_the_days_done():
    assert routine_streak([D, D, D]) == 3


def test_a_single_missed_day_does_not_end_a_streak():
    assert routine_streak([D, D, M, D]) == 3
    assert routine_streak([D, M, D, M, D]) == 3


def test_two_missed_days_in_a_row_end_it():
    assert routine_streak([D, D, D, M, M, D]) == 1
    assert routine_streak([D, D, M, M]) == 0


def test_today_not_yet_done_does_not_break_it():
    assert routine_streak([D, D, T]) == 2
    # Yesterday missed, today still open: the streak is still alive.
    assert routine_streak([D, D, M, T]) == 2


def test_days_off_neither_count_nor_break_it():
    # Maintenance: Tuesday and Thursday off. Missed Monday, day off, missed Wednesday: over.
    assert routine_streak([D, M, R, M]) == 0
    assert routine_streak([D, R, R, R, D]) == 2


def test_days_before_the_plan_started_do_not_count():
    progress = routine_progress(
        start=TODAY - timedelta(days=1), today=TODAY, done=days_ago(5, 4, 1, 0), due=Every()
    )
    assert progress.streak == 2
    week = dict(progress.week)
    assert week[TODAY - timedelta(days=2)] is Mark.BEFORE  # Monday, before the plan


def test_it_says_when_todays_routine_keeps_the_streak_going():
    progress = routine_progress(
        start=TODAY - timedelta(days=10), today=TODAY, done=days_ago(4, 3, 2), due=Every()
    )
    assert progress.streak == 3 and progress.at_risk
    assert "One missed day doesn't end it" in progress.streak_sentence


def test_it_asks_nothing_of_a_day_off():
    # Yesterday missed, but today has nothing due: no "today's routine keeps it going".
    progress = routine_progress(
        start=TODAY - timedelta(days=10),
        today=TODAY,
        done=days_ago(4, 3, 2),
        due=days_ago(*range(1, 11)),
    )
    assert progress.streak == 3 and not progress.at_risk
    assert progress.streak_sentence == "Your streak: 3 days."


def test_it_never_blames_after_a_broken_streak():
    progress = routine_progress(
        start=TODAY - timedelta(days=10), today=TODAY, done=days_ago(6, 5), due=Every()
    )
    assert progress.streak == 0
    assert progress.streak_sentence == "Your streak starts again with your next routine."


# --- this week -------------------------------------------------------------------------------


def test_it_counts_this_weeks_days_monday_to_sunday():
    progress = routine_progress(
        start=TODAY - timedelta(days=30), today=TODAY, done=days_ago(2, 1, 3), due=Every()
    )
    days = [day for day, _ in progress.week]
    assert days[0].weekday() == 0 and days[-1].weekday() == 6 and TODAY in days
    # Monday and Tuesday done (Sunday the 22nd was last week), today open, the rest to come.
    assert [mark for _, mark in progress.week] == [
        D,
        D,
        T,
        Mark.UPCOMING,
        Mark.UPCOMING,
        Mark.UPCOMING,
        Mark.UPCOMING,
    ]
    assert progress.week_sentence == "2 of 7 days this week"


def test_a_weeks_days_off_are_not_counted_as_routine_days():
    off = days_ago(1) | {TODAY + timedelta(days=2)}  # Tuesday and Friday off

    class Due:
        def __contains__(self, day) -> bool:
            return day not in off

    progress = routine_progress(
        start=TODAY - timedelta(days=30), today=TODAY, done=days_ago(2, 0), due=Due()
    )
    assert progress.week_sentence == "2 of 5 routine days this week"


def test_a_tick_on_a_day_off_still_counts_as_a_day_done():
    assert day_mark(TODAY, start=TODAY, today=TODAY, done={TODAY}, due=set()) is Mark.DONE


# --- which days had the routine due ------------------------------------------------------------


def _steps(phase: Phase) -> list[schedule.StepDue]:
    plan = {
        "Heat": ("before", "optional", "none"),
        "SI reset": ("2x_day", "1x_day", "1x_week"),
        "Decompression": ("1x_day", "1x_day", "3x_week"),
    }
    column = {Phase.FLARE: 0, Phase.SUBSIDING: 1, Phase.MAINTENANCE: 2}
    if phase is Phase.HOLD:
        return []
    return [
        schedule.StepDue(key=i, name=name, frequency=Frequency(f[column[phase]]), is_heat=i == 0)
        for i, (name, f) in enumerate(plan.items())
    ]


def routine_days(changes, current=Phase.SUBSIDING) -> RoutineDays:
    steps = {phase: _steps(phase) for phase in Phase}
    return RoutineDays(steps, changes, current, schedule.Preferences(), "Europe/London")


def test_maintenance_has_days_off_and_a_hold_has_no_routine():
    # Maintenance from 16 Nov (a Monday), on hold from Saturday 21 Nov.
    days = routine_days(
        [(date(2026, 11, 16), Phase.MAINTENANCE), (date(2026, 11, 21), Phase.HOLD)],
        current=Phase.HOLD,
    )
    due = [date(2026, 11, 16) + timedelta(days=i) in days for i in range(7)]
    # Mon, Wed, Fri (3x a week); Sat and Sun on hold.
    assert due == [True, False, True, False, True, False, False]


def test_it_takes_the_phase_in_force_at_the_end_of_each_day():
    days = routine_days([(date(2026, 11, 1), Phase.FLARE), (date(2026, 11, 10), Phase.HOLD)])
    assert days.phase_on(date(2026, 10, 30)) is Phase.FLARE  # before the first change
    assert days.phase_on(date(2026, 11, 9)) is Phase.FLARE
    assert days.phase_on(date(2026, 11, 10)) is Phase.HOLD
    assert date(2026, 11, 9) in days and date(2026, 11, 10) not in days


# --- the streak as properties ------------------------------------------------------------------

marks = st.lists(st.sampled_from([D, M, R]), max_size=60)


@given(history=marks)
def test_a_streak_is_never_negative_nor_more_than_the_days_done(history):
    streak = routine_streak(history)
    assert 0 <= streak <= history.count(D) <= len(history)


@given(history=marks)
def test_without_two_misses_in_a_row_every_day_done_counts(history):
    routine = [m for m in history if m is not R]
    if any(a is M and b is M for a, b in zip(routine, routine[1:], strict=False)):
        return
    assert routine_streak(history) == history.count(D)


@given(history=marks)
def test_a_single_miss_never_ends_a_streak(history):
    routine = [m for m in history if m is not R]
    if routine and routine[-1] is M:
        return  # a second miss would
    assert routine_streak([*history, M]) == routine_streak(history)
    assert routine_streak([*history, M, D]) == routine_streak(history) + 1


@given(history=marks)
def test_two_misses_in_a_row_always_end_it(history):
    assert routine_streak([*history, M, M]) == 0
    assert routine_streak([*history, M, R, M]) == 0


@given(history=marks)
def test_a_day_done_adds_one_and_today_open_changes_nothing(history):
    assert routine_streak([*history, D]) == routine_streak(history) + 1
    assert routine_streak([*history, T]) == routine_streak(history)


@given(history=marks, at=st.integers(min_value=0, max_value=60))
def test_a_day_off_anywhere_changes_nothing(history, at):
    at = min(at, len(history))
    assert routine_streak([*history[:at], R, *history[at:]]) == routine_streak(history)


@given(
    since=st.integers(min_value=-3, max_value=90),
    done=st.sets(st.integers(min_value=-5, max_value=100), max_size=60),
    off=st.sets(st.integers(min_value=-5, max_value=100), max_size=40),
)
@settings(max_examples=200, deadline=None)
def test_a_streak_is_never_longer_than_the_days_since_the_plan_started(since, done, off):
    start = TODAY - timedelta(days=since)
    progress = routine_progress(
        start=min(start, TODAY),
        today=TODAY,
        done={TODAY - timedelta(days=n) for n in done},
        due={TODAY - timedelta(days=n) for n in range(-7, 101) if n not in off},
    )
    assert 0 <= progress.streak <= max(since, 0) + 1
    assert 0 <= progress.week_done <= progress.week_due <= 7
    assert len(progress.week) == 7


# --- the pain trend in words -----------------------------------------------------------------


def logs(*pairs: tuple[int, int]) -> list[tuple[date, int]]:
    """(days ago, worst pain) -> the plan's daily worst pain, oldest first."""
    return sorted((TODAY - timedelta(days=ago), worst) for ago, worst in pairs)


def test_no_trend_before_a_check_in():
    assert pain_trend([], TODAY) is None


def test_one_check_in_says_what_comes_next():
    trend = pain_trend(logs((0, 6)), TODAY)
    assert trend.direction == "one"
    assert "worst pain 6" in trend.sentence


def test_a_real_fall_since_the_start_is_named_as_one():
    trend = pain_trend(logs((20, 8), (10, 6), (1, 5)), TODAY)
    assert trend.direction == "down"
    assert trend.sentence == "Down 3 points since you started, from 8 to 5: that's a real change."


def test_a_small_change_is_about_the_same_as_last_week():
    trend = pain_trend(logs((20, 4), (9, 4), (8, 5), (0, 5)), TODAY)
    assert trend.direction == "same"
    assert trend.sentence.startswith("About the same as last week")


def test_a_rise_this_week_is_never_cheered_and_says_who_to_tell():
    trend = pain_trend(logs((10, 3), (9, 3), (1, 5)), TODAY)
    assert trend.direction == "up"
    assert trend.sentence == (
        "Up 2 points this week: go gently, and tell your therapist if it keeps going."
    )


def test_a_rise_this_week_speaks_first_even_after_a_good_start():
    # Started at 9, down to 2 last week, 6 now: still below the start, but rising.
    trend = pain_trend(logs((30, 9), (10, 2), (8, 2), (0, 6)), TODAY)
    assert trend.direction == "up"
    assert "real change" not in trend.sentence


def test_a_fall_this_week_still_above_the_start_says_so():
    trend = pain_trend(logs((30, 3), (10, 8), (0, 5)), TODAY)
    assert trend.direction == "down"
    assert "Down 3 points this week" in trend.sentence
    assert "Still 2 above where you started (3)" in trend.sentence


def test_a_rise_since_the_start_without_last_week_to_compare():
    trend = pain_trend(logs((4, 3), (0, 5)), TODAY)
    assert trend.sentence == (
        "Up 2 points since you started: tell your therapist if it keeps going."
    )


def test_low_pain_is_said_plainly():
    trend = pain_trend(logs((5, 1), (0, 0)), TODAY)
    assert trend.direction == "low"
    assert trend.sentence == "Worst pain 0 at your last check-in: that's low."


def test_an_old_check_in_is_not_called_this_weeks():
    trend = pain_trend(logs((30, 8), (9, 3)), TODAY)
    assert trend.direction == "stale"
    assert "No check-in in the last 7 days" in trend.sentence
    assert "16 Nov" in trend.sentence and "was 3" in trend.sentence


pain = st.integers(min_value=0, max_value=10)


@given(
    history=st.dictionaries(st.integers(min_value=0, max_value=60), pain, min_size=1, max_size=40)
)
@settings(max_examples=300, deadline=None)
def test_the_trend_is_always_true_to_the_numbers(history):
    daily = logs(*history.items())
    trend = pain_trend(daily, TODAY)
    sentence = trend.sentence
    assert sentence.strip() and "{" not in sentence and "None" not in sentence
    first, newest = daily[0][1], daily[-1][1]
    # Never cheer a rise: a "real change" is only ever a fall.
    if "real change" in sentence:
        assert trend.direction == "down"
    if trend.direction == "down" and "since you started" in sentence:
        assert first - newest >= 2 and f"from {first} to {newest}" in sentence
    if trend.direction == "up":
        assert "tell your therapist" in sentence
        assert "real change" not in sentence and "well done" not in sentence.lower()
    if trend.direction == "same":
        assert abs(newest - first) < 2 or "last week" in sentence
    # Words of blame or alarm never appear.
    for word in ("fail", "should have", "your fault", "bad", "!"):
        assert word not in sentence.lower()


# --- the chart with few points ------------------------------------------------------------------


@given(logged=st.sets(st.integers(min_value=0, max_value=29), max_size=30))
@settings(deadline=None)  # timing is not what this checks (a busy machine is slow)
def test_under_four_check_in_days_the_chart_is_a_list(logged):
    series = daily_series(
        [(TODAY - timedelta(days=n), 5) for n in logged], [], last_day=TODAY, days=30
    )
    chart = pain_chart(series)
    assert len(chart.dots) == len(logged)
    assert chart.few is (len(logged) < 4)


def test_a_rise_since_the_last_check_in_is_never_called_a_real_change():
    # Started at 8, down to 2 three days ago, 6 today: no week before to compare with,
    # and "down 2 since you started: a real change" would cheer a 4-point flare.
    trend = pain_trend(logs((6, 8), (3, 2), (0, 6)), TODAY)
    assert trend.direction == "up"
    assert "real change" not in trend.sentence
    assert trend.sentence == (
        "Up 4 points since your check-in on 22 Nov: go gently, and tell your therapist "
        "if it keeps going."
    )


def test_a_fall_this_week_is_not_said_over_a_rise_since_the_last_check_in():
    # Last week about 8; 2 three days ago; 5 today: still "down this week", but rising.
    trend = pain_trend(logs((10, 8), (3, 2), (0, 5)), TODAY)
    assert trend.direction == "up"
    assert "Up 3 points since your check-in on 22 Nov" in trend.sentence


@given(
    history=st.dictionaries(st.integers(min_value=0, max_value=60), pain, min_size=2, max_size=40)
)
@settings(max_examples=300, deadline=None)
def test_a_fall_is_never_said_while_the_newest_check_in_rose(history):
    daily = logs(*history.items())
    (previous_day, previous), newest = daily[-2], daily[-1][1]
    trend = pain_trend(daily, TODAY)
    recent = previous_day >= TODAY - timedelta(days=6)  # so the newest is recent too
    if recent and newest - previous >= 2:
        assert trend.direction == "up"
