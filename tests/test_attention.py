"""Attention: who needs the therapist, and in what order (TAPER.md, "Attention").

Pure tests: nothing from Django is imported (they run with `-p no:django`). Each trigger
of attention.Trigger is tried on both sides of its boundary, with the words the therapist
reads; then "Seen", the clocks, and properties over random histories.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aftercare.rules.attention import Level, Trigger, assess, own_level, sort_key
from aftercare.rules.phases import Phase
from aftercare.rules.taper import Compared, Legs, LogEntry, PlanState, Safety
from tests.test_taper import histories, plan_states

FLARE, SUBSIDING, MAINTENANCE, HOLD = Phase.FLARE, Phase.SUBSIDING, Phase.MAINTENANCE, Phase.HOLD
CALM, WATCH, SOON, TODAY, URGENT = Level.CALM, Level.WATCH, Level.SOON, Level.TODAY, Level.URGENT
DAY0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # Tuesday 1 Dec
HOUR, DAY, SECOND = timedelta(hours=1), timedelta(days=1), timedelta(seconds=1)


def at(day: float, hour: float = 9) -> datetime:
    return DAY0 + day * DAY + hour * HOUR


def log(day: float, worst: int = 3, hour: float = 9, **fields) -> LogEntry:
    when = at(day, hour)
    return LogEntry(at=when, day=when.date(), pain_now=min(worst, 2), worst_pain=worst, **fields)


def state(phase: Phase = SUBSIDING, since_day: float = 0, since_hour: float = 8, **fields):
    """The phase began at 08:00 on day `since_day`; the plan began then too unless told."""
    fields.setdefault("started", at(since_day, since_hour))
    return PlanState(phase=phase, phase_since=at(since_day, since_hour), **fields)


def soon_after(logs: list[LogEntry]) -> datetime:
    """An hour after the newest log: no clock has run out yet (they all take 2 days+)."""
    return logs[-1].at + HOUR


def judge(logs: list[LogEntry], plan: PlanState | None = None, now=None, seen_at=None):
    plan = plan or state()
    return assess(plan, logs, now or soon_after(logs), seen_at)


def triggers(result) -> set[Trigger]:
    return {found.trigger for found in result.found}


def safety_log(day: float, answer: Safety, hour: float = 9) -> LogEntry:
    when = at(day, hour)
    return LogEntry(at=when, day=when.date(), pain_now=0, worst_pain=0, safety=answer)


def hold_from(answer_log: LogEntry, **fields) -> PlanState:
    """On hold since the answer that put it there (a check-in stamps both alike)."""
    return PlanState(phase=HOLD, phase_since=answer_log.at, started=at(0, 8), **fields)


# --- the table: every trigger, on both sides of its boundary ------------------------------

# (id, logs, expected level, expected triggers)
CASES = [
    # D: 6 calm, 7 and 8 soon, 9 and 10 today.
    ("D=6 calm", [log(1, 6)], CALM, set()),
    ("D=7 soon", [log(1, 7)], SOON, {Trigger.PAIN_HIGH}),
    ("D=8 soon", [log(1, 8)], SOON, {Trigger.PAIN_HIGH}),
    ("D=9 today", [log(1, 9)], TODAY, {Trigger.PAIN_SEVERE}),
    ("D=10 today", [log(1, 10)], TODAY, {Trigger.PAIN_SEVERE}),
    # D is the day's highest: a later, lower log the same day does not undo it.
    ("D is the day's highest", [log(1, 8, 9), log(1, 3, 20)], SOON, {Trigger.PAIN_HIGH}),
    ("yesterday's D is not today's", [log(1, 8), log(2, 3)], CALM, set()),
    # The jump: D >= mean of the previous 3 logged days + 2.
    (
        "jump at exactly mean+2",
        [log(1, 2), log(2, 3), log(3, 4), log(4, 5)],
        SOON,
        {Trigger.PAIN_JUMP},
    ),
    ("no jump at mean+2-1", [log(1, 2), log(2, 3), log(3, 4), log(4, 4)], CALM, set()),
    (
        "jump over a fractional mean",
        [log(1, 3), log(2, 4), log(3, 4), log(4, 6)],
        SOON,
        {Trigger.PAIN_JUMP},
    ),
    (
        "no jump just under a fractional mean",
        [log(1, 3), log(2, 4), log(3, 4), log(4, 5)],
        CALM,
        set(),
    ),
    ("no jump with only 2 previous days", [log(1, 1), log(2, 1), log(3, 6)], CALM, set()),
    (
        "the baseline is logged days, not calendar days",
        [log(1, 1), log(5, 1), log(9, 1), log(10, 3)],
        SOON,
        {Trigger.PAIN_JUMP},
    ),
    (
        "only the last 3 logged days count",
        [log(1, 9), log(2, 1), log(3, 1), log(4, 1), log(5, 3)],
        SOON,
        {Trigger.PAIN_JUMP},
    ),
    (
        "a jump to 7: both words",
        [log(1, 4), log(2, 4), log(3, 4), log(4, 7)],
        SOON,
        {Trigger.PAIN_HIGH, Trigger.PAIN_JUMP},
    ),
    # Compared with last time.
    ("much worse", [log(1, 4, compared=Compared.MUCH_WORSE)], SOON, {Trigger.MUCH_WORSE}),
    ("worse once is calm", [log(1, 4, compared=Compared.WORSE)], CALM, set()),
    # Sleep.
    ("woken by pain", [log(1, 4, woken=True)], SOON, {Trigger.WOKEN}),
    # Legs.
    ("one leg on the first log: nothing to compare", [log(1, 4, legs=Legs.ONE)], CALM, set()),
    ("one leg, new", [log(1, 4), log(2, 4, legs=Legs.ONE)], SOON, {Trigger.NEW_LEG}),
    ("one leg, already there", [log(1, 4, legs=Legs.ONE), log(2, 4, legs=Legs.ONE)], CALM, set()),
    (
        "one leg after both: better, not new",
        [log(1, 4, legs=Legs.BOTH), log(2, 4, legs=Legs.ONE)],
        CALM,
        set(),
    ),
    (
        "one leg back after a day without",
        [log(1, 4, legs=Legs.ONE), log(2, 4), log(3, 4, legs=Legs.ONE)],
        SOON,
        {Trigger.NEW_LEG},
    ),
    ("both legs, first log", [log(1, 4, legs=Legs.BOTH)], TODAY, {Trigger.BOTH_LEGS}),
    (
        "both legs, again",
        [log(1, 4, legs=Legs.BOTH), log(2, 4, legs=Legs.BOTH)],
        TODAY,
        {Trigger.BOTH_LEGS},
    ),
    # A step that raised pain.
    ("a step raised pain by 1", [log(1, 4, worse_step_keys=(5,), worse_by=1)], CALM, set()),
    (
        "a step raised pain by 2",
        [log(1, 4, worse_step_keys=(5,), worse_by=2)],
        SOON,
        {Trigger.STEP_RAISED_PAIN},
    ),
    ("raised by 2 but no step named", [log(1, 4, worse_by=2)], CALM, set()),
    # Worse on 3 logs in a row.
    (
        "worse 3 in a row",
        [log(n, 4, compared=Compared.WORSE) for n in (1, 2, 3)],
        SOON,
        {Trigger.WORSE_THREE_TIMES},
    ),
    ("worse 2 in a row", [log(n, 4, compared=Compared.WORSE) for n in (1, 2)], CALM, set()),
    (
        "worse, much worse, worse",
        [
            log(1, 4, compared=Compared.WORSE),
            log(2, 4, compared=Compared.MUCH_WORSE),
            log(3, 4, compared=Compared.WORSE),
        ],
        SOON,
        {Trigger.WORSE_THREE_TIMES},
    ),
    (
        "broken by a same",
        [
            log(1, 4, compared=Compared.WORSE),
            log(2, 4, compared=Compared.WORSE),
            log(3, 4),
            log(4, 4, compared=Compared.WORSE),
        ],
        CALM,
        set(),
    ),
    (
        "3 logs in one day count",
        [log(1, 4, h, compared=Compared.WORSE) for h in (8, 12, 18)],
        SOON,
        {Trigger.WORSE_THREE_TIMES},
    ),
]


@pytest.mark.parametrize(
    ("logs", "level", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_each_trigger_on_both_sides_of_its_boundary(logs, level, expected):
    result = judge(logs)
    assert (result.level, triggers(result)) == (level, expected)
    assert (result.reason == "") is (level is CALM)


def test_the_table_tries_every_trigger():
    seen = set().union(*(case[3] for case in CASES))
    clocks_and_safety = {
        Trigger.FLARE_OVER_7_DAYS,
        Trigger.NO_LOG,
        Trigger.NO_MAINTENANCE_6_WEEKS,
        Trigger.SAFETY_EMERGENCY,
        Trigger.SAFETY_DOCTOR,
    }  # below: they need a phase and a clock
    assert seen | clocks_and_safety == set(Trigger)


def test_every_trigger_has_a_level_and_a_label():
    for trigger in Trigger:
        assert isinstance(trigger.level, Level) and trigger.level > CALM
        assert trigger.label
    assert [t for t in Trigger if t.is_safety] == [Trigger.SAFETY_EMERGENCY, Trigger.SAFETY_DOCTOR]
    assert [level for level in Level if level.emails_now] == [TODAY, URGENT]
    assert [level for level in Level if level.in_digest] == [WATCH, SOON]


# --- the clocks ------------------------------------------------------------------------------


def test_still_in_flare_after_7_days_is_strictly_more_than_7_days():
    plan = state(FLARE)  # Flare since day 0 08:00
    logs = [log(6, 5)]  # a check-in on day 6: no missing check-in before day 8
    boundary = plan.phase_since + 7 * DAY
    assert assess(plan, logs, boundary).level is CALM
    late = assess(plan, logs, boundary + SECOND)
    assert (late.level, triggers(late)) == (SOON, {Trigger.FLARE_OVER_7_DAYS})
    assert late.reason == "In Flare since 1 Dec"
    assert late.at == boundary  # when the clock ran out, not when it was noticed
    # Not in Subsiding: the same week is no alert.
    assert assess(replace(plan, phase=SUBSIDING), logs, boundary + SECOND).level is CALM


@pytest.mark.parametrize("phase", [FLARE, SUBSIDING])
def test_no_check_in_for_48_hours_in_flare_or_subsiding_is_watch(phase):
    plan = state(phase)
    logs = [log(1, 4)]  # last check-in Wednesday 2 Dec 09:00
    due = logs[-1].at + 48 * HOUR
    before = assess(plan, logs, due - SECOND)
    assert (before.level, before.recheck_at) == (CALM, due)
    result = assess(plan, logs, due)
    assert (result.level, triggers(result)) == (WATCH, {Trigger.NO_LOG})
    assert result.reason == "No check-in since 2 Dec"
    assert result.at == due


@pytest.mark.parametrize("phase", [MAINTENANCE, HOLD])
def test_no_check_in_is_never_a_trigger_in_maintenance_or_on_hold(phase):
    result = assess(state(phase), [log(1, 4)], at(60))
    assert (result.level, result.recheck_at) == (CALM, None)


def test_no_check_in_counts_from_the_phase_when_it_began_after_the_last_log():
    plan = state(SUBSIDING, since_day=5)  # a phase set on day 5 08:00
    logs = [log(1, 4)]
    assert assess(plan, logs, plan.phase_since + 48 * HOUR - SECOND).level is CALM
    assert assess(plan, logs, plan.phase_since + 48 * HOUR).level is WATCH
    never = assess(plan, [], plan.phase_since + 48 * HOUR)
    assert (never.level, never.reason) == (WATCH, "No check-in since 6 Dec")


def test_no_check_in_says_the_clients_own_day_not_utcs():
    """A New York client's last check-in at 21:00 on 3 Dec is 02:00 UTC on 4 Dec: the
    therapist reads the day the client lived it (as every other reason does)."""
    new_york = ZoneInfo("America/New_York")
    since = datetime(2026, 12, 1, 8, 0, tzinfo=new_york)
    plan = PlanState(phase=SUBSIDING, phase_since=since, started=since)
    evening = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # 3 Dec, 21:00 in New York
    logs = [LogEntry(at=evening, day=evening.astimezone(new_york).date(), pain_now=2, worst_pain=3)]
    result = assess(plan, logs, evening + 48 * HOUR)
    assert result.reason == "No check-in since 3 Dec"


def test_the_48_hours_are_real_hours_across_a_clock_change():
    """Clocks go back in New York on Sunday 1 Nov 2026: 48 hours after Saturday noon is
    Monday 11:00 local, not Monday noon (taper.checkin_overdue counts real hours too)."""
    new_york = ZoneInfo("America/New_York")
    since = datetime(2026, 10, 31, 12, 0, tzinfo=new_york)
    plan = PlanState(phase=SUBSIDING, phase_since=since, started=since)
    due = since.astimezone(UTC) + 48 * HOUR
    assert assess(plan, [], due - SECOND).level is CALM
    assert assess(plan, [], due).level is WATCH
    assert assess(plan, [], due - SECOND).recheck_at == due


@pytest.mark.parametrize("phase", [FLARE, SUBSIDING])
def test_not_in_maintenance_at_6_weeks_is_watch(phase):
    plan = state(phase, since_day=40, started=at(0, 8))
    logs = [log(41, 3)]  # checking in: no missing check-in before day 43
    due = at(0, 8) + 42 * DAY
    assert assess(plan, logs, due - SECOND).level is CALM
    result = assess(plan, logs, due)
    assert (result.level, triggers(result)) == (WATCH, {Trigger.NO_MAINTENANCE_6_WEEKS})
    assert result.reason == "Not in Maintenance 6 weeks after starting on 1 Dec"


def test_in_maintenance_at_6_weeks_is_calm():
    plan = state(MAINTENANCE, since_day=30, started=at(0, 8))
    assert assess(plan, [log(41, 1)], at(50)).level is CALM


# --- safety ---------------------------------------------------------------------------------


def test_an_emergency_answer_on_hold_is_urgent():
    answer = safety_log(2, Safety.EMERGENCY)
    result = assess(hold_from(answer), [log(1, 3), answer], answer.at + HOUR)
    assert (result.level, triggers(result)) == (URGENT, {Trigger.SAFETY_EMERGENCY})
    assert result.reason == "Emergency warning sign on 3 Dec: on hold until you resume"
    assert result.recheck_at is None


def test_a_doctor_answer_on_hold_is_today():
    answer = safety_log(2, Safety.DOCTOR)
    result = assess(hold_from(answer), [answer], answer.at + HOUR)
    assert (result.level, triggers(result)) == (TODAY, {Trigger.SAFETY_DOCTOR})
    assert result.reason == "Contact-a-doctor warning sign on 3 Dec: on hold until you resume"


def test_an_emergency_beats_an_earlier_or_later_doctor_answer():
    doctor, emergency = safety_log(2, Safety.DOCTOR), safety_log(2, Safety.EMERGENCY, hour=10)
    plan = hold_from(doctor)
    assert assess(plan, [doctor, emergency], at(3)).level is URGENT
    doctor_later = safety_log(2, Safety.DOCTOR, hour=11)
    both = assess(plan, [doctor, emergency, doctor_later], at(3))
    assert triggers(both) == {Trigger.SAFETY_EMERGENCY}


def test_a_hold_the_therapist_set_is_calm():
    answer = safety_log(2, Safety.EMERGENCY)
    # The therapist resumed, then put the plan on hold themselves a day later.
    plan = PlanState(phase=HOLD, phase_since=at(3), started=at(0, 8))
    assert assess(plan, [log(1, 3), answer], at(4)).level is CALM


def test_an_answer_no_longer_counts_once_the_plan_is_off_hold():
    answer = safety_log(2, Safety.EMERGENCY)
    resumed = PlanState(phase=SUBSIDING, phase_since=at(3), started=at(0, 8))
    assert assess(resumed, [answer], at(3, 10)).level is CALM


def test_an_answer_from_before_the_hold_began_does_not_count():
    old = safety_log(1, Safety.EMERGENCY)
    plan = PlanState(phase=HOLD, phase_since=at(2), started=at(0, 8))
    assert assess(plan, [old], at(3)).level is CALM
    new = safety_log(3, Safety.DOCTOR)
    assert triggers(assess(plan, [old, new], at(4))) == {Trigger.SAFETY_DOCTOR}


def test_a_safety_answer_is_not_a_pain_score():
    """A "yes" stops the form: its pain fields (0 here) are no day's D nor a comparison."""
    answer = LogEntry(
        at=at(2),
        day=at(2).date(),
        pain_now=0,
        worst_pain=10,
        compared=Compared.MUCH_WORSE,
        legs=Legs.BOTH,
        woken=True,
        safety=Safety.DOCTOR,
    )
    result = assess(hold_from(answer), [log(1, 3), answer], at(3))
    assert triggers(result) == {Trigger.SAFETY_DOCTOR}


