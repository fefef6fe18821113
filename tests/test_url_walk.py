"""Every URL in the URLconf, walked as every kind of visitor.

Not a hand-picked list: the walk reads the URLconf, so a URL added tomorrow is walked
tomorrow. For each URL and each visitor (anonymous, the client, another client of the
same practice, the practice's therapist, another practice's therapist) it sends a GET,
an empty POST and a POST full of plausible answers, and proves:
- no request ends in a server error;
- no visitor who is not allowed changes anything of the client's or the practice's;
- nobody but the client and their therapist ever sees the client's name or notes;
- the therapist never sees another practice's client.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from django.core import mail
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

from aftercare import checkins
from aftercare.models import Alert, Completion, PhaseChange, Plan, PlanStep, Reminder, SymptomLog
from aftercare.outbox import reminders
from aftercare.rules.phases import Phase
from clients import services as people
from clients.models import Client, MassageSession
from tests import factories
from tests.test_permissions import World, browser_as
from tests.test_permissions import world as permissions_world

world = permissions_world  # the same cast of five as the permission matrix

ROLES = ["anonymous", "client", "neighbour", "therapist", "stranger"]
FORBIDDEN_ON_THERAPIST_URLS = ["anonymous", "client", "neighbour", "stranger"]
FORBIDDEN_ON_CLIENT_URLS = ["anonymous", "neighbour", "therapist", "stranger"]
SECRET_NOTE = "secret-session-note-7f3a"
PERSON_NAME = "Quilla Markerperson"
OTHER_NAME = "Olly Otherpractice"
OTHER_PRACTICE_KEYS = ("other clients", "other plans")


def walked_patterns() -> list[tuple[str, URLPattern]]:
    """(name, pattern) of every URL outside Django's admin (walked separately below)."""
    found = []
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            continue  # the admin site: its own permission system, checked below
        assert entry.name, f"every URL needs a name so the walk can report it: {entry}"
        found.append((entry.name, entry))
    return found


PATTERNS = dict(walked_patterns())


def arguments(name: str, pattern: URLPattern, w: World) -> dict[str, object]:
    """Real ids of the client at stake for each URL argument (a wrong id is tested by
    the neighbour and the stranger, whose own objects these are not)."""
    assert isinstance(pattern.pattern, RoutePattern)
    values = {
        "public_id": w.person.public_id,
        "alert_id": alert_for(w).pk,
        "pk": w.exercise.pk,
        "action": "done",
        "token": "not-a-real-token",
        "code": "tnot-a-real-token",  # a text's short link: Today's letter, a bad token
        "kind": "routine",
        "filename": "demo-video.mp4",
    }
    missing = set(pattern.pattern.converters) - set(values)
    assert not missing, f"{name}: teach the URL walk an argument for {missing}"
    return {key: values[key] for key in pattern.pattern.converters}


def alert_for(w: World) -> Alert:
    alert = Alert.objects.filter(plan=w.plan).first()
    return alert or Alert.objects.create(
        plan=w.plan, kind="worse_three_times", severity=50, message="Worse three times"
    )


def plausible_answers(w: World) -> dict[str, str]:
    """One POST body that every write in the app would accept from an allowed caller."""
    step = w.plan.steps.get(name="Passive SI reset")
    return {
        "name": "Changed Name",
        "email": "changed@example.com",
        "time_zone": "Europe/Paris",
        "massage_cadence": "weekly",
        "date": "2026-01-05",
        "notes": "changed",
        "phase": Phase.HOLD,
        "pinned": "on",
        "confirm": "on",
        "confirm_name": w.person.name,
        "step": str(step.pk),
        "day": w.person.local_today().isoformat(),
        "slot": "morning",
        "pain_now": "9",
        "worst_pain": "9",
        "compared": "much_worse",
        "legs": "none",
        "sleep": "fine",
        "submission_key": str(uuid.uuid4()),
        "pause_days": "30",
        "routine_emails": "",
        "booking_emails": "",
        "instructions": "changed",
        "duration_minutes": "5",
        "password": factories.DEFAULT_PASSWORD,
    }


