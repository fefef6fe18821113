"""The taper: which phase a plan is in, and what the therapist is alerted to.

Pure tests: nothing from Django is imported, so they also run with `-p no:django`.
The client's zone is UTC throughout, so a log's `day` is the date of its `at`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftercare.rules.phases import Phase
from aftercare.rules.taper import (
    Alert,
    Compared,
    Decision,
    LogEntry,
    PlanState,
    Safety,
    alerts,
    checkin_overdue,
    next_phase,
    offer_to_end,
)

FLARE, SUBSIDING, MAINTENANCE, HOLD = Phase.FLARE, Phase.SUBSIDING, Phase.MAINTENANCE, Phase.HOLD
DAY0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def at(day: float, hour: float = 9) -> datetime:
    return DAY0 + day * DAY + hour * HOUR


def log(day: float, worst: int, hour: float = 9, **fields) -> LogEntry:
    when = at(day, hour)
    return LogEntry(at=when, day=when.date(), pain_now=min(worst, 3), worst_pain=worst, **fields)


def state(phase: Phase, since_day: float = 0, since_hour: float = 8, **fields) -> PlanState:
    """A phase that began at `since_hour` on day `since_day` (before that day's 09:00 log)."""
    fields.setdefault("started", DAY0)
    return PlanState(phase=phase, phase_since=at(since_day, since_hour), **fields)


def days(*worst: int, first: int = 0) -> list[LogEntry]:
    """One 09:00 log a day with these worst pains, from day `first`."""
    return [log(first + n, w) for n, w in enumerate(worst)]


def decide(plan: PlanState, logs: list[LogEntry]) -> Decision:
    return next_phase(plan, logs, logs[-1].at + HOUR if logs else at(30))


def outcome(plan: PlanState, logs: list[LogEntry]) -> tuple[Phase, str]:
    decision = decide(plan, logs)
    assert decision.changed is (decision.phase != plan.phase)
    return decision.phase, decision.rule


# --- entering Flare ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "logs", "expected"),
    [
        # D >= 7 starts a flare; 6 does not.
        (SUBSIDING, days(5, 5, 5, 6), (SUBSIDING, "no_change")),
        (SUBSIDING, days(6, 6, 6, 7), (FLARE, "flare_high_pain")),
        (MAINTENANCE, [log(0, 7)], (FLARE, "maintenance_to_flare")),
        (MAINTENANCE, [log(0, 6)], (MAINTENANCE, "no_change")),
        # D is the day's highest worst pain, not the newest log's.
        (SUBSIDING, [log(0, 7, hour=9), log(0, 2, hour=20)], (FLARE, "flare_high_pain")),
        # 2 or more above the mean of the previous 3 logged days (2, 2, 2 -> 4).
        (SUBSIDING, days(2, 2, 2, 4), (FLARE, "flare_relative_jump")),
        (SUBSIDING, days(2, 2, 2, 3), (SUBSIDING, "no_change")),
        (SUBSIDING, days(2, 2, 3, 4), (SUBSIDING, "no_change")),  # mean 2.33: 4 is 1.67 above
        (SUBSIDING, days(2, 2, 3, 5), (FLARE, "flare_relative_jump")),
        (SUBSIDING, days(0, 0, 0, 2), (FLARE, "flare_relative_jump")),
        # Only the last 3 logged days are the baseline, and missed calendar days do not matter.
        (SUBSIDING, days(9, 1, 1, 1, 3), (FLARE, "flare_relative_jump")),
        (SUBSIDING, [log(0, 1), log(3, 1), log(8, 1), log(12, 3)], (FLARE, "flare_relative_jump")),
        # Fewer than 3 previous logged days: no baseline yet.
        (SUBSIDING, days(0, 0, 5), (SUBSIDING, "no_change")),
        # From Maintenance the relative rule does not apply (it would hide the 2-log rule).
        (MAINTENANCE, days(0, 0, 0, 4), (MAINTENANCE, "no_change")),
        # The client taps "I'm having a flare".
        (SUBSIDING, [log(0, 2, flare_tap=True)], (FLARE, "flare_client")),
        (MAINTENANCE, [log(0, 0, flare_tap=True)], (FLARE, "flare_client")),
        (FLARE, [log(0, 9, flare_tap=True)], (FLARE, "no_change")),
    ],
)
def test_entering_flare(phase, logs, expected):
    assert outcome(state(phase), logs) == expected


def test_a_flare_reason_names_the_pain_and_the_day():
    decision = decide(state(SUBSIDING, since_day=23), [log(23, 8)])
    assert decision == Decision(
        phase=FLARE,
        changed=True,
        reason="Worst pain 8 on 25 Nov (7 or more starts a flare)",
        rule="flare_high_pain",
    )