# --- the reason in words --------------------------------------------------------------------


def test_the_issues_story_reads_like_a_clinicians_note():
    logs = [log(1, 8), log(2, 10, compared=Compared.MUCH_WORSE, woken=True, legs=Legs.ONE)]
    result = judge(logs, state(FLARE))
    assert result.level is TODAY
    assert result.reason == (
        "Pain 10 (was 8 on 2 Dec); much worse; woken by pain; new symptoms in one leg"
    )
    assert result.at == logs[-1].at


@pytest.mark.parametrize(
    ("logs", "reason"),
    [
        ([log(1, 7)], "Pain 7"),
        ([log(1, 5), log(3, 9)], "Pain 9 (was 5 on 2 Dec)"),
        (
            [log(1, 2), log(2, 3), log(3, 4), log(4, 5)],
            "Pain 5, up from an average of 3 on the 3 days before",
        ),
        (
            [log(1, 3), log(2, 4), log(3, 4), log(4, 6)],
            "Pain 6, up from an average of 3.7 on the 3 days before",
        ),
        ([log(1, 4, compared=Compared.MUCH_WORSE)], "Much worse"),
        ([log(1, 4, woken=True)], "Woken by pain"),
        ([log(1, 4, legs=Legs.BOTH)], "Symptoms in both legs"),
        ([log(1, 4), log(2, 4, legs=Legs.ONE)], "New symptoms in one leg"),
        ([log(1, 4, worse_step_keys=(5,), worse_by=3)], "A step raised pain by 3 (paused)"),
        ([log(n, 4, compared=Compared.WORSE) for n in (1, 2, 3)], "Worse on 3 check-ins in a row"),
    ],
)
def test_each_reason_in_words(logs, reason):
    assert judge(logs).reason == reason


