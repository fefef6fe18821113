"""Progress for both sides: the pain series, an SVG-ready chart, the routine's week and
streak, and the pain trend in words. Pure: plain data in, plain data out."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from aftercare.rules import schedule
from aftercare.rules.phases import Phase
from aftercare.rules.taper import MEANINGFUL_POINTS as MEANINGFUL
from aftercare.rules.taper import RECOVERED_PAIN as RECOVERED


@dataclass(frozen=True)
class DayPoint:
    day: date
    worst: int | None  # the day's highest worst-pain, None when not logged
    done: bool  # at least one step ticked done that day


def daily_series(
    worst_by_log: Iterable[tuple[date, int]], done_days: Iterable[date], last_day: date, days: int
) -> list[DayPoint]:
    """One point per calendar day, oldest first, ending on last_day."""
    worst: dict[date, int] = {}
    for day, value in worst_by_log:
        worst[day] = max(worst.get(day, 0), value)
    done = set(done_days)
    first = last_day - timedelta(days=days - 1)
    return [
        DayPoint(day=d, worst=worst.get(d), done=d in done)
        for d in (first + timedelta(days=i) for i in range(days))
    ]


# Below this many check-in days a 30-day line is a lonely dot or two: list them instead.
FEW_POINTS = 4


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    line: str  # SVG polyline points of the logged days
    dots: tuple[tuple[float, float, int, date], ...]  # x, y, value, day
    done_marks: tuple[float, ...]  # x of each day the routine was done
    gridlines: tuple[tuple[float, int], ...]  # y, label
    first: date
    last: date
    summary: str  # the chart in words, for screen readers

    @property
    def few(self) -> bool:
        """Too few check-ins for a line to mean anything: shown as a short list instead."""
        return len(self.dots) < FEW_POINTS


def pain_chart(series: list[DayPoint], width: int = 600, height: int = 180) -> Chart:
    left, right, top, bottom = 28, 8, 8, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(series) - 1, 1)

    def x(i: int) -> float:
        return round(left + i * step, 1)

    def y(value: int) -> float:
        return round(top + plot_h * (1 - value / 10), 1)

    dots = tuple(
        (x(i), y(p.worst), p.worst, p.day) for i, p in enumerate(series) if p.worst is not None
    )
    return Chart(
        width=width,
        height=height,
        line=" ".join(f"{dx},{dy}" for dx, dy, _, _ in dots),
        dots=dots,
        done_marks=tuple(x(i) for i, p in enumerate(series) if p.done),
        gridlines=tuple((y(v), v) for v in (0, 5, 10)),
        first=series[0].day,
        last=series[-1].day,
        summary=chart_summary(series),
    )


def chart_summary(series: list[DayPoint]) -> str:
    logged = [p for p in series if p.worst is not None]
    done = sum(p.done for p in series)
    if not logged:
        return f"No check-ins in the last {len(series)} days; routine done on {done} days."
    return (
        f"Worst pain over the last {len(series)} days: {len(logged)} check-in days, "
        f"from {logged[0].worst} on {logged[0].day:%d %b} to {logged[-1].worst} on "
        f"{logged[-1].day:%d %b}; highest {max(p.worst for p in logged)}. "
        f"Routine done on {done} days."
    )


def low_streak(series: list[DayPoint]) -> int:
    """Logged days in a row at worst pain 0-1, counting back from the newest logged day;
    days without a log neither count nor break the streak (TAPER.md)."""
    streak = 0
    for point in reversed(series):
        if point.worst is None:
            continue
        if point.worst > RECOVERED:
            break
        streak += 1
    return streak


def milestone(series: list[DayPoint], phase: Phase, maintenance_days: int = 7) -> str:
    """While it settles: how many more low days until the weekly reset ("" otherwise)."""
    streak = low_streak(series)
    if phase is not Phase.SUBSIDING or not 0 < streak < maintenance_days:
        return ""
    more = maintenance_days - streak
    return (
        f"{streak} check-in day{'s' if streak != 1 else ''} in a row at 0 or 1: "
        f"{more} more and your plan moves to the weekly reset."
    )


# --- The routine: days done this week and the streak ------------------------------------------


class Mark(StrEnum):
    """One day of the routine, as the week strip shows it."""

    DONE = "done"  # at least one step ticked done that day
    MISSED = "missed"  # the routine was due and nothing was ticked
    REST = "rest"  # nothing due (the phase's days off, or the plan on hold)
    TODAY = "today"  # due today and not ticked yet: still open, never a miss
    UPCOMING = "upcoming"  # later this week, with the routine due
    BEFORE = "before"  # before the plan started: not the client's to count

    @property
    def label(self) -> str:
        """The day in words, for screen readers (the strip shows a sign)."""
        return MARK_LABELS[self]


MARK_LABELS = {
    Mark.DONE: "done",
    Mark.MISSED: "not done",
    Mark.REST: "a day off",
    Mark.TODAY: "today, not done yet",
    Mark.UPCOMING: "still to come",
    Mark.BEFORE: "before your plan started",
}


def day_mark(
    day: date, *, start: date, today: date, done: Container[date], due: Container[date]
) -> Mark:
    """What a day was. A tick always counts (a tick on a day off is a day done); a day
    with nothing due is a rest day, never a miss."""
    if day < start:
        return Mark.BEFORE
    if day > today:
        return Mark.UPCOMING if day in due else Mark.REST
    if day in done:
        return Mark.DONE
    if day not in due:
        return Mark.REST
    return Mark.TODAY if day == today else Mark.MISSED


def routine_streak(marks: Sequence[Mark]) -> int:
    """The streak: the days done, counted back from the newest day, over any single missed
    day; two missed days in a row end it. Rest days, today while still open and days
    before the plan neither count nor break it. Oldest mark first."""
    streak = misses = 0
    for mark in reversed(marks):
        if mark is Mark.DONE:
            streak += 1
            misses = 0
        elif mark is Mark.MISSED:
            misses += 1
            if misses == 2:
                break
    return streak


def last_due_missed(marks: Sequence[Mark]) -> bool:
    """Whether the newest routine day before today was missed (the streak hangs on today)."""
    for mark in reversed(marks):
        if mark in (Mark.DONE, Mark.MISSED):
            return mark is Mark.MISSED
    return False


@dataclass(frozen=True)
class Routine:
    today: date
    week: tuple[tuple[date, Mark], ...]  # Monday to Sunday of this week
    week_done: int
    week_due: int  # days this week with the routine due (or done), the plan's days only
    streak: int
    at_risk: bool  # the last routine day missed, today's still open: it keeps the streak
    ever_done: bool

    @property
    def week_sentence(self) -> str:
        if not self.week_due:
            return "No routine days this week."
        kind = "days" if self.week_due == 7 else "routine days"
        return f"{self.week_done} of {self.week_due} {kind} this week"

    @property
    def streak_sentence(self) -> str:
        if not self.ever_done:
            return "Tick a step on Today when you've done it, and your streak starts."
        if not self.streak:
            return "Your streak starts again with your next routine."
        days = f"{self.streak} day{'s' if self.streak != 1 else ''}"
        if self.at_risk:
            return f"Your streak: {days}. One missed day doesn't end it: today's routine keeps it going."
        return f"Your streak: {days}."


class RoutineDays:
    """The days the routine was (or will be) due: the schedule of the phase the plan was in
    at the end of that day. `changes` are the plan's phase changes as (local date, phase),
    oldest first; a day before the first one takes the first one's phase."""

    def __init__(
        self,
        steps: Mapping[Phase, Sequence[schedule.StepDue]],
        changes: Sequence[tuple[date, Phase]],
        current: Phase,
        prefs: schedule.Preferences,
        zone: str,
    ) -> None:
        self.steps, self.changes, self.current = steps, list(changes), current
        self.prefs, self.zone = prefs, zone

    def phase_on(self, day: date) -> Phase:
        phase = self.changes[0][1] if self.changes else self.current
        for changed, to in self.changes:
            if changed > day:
                break
            phase = to
        return phase

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, date):
            return False
        phase = self.phase_on(day)
        steps = self.steps.get(phase, ())
        return bool(schedule.slots_for_day(steps, self.prefs, self.zone, day, phase))


