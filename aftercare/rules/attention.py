"""Who needs the therapist, and in what order (TAPER.md, "Attention").

A plan's state and check-in history -> one attention level, the reason in words, the time
of the newest trigger (the dashboard's second sort key) and the next time a clock can
raise the level (so the tick re-checks only those plans).

Pure: no Django, no I/O, no clock (the caller passes `now`). The thresholds are taper's:
they are defined once, there. docs/attention.md explains every trigger and its source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum, StrEnum

from aftercare.rules import taper
from aftercare.rules.phases import Phase
from aftercare.rules.taper import Compared, Legs, LogEntry, PlanState, Safety

# D of 9 or more is close to the worst pain imaginable: the therapist hears today.
SEVERE_PAIN = 9
# A clock's trigger (long flare, no check-in, no Maintenance) that still holds comes
# back this often after it first fired, so "Seen" is never final while it lasts.
AGAIN_EVERY = timedelta(days=7)


class Level(IntEnum):
    """Higher needs the therapist sooner. The value is the severity the dashboard sorts by."""

    CALM = 0
    WATCH = 10
    SOON = 20
    TODAY = 30
    URGENT = 40

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @property
    def emails_now(self) -> bool:
        """urgent and today are emailed at once; soon and watch wait for the digest."""
        return self >= Level.TODAY

    @property
    def in_digest(self) -> bool:
        return Level.WATCH <= self <= Level.SOON


class Trigger(StrEnum):
    """Every reason a plan can need the therapist: the one vocabulary of alert kinds."""

    SAFETY_EMERGENCY = "safety_emergency"
    SAFETY_DOCTOR = "safety_doctor"
    PAIN_SEVERE = "pain_severe"
    BOTH_LEGS = "both_legs"
    PAIN_HIGH = "pain_high"
    PAIN_JUMP = "pain_jump"
    MUCH_WORSE = "much_worse"
    WOKEN = "woken"
    NEW_LEG = "new_leg"
    STEP_RAISED_PAIN = "step_raised_pain"
    WORSE_THREE_TIMES = "worse_three_times"
    FLARE_OVER_7_DAYS = "flare_over_7_days"
    NO_LOG = "no_log"
    NO_MAINTENANCE_6_WEEKS = "no_maintenance_6_weeks"

    @property
    def level(self) -> Level:
        return LEVEL_OF[self]

    @property
    def label(self) -> str:
        return LABELS[self]

    @property
    def is_safety(self) -> bool:
        return self in (Trigger.SAFETY_EMERGENCY, Trigger.SAFETY_DOCTOR)


LEVEL_OF: dict[Trigger, Level] = {
    Trigger.SAFETY_EMERGENCY: Level.URGENT,
    Trigger.SAFETY_DOCTOR: Level.TODAY,
    Trigger.PAIN_SEVERE: Level.TODAY,
    Trigger.BOTH_LEGS: Level.TODAY,
    Trigger.PAIN_HIGH: Level.SOON,
    Trigger.PAIN_JUMP: Level.SOON,
    Trigger.MUCH_WORSE: Level.SOON,
    Trigger.WOKEN: Level.SOON,
    Trigger.NEW_LEG: Level.SOON,
    Trigger.STEP_RAISED_PAIN: Level.SOON,
    Trigger.WORSE_THREE_TIMES: Level.SOON,
    Trigger.FLARE_OVER_7_DAYS: Level.SOON,
    Trigger.NO_LOG: Level.WATCH,
    Trigger.NO_MAINTENANCE_6_WEEKS: Level.WATCH,
}

LABELS: dict[Trigger, str] = {
    Trigger.SAFETY_EMERGENCY: "Emergency warning sign",
    Trigger.SAFETY_DOCTOR: "Contact-a-doctor warning sign",
    Trigger.PAIN_SEVERE: "Worst pain 9 or more",
    Trigger.BOTH_LEGS: "Symptoms in both legs",
    Trigger.PAIN_HIGH: "Worst pain 7 or more",
    Trigger.PAIN_JUMP: "Pain 2 or more above recent days",
    Trigger.MUCH_WORSE: "Much worse",
    Trigger.WOKEN: "Woken by pain",
    Trigger.NEW_LEG: "New leg symptoms",
    Trigger.STEP_RAISED_PAIN: "A step raised pain",
    Trigger.WORSE_THREE_TIMES: "Worse 3 times in a row",
    Trigger.FLARE_OVER_7_DAYS: "In Flare over 7 days",
    Trigger.NO_LOG: "No check-in for 2 days",
    Trigger.NO_MAINTENANCE_6_WEEKS: "Not in Maintenance after 6 weeks",
}

# The order reasons are listed in within one level: what a clinician reads first.
_ORDER = {trigger: n for n, trigger in enumerate(Trigger)}


@dataclass(frozen=True)
class Found:
    trigger: Trigger
    at: datetime  # when it fired: the log's time, or the moment a clock ran out
    words: str  # the reason in words, "much worse"

    @property
    def level(self) -> Level:
        return self.trigger.level


@dataclass(frozen=True)
class Attention:
    level: Level
    reason: str  # "Pain 10 (was 7 on 3 Dec); much worse; woken by pain"
    at: datetime | None  # the newest trigger of the level: newest first within a level
    found: tuple[Found, ...]  # every trigger still standing, most severe first
    recheck_at: datetime | None  # the next time a clock can add a trigger


CALM = Attention(level=Level.CALM, reason="", at=None, found=(), recheck_at=None)


def assess(
    state: PlanState,
    logs: Sequence[LogEntry],
    now: datetime,
    seen_at: datetime | None = None,
    paused_until: date | None = None,
) -> Attention:
    """The attention level of one plan. `logs` is the history, oldest first (any order is
    accepted); `seen_at` is when the therapist last tapped "Seen": triggers up to then are
    dropped, except a safety hold, which stays until the therapist resumes the routine.
    `paused_until`: the client paused their reminders (away, ill) up to and including
    that local day: no check-in is expected until then, so that clock starts after it."""
    history = sorted((log for log in logs if log.at <= now), key=lambda log: log.at)
    found = _safety(state, history) + _newest_day(history) + _worse_in_a_row(history)
    clocks, recheck_at = _clocks(state, history, now, paused_until)
    found += clocks
    if seen_at is not None:
        found = [f for f in found if f.trigger.is_safety or f.at > seen_at]
    if not found:
        return Attention(Level.CALM, "", None, (), recheck_at)
    found.sort(key=lambda f: (-f.level, _ORDER[f.trigger]))
    level = found[0].level
    at = max(f.at for f in found if f.level == level)
    reason = "; ".join(dict.fromkeys(f.words for f in found))
    return Attention(level, _capitalised(reason), at, tuple(found), recheck_at)


def sort_key(level: int, at: datetime | None, tiebreak: int) -> tuple:
    """The order of plans within a practice: level first, then the newest trigger first;
    `tiebreak` (the client's id) makes it total. The dashboard's SQL
    (selectors.practice_clients) orders the same way, with the client's name between the
    trigger time and the id, so equal rows read alphabetically."""
    return (-level, -(at.timestamp() if at else float("-inf")), tiebreak)


# --- safety: a hold stays urgent (or today) until the therapist resumes ----------------------


def _safety(state: PlanState, history: list[LogEntry]) -> list[Found]:
    if state.phase is not Phase.HOLD:
        return []
    # The answers that put the plan on hold are stamped with the hold's own time.
    answers = [log for log in history if log.at >= state.phase_since and log.safety != Safety.NONE]
    if not answers:
        return []  # the therapist set the hold: they know
    emergency = [log for log in answers if log.safety == Safety.EMERGENCY]
    if emergency:
        log = emergency[-1]
        words = f"Emergency warning sign on {taper._on(log.day)}: on hold until you resume"
        return [Found(Trigger.SAFETY_EMERGENCY, log.at, words)]
    log = answers[-1]
    words = f"Contact-a-doctor warning sign on {taper._on(log.day)}: on hold until you resume"
    return [Found(Trigger.SAFETY_DOCTOR, log.at, words)]


# --- the newest logged day: how bad is it now ------------------------------------------------


def _newest_day(history: list[LogEntry]) -> list[Found]:
    answered = [log for log in history if log.answered_pain]
    if not answered:
        return []
    day = answered[-1].day
    today = [log for log in answered if log.day == day]
    found = _pain(answered, today, day)
    for log in today:
        if log.compared == Compared.MUCH_WORSE:
            found.append(Found(Trigger.MUCH_WORSE, log.at, "much worse"))
        if log.woken:
            found.append(Found(Trigger.WOKEN, log.at, "woken by pain"))
        if log.legs == Legs.BOTH:
            found.append(Found(Trigger.BOTH_LEGS, log.at, "symptoms in both legs"))
        elif log.legs == Legs.ONE and _legs_before(answered, log) == Legs.NONE:
            found.append(Found(Trigger.NEW_LEG, log.at, "new symptoms in one leg"))
        if log.worse_by >= taper.STEP_PAUSE_POINTS and log.worse_step_keys:
            words = f"a step raised pain by {log.worse_by} (paused)"
            found.append(Found(Trigger.STEP_RAISED_PAIN, log.at, words))
    return _first_of_each(found)


def _pain(answered: list[LogEntry], today: list[LogEntry], day: date) -> list[Found]:
    worst = max(log.worst_pain for log in today)
    reached = next(log for log in today if log.worst_pain == worst)
    before = _daily_worst([log for log in answered if log.day < day])
    was = f" (was {before[-1][1]} on {taper._on(before[-1][0])})" if before else ""
    found = []
    if worst >= SEVERE_PAIN:
        found.append(Found(Trigger.PAIN_SEVERE, reached.at, f"pain {worst}{was}"))
    elif worst >= taper.FLARE_PAIN:
        found.append(Found(Trigger.PAIN_HIGH, reached.at, f"pain {worst}{was}"))
    baseline = [value for _, value in before[-taper.BASELINE_DAYS :]]
    # D >= mean + 2, in whole numbers: 3*D >= sum + 3*2 (taper's flare rule).
    if (
        len(baseline) == taper.BASELINE_DAYS
        and taper.BASELINE_DAYS * worst
        >= sum(baseline) + taper.BASELINE_DAYS * taper.MEANINGFUL_POINTS
    ):
        mean = taper._num(sum(baseline) / taper.BASELINE_DAYS)
        # After "pain 8 (was 3 on 2 Dec)" the number is not said twice.
        said = f"pain {worst}, " if not found else ""
        words = f"{said}up from an average of {mean} on the 3 days before"
        found.append(Found(Trigger.PAIN_JUMP, reached.at, words))
    return found


def _daily_worst(logs: list[LogEntry]) -> list[tuple[date, int]]:
    worst: dict[date, int] = {}
    for log in logs:
        worst[log.day] = max(worst.get(log.day, 0), log.worst_pain)
    return sorted(worst.items())


def _legs_before(answered: list[LogEntry], log: LogEntry) -> Legs | None:
    earlier = [other for other in answered if other.at < log.at]
    return Legs(earlier[-1].legs) if earlier else None


def _first_of_each(found: list[Found]) -> list[Found]:
    """One entry per trigger: the day's first (a second "both legs" or "much worse" the
    same day is not news: no second email, and "Seen" covers it)."""
    first: dict[Trigger, Found] = {}
    for item in found:
        if item.trigger not in first or item.at < first[item.trigger].at:
            first[item.trigger] = item
    return list(first.values())


def own_level(result: Attention, log_at: datetime) -> Level:
    """The level of what one check-in itself raised (its own triggers), for the client's
    reply: "better" after a week of flare is not a hard day, whatever the plan's level."""
    return max((f.level for f in result.found if f.at == log_at), default=Level.CALM)