def test_several_reasons_most_severe_first_each_once():
    logs = [
        log(1, 4, compared=Compared.WORSE),
        log(2, 4, compared=Compared.WORSE),
        log(3, 9, 8, compared=Compared.MUCH_WORSE, legs=Legs.BOTH),
        log(3, 5, 20, compared=Compared.MUCH_WORSE, woken=True, legs=Legs.BOTH),
    ]
    result = judge(logs)
    assert result.level is TODAY
    assert result.reason == (
        "Pain 9 (was 4 on 3 Dec); symptoms in both legs; "
        "much worse; woken by pain; worse on 3 check-ins in a row"
    )  # no jump: only 2 logged days before
    # One entry per trigger, the day's first: a second "much worse" (or "both legs") the
    # same day is not news (no second email; Seen covers it).
    assert [f.trigger for f in result.found].count(Trigger.MUCH_WORSE) == 1
    assert next(f for f in result.found if f.trigger is Trigger.MUCH_WORSE).at == logs[2].at
    # The row's time is the newest trigger of its level (pain 9 and both legs at 08:00).
    assert result.at == logs[2].at


def test_a_long_flare_and_todays_pain_read_together():
    plan = state(FLARE)
    logs = [log(8, 7, compared=Compared.MUCH_WORSE)]
    result = assess(plan, logs, soon_after(logs))
    assert result.reason == "Pain 7; much worse; in Flare since 1 Dec"
    assert result.at == logs[-1].at  # the newest trigger, not the clock