def routine_progress(
    *, start: date, today: date, done: Container[date], due: Container[date]
) -> Routine:
    """This week (Monday to Sunday) and the streak since the plan started. `due` says
    which days had (or will have) the routine due; `done`, which had a tick."""
    monday = today - timedelta(days=today.weekday())
    week = tuple(
        (day, day_mark(day, start=start, today=today, done=done, due=due))
        for day in (monday + timedelta(days=i) for i in range(7))
    )
    history = [
        day_mark(start + timedelta(days=i), start=start, today=today, done=done, due=due)
        for i in range((today - start).days + 1)
    ]
    counted = (Mark.DONE, Mark.MISSED, Mark.TODAY, Mark.UPCOMING)
    streak = routine_streak(history)
    return Routine(
        today=today,
        week=week,
        week_done=sum(mark is Mark.DONE for _, mark in week),
        week_due=sum(mark in counted for _, mark in week),
        streak=streak,
        # Only when today has a routine to do: "today's routine keeps it going".
        at_risk=streak > 0 and history[-1] is Mark.TODAY and last_due_missed(history),
        ever_done=Mark.DONE in history,
    )


# --- The pain trend in words ---------------------------------------------------------------


@dataclass(frozen=True)
class Trend:
    direction: str  # "down", "up", "same", "low", "one", "stale"
    sentence: str