def person_state(w: World) -> dict[str, object]:
    """Everything of the client at stake and of the other practice a request could change."""
    person = Client.objects.filter(pk=w.person.pk).first()
    if person is None:  # their therapist deleted them (allowed): only the rest can be compared
        return {"client deleted": True, **other_practice_state(w)}
    plans = Plan.objects.filter(client=person)
    return {
        "client": (
            person.name,
            person.email,
            person.time_zone,
            person.massage_cadence,
            person.active,
            person.routine_emails,
            person.booking_emails,
            person.paused_until,
            person.links_revoked_at,
        ),
        "password": person.user.password,
        "plans": list(plans.order_by("pk").values_list("pk", "phase", "phase_pinned", "ended_at")),
        "steps": list(
            PlanStep.objects.filter(plan__client=person)
            .order_by("pk")
            .values_list("pk", "skipped", "personal_note", "flare", "subsiding", "maintenance")
        ),
        "logs": SymptomLog.objects.filter(plan__client=person).count(),
        "completions": Completion.objects.filter(step__plan__client=person).count(),
        "phase changes": PhaseChange.objects.filter(plan__client=person).count(),
        "alerts": list(Alert.objects.filter(plan__client=person).values_list("pk", "resolved_at")),
        "reminders": list(Reminder.objects.filter(client=person).values_list("pk", "status")),
        "sessions": MassageSession.objects.filter(client=person).count(),
        "exercise": w.exercise.__class__.objects.filter(pk=w.exercise.pk)
        .values_list("name", "instructions")
        .first(),
        "mails to the client": sum(w.person.email in m.to for m in mail.outbox),
        **other_practice_state(w),
    }


def other_practice_state(w: World) -> dict[str, object]:
    other = w.stranger.practice
    return {
        "other clients": list(
            Client.objects.filter(practice=other).order_by("pk").values_list("pk", "name", "email")
        ),
        "other plans": list(
            Plan.objects.filter(client__practice=other).values_list("pk", "phase", "ended_at")
        ),
    }


@pytest.fixture
def cast(world: World) -> World:
    """The permission matrix's cast, with a recognisable client who has a history."""
    Client.objects.filter(pk=world.person.pk).update(name=PERSON_NAME)
    world.person.refresh_from_db()
    people.session_record(
        client=world.person, therapist=world.therapist, date=date(2026, 1, 5), notes=SECRET_NOTE
    )
    checkins.symptom_log_create(
        plan=world.plan,
        submission_key=uuid.uuid4(),
        answers={"pain_now": 4, "worst_pain": 5, "note": SECRET_NOTE},
    )
    other_client = Client.objects.get(name=OTHER_NAME)
    factories.plan_for(other_client, world.stranger)
    alert_for(world)
    reminders.heartbeat()  # /healthz answers 503 before beat's first tick
    return world


def requests_for(w: World) -> list[tuple[str, dict[str, str]]]:
    return [("get", {}), ("post", {}), ("post", plausible_answers(w))]


def send(role: str, w: World, url: str, method: str, data: dict[str, str]):
    browser = browser_as(role, w)
    return getattr(browser, method)(url, data)


def assert_no_leak(role: str, name: str, response) -> None:
    body = response.content.decode(errors="replace")
    if role in ("anonymous", "neighbour", "stranger"):
        assert PERSON_NAME not in body, f"{role} saw the client's name on {name}"
        assert SECRET_NOTE not in body, f"{role} saw the client's notes on {name}"
    assert OTHER_NAME not in body or role == "stranger", f"{role} saw another practice on {name}"


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_it_walks_every_url_as_every_visitor(cast, name):
    pattern = PATTERNS[name]
    url = reverse(name, kwargs=arguments(name, pattern, cast))
    forbidden = (
        FORBIDDEN_ON_THERAPIST_URLS
        if name.startswith("therapist-")
        else FORBIDDEN_ON_CLIENT_URLS
        if name.startswith("client-")
        else ["anonymous", "neighbour", "stranger"]
    )
    # The visitors who may not act go first, then those who may (their writes are allowed).
    for role in [*forbidden, *(r for r in ROLES if r not in forbidden)]:
        for method, data in requests_for(cast):
            before = person_state(cast)
            response = send(role, cast, url, method, data)
            where = f"{method.upper()} {url} as {role}"
            assert response.status_code < 500, where
            assert_no_leak(role, name, response)
            after = person_state(cast)
            if role == "stranger":
                # Their own practice is theirs to change (adding a client there is fine).
                mine = [k for k in before if k not in OTHER_PRACTICE_KEYS]
                assert {k: after[k] for k in mine} == {k: before[k] for k in mine}, (
                    f"{where} changed this practice's data"
                )
            elif role in forbidden:
                assert after == before, f"{where} changed the client's data"
            else:
                assert other_practice_state(cast) == {k: before[k] for k in OTHER_PRACTICE_KEYS}, (
                    f"{where} changed another practice's data"
                )


def test_it_walks_at_least_every_page_people_use(cast):
    """A guard on the walk itself: if reading the URLconf broke, it would walk nothing."""
    assert {"therapist-dashboard", "therapist-client", "client-today", "client-checkin"} <= set(
        PATTERNS
    )
    assert len(PATTERNS) >= 30


@pytest.mark.parametrize("role", ["anonymous", "client", "neighbour", "therapist", "stranger"])
def test_it_keeps_the_admin_to_staff(cast, role):
    response = browser_as(role, cast).get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    changelist = browser_as(role, cast).get(reverse("admin:clients_client_changelist"))
    assert changelist.status_code == 302