# --- Seen ------------------------------------------------------------------------------------


def test_seen_drops_what_was_there_when_the_therapist_looked():
    logs = [log(1, 8, woken=True)]
    assert judge(logs, seen_at=logs[-1].at).level is CALM  # at the moment itself: seen
    assert judge(logs, seen_at=logs[-1].at + SECOND).level is CALM
    assert judge(logs, seen_at=logs[-1].at - SECOND).level is SOON  # before it: not seen


def test_a_new_trigger_after_seen_counts_and_an_ordinary_log_does_not():
    seen = at(1, 12)
    calm_log = [log(1, 8), log(2, 3)]
    assert judge(calm_log, seen_at=seen).level is CALM
    worse = [log(1, 8), log(2, 8, compared=Compared.WORSE)]
    result = judge(worse, seen_at=seen)
    assert (result.level, result.reason) == (SOON, "Pain 8 (was 8 on 2 Dec)")


def test_seen_keeps_a_safety_hold_and_drops_the_rest():
    answer = safety_log(2, Safety.EMERGENCY)
    logs = [log(1, 9, woken=True), answer]
    result = assess(hold_from(answer), logs, at(3), seen_at=at(2, 12))
    assert (result.level, triggers(result)) == (URGENT, {Trigger.SAFETY_EMERGENCY})
    doctor = safety_log(2, Safety.DOCTOR)
    result = assess(hold_from(doctor), [doctor], at(3), seen_at=at(2, 12))
    assert result.level is TODAY