def test_a_high_log_the_therapist_had_seen_does_not_undo_their_choice():
    # 7 at 09:00; the therapist sets Subsiding at 12:00; a 3 at 20:00 the same day.
    logs = [log(0, 7), log(0, 3, hour=20)]
    assert outcome(state(SUBSIDING, since_hour=12), logs) == (SUBSIDING, "no_change")


# --- Flare -> Subsiding -------------------------------------------------------------------------


def flare_from(peak: int) -> tuple[PlanState, LogEntry]:
    """A flare that began with a log of worst pain `peak` on day 0 (the phase starts after it)."""
    return state(FLARE, since_day=0, since_hour=9.5), log(0, peak)


@pytest.mark.parametrize(
    ("peak", "later", "expected"),
    [
        # The day that entered the flare counts for the peak: 8 -> 6, 6 is 2 below.
        (8, [6, 6], (SUBSIDING, "subsiding_two_days")),
        (8, [7, 6], (FLARE, "no_change")),  # 7 is not 6 or less
        (8, [6, 7], (FLARE, "no_change")),
        (10, [6, 6], (SUBSIDING, "subsiding_two_days")),
        # Exactly 2 points below a peak of 7.
        (7, [5, 5], (SUBSIDING, "subsiding_two_days")),
        (7, [6, 5], (FLARE, "no_change")),
        (7, [5, 6], (FLARE, "no_change")),
        # Below a peak of 6, 30% (1.8 points) is the smaller step: 4 is enough, 5 is not.
        (6, [4, 4], (SUBSIDING, "subsiding_two_days")),
        (6, [5, 4], (FLARE, "no_change")),
        # 30% of 5 is 1.5 points: 3 is enough, 4 is not.
        (5, [3, 3], (SUBSIDING, "subsiding_two_days")),
        (5, [4, 3], (FLARE, "no_change")),
        # Only the last 2 logged days matter: an earlier bad day does not block.
        (8, [7, 5, 5], (SUBSIDING, "subsiding_two_days")),
        # One low day is not enough.
        (8, [2], (FLARE, "no_change")),
    ],
)
def test_flare_settling(peak, later, expected):
    plan, first = flare_from(peak)
    assert outcome(plan, [first, *days(*later, first=1)]) == expected


def test_a_flare_settles_over_missed_days():
    plan, first = flare_from(8)
    assert outcome(plan, [first, log(3, 5), log(9, 5)]) == (SUBSIDING, "subsiding_two_days")


def test_settling_reason_says_why():
    plan, first = flare_from(6)
    decision = decide(plan, [first, log(1, 4), log(2, 3)])
    assert decision.reason == (
        "Worst pain 4 on 3 Nov and 3 on 4 Nov: 6 or less on 2 logged days in a row and "
        "at least 30% (1.8 points) below the flare's peak of 6"
    )


def test_days_before_the_flare_do_not_count_as_settled():
    # The therapist set Flare at noon on day 5 with no log that day; day 4 was a 0.
    logs = [log(4, 0), log(6, 0)]
    assert outcome(state(FLARE, since_day=5, since_hour=12), logs) == (FLARE, "no_change")
    assert outcome(state(FLARE, since_day=5, since_hour=12), [*logs, log(7, 0)]) == (
        SUBSIDING,
        "subsiding_two_days",
    )


def test_a_flare_tap_keeps_the_flare():
    plan, first = flare_from(8)
    logs = [first, log(1, 5), log(2, 5, flare_tap=True)]
    assert outcome(plan, logs) == (FLARE, "no_change")


@pytest.mark.parametrize(
    ("phase", "newest", "expected"),
    [
        (FLARE, log(1, 1, gone_tap=True), (MAINTENANCE, "maintenance_client_gone")),
        (FLARE, log(1, 2, gone_tap=True), (FLARE, "no_change")),
        (SUBSIDING, log(1, 0, gone_tap=True), (MAINTENANCE, "maintenance_client_gone")),
        (SUBSIDING, log(1, 2, gone_tap=True), (SUBSIDING, "no_change")),
        # "Gone" and "flare" on one log contradict each other; the safer reading wins.
        (FLARE, log(1, 0, gone_tap=True, flare_tap=True), (FLARE, "no_change")),
        (SUBSIDING, log(1, 0, gone_tap=True, flare_tap=True), (FLARE, "flare_client")),
        (MAINTENANCE, log(1, 0, gone_tap=True), (MAINTENANCE, "no_change")),
    ],
)
def test_symptoms_gone(phase, newest, expected):
    assert outcome(state(phase, since_day=0), [log(0, 9, hour=7), newest]) == expected


