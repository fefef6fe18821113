"""When the routine happens: plan steps + phase + preferences + IANA zone + date -> slots.

Pure: no Django, no I/O. A slot is one routine time of one local day (morning or evening)
with the steps due in it; the app sends at most one reminder per slot, at `Slot.utc`.
The rules and their sources are in docs/rules.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aftercare.rules.phases import Frequency, Phase

ONE_DAY = timedelta(days=1)

# Heat is a warm-up for the routine (TAPER.md: "before each routine"), never a routine alone.
BEFORE_ROUTINE = frozenset({Frequency.BEFORE_ROUTINE, Frequency.OPTIONAL_BEFORE})

# When a clock change squeezes the evening reminder onto or before the morning one, it
# fires this long after the morning one, so a day's reminders stay distinct and in order.
_REMINDER_SPACING = timedelta(minutes=1)


@dataclass(frozen=True)
class StepDue:
    """One plan step as the schedule sees it."""

    key: int  # the PlanStep id (opaque here)
    name: str
    frequency: Frequency  # already chosen for the current phase by the caller
    is_heat: bool = False


class SlotName(StrEnum):
    MORNING = "morning"
    EVENING = "evening"


_SLOT_ORDER = (SlotName.MORNING, SlotName.EVENING)


@dataclass(frozen=True)
class Preferences:
    morning: time = time(8, 0)
    evening: time = time(19, 0)
    reset_weekday: int = 6  # Monday=0 .. Sunday=6
    three_x_days: tuple[int, ...] = (0, 2, 4)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(7, 30)

    def __post_init__(self) -> None:
        if not 0 <= self.reset_weekday <= 6:
            raise ValueError("The weekly reset day must be a weekday number from 0 to 6.")
        days = self.three_x_days
        if not days or len(set(days)) != len(days) or not all(0 <= d <= 6 for d in days):
            raise ValueError("The 3-times-a-week days must be distinct weekday numbers, 0 to 6.")
        if not self.morning < self.evening:
            raise ValueError("The evening routine time must be later than the morning one.")
        if _reminder_wall(self.morning, self) == _reminder_wall(self.evening, self):
            # Quiet hours would move both reminders to the same moment: two emails at once.
            raise ValueError(
                "Quiet hours would send the morning and evening reminders at the same time; "
                "move one of the routine times out of quiet hours."
            )

    @property
    def twice_a_week_days(self) -> tuple[int, int]:
        """The first and last of the 3x-a-week days: the most spread-out pair."""
        return min(self.three_x_days), max(self.three_x_days)


@dataclass(frozen=True)
class Slot:
    day: date  # the client's local date
    name: SlotName
    local: datetime  # aware, in the client's zone: when the routine is planned
    utc: datetime  # aware UTC: when the reminder fires (quiet hours applied)
    steps: tuple[StepDue, ...]  # heat first, then the steps in the given order


def slot_key(slot: Slot) -> str:
    """Stable text naming a slot, e.g. "2026-11-25/morning" (the app marks slots done by it)."""
    return f"{slot.day.isoformat()}/{slot.name}"


def in_quiet_hours(local_time: time, prefs: Preferences) -> bool:
    """Whether a wall-clock time is inside quiet hours, [quiet_start, quiet_end)."""
    start, end = prefs.quiet_start, prefs.quiet_end
    if start == end:  # an empty window: the client has no quiet hours
        return False
    if start < end:
        return start <= local_time < end
    return local_time >= start or local_time < end  # the window wraps midnight


def local_to_utc(day: date, at: time, zone: str) -> datetime:
    """The UTC instant of a local wall-clock time.

    fold=0 (PEP 495) gives both rules we want: a time the clocks skip (spring forward)
    lands that many minutes later, and a time that happens twice (fall back) means the
    first one, so a reminder fires once.
    """
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=_zone(zone)).astimezone(UTC)


def slots_for_day(
    steps: Sequence[StepDue], prefs: Preferences, zone: str, day: date, phase: Phase
) -> list[Slot]:
    """The day's routine slots in order: at most a morning and an evening one."""
    _zone(zone)  # an unknown zone is an error even for a paused plan
    if phase is Phase.HOLD:  # a paused plan has no routine and sends no reminders
        return []
    slots: list[Slot] = []
    for name in _SLOT_ORDER:
        slot = _slot(steps, prefs, zone, day, name)
        if slot is None:
            continue
        if slots and slot.utc <= slots[-1].utc:
            # Only a skipped hour can do this (quiet-hours clashes are refused by
            # Preferences): keep the reminders distinct and in order.
            slot = replace(slot, utc=slots[-1].utc + _REMINDER_SPACING)
        slots.append(slot)
    return slots