def pain_trend(daily: Sequence[tuple[date, int]], today: date) -> Trend | None:
    """The worst pain's direction in one sentence, from D (each logged day's highest worst
    pain, oldest first, since the plan started). 2 points is a real change on the 0-10
    scale (TAPER.md); less is "about the same". A rise is never cheered and never the
    client's fault: it says go gently and tell the therapist. None before any check-in.

    - this week: the newest D of the last 7 days against the mean D of the 7 days before;
    - since you started: that newest D against the first check-in day's D.
    A rise this week speaks first (a clinician wants that heard even after a good start)."""
    if not daily:
        return None
    first = daily[0][1]
    newest_day, newest = daily[-1]
    if newest_day < today - timedelta(days=6):
        return Trend(
            "stale",
            f"No check-in in the last 7 days. At your last one, on {newest_day.day} {newest_day:%b}, "
            f"your worst pain was {newest}.",
        )
    if len(daily) == 1:
        return Trend("one", f"One check-in so far: worst pain {newest}.")
    week_before = [
        value
        for day, value in daily
        if today - timedelta(days=13) <= day <= today - timedelta(days=7)
    ]
    change_week = newest - sum(week_before) / len(week_before) if week_before else None
    change_start = newest - first
    if change_week is not None and change_week >= MEANINGFUL:
        return Trend(
            "up",
            f"Up {round(change_week)} points this week: go gently, and tell your therapist "
            "if it keeps going.",
        )
    previous_day, previous = daily[-2]
    if (
        len(daily) > 2  # with two, the previous one is the start: said below
        and previous_day >= today - timedelta(days=6)
        and newest - previous >= MEANINGFUL
    ):
        # A flare since the last check-in is the freshest news: never drowned by a fall
        # against the start or last week's mean.
        return Trend(
            "up",
            f"Up {newest - previous} points since your check-in on {previous_day.day} "
            f"{previous_day:%b}: go gently, and tell your therapist if it keeps going.",
        )
    if change_start <= -MEANINGFUL:
        return Trend(
            "down",
            f"Down {-change_start} points since you started, from {first} to {newest}: "
            "that's a real change.",
        )
    if change_week is not None and change_week <= -MEANINGFUL:
        sentence = f"Down {round(-change_week)} points this week"
        if change_start >= MEANINGFUL:
            return Trend(
                "down",
                f"{sentence}. Still {change_start} above where you started ({first}): "
                "tell your therapist if it stays there.",
            )
        return Trend("down", f"{sentence}: that's a real change.")
    if change_start >= MEANINGFUL:
        return Trend(
            "up",
            f"Up {change_start} points since you started: tell your therapist if it keeps going.",
        )
    if newest <= RECOVERED:
        return Trend("low", f"Worst pain {newest} at your last check-in: that's low.")
    if change_week is not None:
        return Trend("same", f"About the same as last week: worst pain {newest}.")
    return Trend("same", f"About the same as when you started: worst pain {newest}.")