# --- Subsiding -> Maintenance -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "logs", "expected"),
    [
        (state(SUBSIDING), days(1, 0, 1, 1, 0, 0, 1), (MAINTENANCE, "maintenance_seven_days")),
        (state(SUBSIDING), days(1, 0, 1, 1, 0, 0), (SUBSIDING, "no_change")),  # 6 days
        (state(SUBSIDING), days(1, 0, 1, 2, 0, 0, 1), (SUBSIDING, "no_change")),  # a 2 among them
        (state(SUBSIDING), days(2, 1, 0, 1, 1, 0, 0, 1), (MAINTENANCE, "maintenance_seven_days")),
        # Missed days neither count nor reset.
        (
            state(SUBSIDING),
            [log(2 * n, 0) for n in range(7)],
            (MAINTENANCE, "maintenance_seven_days"),
        ),
        (state(SUBSIDING), [log(3 * n, 1) for n in range(6)], (SUBSIDING, "no_change")),
        # The therapist's number per plan.
        (
            state(SUBSIDING, maintenance_days=3),
            days(0, 0, 0),
            (MAINTENANCE, "maintenance_seven_days"),
        ),
        (state(SUBSIDING, maintenance_days=10), days(*[0] * 9), (SUBSIDING, "no_change")),
        # Days before the phase began do not count.
        (state(SUBSIDING, since_day=4), days(*[0] * 10), (SUBSIDING, "no_change")),
        (state(SUBSIDING, since_day=4), days(*[0] * 11), (MAINTENANCE, "maintenance_seven_days")),
    ],
)
def test_subsiding_to_maintenance(plan, logs, expected):
    assert outcome(plan, logs) == expected


# --- Maintenance -> Subsiding / Flare ------------------------------------------------------------


@pytest.mark.parametrize(
    ("logs", "expected"),
    [
        ([log(1, 2), log(2, 2)], (SUBSIDING, "maintenance_to_subsiding")),  # exactly 24 h
        ([log(1, 2), log(2, 2, hour=8 + 59 / 60)], (MAINTENANCE, "no_change")),  # 23 h 59 min
        ([log(1, 3), log(1, 4, hour=20)], (MAINTENANCE, "no_change")),
        ([log(1, 3), log(1, 4, hour=20), log(2, 2)], (SUBSIDING, "maintenance_to_subsiding")),
        ([log(1, 2), log(1, 1, hour=20), log(2, 3)], (MAINTENANCE, "no_change")),  # a 1 between
        ([log(1, 2), log(2, 1)], (MAINTENANCE, "no_change")),
        ([log(1, 2), log(9, 2)], (SUBSIDING, "maintenance_to_subsiding")),  # days apart is fine
        ([log(1, 2), log(2, 7)], (FLARE, "maintenance_to_flare")),
    ],
)
def test_maintenance_relapse(logs, expected):
    assert outcome(state(MAINTENANCE, since_day=0), logs) == expected


def test_a_relapse_needs_both_logs_in_maintenance():
    logs = [log(1, 3), log(2, 3)]
    assert outcome(state(MAINTENANCE, since_day=1, since_hour=12), logs) == (
        MAINTENANCE,
        "no_change",
    )


# --- safety, pins, hold, missing logs ----------------------------------------------------------


@pytest.mark.parametrize("phase", [FLARE, SUBSIDING, MAINTENANCE])
@pytest.mark.parametrize("pinned", [False, True])
@pytest.mark.parametrize(
    ("safety", "rule"), [(Safety.EMERGENCY, "hold_emergency"), (Safety.DOCTOR, "hold_doctor")]
)
def test_a_safety_answer_holds_the_plan_even_when_pinned(phase, pinned, safety, rule):
    logs = [log(1, 0, safety=safety)]
    assert outcome(state(phase, pinned=pinned), logs) == (HOLD, rule)


def test_an_emergency_outranks_a_doctor_answer():
    logs = [log(1, 0, safety=Safety.EMERGENCY), log(1, 0, hour=10, safety=Safety.DOCTOR)]
    assert outcome(state(SUBSIDING), logs) == (HOLD, "hold_emergency")


def test_a_safety_answer_the_therapist_has_resumed_from_is_done():
    logs = [log(1, 0, safety=Safety.EMERGENCY)]
    assert outcome(state(SUBSIDING, since_day=2), logs) == (SUBSIDING, "no_change")


