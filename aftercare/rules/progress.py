"""Progress for both sides: the pain series, an SVG-ready chart and one sentence drawn
from the data. Pure: plain data in, plain data out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

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


def encouragement(series: list[DayPoint], phase: Phase, maintenance_days: int = 7) -> str:
    """One sentence for the client drawn from their own data, never a fixed slogan."""
    logged = [p for p in series if p.worst is not None]
    recent_week = series[-7:]
    done_week = sum(p.done for p in recent_week)
    if phase is Phase.HOLD:
        return "Your routine is paused until your therapist has been in touch."
    if not logged:
        if done_week:
            return (
                f"You've done your routine on {done_week} of the last 7 days. A quick "
                "check-in lets your plan follow how your back feels."
            )
        return "Check in once a day: your plan follows how your back feels."
    first, newest = logged[0], logged[-1]
    if first.worst - newest.worst >= MEANINGFUL:
        return (
            f"Your worst pain has come down from {first.worst} to {newest.worst} "
            f"since {first.day.day} {first.day:%B}. That's a real change."
        )
    streak = low_streak(series)
    if phase is Phase.SUBSIDING and 0 < streak < maintenance_days:
        more = maintenance_days - streak
        return (
            f"{streak} check-in day{'s' if streak != 1 else ''} in a row at 0 or 1: "
            f"{more} more and you move to the weekly reset."
        )
    if newest.worst - first.worst >= MEANINGFUL:
        return (
            "Your pain has gone up lately. Go gently, and tell your therapist if it keeps climbing."
        )
    if done_week >= 5:
        return f"You've done your routine on {done_week} of the last 7 days. Keep it up."
    if phase is Phase.MAINTENANCE:
        return "Your back has settled. The weekly reset helps keep it that way."
    days = len(logged)
    return (
        f"You've checked in on {days} day{'s' if days != 1 else ''} in the last "
        f"{len(series)} days. Every check-in helps."
    )
