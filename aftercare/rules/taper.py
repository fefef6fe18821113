"""Which phase a plan is in: symptom history + current phase -> next phase + reason.

Pure: no Django, no I/O, no clock (the caller passes `now`). The same history always
gives the same decision. The rules, their sources and every reading of an ambiguous line
of TAPER.md are in docs/rules.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from aftercare.rules.phases import Phase

# Pain on the 0-10 NPRS; D of a day is the highest worst pain logged that day.
FLARE_PAIN = 7  # 7-10 is severe pain (Childs 2005): a day at 7 or more starts a flare
SETTLED_PAIN = 6  # ... so a day at 6 or less is no longer severe
MEANINGFUL_POINTS = 2  # 2 points is the smallest change that matters (Childs 2005; Farrar 2001)
MEANINGFUL_PERCENT = 30  # ... or 30% of the pain, whichever is less (Farrar 2001)
RECOVERED_PAIN = 1  # pain 0-1 counts as recovered (Williams 2014)
BASELINE_DAYS = 3  # a flare is a jump over the recent baseline (Costa 2019)
RELAPSE_APART = timedelta(hours=24)  # 2 logs this far apart: not one bad moment
CHECKIN_DUE = timedelta(hours=48)  # 2 days without a log in Flare or Subsiding
FLARE_REFER_AFTER = timedelta(days=7)  # still in Flare after 7 days: refer
MAINTENANCE_REFER_AFTER = timedelta(days=42)  # not in Maintenance within 6 weeks: refer
WORSE_REFER_IN_A_ROW = 3  # "worse" on 3 logs in a row: refer
STEP_PAUSE_POINTS = 2  # a step that raised pain by 2 or more is paused and flagged
OFFER_END_AFTER = timedelta(days=30)  # 30 days of Maintenance at D <= 1

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _Labelled(StrEnum):
    """The check-in's answers: one vocabulary for the rules, the models and the forms
    (SymptomLog's choices are built from these)."""

    @property
    def label(self) -> str:
        return _LABELS[type(self).__name__, self.value]


class Safety(_Labelled):
    NONE = "none"
    DOCTOR = "doctor"  # "contact a doctor today": pause the routine, alert the therapist
    EMERGENCY = "emergency"  # stop everything, emergency screen, alert the therapist


class Compared(_Labelled):
    MUCH_BETTER = "much_better"
    BETTER = "better"
    SAME = "same"
    WORSE = "worse"
    MUCH_WORSE = "much_worse"


class Legs(_Labelled):
    NONE = "none"
    ONE = "one"
    BOTH = "both"


class Sleep(_Labelled):
    FINE = "fine"
    WOKEN = "woken"


# Keyed by (enum, value): "none" is both a Safety and a Legs answer.
_LABELS = {
    ("Safety", Safety.NONE.value): "No warning signs",
    ("Safety", Safety.DOCTOR.value): "See a doctor today",
    ("Safety", Safety.EMERGENCY.value): "Emergency",
    ("Compared", Compared.MUCH_BETTER.value): "Much better",
    ("Compared", Compared.BETTER.value): "Better",
    ("Compared", Compared.SAME.value): "About the same",
    ("Compared", Compared.WORSE.value): "Worse",
    ("Compared", Compared.MUCH_WORSE.value): "Much worse",
    ("Legs", Legs.NONE.value): "No leg symptoms",
    ("Legs", Legs.ONE.value): "In one leg",
    ("Legs", Legs.BOTH.value): "In both legs",
    ("Sleep", Sleep.FINE.value): "Slept fine",
    ("Sleep", Sleep.WOKEN.value): "Woken by pain",
}


_WORSE = frozenset({Compared.WORSE, Compared.MUCH_WORSE})


@dataclass(frozen=True)
class LogEntry:
    at: datetime  # aware
    day: date  # the client's local date of the log
    pain_now: int  # 0-10
    worst_pain: int  # 0-10, worst since the last check-in
    compared: Compared = Compared.SAME
    safety: Safety = Safety.NONE
    flare_tap: bool = False  # "I'm having a flare"
    gone_tap: bool = False  # "My symptoms are gone"
    worse_step_keys: tuple[int, ...] = ()
    worse_by: int = 0  # how many points the step(s) raised pain
    legs: Legs = Legs.NONE  # pain, numbness or tingling in the legs
    woken: bool = False  # woken by pain

    def __post_init__(self) -> None:
        if not (0 <= self.pain_now <= 10 and 0 <= self.worst_pain <= 10):
            raise ValueError("Pain scores are 0 to 10.")
        if self.worse_by < 0:
            raise ValueError("worse_by cannot be negative.")

    @property
    def answered_pain(self) -> bool:
        """A "yes" to a safety question stops the form, so its pain fields mean nothing."""
        return self.safety is Safety.NONE


@dataclass(frozen=True)
class PlanState:
    phase: Phase
    phase_since: datetime  # when the current phase began, in the client's zone (see docs)
    started: datetime  # when the plan began
    pinned: bool = False
    maintenance_days: int = 7  # logged days at D <= 1 before Maintenance (Williams 2014)

    def __post_init__(self) -> None:
        if self.maintenance_days < 1:
            raise ValueError("maintenance_days must be 1 or more.")


@dataclass(frozen=True)
class Decision:
    phase: Phase
    changed: bool
    reason: str  # plain English for the therapist's timeline
    rule: str  # a short machine code, e.g. "flare_high_pain"


@dataclass(frozen=True)
class Alert:
    kind: str
    message: str
    step_key: int | None = None


def next_phase(state: PlanState, logs: Sequence[LogEntry], now: datetime) -> Decision:
    """The phase after the newest log; `logs` is the whole history, oldest first."""
    if state.phase is Phase.HOLD:
        return _stay(state, "no_change", "On hold: only the therapist can resume the routine")
    history = _history(logs, now)
    fresh = tuple(log for log in history if log.at > state.phase_since)
    if not fresh:
        # Missing logs never step a client down: without a new check-in nothing moves.
        return _stay(state, "no_change", f"No new check-in since {_phase_began(state)}")
    hold = _safety_hold(fresh)
    if hold is not None:  # safety beats everything, a pin included
        return hold
    if state.pinned:
        return _stay(state, "pinned", f"{state.phase.label} is pinned by the therapist")
    facts = _Facts(state=state, fresh=fresh, days=_daily_worst(history))
    for rule in _RULES[state.phase]:
        decision = rule(facts)
        if decision is not None:
            return decision
    return _stay(state, "no_change", f"Stays in {state.phase.label}: no change rule was met")


def checkin_overdue(
    phase: Phase, last_log_at: datetime | None, phase_since: datetime, now: datetime
) -> bool:
    """In Flare or Subsiding, 2 days without a log: the next reminder asks for a check-in."""
    if phase not in (Phase.FLARE, Phase.SUBSIDING):
        return False
    return now - _checkin_clock_start(last_log_at, phase_since) >= CHECKIN_DUE


def offer_to_end(state: PlanState, logs: Sequence[LogEntry], now: datetime) -> bool:
    """30 days of Maintenance at D <= 1: offer to end routine reminders."""
    if state.phase is not Phase.MAINTENANCE or now - state.phase_since < OFFER_END_AFTER:
        return False
    recent = [log for log in _history(logs, now) if log.at > now - OFFER_END_AFTER]
    # No log in 30 days is no evidence of recovery; missing logs never step a client down.
    return bool(recent) and all(
        log.answered_pain and log.worst_pain <= RECOVERED_PAIN for log in recent
    )


def alerts(state: PlanState, logs: Sequence[LogEntry], now: datetime) -> list[Alert]:
    """Refer-to-clinician and safety alerts for the therapist, most urgent first."""
    history = _history(logs, now)
    newest = history[-1] if history else None
    found = _safety_alerts(newest)
    if state.phase is Phase.FLARE and now - state.phase_since > FLARE_REFER_AFTER:
        found.append(_flare_too_long(state, now))
    if (
        state.phase in (Phase.FLARE, Phase.SUBSIDING)
        and now - state.started >= MAINTENANCE_REFER_AFTER
    ):
        found.append(_no_maintenance(state))
    found += _worse_in_a_row(history)
    found += _step_alerts(newest)
    last_log_at = newest.at if newest else None
    if checkin_overdue(state.phase, last_log_at, state.phase_since, now):
        found.append(_no_log_alert(state, last_log_at, now))
    return found


def _checkin_clock_start(last_log_at: datetime | None, phase_since: datetime) -> datetime:
    # A log from before the phase began does not count: the clock starts with the phase.
    return phase_since if last_log_at is None else max(last_log_at, phase_since)


# --- the facts the rules read -------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    state: PlanState
    fresh: tuple[LogEntry, ...]  # logs since the phase began; none of them a safety "yes"
    days: tuple[tuple[date, int], ...]  # (day, D) of every logged day, oldest first

    @property
    def newest(self) -> LogEntry:
        return self.fresh[-1]

    @property
    def today(self) -> int:
        """D of the newest log's day, from this phase's logs only: a log the therapist had
        already seen when setting the phase does not undo their choice."""
        return max(log.worst_pain for log in self.fresh if log.day == self.newest.day)

    @property
    def phase_days(self) -> tuple[tuple[date, int], ...]:
        """Logged days on or after the day the phase began (that day counts)."""
        first = self.state.phase_since.date()
        return tuple((day, worst) for day, worst in self.days if day >= first)


def _history(logs: Sequence[LogEntry], now: datetime) -> list[LogEntry]:
    """The logs up to `now`, oldest first; a log stamped after `now` has not happened yet."""
    return sorted((log for log in logs if log.at <= now), key=lambda log: log.at)


def _daily_worst(logs: Sequence[LogEntry]) -> tuple[tuple[date, int], ...]:
    worst: dict[date, int] = {}
    for log in logs:
        if log.answered_pain:
            worst[log.day] = max(worst.get(log.day, 0), log.worst_pain)
    return tuple(sorted(worst.items()))


# --- the transitions -----------------------------------------------------------------------


def _safety_hold(fresh: Sequence[LogEntry]) -> Decision | None:
    for level, rule, sign in (
        (Safety.EMERGENCY, "hold_emergency", "an emergency warning sign"),
        (Safety.DOCTOR, "hold_doctor", "a contact-a-doctor-today warning sign"),
    ):
        hits = [log for log in fresh if log.safety is level]
        if hits:
            reason = (
                f"Client answered yes to {sign} on {_on(hits[-1].day)}: "
                "routine paused until the therapist resumes it"
            )
            return _move(Phase.HOLD, rule, reason)
    return None


def _high_pain(facts: _Facts) -> Decision | None:
    if facts.today < FLARE_PAIN:
        return None
    rule = "maintenance_to_flare" if facts.state.phase is Phase.MAINTENANCE else "flare_high_pain"
    reason = f"Worst pain {facts.today} on {_on(facts.newest.day)} (7 or more starts a flare)"
    return _move(Phase.FLARE, rule, reason)


def _relative_jump(facts: _Facts) -> Decision | None:
    before = [worst for day, worst in facts.days if day < facts.newest.day][-BASELINE_DAYS:]
    if len(before) < BASELINE_DAYS:
        return None  # no baseline yet
    # D >= mean + 2, kept in whole numbers: 3*D >= sum + 3*2.
    if BASELINE_DAYS * facts.today < sum(before) + BASELINE_DAYS * MEANINGFUL_POINTS:
        return None
    mean = sum(before) / BASELINE_DAYS
    reason = (
        f"Worst pain {facts.today} on {_on(facts.newest.day)}, {_num(facts.today - mean)} "
        f"above the average of the previous 3 logged days ({_num(mean)}; 2 or more starts a flare)"
    )
    return _move(Phase.FLARE, "flare_relative_jump", reason)


def _client_flare(facts: _Facts) -> Decision | None:
    if not facts.newest.flare_tap:
        return None
    reason = f"Client reported a flare on {_on(facts.newest.day)}"
    return _move(Phase.FLARE, "flare_client", reason)


def _client_gone(facts: _Facts) -> Decision | None:
    log = facts.newest
    # A log that also says "flare" is contradictory; the safer reading wins.
    if not log.gone_tap or log.flare_tap or log.worst_pain > RECOVERED_PAIN:
        return None
    reason = f"Client said the symptoms are gone on {_on(log.day)}, worst pain {log.worst_pain}"
    return _move(Phase.MAINTENANCE, "maintenance_client_gone", reason)


def _flare_settled(facts: _Facts) -> Decision | None:
    days = facts.phase_days
    if facts.newest.flare_tap or len(days) < 2:
        return None
    peak = max(worst for _, worst in days)
    (first, worst1), (second, worst2) = days[-2:]
    if not (_settled(peak, worst1) and _settled(peak, worst2)):
        return None
    reason = (
        f"Worst pain {worst1} on {_on(first)} and {worst2} on {_on(second)}: 6 or less on "
        f"2 logged days in a row and {_drop_text(peak)} below the flare's peak of {peak}"
    )
    return _move(Phase.SUBSIDING, "subsiding_two_days", reason)


def _recovered(facts: _Facts) -> Decision | None:
    wanted = facts.state.maintenance_days
    days = facts.phase_days[-wanted:]
    # Missed days neither count nor reset: only logged days are in the list.
    if len(days) < wanted or any(worst > RECOVERED_PAIN for _, worst in days):
        return None
    reason = (
        f"Worst pain 1 or less on the last {wanted} logged days "
        f"({_on(days[0][0])} to {_on(days[-1][0])})"
    )
    return _move(Phase.MAINTENANCE, "maintenance_seven_days", reason)


def _relapse(facts: _Facts) -> Decision | None:
    newest = facts.newest
    if newest.worst_pain <= RECOVERED_PAIN:
        return None
    for earlier in reversed(facts.fresh[:-1]):
        if earlier.worst_pain <= RECOVERED_PAIN:
            return None  # a good log in between: the two are not one episode
        if newest.at - earlier.at >= RELAPSE_APART:
            reason = (
                f"Worst pain {earlier.worst_pain} on {_on(earlier.day)} and "
                f"{newest.worst_pain} on {_on(newest.day)}, at least 24 hours apart "
                "(2 or more twice ends Maintenance)"
            )
            return _move(Phase.SUBSIDING, "maintenance_to_subsiding", reason)
    return None


_Rule = Callable[[_Facts], Decision | None]

# Checked in order; the first that applies decides. Flare rules come first in every phase
# so a log that could be read both ways never steps a client down.
_RULES: dict[Phase, tuple[_Rule, ...]] = {
    Phase.FLARE: (_client_gone, _flare_settled),
    Phase.SUBSIDING: (_high_pain, _relative_jump, _client_flare, _client_gone, _recovered),
    # No relative rule here: it would fire first and make Maintenance -> Subsiding unreachable.
    Phase.MAINTENANCE: (_high_pain, _client_flare, _relapse),
}


def _settled(peak: int, worst: int) -> bool:
    """6 or less and at least 2 points or 30% of the peak below it, whichever is less.
    In hundredths of a point, to stay in whole numbers."""
    needed = min(100 * MEANINGFUL_POINTS, MEANINGFUL_PERCENT * peak)
    return worst <= SETTLED_PAIN and 100 * (peak - worst) >= needed


def _drop_text(peak: int) -> str:
    if MEANINGFUL_PERCENT * peak < 100 * MEANINGFUL_POINTS:
        return f"at least 30% ({_num(peak * MEANINGFUL_PERCENT / 100)} points)"
    return "at least 2 points"


def _move(phase: Phase, rule: str, reason: str) -> Decision:
    return Decision(phase=phase, changed=True, reason=reason, rule=rule)


def _stay(state: PlanState, rule: str, reason: str) -> Decision:
    return Decision(phase=state.phase, changed=False, reason=reason, rule=rule)


# --- alerts --------------------------------------------------------------------------------


def _safety_alerts(newest: LogEntry | None) -> list[Alert]:
    if newest is None or newest.safety is Safety.NONE:
        return []
    if newest.safety is Safety.EMERGENCY:
        message = (
            f"The client answered yes to an emergency warning sign on {_on(newest.day)} and "
            "was shown the emergency screen. All reminders are stopped until you resume the plan."
        )
        return [Alert("safety_emergency", message)]
    message = (
        f"The client answered yes to a contact-a-doctor-today warning sign on "
        f"{_on(newest.day)}. The routine is paused until you resume the plan."
    )
    return [Alert("safety_doctor", message)]


def _flare_too_long(state: PlanState, now: datetime) -> Alert:
    days = (now - state.phase_since).days
    message = (
        f"Still in Flare after {days} days (since {_on(state.phase_since.date())}). "
        "Consider referring the client to a clinician."
    )
    return Alert("flare_over_7_days", message)


def _no_maintenance(state: PlanState) -> Alert:
    message = (
        f"Not in Maintenance 6 weeks after the plan started on {_on(state.started.date())}. "
        "Consider referring the client to a clinician."
    )
    return Alert("no_maintenance_6_weeks", message)


def _worse_in_a_row(history: Sequence[LogEntry]) -> list[Alert]:
    answered = [log for log in history if log.answered_pain][-WORSE_REFER_IN_A_ROW:]
    if len(answered) < WORSE_REFER_IN_A_ROW or any(log.compared not in _WORSE for log in answered):
        return []
    message = (
        f'The client said "worse" on 3 check-ins in a row (the latest on '
        f"{_on(answered[-1].day)}). Consider referring the client to a clinician."
    )
    return [Alert("worse_three_times", message)]


def _step_alerts(newest: LogEntry | None) -> list[Alert]:
    if newest is None or newest.worse_by < STEP_PAUSE_POINTS:
        return []
    message = (
        f"The client said a step raised their pain by {newest.worse_by} points on "
        f"{_on(newest.day)}. The step is paused until you review it."
    )
    # One alert per step, even if the form sent a key twice.
    return [
        Alert("step_raised_pain", message, key) for key in dict.fromkeys(newest.worse_step_keys)
    ]


def _no_log_alert(state: PlanState, last_log_at: datetime | None, now: datetime) -> Alert:
    since = _checkin_clock_start(last_log_at, state.phase_since)
    message = (
        f"No check-in for {(now - since).days} days while in {state.phase.label}. "
        "The next reminder asks the client for one."
    )
    return Alert("no_log", message)


# --- wording -------------------------------------------------------------------------------


def _on(day: date) -> str:
    # "25 Nov" with fixed English month names: strftime's %b follows the process locale.
    return f"{day.day} {_MONTHS[day.month - 1]}"


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _phase_began(state: PlanState) -> str:
    return f"{state.phase.label} began on {_on(state.phase_since.date())}"
