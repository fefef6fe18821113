"""The routine's slots: which steps come when, in the client's own time zone.

Pure tests: nothing from Django is imported, so they also run with `-p no:django`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from aftercare.rules.phases import Frequency, Phase
from aftercare.rules.schedule import (
    Preferences,
    SlotName,
    StepDue,
    in_quiet_hours,
    local_to_utc,
    slot_key,
    slots_between,
    slots_for_day,
)

F = Frequency
MORNING, EVENING = SlotName.MORNING, SlotName.EVENING

# TAPER.md's default low-back plan: (key, name, is_heat, {phase: frequency}).
DEFAULT_PLAN = (
    (1, "Heat", True, {Phase.FLARE: F.BEFORE_ROUTINE, Phase.SUBSIDING: F.OPTIONAL_BEFORE}),
    (2, "SI reset", False, {Phase.FLARE: F.TWICE_DAILY, Phase.SUBSIDING: F.DAILY}),
    (3, "Decompression", False, {Phase.FLARE: F.DAILY, Phase.SUBSIDING: F.DAILY}),
    (4, "Psoas", False, {Phase.FLARE: F.DAILY, Phase.SUBSIDING: F.DAILY}),
    (5, "QL", False, {Phase.SUBSIDING: F.THREE_A_WEEK}),
)
MAINTENANCE = {1: F.NONE, 2: F.WEEKLY, 3: F.THREE_A_WEEK, 4: F.TWICE_A_WEEK, 5: F.THREE_A_WEEK}
NO_QUIET = {"quiet_start": time(0, 0), "quiet_end": time(0, 0)}

# The week of 23 Nov 2026: Monday 23 .. Sunday 29.
MON, TUE, WED, THU, FRI, SAT, SUN = (date(2026, 11, 23) + timedelta(n) for n in range(7))


def plan(phase: Phase) -> list[StepDue]:
    """The default plan's steps with the frequency the app would pick for `phase`."""
    steps = []
    for key, name, is_heat, frequencies in DEFAULT_PLAN:
        if phase is Phase.MAINTENANCE:
            frequency = MAINTENANCE[key]
        else:
            frequency = frequencies.get(phase, F.NONE)
        steps.append(StepDue(key=key, name=name, frequency=frequency, is_heat=is_heat))
    return steps


def names(slots) -> list[tuple[str, list[str]]]:
    return [(str(slot.name), [step.name for step in slot.steps]) for slot in slots]


# --- the default plan, phase by phase --------------------------------------------------------

ROUTINE_FLARE_AM = ["Heat", "SI reset", "Decompression", "Psoas"]
ROUTINE_SUBSIDING = ["Heat", "SI reset", "Decompression", "Psoas"]


@pytest.mark.parametrize(
    ("phase", "day", "expected"),
    [
        (Phase.FLARE, WED, [("morning", ROUTINE_FLARE_AM), ("evening", ["Heat", "SI reset"])]),
        (Phase.FLARE, SUN, [("morning", ROUTINE_FLARE_AM), ("evening", ["Heat", "SI reset"])]),
        (Phase.SUBSIDING, WED, [("morning", [*ROUTINE_SUBSIDING, "QL"])]),
        (Phase.SUBSIDING, TUE, [("morning", ROUTINE_SUBSIDING)]),
        (Phase.SUBSIDING, SUN, [("morning", ROUTINE_SUBSIDING)]),
        (Phase.MAINTENANCE, SUN, [("morning", ["SI reset"])]),
        (Phase.MAINTENANCE, MON, [("morning", ["Decompression", "Psoas", "QL"])]),
        (Phase.MAINTENANCE, WED, [("morning", ["Decompression", "QL"])]),
        (Phase.MAINTENANCE, FRI, [("morning", ["Decompression", "Psoas", "QL"])]),
        (Phase.MAINTENANCE, TUE, []),
        (Phase.MAINTENANCE, SAT, []),
        (Phase.HOLD, WED, []),
    ],
    ids=lambda value: str(value),
)
def test_it_plans_the_default_routine(phase, day, expected):
    slots = slots_for_day(plan(phase), Preferences(), "Europe/London", day, phase)
    assert names(slots) == expected


