"""The routine as the client walks it on Today: which slot comes first, how far along it
is in words, and a step's sets, reps and hold in plain words. Pure: plain data in, plain
data out (no Django, no clock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time


def dosage_words(sets: int | None, reps: int | None, hold_seconds: int | None) -> str:
    """ "2 sets of 10, hold 5 seconds"; "" when the step gives none of them."""
    parts = []
    if sets and reps:
        parts.append(f"{sets} {_plural(sets, 'set')} of {reps}")
    elif sets:
        parts.append(f"{sets} {_plural(sets, 'set')}")
    elif reps:
        parts.append(f"{reps} {_plural(reps, 'time')}")
    if hold_seconds:
        parts.append(f"hold {duration_words(hold_seconds)}")
    text = ", ".join(parts)
    return text[:1].upper() + text[1:]


def duration_words(seconds: int) -> str:
    """45 -> "45 seconds", 60 -> "1 minute", 90 -> "1 minute 30 seconds"."""
    minutes, rest = divmod(seconds, 60)
    words = []
    if minutes:
        words.append(f"{minutes} {_plural(minutes, 'minute')}")
    if rest or not minutes:
        words.append(f"{rest} {_plural(rest, 'second')}")
    return " ".join(words)


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


@dataclass(frozen=True)
class StepState:
    minutes: int
    done: bool
    optional: bool = False  # heat: a warm-up, the routine is finished without it


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    minutes_left: int
    finished: bool  # every step that isn't optional is done

    @property
    def words(self) -> str:
        """ "2 of 4 done, about 13 minutes left", for the client and for screen readers."""
        if self.finished:
            return "All done"
        about = f"about {self.minutes_left} {_plural(self.minutes_left, 'minute')}"
        if self.done == 0:
            return f"{self.total} {_plural(self.total, 'step')}, {about}"
        return f"{self.done} of {self.total} done, {about} left"

    @property
    def shown(self) -> int:
        """The progress bar's value: full once finished (skipped heat doesn't hold it back)."""
        return self.total if self.finished else self.done


def routine_progress(steps: Sequence[StepState]) -> Progress:
    """How far a slot's routine is. Heat counts as a step (it is on the list and has a
    timer) but is optional: skipping it still finishes the routine (TAPER.md: "optional,
    before the routine")."""
    done = sum(1 for step in steps if step.done)
    required = [step for step in steps if not step.optional]
    finished = all(step.done for step in (required or steps))
    left = 0 if finished else sum(max(step.minutes, 0) for step in steps if not step.done)
    return Progress(done=done, total=len(steps), minutes_left=left, finished=finished)


def current_slot(slots: Sequence[tuple[time, bool]], now: time) -> int:
    """Which of today's slots (planned time, finished) Today puts first: the one that is
    now or next. Evening once its time has come; before that the morning until it is
    finished, then the evening. With no slots, 0."""
    if len(slots) < 2:
        return 0
    (_morning_at, morning_finished), (evening_at, _evening_finished) = slots[0], slots[-1]
    if now >= evening_at or morning_finished:
        return len(slots) - 1
    return 0