def test_safety_answers_carry_no_pain():
    # The form stops at a "yes": the 0 it stored is not a pain score.
    logs = [*days(0, 0, 0, 0, 0, 0), log(6, 0, safety=Safety.DOCTOR)]
    resumed = state(SUBSIDING, since_hour=8)
    assert outcome(replace(resumed, phase_since=at(6, 12)), [*logs, log(7, 0)]) == (
        SUBSIDING,
        "no_change",
    )
    assert outcome(resumed, [*logs[:-1], log(7, 0)]) == (MAINTENANCE, "maintenance_seven_days")


@pytest.mark.parametrize(
    "newest",
    [
        log(1, 9),
        log(1, 0, flare_tap=True),
        log(1, 0, gone_tap=True),
        log(1, 2),
    ],
)
@pytest.mark.parametrize("phase", [FLARE, SUBSIDING, MAINTENANCE])
def test_a_pinned_phase_ignores_automatic_changes(phase, newest):
    logs = [*days(0, 0, 0, 0, 0, 0, 0, first=-7), log(0, 2), newest]
    decision = decide(state(phase, since_day=-8, pinned=True), logs)
    assert (decision.phase, decision.changed, decision.rule) == (phase, False, "pinned")


@pytest.mark.parametrize(
    "logs",
    [[], [log(1, 0)], [log(1, 9, flare_tap=True)], [log(1, 0, safety=Safety.EMERGENCY)]],
)
def test_only_the_therapist_leaves_hold(logs):
    decision = decide(state(HOLD), logs)
    assert (decision.phase, decision.changed) == (HOLD, False)


def test_no_new_log_no_change():
    logs = days(0, 0, 0, 0, 0, 0, 0)
    plan = state(SUBSIDING, since_day=7)
    for later in (at(7), at(8), at(60)):
        assert next_phase(plan, logs, later).rule == "no_change"
    assert next_phase(state(FLARE), [], at(10)).rule == "no_change"


def test_a_log_after_now_has_not_happened():
    logs = [log(1, 9)]
    assert next_phase(state(SUBSIDING), logs, at(1, 8)).rule == "no_change"
    assert next_phase(state(SUBSIDING), logs, at(1, 10)).rule == "flare_high_pain"


def test_a_whole_episode():
    """Subsiding -> Flare -> Subsiding -> Maintenance -> Subsiding, as the app would run it."""
    plan = state(SUBSIDING, since_day=-1)
    history: list[LogEntry] = []
    seen = []
    for entry in [
        log(0, 3),
        log(1, 8),
        log(2, 6),
        log(3, 5),
        log(4, 4),
        *[log(d, 1) for d in (5, 6, 8, 9, 11, 12)],
        log(13, 0),
        log(20, 2),
        log(21, 3),
    ]:
        history.append(entry)
        decision = next_phase(plan, history, entry.at)
        if decision.changed:
            plan = replace(plan, phase=decision.phase, phase_since=entry.at)
            seen.append((entry.day.day, decision.rule))
    assert seen == [
        (3, "flare_high_pain"),
        (5, "subsiding_two_days"),
        (15, "maintenance_seven_days"),
        (23, "maintenance_to_subsiding"),
    ]


# --- check-ins, ending, alerts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "last", "since", "now", "overdue"),
    [
        (FLARE, at(0), at(-1), at(2) - timedelta(minutes=1), False),
        (FLARE, at(0), at(-1), at(2), True),
        (SUBSIDING, at(0), at(-1), at(5), True),
        (MAINTENANCE, at(0), at(-1), at(30), False),
        (HOLD, at(0), at(-1), at(30), False),
        (FLARE, None, at(0), at(2), True),  # never logged: counted from the phase's start
        (FLARE, None, at(0), at(1), False),
        (FLARE, at(-10), at(0), at(1), False),  # a log before the phase does not count
    ],
)
def test_checkin_overdue(phase, last, since, now, overdue):
    assert checkin_overdue(phase, last, since, now) is overdue


def maintenance_logs(*worst: int) -> list[LogEntry]:
    """Weekly check-ins, the last one on day 40."""
    return [log(40 - 7 * n, w) for n, w in reversed(list(enumerate(worst)))]


@pytest.mark.parametrize(
    ("plan", "logs", "offer"),
    [
        (state(MAINTENANCE, since_day=10), maintenance_logs(0, 1, 0, 0, 1), True),
        (state(MAINTENANCE, since_day=10), maintenance_logs(0, 1, 2, 0, 1), False),
        (state(MAINTENANCE, since_day=12), maintenance_logs(0, 1, 0, 0, 1), False),  # 29 days
        (state(MAINTENANCE, since_day=10), [], False),  # no check-in, no evidence
        (state(SUBSIDING, since_day=10), maintenance_logs(0, 0, 0, 0), False),
        # Only the last 30 days matter.
        (state(MAINTENANCE, since_day=0), maintenance_logs(0, 0, 0, 0, 1, 3), True),
    ],
)
def test_offer_to_end(plan, logs, offer):
    assert offer_to_end(plan, logs, at(41)) is offer