def test_a_clock_that_runs_out_after_seen_counts():
    plan = state(SUBSIDING)
    logs = [log(1, 8)]
    seen = at(1, 12)
    assert assess(plan, logs, at(2), seen_at=seen).level is CALM
    result = assess(plan, logs, at(3, 9), seen_at=seen)
    assert (result.level, triggers(result)) == (WATCH, {Trigger.NO_LOG})


def test_a_clock_that_ran_out_before_seen_stays_seen_for_a_week_then_comes_back():
    """Seen covers one week of a clock's trigger: still silent a week on is news again
    (a flare at day 30, a client silent for a month must come back to the therapist)."""
    plan = state(SUBSIDING)
    logs = [log(1, 4)]  # no check-in since day 1: the clock ran out on day 3
    assert assess(plan, logs, at(9), seen_at=at(4)).level is CALM
    again = assess(plan, logs, at(10), seen_at=at(4))
    assert again.level is WATCH and again.at == at(10)  # day 3 + 7 days
    assert again.reason == "No check-in since 2 Dec"
    assert assess(plan, logs, at(4), seen_at=at(4)).recheck_at == at(10)


# --- recheck_at ------------------------------------------------------------------------------


def test_recheck_at_is_the_earliest_clock_still_running():
    plan = state(FLARE)
    logs = [log(1, 4)]
    assert assess(plan, logs, at(1, 10)).recheck_at == at(3, 9)  # no check-in first
    assert assess(plan, logs, at(4)).recheck_at == plan.phase_since + 7 * DAY  # then the flare
    # Then each clock that ran out comes back weekly: no check-in again on day 10.
    assert assess(plan, logs, at(8)).recheck_at == at(10)
    assert assess(plan, logs, at(43)).recheck_at == at(45)  # no check-in: days 3, 10, ... 45
    # Seen changes no clock.
    assert assess(plan, logs, at(1, 10), seen_at=at(1, 10)).recheck_at == at(3, 9)


