"""The plan's shared vocabulary: phases and how often a step comes round.

Pure: no Django, no I/O. Both `taper.py` (which phase) and `schedule.py` (which slots)
import from here, so neither depends on the other.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    FLARE = "flare"
    SUBSIDING = "subsiding"
    MAINTENANCE = "maintenance"
    HOLD = "hold"

    @property
    def label(self) -> str:
        return PHASE_LABELS[self]

    @property
    def sentence(self) -> str:
        """One kind, plain sentence the client sees on the plan page and in emails."""
        return PHASE_SENTENCES[self]


class Frequency(StrEnum):
    NONE = "none"  # not in this phase
    BEFORE_ROUTINE = "before"  # heat: before each routine slot that has other steps
    OPTIONAL_BEFORE = "optional"  # heat, optional, before the routine
    TWICE_DAILY = "2x_day"  # morning and evening slots
    DAILY = "1x_day"  # morning slot
    THREE_A_WEEK = "3x_week"  # morning slot on the client's 3x-a-week days (default Mon/Wed/Fri)
    TWICE_A_WEEK = "2x_week"  # morning slot on the first and last of the 3x-a-week days
    WEEKLY = "1x_week"  # morning slot on the weekly reset day (default Sunday)

    @property
    def label(self) -> str:
        return FREQUENCY_LABELS[self]


PHASE_LABELS: dict[Phase, str] = {
    Phase.FLARE: "Flare",
    Phase.SUBSIDING: "Subsiding",
    Phase.MAINTENANCE: "Maintenance",
    Phase.HOLD: "On hold",
}

# The project's own words (TAPER.md: plan, routine, self-care; never prescription or treatment).
PHASE_SENTENCES: dict[Phase, str] = {
    Phase.FLARE: (
        "Your back is flared up, so the routine is twice a day for now: morning and evening."
    ),
    Phase.SUBSIDING: "Your back is settling, so the routine is once a day.",
    Phase.MAINTENANCE: (
        "Your symptoms are gone: a weekly reset and a few short sessions a week keep it that way."
    ),
    Phase.HOLD: "Your routine is paused. Your therapist will be in touch.",
}

FREQUENCY_LABELS: dict[Frequency, str] = {
    Frequency.NONE: "not in this phase",
    Frequency.BEFORE_ROUTINE: "before each routine",
    Frequency.OPTIONAL_BEFORE: "optional, before the routine",
    Frequency.TWICE_DAILY: "twice a day",
    Frequency.DAILY: "once a day",
    Frequency.THREE_A_WEEK: "3 times a week",
    Frequency.TWICE_A_WEEK: "twice a week",
    Frequency.WEEKLY: "once a week",
}