def kinds(found: list[Alert]) -> list[str]:
    return [alert.kind for alert in found]


def test_no_alerts_on_a_quiet_day():
    assert alerts(state(SUBSIDING), [log(1, 3)], at(2)) == []


@pytest.mark.parametrize(
    ("safety", "kind"),
    [(Safety.EMERGENCY, "safety_emergency"), (Safety.DOCTOR, "safety_doctor")],
)
def test_safety_alerts(safety, kind):
    found = alerts(state(HOLD), [log(1, 0, safety=safety)], at(1, 10))
    assert kinds(found) == [kind]
    assert "2026" not in found[0].message and "3 Nov" in found[0].message


def test_flare_over_7_days():
    plan = state(FLARE, since_day=0)
    logs = [log(d, 8) for d in range(8)]
    assert "flare_over_7_days" not in kinds(alerts(plan, logs, at(7, 8)))
    assert "flare_over_7_days" in kinds(alerts(plan, logs, at(7, 8) + timedelta(seconds=1)))


@pytest.mark.parametrize(
    ("phase", "now", "alerted"),
    [
        (SUBSIDING, at(41, 23), False),
        (SUBSIDING, at(42, 0), True),
        (FLARE, at(50), True),
        (MAINTENANCE, at(50), False),
        (HOLD, at(50), False),
    ],
)
def test_no_maintenance_after_6_weeks(phase, now, alerted):
    plan = state(phase, since_day=40, started=DAY0)
    logs = [log(40, 3, hour=now.hour or 0)]
    assert ("no_maintenance_6_weeks" in kinds(alerts(plan, logs, now))) is alerted


@pytest.mark.parametrize(
    ("compared", "alerted"),
    [
        ([Compared.WORSE, Compared.MUCH_WORSE, Compared.WORSE], True),
        ([Compared.SAME, Compared.WORSE, Compared.WORSE, Compared.WORSE], True),
        ([Compared.WORSE, Compared.WORSE, Compared.SAME], False),
        ([Compared.WORSE, Compared.SAME, Compared.WORSE, Compared.WORSE], False),
        ([Compared.WORSE, Compared.WORSE], False),
    ],
)
def test_worse_three_times(compared, alerted):
    logs = [log(n, 4, compared=c) for n, c in enumerate(compared)]
    assert ("worse_three_times" in kinds(alerts(state(SUBSIDING), logs, at(4)))) is alerted


def test_a_step_that_raised_pain_is_flagged_once_per_step():
    logs = [log(1, 4, worse_step_keys=(11, 12, 11), worse_by=2)]
    found = [a for a in alerts(state(SUBSIDING), logs, at(1, 10)) if a.kind == "step_raised_pain"]
    assert [a.step_key for a in found] == [11, 12]
    assert "2 points" in found[0].message


def test_a_step_that_raised_pain_by_1_is_not_flagged():
    logs = [log(1, 4, worse_step_keys=(11,), worse_by=1)]
    assert alerts(state(SUBSIDING), logs, at(1, 10)) == []


@pytest.mark.parametrize(
    ("phase", "now", "alerted"),
    [(FLARE, at(3, 9), True), (FLARE, at(3, 8), False), (MAINTENANCE, at(20), False)],
)
def test_no_log_alert(phase, now, alerted):
    found = kinds(alerts(state(phase, since_day=0), [log(1, 5)], now))
    assert ("no_log" in found) is alerted


def test_alerts_come_most_urgent_first():
    logs = [log(n, 8, compared=Compared.WORSE, worse_step_keys=(5,), worse_by=3) for n in range(3)]
    logs.append(log(44, 0, compared=Compared.WORSE, safety=Safety.DOCTOR))
    found = kinds(alerts(state(FLARE, since_day=0), logs, at(50)))
    assert found == [
        "safety_doctor",
        "flare_over_7_days",
        "no_maintenance_6_weeks",
        "worse_three_times",  # the safety log answered nothing, so the 3 before it count
        "no_log",
    ]


@pytest.mark.parametrize(
    "fields",
    [{"pain_now": 11}, {"worst_pain": -1}, {"worse_by": -1}],
)
def test_a_log_refuses_impossible_values(fields):
    base = {"at": at(0), "day": DAY0.date(), "pain_now": 0, "worst_pain": 0}
    with pytest.raises(ValueError):
        LogEntry(**{**base, **fields})


