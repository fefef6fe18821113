"""What is wrong with a client's stored data, in the therapist's words.

Forms and services validate what they save, but a row can still hold a value the app
cannot use: written by SQL or an import, or made stale by a settings change (a video
host no longer in VIDEO_MP4_HOSTS, a zone an older tz database knew). Pages render such
a row with a fallback (times in the practice's zone, "video unavailable") and the
reminder planner and sender skip it; this module says what fell back and where to fix
it, for the client's page (`client_problems`) and the dashboard (`practice_problem_count`).

Reads only what it is given, plus one query for the plan's check-ins. Never raises.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import F, Q

from aftercare import selectors, videos
from aftercare.models import Plan, PlanStep, SymptomLog
from aftercare.rules.phases import Frequency
from clients.models import Client, Practice, known_zone, validate_weekdays

log = logging.getLogger(__name__)

LONGEST_PAUSE = timedelta(days=366)  # the Settings form pauses for 60 days at most
_FREQUENCIES = {frequency.value for frequency in Frequency}
_CADENCES = set(Client.Cadence.values)
_COLUMNS = ("flare", "subsiding", "maintenance")


def client_problems(client: Client, plan: Plan | None) -> list[str]:
    """One sentence per stored value that cannot be used; [] when all is well."""
    try:
        return [
            *_zone_problems(client),
            *_preference_problems(client),
            *_cadence_problems(client),
            *(_step_problems(plan) if plan is not None else []),
            *(_log_problems(plan) if plan is not None else []),
        ]
    except Exception:  # the list must never be what breaks a page
        log.exception("Client %s: could not list data problems", client.pk)
        return ["Some of this client's stored data could not be checked (see the server log)."]


def _zone_problems(client: Client) -> list[str]:
    problems = []
    practice = client.practice
    if known_zone(practice.time_zone) is None:
        problems.append(
            f"The practice's time zone “{practice.time_zone}” is not a real zone: therapist "
            "pages show times in UTC until it is fixed (Django admin, Practices)."
        )
    if known_zone(client.time_zone) is None:
        problems.append(
            f"Time zone “{client.time_zone}” is not a real zone: times shown in "
            f"{client.zone_name} until you fix it in Edit details."
        )
    return problems


def _preference_problems(client: Client) -> list[str]:
    problems = []
    fix = (
        f"no routine reminders until {client.first_name} fixes it in Settings "
        "(their Today page shows the usual times meanwhile)"
    )
    if not (isinstance(client.reset_weekday, int) and 0 <= client.reset_weekday <= 6):
        problems.append(f"Weekly reset day “{client.reset_weekday}” is not a weekday: {fix}.")
    try:
        validate_weekdays(client.three_x_days)
    except ValidationError:
        problems.append(
            f"The three days a week “{_short(client.three_x_days)}” are not three different "
            f"weekdays: {fix}."
        )
    if not problems:
        try:
            selectors.client_preferences(client, strict=True)
        except ValueError as error:
            reason = str(error.__cause__ or error)
            problems.append(f"Routine times don't work: {reason} So {fix}.")
    today = client.local_today()
    if client.paused_until and client.paused_until > today + LONGEST_PAUSE:
        problems.append(
            f"Reminders are paused until {client.paused_until:%d %b %Y}, longer than a pause "
            f"can be set: {client.first_name} can resume them in Settings."
        )
    return problems


def _cadence_problems(client: Client) -> list[str]:
    if client.massage_cadence in _CADENCES:
        return []
    return [
        f"Massage cadence “{client.massage_cadence}” is not one we know: no booking nudges "
        "until you fix it in Edit details."
    ]


def _step_problems(plan: Plan) -> list[str]:
    problems = []
    for step in plan.steps.all():
        video = step.video_problem
        if video:
            problems.append(
                f"Step “{step.name}”: its video link no longer works ({video}) "
                f"The client sees “video unavailable” until you fix it in Adjust steps."
            )
        for column in _COLUMNS:
            value = getattr(step, column)
            if value not in _FREQUENCIES:
                problems.append(
                    f"Step “{step.name}”: {column} frequency “{value}” is not one we know: "
                    "fix it in Adjust steps (until then no routine reminders in that phase)."
                )
    return problems


_LOG_CHOICES = ("safety", "compared", "legs", "sleep")
_LOG_SCALES = {"pain_now": 10, "worst_pain": 10, "worse_by": 10}


def _log_problems(plan: Plan) -> list[str]:
    problems = []
    choices = {
        name: {str(value) for value, _ in SymptomLog._meta.get_field(name).flatchoices}
        for name in _LOG_CHOICES
    }
    rows = SymptomLog.objects.filter(plan=plan).values(
        "at", "safety_signs", "steps_done", "worse_steps", *_LOG_CHOICES, *_LOG_SCALES
    )
    for row in rows:
        bad = [
            label
            for label, value, kind in (
                ("warning signs", row["safety_signs"], str),
                ("steps done", row["steps_done"], int),
                ("steps that made it worse", row["worse_steps"], int),
            )
            if not (isinstance(value, list) and all(_is(item, kind) for item in value))
        ]
        bad += [
            f"{name.replace('_', ' ')} “{row[name]}”"
            for name in _LOG_CHOICES
            if row[name] and row[name] not in choices[name]
        ]
        bad += [
            f"{name.replace('_', ' ')} {row[name]}"
            for name, top in _LOG_SCALES.items()
            if row[name] is not None and not 0 <= row[name] <= top
        ]
        if bad:
            problems.append(
                f"Check-in of {row['at']:%d %b %Y}: {', '.join(bad)}: not an answer the app "
                "stores; it may be left out of the pages (the export has it as stored)."
            )
    return problems


def _is(item: object, kind: type) -> bool:
    return isinstance(item, kind) and not isinstance(item, bool)


def _short(value: object, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def practice_problem_count(practice: Practice) -> int:
    """How many of the practice's clients have stored data the app can't use: a zone that
    is not real, an unknown cadence or reset day, evening not after morning, or a step
    of an active plan whose video link no longer parses. Three small queries (distinct
    zones, the clients matching, distinct video links of active plans), a fourth only
    when a link is broken; the JSON checks stay on the client's page."""
    zones = Client.objects.filter(practice=practice).values_list("time_zone", flat=True)
    # order_by(): Meta.ordering would add the name to SELECT DISTINCT (a row per client).
    bad_zones = [name for name in zones.order_by().distinct() if known_zone(name) is None]
    clients = set(
        Client.objects.filter(practice=practice)
        .filter(
            Q(time_zone__in=bad_zones)
            | ~Q(massage_cadence__in=_CADENCES)
            | Q(reset_weekday__gt=6)
            | Q(morning_time__gte=F("evening_time"))
        )
        .values_list("id", flat=True)
    )
    # A practice uses a handful of distinct links: check each once, then find who has
    # the broken ones (a query more only when one is broken).
    steps = PlanStep.objects.filter(plan__client__practice=practice, plan__ended_at=None)
    links = steps.exclude(video_url="").values_list("video_url", flat=True).order_by().distinct()
    broken = [url for url in links if not _parses(url)]
    if broken:
        clients |= set(steps.filter(video_url__in=broken).values_list("plan__client_id", flat=True))
    return len(clients)


def _parses(url: str) -> bool:
    try:
        videos.parse(url)
    except ValueError:
        return False
    return True