def test_it_puts_the_routine_at_the_clients_times():
    slots = slots_for_day(plan(Phase.FLARE), Preferences(), "America/New_York", WED, Phase.FLARE)
    morning, evening = slots
    assert morning.local == datetime(2026, 11, 25, 8, 0, tzinfo=ZoneInfo("America/New_York"))
    assert morning.utc == datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
    assert evening.utc == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    assert (morning.day, evening.day) == (WED, WED)


def test_it_never_plans_hold_even_with_steps_due():
    steps = [StepDue(1, "Daily", F.DAILY)]
    assert slots_for_day(steps, Preferences(), "UTC", WED, Phase.HOLD) == []
    assert slots_between(steps, Preferences(), "UTC", MON, 14, Phase.HOLD) == []


def test_it_needs_a_routine_step_for_a_slot():
    heat_only = [StepDue(1, "Heat", F.BEFORE_ROUTINE, is_heat=True)]
    assert slots_for_day(heat_only, Preferences(), "UTC", WED, Phase.FLARE) == []


def test_it_puts_every_before_the_routine_step_first():
    steps = [
        StepDue(1, "Walk", F.DAILY),
        StepDue(2, "Warm-up", F.BEFORE_ROUTINE),
        StepDue(3, "Heat pack", F.DAILY, is_heat=True),
        StepDue(4, "Stretch", F.TWICE_DAILY),
    ]
    slots = slots_for_day(steps, Preferences(), "UTC", WED, Phase.FLARE)
    assert names(slots) == [
        ("morning", ["Warm-up", "Heat pack", "Walk", "Stretch"]),
        ("evening", ["Warm-up", "Stretch"]),
    ]


def test_a_daily_heat_step_alone_makes_no_slot():
    steps = [StepDue(1, "Heat pack", F.DAILY, is_heat=True), StepDue(2, "Reset", F.WEEKLY)]
    assert slots_for_day(steps, Preferences(), "UTC", WED, Phase.SUBSIDING) == []
    assert names(slots_for_day(steps, Preferences(), "UTC", SUN, Phase.SUBSIDING)) == [
        ("morning", ["Heat pack", "Reset"])
    ]


def test_none_never_appears():
    steps = [StepDue(1, "Off", F.NONE), StepDue(2, "On", F.DAILY)]
    slots = slots_between(steps, Preferences(), "UTC", MON, 7, Phase.SUBSIDING)
    assert {step.name for slot in slots for step in slot.steps} == {"On"}


@pytest.mark.parametrize(
    ("three_x_days", "reset_weekday", "weekly", "three", "two"),
    [
        ((0, 2, 4), 6, [SUN], [MON, WED, FRI], [MON, FRI]),
        ((4, 1, 3), 2, [WED], [TUE, THU, FRI], [TUE, FRI]),
        ((5,), 0, [MON], [SAT], [SAT]),
    ],
)
def test_it_follows_the_clients_days(three_x_days, reset_weekday, weekly, three, two):
    prefs = Preferences(three_x_days=three_x_days, reset_weekday=reset_weekday)

    def days_of(frequency):
        steps = [StepDue(1, "step", frequency)]
        return [s.day for s in slots_between(steps, prefs, "UTC", MON, 7, Phase.MAINTENANCE)]

    assert days_of(F.WEEKLY) == weekly
    assert days_of(F.THREE_A_WEEK) == three
    assert days_of(F.TWICE_A_WEEK) == two


def test_slot_key_is_day_and_name():
    (slot,) = slots_for_day(plan(Phase.SUBSIDING), Preferences(), "UTC", WED, Phase.SUBSIDING)
    assert slot_key(slot) == "2026-11-25/morning"