def test_a_plan_needs_at_least_one_recovered_day():
    with pytest.raises(ValueError):
        state(SUBSIDING, maintenance_days=0)


# --- properties -------------------------------------------------------------------------------

RANK = {MAINTENANCE: 0, SUBSIDING: 1, FLARE: 2}  # down = toward Maintenance
START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
rare = st.sampled_from([False] * 6 + [True])


# Pain comes in spells: a few logs low, a few mid, a few high, so every rule gets its turn.
SPELLS = {"low": [0, 1], "mid": [2, 3, 4, 5, 6], "high": [7, 8, 10]}


@st.composite
def histories(draw) -> list[LogEntry]:
    logs = []
    when = START
    answers = (
        [Safety.NONE] * 20 + [Safety.DOCTOR, Safety.EMERGENCY] if draw(rare) else [Safety.NONE]
    )
    for _ in range(draw(st.integers(0, 4))):
        spell = SPELLS[draw(st.sampled_from(list(SPELLS)))]
        for _ in range(draw(st.integers(1, 8))):
            # From minutes to 3 days apart: same-day logs, daily logs and missed days.
            step = draw(st.sampled_from([5, 60, 600, 1440, 1440, 1440, 2000, 4320]))
            when += timedelta(minutes=step)
            worst = draw(st.sampled_from(spell))
            logs.append(
                LogEntry(
                    at=when,
                    day=when.date(),
                    pain_now=draw(st.integers(0, worst)),
                    worst_pain=worst,
                    compared=draw(st.sampled_from(list(Compared))),
                    safety=draw(st.sampled_from(answers)),
                    flare_tap=draw(rare),
                    gone_tap=draw(rare),
                )
            )
    return logs


@st.composite
def plan_states(draw, phases=tuple(Phase)) -> PlanState:
    # Mostly a phase that began before most of the logs, sometimes one that began later.
    hours = draw(st.one_of(st.integers(-24, 48), st.integers(-24, 40 * 24)))
    since = START + timedelta(hours=hours)
    return PlanState(
        phase=draw(st.sampled_from(phases)),
        phase_since=since,
        started=since - timedelta(days=draw(st.integers(0, 60))),
        pinned=draw(rare),
        maintenance_days=draw(st.integers(1, 8)),
    )


def last_time(logs: list[LogEntry]) -> datetime:
    return logs[-1].at if logs else START


PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(plan=plan_states(), logs=histories(), later=st.integers(0, 90 * 24 * 60))
def test_property_same_history_same_decision_at_any_later_time(plan, logs, later):
    now = last_time(logs)
    decision = next_phase(plan, logs, now)
    assert next_phase(plan, tuple(logs), now) == decision
    assert next_phase(plan, list(reversed(logs)), now) == decision  # order of input is irrelevant
    # Time passing without a new log changes nothing.
    assert next_phase(plan, logs, now + timedelta(minutes=later)) == decision


@PROPERTY
@given(plan=plan_states(), logs=histories())
def test_property_hold_is_never_left(plan, logs):
    decision = next_phase(replace(plan, phase=HOLD), logs, last_time(logs))
    assert (decision.phase, decision.changed) == (HOLD, False)


@PROPERTY
@given(plan=plan_states(phases=(FLARE, SUBSIDING, MAINTENANCE)), logs=histories())
def test_property_a_pinned_phase_changes_only_to_hold(plan, logs):
    decision = next_phase(replace(plan, pinned=True), logs, last_time(logs))
    if decision.changed:
        assert decision.phase is HOLD
        assert decision.rule in ("hold_emergency", "hold_doctor")
    else:
        assert decision.phase is plan.phase


@PROPERTY
@given(plan=plan_states(), logs=histories(), later=st.integers(0, 90 * 24 * 60))
def test_property_missing_logs_never_step_down(plan, logs, later):
    now = last_time(logs)
    decision = next_phase(plan, logs, now)
    # Every step down is backed by a new log that says so.
    if plan.phase in RANK and decision.phase in RANK and RANK[decision.phase] < RANK[plan.phase]:
        newest = logs[-1]
        assert newest.at > plan.phase_since
        assert newest.safety is Safety.NONE and not newest.flare_tap
        assert newest.worst_pain <= (1 if decision.phase is MAINTENANCE else 6)
    # Once the decision is applied, no amount of waiting without a log moves the plan again.
    applied = replace(plan, phase=decision.phase, phase_since=now)
    assert not next_phase(applied, logs, now + timedelta(minutes=later)).changed
    # And a history cut short (the newest logs never came) cannot step the applied phase down.
    for cut in range(len(logs)):
        again = next_phase(applied, logs[:cut], now + timedelta(minutes=later))
        assert not again.changed