@pytest.mark.parametrize("phase", [MAINTENANCE, HOLD])
def test_no_recheck_without_a_clock(phase):
    assert assess(state(phase), [log(1, 9)], at(2)).recheck_at is None


def test_a_log_from_the_future_is_not_history_yet():
    plan = state(SUBSIDING)
    logs = [log(1, 4), log(5, 10)]
    result = assess(plan, logs, at(2))
    assert result.level is CALM
    assert result.recheck_at == at(3, 9)


def test_the_dashboard_order_is_level_then_newest_trigger_then_id():
    rows = [
        (SOON, at(1), 3),
        (TODAY, at(0), 9),
        (SOON, at(2), 4),
        (SOON, at(2), 1),
        (WATCH, None, 2),
        (WATCH, at(5), 8),
        (CALM, None, 5),
    ]
    ordered = sorted(rows, key=lambda row: sort_key(*row))
    assert [row[2] for row in ordered] == [9, 1, 4, 3, 8, 2, 5]


# --- properties ------------------------------------------------------------------------------

PROPERTY = settings(max_examples=300, deadline=None)
START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # tests.test_taper's histories start here
rare = st.sampled_from([False] * 5 + [True])


@st.composite
def rich_histories(draw, min_size: int = 0) -> list[LogEntry]:
    """test_taper's histories (spells of pain, safety answers, taps) with the answers the
    attention rules read besides: legs, sleep, a step that raised pain."""
    logs = draw(histories())
    assume(len(logs) >= min_size)
    rich = []
    for entry in logs:
        raised = draw(st.sampled_from([0] * 6 + [1, 2, 3, 5]))
        rich.append(
            replace(
                entry,
                legs=draw(st.sampled_from([Legs.NONE] * 4 + [Legs.ONE, Legs.BOTH])),
                woken=draw(rare),
                worse_by=raised,
                worse_step_keys=(draw(st.integers(1, 5)),)
                if raised and draw(rare) is False
                else (),
            )
        )
    return rich


