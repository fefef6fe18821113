"""The routine's pure rules (aftercare/rules/routine.py): sets, reps and hold in words, a
slot's progress in words, and which slot Today puts first."""

from __future__ import annotations

from datetime import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftercare.rules.routine import (
    StepState,
    current_slot,
    dosage_words,
    duration_words,
    routine_progress,
)

# --- Sets, reps and hold ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("sets", "reps", "hold", "words"),
    [
        (None, None, None, ""),
        (2, 10, 5, "2 sets of 10, hold 5 seconds"),
        (1, 10, None, "1 set of 10"),
        (3, None, None, "3 sets"),
        (None, 8, None, "8 times"),
        (None, 1, None, "1 time"),
        (None, None, 30, "Hold 30 seconds"),
        (None, None, 1, "Hold 1 second"),
        (None, None, 60, "Hold 1 minute"),
        (None, None, 90, "Hold 1 minute 30 seconds"),
        (2, None, 120, "2 sets, hold 2 minutes"),
        (None, 5, 10, "5 times, hold 10 seconds"),
    ],
)
def test_dosage_reads_in_plain_words(sets, reps, hold, words):
    assert dosage_words(sets, reps, hold) == words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0, "0 seconds"), (45, "45 seconds"), (61, "1 minute 1 second"), (600, "10 minutes")],
)
def test_durations_read_in_minutes_and_seconds(seconds, words):
    assert duration_words(seconds) == words


@given(
    st.one_of(st.none(), st.integers(1, 10)),
    st.one_of(st.none(), st.integers(1, 100)),
    st.one_of(st.none(), st.integers(1, 600)),
)
def test_dosage_names_every_number_given_and_starts_with_a_capital(sets, reps, hold):
    words = dosage_words(sets, reps, hold)
    assert (words == "") == (sets is None and reps is None and hold is None)
    if words:
        assert words[0].isupper() or words[0].isdigit()
    for number in (sets, reps):
        if number is not None:
            assert str(number) in words


# --- Progress ----------------------------------------------------------------------------

HEAT = StepState(minutes=20, done=False, optional=True)


def step(minutes: int, done: bool = False) -> StepState:
    return StepState(minutes=minutes, done=done)


def test_progress_before_starting_says_how_many_steps_and_how_long():
    progress = routine_progress([HEAT, step(3), step(5), step(5)])
    assert progress.words == "4 steps, about 33 minutes"
    assert (progress.done, progress.total, progress.shown) == (0, 4, 0)


def test_progress_midway_says_how_many_are_done_and_the_minutes_left():
    heat_done = StepState(minutes=20, done=True, optional=True)
    progress = routine_progress([heat_done, step(3, done=True), step(5), step(8)])
    assert progress.words == "2 of 4 done, about 13 minutes left"
    assert not progress.finished


def test_one_minute_left_is_singular():
    assert routine_progress([step(1), step(1, done=True)]).words.endswith("about 1 minute left")


def test_skipped_heat_still_finishes_the_routine_and_fills_the_bar():
    progress = routine_progress([HEAT, step(3, done=True), step(5, done=True)])
    assert progress.finished
    assert progress.words == "All done"
    assert progress.minutes_left == 0
    assert progress.shown == progress.total == 3
    assert progress.done == 2


def test_a_slot_of_heat_alone_is_finished_only_when_heat_is_done():
    assert not routine_progress([HEAT]).finished
    assert routine_progress([StepState(minutes=20, done=True, optional=True)]).finished


steps = st.lists(
    st.builds(StepState, minutes=st.integers(0, 120), done=st.booleans(), optional=st.booleans()),
    min_size=1,
    max_size=12,
)


@given(steps)
def test_progress_never_counts_more_than_there_is(states):
    progress = routine_progress(states)
    assert 0 <= progress.done <= progress.total == len(states)
    assert 0 <= progress.shown <= progress.total
    assert progress.minutes_left <= sum(s.minutes for s in states)
    if progress.finished:
        assert progress.words == "All done" and progress.minutes_left == 0
    else:
        assert str(progress.total) in progress.words


@given(steps)
def test_ticking_one_more_step_never_adds_minutes(states):
    before = routine_progress(states)
    undone = [i for i, s in enumerate(states) if not s.done]
    if not undone:
        return
    ticked = list(states)
    ticked[undone[0]] = StepState(ticked[undone[0]].minutes, True, ticked[undone[0]].optional)
    after = routine_progress(ticked)
    assert after.done == before.done + 1
    assert after.minutes_left <= before.minutes_left
    assert after.finished or not before.finished


# --- Which slot comes first ----------------------------------------------------------------

MORNING, EVENING = time(8, 0), time(19, 0)


@pytest.mark.parametrize(
    ("now", "morning_finished", "first"),
    [
        (time(6, 0), False, 0),  # before the morning: the morning is next
        (time(9, 0), False, 0),  # the morning is now
        (time(15, 0), False, 0),  # the morning still to do, the evening not yet
        (time(9, 0), True, 1),  # the morning done: the evening is next
        (time(19, 0), False, 1),  # evening time: the evening, whatever the morning
        (time(23, 30), True, 1),
    ],
)
def test_the_slot_now_or_next_comes_first(now, morning_finished, first):
    slots = [(MORNING, morning_finished), (EVENING, False)]
    assert current_slot(slots, now) == first


def test_one_slot_or_none_is_always_first():
    assert current_slot([], time(12, 0)) == 0
    assert current_slot([(MORNING, True)], time(22, 0)) == 0


@given(st.times(), st.booleans(), st.booleans())
def test_the_first_slot_is_always_one_of_todays(now, morning_done, evening_done):
    index = current_slot([(MORNING, morning_done), (EVENING, evening_done)], now)
    assert index in (0, 1)
    if now >= EVENING:
        assert index == 1