@PROPERTY
@given(logs=histories(), phase=st.sampled_from([FLARE, SUBSIDING, MAINTENANCE]))
def test_property_replaying_a_history_then_silence(logs, phase):
    """The app evaluates after every log; between logs and after the last, nothing moves."""
    plan = PlanState(phase=phase, phase_since=START, started=START)
    for n, entry in enumerate(logs):
        decision = next_phase(plan, logs[: n + 1], entry.at)
        if plan.phase is HOLD:
            assert decision.phase is HOLD
        if decision.changed:
            plan = replace(plan, phase=decision.phase, phase_since=entry.at)
        silent = next_phase(plan, logs[: n + 1], entry.at + timedelta(days=30))
        assert not silent.changed


# --- the words the therapist reads (pinned after `make mutation`, docs/testing.md) -----------
# Each reason lands on the therapist's phase timeline and each alert in their email and on the
# dashboard: the wording, the days and the numbers in it are part of the rules.

EMERGENCY_HOLD = (
    "Client answered yes to an emergency warning sign on 2 Nov: "
    "routine paused until the therapist resumes it"
)
DOCTOR_HOLD = (
    "Client answered yes to a contact-a-doctor-today warning sign on 2 Nov: "
    "routine paused until the therapist resumes it"
)


@pytest.mark.parametrize(
    ("plan", "logs", "expected"),
    [
        (
            state(HOLD),
            [log(0, 2)],
            (HOLD, False, "no_change", "On hold: only the therapist can resume the routine"),
        ),
        (
            state(SUBSIDING, since_day=5),
            [log(1, 2)],
            (SUBSIDING, False, "no_change", "No new check-in since Subsiding began on 7 Nov"),
        ),
        (
            state(SUBSIDING, pinned=True),
            [log(0, 9)],
            (SUBSIDING, False, "pinned", "Subsiding is pinned by the therapist"),
        ),
        (
            state(SUBSIDING),
            [log(0, 3)],
            (SUBSIDING, False, "no_change", "Stays in Subsiding: no change rule was met"),
        ),
        (
            state(FLARE),
            [log(0, 0, safety=Safety.EMERGENCY)],
            (HOLD, True, "hold_emergency", EMERGENCY_HOLD),
        ),
        (state(FLARE), [log(0, 0, safety=Safety.DOCTOR)], (HOLD, True, "hold_doctor", DOCTOR_HOLD)),
        (
            state(SUBSIDING),
            days(2, 2, 3, 5),
            (
                FLARE,
                True,
                "flare_relative_jump",
                "Worst pain 5 on 5 Nov, 2.7 above the average of the previous 3 logged days "
                "(2.3; 2 or more starts a flare)",
            ),
        ),
        (
            state(SUBSIDING),
            days(2, 2, 2, 4),
            (
                FLARE,
                True,
                "flare_relative_jump",
                "Worst pain 4 on 5 Nov, 2 above the average of the previous 3 logged days "
                "(2; 2 or more starts a flare)",
            ),
        ),
        (
            state(SUBSIDING),
            [log(0, 2, flare_tap=True)],
            (FLARE, True, "flare_client", "Client reported a flare on 2 Nov"),
        ),
        (
            state(FLARE),
            [log(0, 1, gone_tap=True)],
            (
                MAINTENANCE,
                True,
                "maintenance_client_gone",
                "Client said the symptoms are gone on 2 Nov, worst pain 1",
            ),
        ),
        (
            state(SUBSIDING),
            days(1, 0, 1, 1, 0, 0, 1),
            (
                MAINTENANCE,
                True,
                "maintenance_seven_days",
                "Worst pain 1 or less on the last 7 logged days (2 Nov to 8 Nov)",
            ),
        ),
        (
            state(MAINTENANCE),
            [log(0, 2), log(1, 3)],
            (
                SUBSIDING,
                True,
                "maintenance_to_subsiding",
                "Worst pain 2 on 2 Nov and 3 on 3 Nov, at least 24 hours apart "
                "(2 or more twice ends Maintenance)",
            ),
        ),
        (
            flare_from(8)[0],
            [flare_from(8)[1], *days(6, 6, first=1)],
            (
                SUBSIDING,
                True,
                "subsiding_two_days",
                "Worst pain 6 on 3 Nov and 6 on 4 Nov: 6 or less on 2 logged days in a row and "
                "at least 2 points below the flare's peak of 8",
            ),
        ),
    ],
)
def test_every_decision_says_why_in_plain_english(plan, logs, expected):
    decision = decide(plan, logs)
    assert (decision.phase, decision.changed, decision.rule, decision.reason) == expected