def moments(logs: list[LogEntry]):
    """Any time from a day before the first log to 60 days after the last."""
    first = logs[0].at if logs else START
    last = logs[-1].at if logs else START
    span = int((last - first).total_seconds() // 60) + 61 * 24 * 60
    return st.integers(0, span).map(lambda minutes: first - DAY + timedelta(minutes=minutes))


@st.composite
def cases(draw, min_size: int = 0):
    logs = draw(rich_histories(min_size))
    plan = draw(plan_states())
    now = draw(moments(logs))
    seen_at = draw(st.one_of(st.none(), moments(logs)))
    return plan, logs, now, seen_at


WORSENINGS = ("pain", "compared", "legs", "woken", "step")
TOWARD_WORSE = {
    Compared.MUCH_BETTER: Compared.BETTER,
    Compared.BETTER: Compared.SAME,
    Compared.SAME: Compared.WORSE,
    Compared.WORSE: Compared.MUCH_WORSE,
    Compared.MUCH_WORSE: Compared.MUCH_WORSE,
}
MORE_LEGS = {Legs.NONE: Legs.ONE, Legs.ONE: Legs.BOTH, Legs.BOTH: Legs.BOTH}


def worsened(entry: LogEntry, how: str, points: int) -> LogEntry:
    if how == "pain":
        return replace(entry, worst_pain=min(10, entry.worst_pain + points))
    if how == "compared":
        return replace(entry, compared=TOWARD_WORSE[entry.compared])
    if how == "legs":
        return replace(entry, legs=MORE_LEGS[entry.legs])
    if how == "woken":
        return replace(entry, woken=True)
    return replace(
        entry,
        worse_by=min(10, entry.worse_by + points),
        worse_step_keys=entry.worse_step_keys or (1,),
    )


@PROPERTY
@given(
    case=cases(min_size=1),
    how=st.lists(st.sampled_from(WORSENINGS), min_size=1, max_size=3),
    points=st.integers(1, 4),
)
def test_property_a_worse_newest_log_never_lowers_the_level(case, how, points):
    plan, logs, now, seen_at = case
    newest = logs[-1]
    for change in how:
        newest = worsened(newest, change, points)
    worse_logs = [*logs[:-1], newest]
    assert assess(plan, worse_logs, now, seen_at).level >= assess(plan, logs, now, seen_at).level


@PROPERTY
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(list(Level)),
            st.one_of(
                st.none(),
                st.datetimes(
                    min_value=datetime(2000, 1, 1),
                    max_value=datetime(2100, 1, 1),
                    timezones=st.sampled_from([UTC, ZoneInfo("America/New_York")]),
                ),
            ),
        ),
        max_size=30,
    ),
    data=st.data(),
)
def test_property_the_dashboard_order_is_total_and_stable(rows, data):
    rows = [(level, when, n) for n, (level, when) in enumerate(rows)]  # ids are unique
    shuffled = data.draw(st.permutations(rows))
    ordered = sorted(rows, key=lambda row: sort_key(*row))
    assert sorted(shuffled, key=lambda row: sort_key(*row)) == ordered
    # The same order as SQL's `-level, at DESC NULLS LAST, id`, with exact instants.
    exact = sorted(
        rows,
        key=lambda row: (
            -row[0],
            row[1] is None,
            -(row[1] - START).total_seconds() if row[1] else 0,
            row[2],
        ),
    )
    assert ordered == exact


@PROPERTY
@given(case=cases())
def test_property_no_trigger_is_lost_when_several_fire_at_once(case):
    result = assess(*case)
    reason = result.reason.lower()
    for found in result.found:
        assert found.words.lower() in reason, found
    assert len({f.trigger for f in result.found}) == len(result.found)
    if result.found:
        assert result.level == max(f.level for f in result.found)
        assert result.at == max(f.at for f in result.found if f.level == result.level)
        assert [f.level for f in result.found] == sorted(
            (f.level for f in result.found), reverse=True
        )
    else:
        assert (result.level, result.reason, result.at) == (CALM, "", None)


@PROPERTY
@given(case=cases())
def test_property_seen_never_lowers_a_safety_level_and_never_raises(case):
    plan, logs, now, seen_at = case
    unseen = assess(plan, logs, now)
    seen = assess(plan, logs, now, seen_at)
    assert seen.level <= unseen.level
    safety = [f.level for f in unseen.found if f.trigger.is_safety]
    if safety:
        assert seen.level >= max(safety)
    assert seen.recheck_at == unseen.recheck_at