def test_slots_between_orders_by_reminder_time():
    slots = slots_between(plan(Phase.FLARE), Preferences(), "Asia/Tokyo", MON, 3, Phase.FLARE)
    assert [slot_key(s) for s in slots] == [
        "2026-11-23/morning",
        "2026-11-23/evening",
        "2026-11-24/morning",
        "2026-11-24/evening",
        "2026-11-25/morning",
        "2026-11-25/evening",
    ]
    assert slots_between(plan(Phase.FLARE), Preferences(), "UTC", MON, 0, Phase.FLARE) == []
    with pytest.raises(ValueError):
        slots_between(plan(Phase.FLARE), Preferences(), "UTC", MON, -1, Phase.FLARE)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd", "utc+1"])
def test_it_refuses_an_unknown_zone(zone):
    with pytest.raises(ValueError):
        slots_for_day(plan(Phase.FLARE), Preferences(), zone, WED, Phase.FLARE)
    with pytest.raises(ValueError):
        slots_for_day(plan(Phase.HOLD), Preferences(), zone, WED, Phase.HOLD)
    with pytest.raises(ValueError):
        local_to_utc(WED, time(8), zone)


# --- preferences --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"morning": time(19, 0)},  # evening must come after morning
        {"evening": time(7, 0)},
        {"reset_weekday": 7},
        {"reset_weekday": -1},
        {"three_x_days": ()},
        {"three_x_days": (0, 0, 2)},
        {"three_x_days": (0, 2, 7)},
        # Both reminders would move to 07:30: two emails at once.
        {"morning": time(6, 0), "evening": time(7, 0)},
        {"morning": time(7, 0), "evening": time(7, 30)},
        {"morning": time(7, 0), "evening": time(22, 0)},  # tonight's and tomorrow's at 07:30
    ],
)
def test_preferences_refuse_impossible_settings(changes):
    with pytest.raises(ValueError):
        Preferences(**changes)


# --- quiet hours ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "at", "quiet"),
    [
        (time(21), time(7, 30), time(20, 59), False),
        (time(21), time(7, 30), time(21, 0), True),
        (time(21), time(7, 30), time(0, 0), True),
        (time(21), time(7, 30), time(7, 29), True),
        (time(21), time(7, 30), time(7, 30), False),
        (time(21), time(7, 30), time(12, 0), False),
        (time(13), time(14), time(12, 59), False),
        (time(13), time(14), time(13, 0), True),
        (time(13), time(14), time(13, 59), True),
        (time(13), time(14), time(14, 0), False),
        (time(9), time(9), time(9, 0), False),  # start == end: no quiet hours
        (time(9), time(9), time(3, 0), False),
    ],
)
def test_in_quiet_hours(start, end, at, quiet):
    prefs = Preferences(quiet_start=start, quiet_end=end, morning=time(10), evening=time(11))
    assert in_quiet_hours(at, prefs) is quiet


def test_a_morning_in_quiet_hours_is_reminded_when_they_end():
    prefs = Preferences(morning=time(7, 0))
    slots = slots_for_day(plan(Phase.FLARE), prefs, "Europe/London", WED, Phase.FLARE)
    morning = slots[0]
    assert morning.local.time() == time(7, 0)  # the routine time stays
    assert morning.utc == datetime(2026, 11, 25, 7, 30, tzinfo=UTC)


def test_an_evening_in_quiet_hours_is_reminded_next_morning():
    prefs = Preferences(evening=time(22, 0))
    slots = slots_for_day(plan(Phase.FLARE), prefs, "Europe/London", WED, Phase.FLARE)
    evening = slots[1]
    assert evening.local == datetime(2026, 11, 25, 22, 0, tzinfo=ZoneInfo("Europe/London"))
    assert evening.utc == datetime(2026, 11, 26, 7, 30, tzinfo=UTC)