def slots_between(
    steps: Sequence[StepDue],
    prefs: Preferences,
    zone: str,
    first_day: date,
    days: int,
    phase: Phase,
) -> list[Slot]:
    """The slots of `days` local days from `first_day`, ordered by reminder time."""
    if days < 0:
        raise ValueError("days must be 0 or more")
    slots = [
        slot
        for offset in range(days)
        for slot in slots_for_day(steps, prefs, zone, first_day + offset * ONE_DAY, phase)
    ]
    # Day and slot order break the rare tie a clock change can cause between two days.
    return sorted(slots, key=lambda s: (s.utc, s.day, _SLOT_ORDER.index(s.name)))


def _zone(zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise ValueError(f"Unknown time zone: {zone!r}") from error


def _slot(
    steps: Sequence[StepDue],
    prefs: Preferences,
    zone: str,
    day: date,
    name: SlotName,
) -> Slot | None:
    due = [step for step in steps if _due(step, name, day, prefs)]
    # A slot exists only for the routine itself; heat alone is not a reason to email.
    if all(_goes_before(step) for step in due):
        return None
    ordered = tuple(s for s in due if _goes_before(s)) + tuple(
        s for s in due if not _goes_before(s)
    )
    at = prefs.morning if name is SlotName.MORNING else prefs.evening
    local = local_to_utc(day, at, zone).astimezone(_zone(zone))
    return Slot(
        day=day, name=name, local=local, utc=_reminder_utc(local, prefs, zone), steps=ordered
    )


def _goes_before(step: StepDue) -> bool:
    return step.is_heat or step.frequency in BEFORE_ROUTINE


def _due(step: StepDue, name: SlotName, day: date, prefs: Preferences) -> bool:
    """Whether a step belongs in a slot (TAPER.md's frequency table, slots as agreed)."""
    if step.frequency in BEFORE_ROUTINE:
        return True  # joins whichever slots the routine steps create
    if name is SlotName.EVENING:
        return step.frequency is Frequency.TWICE_DAILY
    weekday = day.weekday()
    match step.frequency:
        case Frequency.TWICE_DAILY | Frequency.DAILY:
            return True
        case Frequency.THREE_A_WEEK:
            return weekday in prefs.three_x_days
        case Frequency.TWICE_A_WEEK:
            return weekday in prefs.twice_a_week_days
        case Frequency.WEEKLY:
            return weekday == prefs.reset_weekday
        case _:
            return False


def _reminder_wall(at: time, prefs: Preferences) -> time:
    """The wall-clock time a reminder for a routine at `at` fires (quiet hours applied)."""
    return prefs.quiet_end if in_quiet_hours(at, prefs) else at


def _reminder_utc(local: datetime, prefs: Preferences, zone: str) -> datetime:
    """When the slot's reminder fires: its own time, or the end of the quiet hours it is in."""
    wall = local.time()
    if not in_quiet_hours(wall, prefs):
        return local.astimezone(UTC)
    day = local.date()
    if prefs.quiet_start > prefs.quiet_end and wall >= prefs.quiet_start:
        day += ONE_DAY  # the late part of a window that wraps midnight ends tomorrow
    return local_to_utc(day, prefs.quiet_end, zone)