@PROPERTY
@given(case=cases(), phase=st.sampled_from(list(Phase)))
def test_property_assess_never_raises_and_ignores_input_order(case, phase):
    plan, logs, now, seen_at = case
    plan = replace(plan, phase=phase)
    result = assess(plan, logs, now, seen_at)
    assert result == assess(plan, list(reversed(logs)), now, seen_at)
    assert isinstance(result.level, Level)
    if result.recheck_at is not None:
        assert result.recheck_at >= now


# --- edges that mutation testing found unpinned (`make mutation`, docs/testing.md) ------------


def found_of(result, trigger: Trigger):
    (item,) = [f for f in result.found if f.trigger is trigger]
    return item


def test_the_baseline_takes_each_days_highest_log():
    # Day 1 logged 5 then 1: its D is 5, the baseline 5, 1, 1 (mean 2.3): 4 is no jump.
    logs = [log(1, 5, 9), log(1, 1, 20), log(2, 1), log(3, 1), log(4, 4)]
    result = judge(logs)
    assert (result.level, triggers(result)) == (CALM, set())


def test_a_jump_from_days_of_no_pain_at_all():
    result = judge([log(1, 0), log(2, 0), log(3, 0), log(4, 2)])
    assert (result.level, triggers(result)) == (SOON, {Trigger.PAIN_JUMP})


@pytest.mark.parametrize("answer", [Safety.EMERGENCY, Safety.DOCTOR])
def test_a_safety_answer_is_dated_by_its_log(answer):
    answered = safety_log(2, answer)
    result = judge([log(1, 3), answered], plan=hold_from(answered))
    assert result.at == answered.at
    assert {f.at for f in result.found if f.trigger.is_safety} == {answered.at}


def test_worse_three_times_is_dated_by_the_third():
    logs = [log(n, 3, compared=Compared.WORSE) for n in (1, 2, 3)]
    assert found_of(judge(logs), Trigger.WORSE_THREE_TIMES).at == logs[-1].at


def test_a_log_stamped_exactly_now_counts():
    result = judge([log(1, 9)], now=at(1))
    assert result.level == TODAY


def test_a_check_in_own_level_is_what_it_raised_itself():
    # The third "worse" raises worse-three-times (soon); the first two raised nothing.
    logs = [log(n, 3, compared=Compared.WORSE) for n in (1, 2, 3)]
    result = judge(logs)
    assert own_level(result, logs[-1].at) == SOON
    assert own_level(result, logs[0].at) == CALM
    assert own_level(judge([log(1, 3)]), at(1)) == CALM


# --- a pause: the client said they are away -----------------------------------------------------


def test_no_check_in_is_not_expected_while_the_client_paused_their_reminders():
    """A client on holiday (reminders paused to 10 Dec) is not "silent": the clock runs
    from the end of the pause, and the words still name the last check-in."""
    plan = state(SUBSIDING)
    logs = [log(1, 4)]
    paused = at(9).date()  # paused up to and including day 9
    during = assess(plan, logs, at(8), paused_until=paused)
    assert during.level is CALM
    back = datetime(2026, 12, 11, tzinfo=UTC)  # the pause ends at midnight after day 9
    assert during.recheck_at == back + 2 * DAY
    after = assess(plan, logs, back + 2 * DAY, paused_until=paused)
    assert after.level is WATCH
    assert after.reason == "No check-in since 2 Dec"
    # Without the pause the same history was at Watch long before.
    assert assess(plan, logs, at(8)).level is WATCH


def test_a_high_pain_that_is_also_a_jump_says_the_number_once():
    logs = [log(1, 3), log(2, 3), log(3, 4), log(4, 8)]
    result = judge(logs)
    assert {f.trigger for f in result.found} == {Trigger.PAIN_HIGH, Trigger.PAIN_JUMP}
    assert result.reason == (
        "Pain 8 (was 4 on 4 Dec); up from an average of 3.3 on the 3 days before"
    )
    # Alone, the jump names the pain.
    alone = judge([log(1, 1), log(2, 1), log(3, 1), log(4, 3)])
    assert alone.reason == "Pain 3, up from an average of 1 on the 3 days before"