def test_quiet_hours_that_do_not_wrap_midnight():
    prefs = Preferences(
        morning=time(13, 30), evening=time(18), quiet_start=time(13), quiet_end=time(14)
    )
    (morning, evening) = slots_for_day(plan(Phase.FLARE), prefs, "UTC", WED, Phase.FLARE)
    assert morning.utc == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert evening.utc == datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def test_equal_quiet_times_mean_no_quiet_hours():
    prefs = Preferences(morning=time(3), evening=time(23), quiet_start=time(5), quiet_end=time(5))
    (morning, evening) = slots_for_day(plan(Phase.FLARE), prefs, "UTC", WED, Phase.FLARE)
    assert (morning.utc.time(), evening.utc.time()) == (time(3), time(23))


# --- clock changes ----------------------------------------------------------------------------


def one_slot(zone: str, day: date, at: time, **prefs):
    steps = [StepDue(1, "Reset", F.DAILY)]
    preferences = Preferences(morning=at, evening=time(23, 59), **{**NO_QUIET, **prefs})
    (slot,) = slots_for_day(steps, preferences, zone, day, Phase.SUBSIDING)
    return slot


@pytest.mark.parametrize(
    ("zone", "day", "at", "wall", "utc"),
    [
        # New York springs forward 02:00 -> 03:00 on 8 Mar 2026: 02:30 does not exist.
        (
            "America/New_York",
            date(2026, 3, 8),
            time(2, 30),
            time(3, 30),
            datetime(2026, 3, 8, 7, 30),
        ),
        ("America/New_York", date(2026, 3, 7), time(8), time(8), datetime(2026, 3, 7, 13)),
        ("America/New_York", date(2026, 3, 8), time(8), time(8), datetime(2026, 3, 8, 12)),
        # ... and falls back 02:00 -> 01:00 on 1 Nov 2026: 01:30 happens twice, the first counts.
        (
            "America/New_York",
            date(2026, 11, 1),
            time(1, 30),
            time(1, 30),
            datetime(2026, 11, 1, 5, 30),
        ),
        ("America/New_York", date(2026, 11, 1), time(8), time(8), datetime(2026, 11, 1, 13)),
        # London: 01:00 -> 02:00 on 29 Mar 2026, 02:00 -> 01:00 on 25 Oct 2026.
        (
            "Europe/London",
            date(2026, 3, 29),
            time(1, 15),
            time(2, 15),
            datetime(2026, 3, 29, 1, 15),
        ),
        (
            "Europe/London",
            date(2026, 10, 25),
            time(1, 30),
            time(1, 30),
            datetime(2026, 10, 25, 0, 30),
        ),
        # Lord Howe moves by 30 minutes: 02:00 -> 02:30 on 4 Oct 2026, 02:00 -> 01:30 on 5 Apr.
        (
            "Australia/Lord_Howe",
            date(2026, 10, 4),
            time(2, 15),
            time(2, 45),
            datetime(2026, 10, 3, 15, 45),
        ),
        (
            "Australia/Lord_Howe",
            date(2026, 4, 5),
            time(1, 45),
            time(1, 45),
            datetime(2026, 4, 4, 14, 45),
        ),
        ("Australia/Lord_Howe", date(2026, 4, 5), time(8), time(8), datetime(2026, 4, 4, 21, 30)),
        # No daylight saving time at all.
        ("Asia/Kolkata", date(2026, 3, 8), time(8), time(8), datetime(2026, 3, 8, 2, 30)),
        ("Asia/Kolkata", date(2026, 11, 1), time(8), time(8), datetime(2026, 11, 1, 2, 30)),
    ],
)
def test_it_keeps_the_clients_wall_clock_across_clock_changes(zone, day, at, wall, utc):
    slot = one_slot(zone, day, at)
    assert slot.local.time() == wall
    assert slot.local.tzinfo == ZoneInfo(zone)
    assert slot.utc == utc.replace(tzinfo=UTC)
    assert slot.day == day


def test_a_repeated_hour_fires_once():
    zone = "America/New_York"
    first = local_to_utc(date(2026, 11, 1), time(1, 30), zone)
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert first.astimezone(ZoneInfo(zone)).fold == 0