def _worse_in_a_row(history: list[LogEntry]) -> list[Found]:
    answered = [log for log in history if log.answered_pain][-taper.WORSE_REFER_IN_A_ROW :]
    if len(answered) < taper.WORSE_REFER_IN_A_ROW:
        return []
    if any(log.compared not in (Compared.WORSE, Compared.MUCH_WORSE) for log in answered):
        return []
    return [Found(Trigger.WORSE_THREE_TIMES, answered[-1].at, "worse on 3 check-ins in a row")]


# --- clocks: what time alone raises ------------------------------------------------------------


def _clocks(
    state: PlanState, history: list[LogEntry], now: datetime, paused_until: date | None = None
) -> tuple[list[Found], datetime | None]:
    """Triggers whose clock has run out, and the earliest clock still running."""
    if state.phase not in (Phase.FLARE, Phase.SUBSIDING):
        return [], None
    # Clocks run in real hours (UTC), as taper's do: adding 48 h to a local time across a
    # clock change would give 47 or 49. Dates in words are the client's (phase_since's zone).
    zone = state.phase_since.tzinfo
    phase_since, started = state.phase_since.astimezone(UTC), state.started.astimezone(UTC)
    last_log = history[-1].at.astimezone(UTC) if history else None
    clock_start = phase_since if last_log is None else max(last_log, phase_since)
    silent_since = clock_start.astimezone(zone).date()  # named in words, pause or not
    if paused_until is not None:
        # The pause ends at the start of the next local day: the check-in clock runs from then.
        back = datetime.combine(paused_until + timedelta(days=1), time(0), tzinfo=zone)
        clock_start = max(clock_start, back.astimezone(UTC))
    clocks = [
        (
            Trigger.NO_LOG,
            clock_start + taper.CHECKIN_DUE,
            f"no check-in since {taper._on(silent_since)}",
        ),
        (
            Trigger.NO_MAINTENANCE_6_WEEKS,
            started + taper.MAINTENANCE_REFER_AFTER,
            f"not in Maintenance 6 weeks after starting on {taper._on(state.started.date())}",
        ),
    ]
    if state.phase is Phase.FLARE:
        clocks.append(
            (
                Trigger.FLARE_OVER_7_DAYS,
                phase_since + taper.FLARE_REFER_AFTER,
                f"in Flare since {taper._on(state.phase_since.date())}",
            )
        )
    # The flare rule is "after 7 days" (strictly more); the others are "2 days or more".
    found, running = [], []
    for trigger, at, words in clocks:
        if now > at or (now == at and trigger is not Trigger.FLARE_OVER_7_DAYS):
            # Still true a week later is news again: a "Seen" covers one week, so a flare
            # at day 30 or a client silent for a month comes back to the therapist.
            weeks = (now - at) // AGAIN_EVERY
            found.append(Found(trigger, at + weeks * AGAIN_EVERY, words))
            running.append(at + (weeks + 1) * AGAIN_EVERY)
        else:
            running.append(at)
    return found, min(running) if running else None


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