def test_a_days_d_is_its_highest_log_also_in_the_baseline():
    # Day 0 logged 5 then 1: its D is 5, so the baseline is 5, 1, 1 (mean 2.3) and a 4 on
    # day 3 is only 1.7 above it. Reading the later log instead (1, 1, 1) would start a flare.
    logs = [log(0, 5), log(0, 1, hour=20), log(1, 1), log(2, 1), log(3, 4)]
    assert outcome(state(SUBSIDING), logs) == (SUBSIDING, "no_change")


REFER = "Consider referring the client to a clinician."


@pytest.mark.parametrize(
    ("plan", "logs", "now", "kind", "message"),
    [
        (
            state(HOLD),
            [log(0, 0, safety=Safety.EMERGENCY)],
            at(0, 10),
            "safety_emergency",
            "The client answered yes to an emergency warning sign on 2 Nov and was shown the "
            "emergency screen. All reminders are stopped until you resume the plan.",
        ),
        (
            state(HOLD),
            [log(0, 0, safety=Safety.DOCTOR)],
            at(0, 10),
            "safety_doctor",
            "The client answered yes to a contact-a-doctor-today warning sign on 2 Nov. "
            "The routine is paused until you resume the plan.",
        ),
        (
            state(FLARE),
            [log(n, 8) for n in range(10)],
            at(9, 10),
            "flare_over_7_days",
            f"Still in Flare after 9 days (since 2 Nov). {REFER}",
        ),
        (
            state(SUBSIDING, since_day=40),
            [log(43, 3)],
            at(43, 10),
            "no_maintenance_6_weeks",
            f"Not in Maintenance 6 weeks after the plan started on 2 Nov. {REFER}",
        ),
        (
            state(SUBSIDING),
            [log(n, 4, compared=Compared.WORSE) for n in range(3)],
            at(2, 10),
            "worse_three_times",
            f'The client said "worse" on 3 check-ins in a row (the latest on 4 Nov). {REFER}',
        ),
        (
            state(SUBSIDING),
            [log(0, 4, worse_step_keys=(11,), worse_by=3)],
            at(0, 10),
            "step_raised_pain",
            "The client said a step raised their pain by 3 points on 2 Nov. "
            "The step is paused until you review it.",
        ),
        (
            # The 48 hours run from the last log (day 1), not from the phase's start.
            state(FLARE),
            [log(1, 5)],
            at(4, 10),
            "no_log",
            "No check-in for 3 days while in Flare. The next reminder asks the client for one.",
        ),
        (
            state(SUBSIDING),
            [],
            at(3, 10),
            "no_log",
            "No check-in for 3 days while in Subsiding. The next reminder asks the client for one.",
        ),
    ],
)
def test_every_alert_says_what_happened_and_what_to_do(plan, logs, now, kind, message):
    assert [a.message for a in alerts(plan, logs, now) if a.kind == kind] == [message]


def test_the_offer_to_end_comes_exactly_30_days_into_maintenance():
    plan = state(MAINTENANCE, since_day=10, since_hour=9)
    logs = [log(20, 0), log(35, 1)]
    assert offer_to_end(plan, logs, at(40, 9)) is True
    assert offer_to_end(plan, logs, at(40, 9) - timedelta(seconds=1)) is False


def test_a_log_exactly_30_days_old_is_out_of_the_window():
    plan = state(MAINTENANCE, since_day=0)
    logs = [log(10, 4), log(25, 0), log(39, 1)]
    assert offer_to_end(plan, logs, at(40)) is True  # day 10 09:00 is exactly 30 days before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"pain_now": 11}, "Pain scores are 0 to 10."),
        ({"worst_pain": 11}, "Pain scores are 0 to 10."),
        ({"pain_now": -1}, "Pain scores are 0 to 10."),
        ({"worse_by": -1}, "worse_by cannot be negative."),
    ],
)
def test_a_log_says_which_value_is_impossible(fields, message):
    base = {"at": at(0), "day": DAY0.date(), "pain_now": 0, "worst_pain": 0}
    with pytest.raises(ValueError) as refused:
        LogEntry(**{**base, **fields})
    assert str(refused.value) == message
    assert LogEntry(**{**base, "pain_now": 10, "worst_pain": 10}).worst_pain == 10


def test_a_plan_says_why_it_needs_a_recovered_day():
    with pytest.raises(ValueError) as refused:
        state(SUBSIDING, maintenance_days=0)
    assert str(refused.value) == "maintenance_days must be 1 or more."