def test_quiet_hours_ending_in_a_skipped_hour_move_with_it():
    prefs = Preferences(evening=time(22), quiet_start=time(21), quiet_end=time(2, 30))
    slots = slots_for_day(
        plan(Phase.FLARE), prefs, "America/New_York", date(2026, 3, 7), Phase.FLARE
    )
    # 02:30 on 8 Mar does not exist in New York; the reminder comes at 03:30 EDT.
    assert slots[1].utc == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_a_skipped_hour_never_puts_the_evening_reminder_first():
    # 02:30 becomes 03:30 EDT, which is after 03:15 EDT; the evening reminder follows.
    prefs = Preferences(morning=time(2, 30), evening=time(3, 15), **NO_QUIET)
    morning, evening = slots_for_day(
        plan(Phase.FLARE), prefs, "America/New_York", date(2026, 3, 8), Phase.FLARE
    )
    assert morning.utc == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert evening.local.time() == time(3, 15)
    assert evening.utc == datetime(2026, 3, 8, 7, 31, tzinfo=UTC)


def test_a_skipped_hour_across_midnight_moves_the_time_into_the_next_date():
    # Nuuk skips 23:00-24:00 on Saturday 28 Mar 2026; the slot keeps its own day.
    prefs = Preferences(morning=time(23, 30), evening=time(23, 45), **NO_QUIET)
    steps = [StepDue(1, "Reset", F.DAILY)]
    (slot,) = slots_for_day(steps, prefs, "America/Nuuk", date(2026, 3, 28), Phase.SUBSIDING)
    assert slot.day == date(2026, 3, 28)
    assert slot.local.replace(tzinfo=None) == datetime(2026, 3, 29, 0, 30)
    assert slot_key(slot) == "2026-03-28/morning"


# --- properties -------------------------------------------------------------------------------

ZONES = sorted(available_timezones())
# Zones whose clocks change in 2030 (January and July differ): where the edge cases live.
CHANGING_ZONES = [
    zone
    for zone in ZONES
    if len({datetime(2030, month, 1, tzinfo=ZoneInfo(zone)).utcoffset() for month in (1, 7)}) > 1
]


@lru_cache(maxsize=2048)
def change_days(zone: str, year: int) -> tuple[date, ...]:
    """The local dates in `year` on which the zone's UTC offset changes."""
    tz = ZoneInfo(zone)
    days = [date(year, 1, 1) + timedelta(n) for n in range(366)]
    offsets = [datetime.combine(day, time(0), tz).utcoffset() for day in days]
    return tuple(
        day - timedelta(1)
        for day, before, after in zip(days[1:], offsets, offsets[1:], strict=False)
        if before != after
    )


minutes = st.integers(0, 1439).map(lambda m: time(m // 60, m % 60))


@lru_cache(maxsize=4096)
def odd_times(zone: str, day: date) -> tuple[time, ...]:
    """Wall times on `day` that the clocks skip or repeat (and the two hours after them)."""
    tz = ZoneInfo(zone)
    odd = []
    for minute in range(0, 24 * 60, 15):
        naive = datetime.combine(day, time(minute // 60, minute % 60))
        if (
            naive.replace(tzinfo=tz, fold=0).utcoffset()
            != naive.replace(tzinfo=tz, fold=1).utcoffset()
        ):
            odd += [minute + step for step in range(0, 121, 15) if minute + step < 24 * 60]
    return tuple(time(m // 60, m % 60) for m in sorted(set(odd)))


@st.composite
def preferences(draw, clock=minutes) -> Preferences:
    morning, evening = sorted(draw(st.lists(clock, min_size=2, max_size=2, unique=True)))
    quiet_start = draw(clock)
    quiet_end = draw(st.one_of(st.just(quiet_start), clock))  # equal: no quiet hours
    try:
        return Preferences(
            morning=morning,
            evening=evening,
            reset_weekday=draw(st.integers(0, 6)),
            three_x_days=tuple(sorted(draw(st.sets(st.integers(0, 6), min_size=1)))),
            quiet_start=quiet_start,
            quiet_end=quiet_end,
        )
    except ValueError:
        assume(False)
        raise


@st.composite
def cases(draw) -> tuple[str, date, Preferences]:
    """A zone, a day in 2020-2040 (often one with a clock change) and preferences whose
    times often fall in or just after the change."""
    zone = draw(st.sampled_from(ZONES) | st.sampled_from(CHANGING_ZONES))
    year = draw(st.integers(2020, 2040))
    changes = change_days(zone, year)
    if changes and draw(st.sampled_from([True, True, False])):
        day = draw(st.sampled_from(changes))
    else:
        day = draw(st.dates(date(year, 1, 1), date(year, 12, 31)))
    odd = odd_times(zone, day)
    clock = st.sampled_from(odd) | st.sampled_from(odd) | minutes if odd else minutes
    return zone, day, draw(preferences(clock))


steps_strategy = st.one_of(
    st.builds(
        plan, st.sampled_from([Phase.FLARE, Phase.FLARE, Phase.SUBSIDING, Phase.MAINTENANCE])
    ),
    st.lists(
        st.builds(
            StepDue,
            key=st.integers(1, 99),
            name=st.just("step"),
            frequency=st.sampled_from(list(Frequency)),
            is_heat=st.booleans(),
        ),
        min_size=1,
        max_size=6,
    ),
)

PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def existed(day: date, at: time, zone: str) -> bool:
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=ZoneInfo(zone))
    return aware.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None) == naive


@PROPERTY
@given(
    case=cases(),
    steps=steps_strategy,
    phase=st.sampled_from([Phase.FLARE, Phase.SUBSIDING, Phase.MAINTENANCE]),
)
def test_property_slots_keep_their_promises(case, steps, phase):
    zone, first_day, prefs = case
    slots = slots_between(steps, prefs, zone, first_day - timedelta(1), 3, phase)

    assert [s.utc for s in slots] == sorted(s.utc for s in slots)
    by_day = defaultdict(list)
    for slot in slots:
        by_day[slot.day].append(slot)
    for day_slots in by_day.values():
        # Never more than 2 routine emails a day, one per slot, the morning's first.
        assert len(day_slots) <= 2
        assert [s.name for s in day_slots] == [MORNING, EVENING][: len(day_slots)]
        assert all(a.utc < b.utc for a, b in zip(day_slots, day_slots[1:], strict=False))

    for slot in slots:
        at = prefs.morning if slot.name is MORNING else prefs.evening
        assert slot.utc.utcoffset() == timedelta(0)
        assert slot.local.tzinfo == ZoneInfo(zone)
        assert slot.utc >= slot.local  # a reminder never comes before its routine
        assert any(
            not (s.is_heat or s.frequency in (F.BEFORE_ROUTINE, F.OPTIONAL_BEFORE))
            for s in slot.steps
        )
        assert all(s.frequency is not F.NONE for s in slot.steps)
        if existed(slot.day, at, zone):
            assert slot.local.time() == at
            back = slot.local.astimezone(UTC).astimezone(ZoneInfo(zone))
            assert back.date() == slot.day
        else:
            event("a routine time the clocks skipped")
            # A skipped time moves forward by the length of the skip.
            tz = ZoneInfo(zone)
            naive = datetime.combine(slot.day, at)
            gap = (
                naive.replace(tzinfo=tz, fold=1).utcoffset() - naive.replace(tzinfo=tz).utcoffset()
            )
            assert slot.local.replace(tzinfo=None) == naive + gap


@PROPERTY
@given(case=cases(), steps=steps_strategy)
def test_property_hold_has_no_slots(case, steps):
    zone, day, prefs = case
    assert slots_between(steps, prefs, zone, day, 3, Phase.HOLD) == []


@PROPERTY
@given(case=cases(), at=minutes)
def test_property_local_to_utc_round_trips_when_the_time_exists(case, at):
    zone, day, prefs = case
    at = at if at.minute % 2 else prefs.morning  # half the time a time from the clock change
    utc = local_to_utc(day, at, zone)
    back = utc.astimezone(ZoneInfo(zone))
    naive = datetime.combine(day, at)
    if existed(day, at, zone):
        assert (back.date(), back.time()) == (day, at)
        # A time that happens twice means its first occurrence.
        both = {naive.replace(tzinfo=ZoneInfo(zone), fold=f).astimezone(UTC) for f in (0, 1)}
        assert utc == min(both)
    else:
        assert back.replace(tzinfo=None) > naive


# --- edges that mutation testing found unpinned (`make mutation`, docs/testing.md) ------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reset_weekday": 7}, "The weekly reset day must be a weekday number from 0 to 6."),
        (
            {"three_x_days": (0, 0, 2)},
            "The 3-times-a-week days must be distinct weekday numbers, 0 to 6.",
        ),
        ({"morning": time(19)}, "The evening routine time must be later than the morning one."),
        (
            {"morning": time(7), "evening": time(7, 30)},
            "Quiet hours would send the morning and evening reminders at the same time; "
            "move one of the routine times out of quiet hours.",
        ),
    ],
)
def test_preferences_say_what_is_wrong_in_the_clients_words(changes, message):
    # The settings form shows this text to the client as it is.
    with pytest.raises(ValueError) as refused:
        Preferences(**changes)
    assert str(refused.value) == message


def test_the_evening_may_not_be_the_morning():
    with pytest.raises(ValueError, match="later than the morning"):
        Preferences(morning=time(12), evening=time(12))


def test_sunday_and_monday_are_weekdays_too():
    assert Preferences(three_x_days=(0, 3, 6), reset_weekday=0).twice_a_week_days == (0, 6)
    assert Preferences(reset_weekday=6).reset_weekday == 6


def test_a_routine_right_at_the_start_of_quiet_hours_waits_for_the_morning():
    prefs = Preferences(evening=time(21, 0))  # quiet hours 21:00-07:30 start right then
    morning, evening = slots_for_day(plan(Phase.FLARE), prefs, "Europe/London", WED, Phase.FLARE)
    assert evening.utc == datetime(2026, 11, 26, 7, 30, tzinfo=UTC)


def test_reminder_times_are_in_utc_itself():
    # Not merely the same instant in the machine's zone: UTC, as stored and compared.
    slots = slots_for_day(plan(Phase.FLARE), Preferences(), "Europe/London", WED, Phase.FLARE)
    assert all(slot.utc.tzinfo is UTC for slot in slots)
    assert local_to_utc(WED, time(8), "Asia/Kolkata").tzinfo is UTC


def test_a_repeated_hour_means_the_first_one_whatever_fold_it_is_given():
    zone = "America/New_York"
    second = time(1, 30, fold=1)
    assert local_to_utc(date(2026, 11, 1), second, zone) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_a_skipped_hour_that_lands_both_reminders_on_one_instant_keeps_them_apart():
    # London skips 01:00-02:00 on 29 Mar 2026: 01:30 and 02:30 are both 01:30 UTC.
    prefs = Preferences(morning=time(1, 30), evening=time(2, 30), **NO_QUIET)
    morning, evening = slots_for_day(
        plan(Phase.FLARE), prefs, "Europe/London", date(2026, 3, 29), Phase.FLARE
    )
    assert morning.utc == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert evening.utc == datetime(2026, 3, 29, 1, 31, tzinfo=UTC)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="Unknown time zone: 'Mars/Olympus'"):
        local_to_utc(WED, time(8), "Mars/Olympus")
    with pytest.raises(ValueError) as refused:
        slots_between(plan(Phase.FLARE), Preferences(), "UTC", WED, -1, Phase.FLARE)
    assert str(refused.value) == "days must be 0 or more"
