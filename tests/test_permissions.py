"""Who may do what, for every URL: anonymous, the client, another client of the same
practice, the therapist and a therapist of another practice. Plus: POST-only actions
refuse GET, and every POST needs its CSRF token."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client as Browser
from django.urls import resolve, reverse

from aftercare.models import Completion, Exercise, PhaseChange, Plan, PlanStep, Protocol
from clients.models import AuditEvent, Client, MassageSession, Therapist, User
from tests import factories

THERAPIST_BACKEND = "django.contrib.auth.backends.ModelBackend"
CLIENT_BACKEND = "sesame.backends.ModelBackend"


@dataclass
class World:
    practice: object
    therapist: Therapist
    person: Client  # the client whose pages are at stake
    plan: Plan
    neighbour: Client  # another client of the same practice
    neighbour_plan: Plan
    stranger: Therapist  # a therapist of another practice
    exercise: Exercise  # one of the practice's library exercises


@pytest.fixture
def world(practice, therapist, client_person, plan) -> World:
    neighbour = factories.ClientFactory(practice=practice, name="Nina Neighbour")
    other_practice = factories.practice_with_library()
    stranger = factories.TherapistFactory(practice=other_practice)
    factories.ClientFactory(practice=other_practice, name="Olly Otherpractice")
    return World(
        practice=practice,
        therapist=therapist,
        person=client_person,
        plan=plan,
        neighbour=neighbour,
        neighbour_plan=factories.plan_for(neighbour, therapist),
        stranger=stranger,
        exercise=Exercise.objects.get(practice=practice, name="Psoas release"),
    )


def browser_as(role: str, world: World, **kwargs) -> Browser:
    browser = Browser(**kwargs)
    if role == "client":
        browser.force_login(world.person.user, backend=CLIENT_BACKEND)
    elif role == "neighbour":
        browser.force_login(world.neighbour.user, backend=CLIENT_BACKEND)
    elif role == "therapist":
        browser.force_login(world.therapist.user, backend=THERAPIST_BACKEND)
    elif role == "stranger":
        browser.force_login(world.stranger.user, backend=THERAPIST_BACKEND)
    else:
        assert role == "anonymous"
    return browser


# --- The URLs ----------------------------------------------------------------------------------


def _person_url(name: str):
    return lambda w: reverse(name, args=[w.person.public_id])


THERAPIST_PAGES = {
    "dashboard": lambda w: reverse("therapist-dashboard"),
    "client add": lambda w: reverse("therapist-client-add"),
    "client": _person_url("therapist-client"),
    "client edit": _person_url("therapist-client-edit"),
    "session": _person_url("therapist-session"),
    "plan edit": _person_url("therapist-plan-edit"),
    "exercises": lambda w: reverse("therapist-exercises"),
    "exercise add": lambda w: reverse("therapist-exercise-add"),
    "exercise edit": lambda w: reverse("therapist-exercise-edit", args=[w.exercise.pk]),
    "client delete": _person_url("therapist-client-delete"),
    "settings": lambda w: reverse("therapist-settings"),
}

# The pages that name one of this practice's clients or exercises in the URL.
PRACTICE_OBJECT_PAGES = [
    "client",
    "client edit",
    "session",
    "plan edit",
    "exercise edit",
    "client delete",
]


def _session_post(w: World) -> dict[str, str]:
    protocol = Protocol.objects.filter(practice=w.practice).first()
    data = {"date": "2026-01-05", "notes": "x", "protocol": str(protocol.pk), "phase": "hold"}
    data["send_link"] = "on"
    for step in protocol.steps.all():
        for field in ("flare", "subsiding", "maintenance"):
            data[f"step-{step.pk}-{field}"] = "none"
        data[f"step-{step.pk}-include"] = "on"
    return data


def _plan_edit_post(w: World) -> dict[str, str]:
    steps = list(PlanStep.objects.filter(plan=w.plan).order_by("order", "id"))
    data = {
        "form-TOTAL_FORMS": str(len(steps)),
        "form-INITIAL_FORMS": str(len(steps)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for i, step in enumerate(steps):
        data.update(
            {
                f"form-{i}-id": str(step.pk),
                f"form-{i}-skipped": "on",
                f"form-{i}-personal_note": "Hacked",
                f"form-{i}-flare": "none",
                f"form-{i}-subsiding": "none",
                f"form-{i}-maintenance": "none",
                f"form-{i}-video_url": "",
            }
        )
    return data


# URL, and a POST that would change something if the caller were allowed to make it.
THERAPIST_WRITES = {
    "client edit": (
        _person_url("therapist-client-edit"),
        lambda w: {
            "name": "Hacked Name",
            "email": "hacked@example.com",
            "time_zone": "Europe/London",
            "massage_cadence": "none",
            "suggested_channel": "push",
        },
    ),
    "session": (_person_url("therapist-session"), _session_post),
    "plan edit": (_person_url("therapist-plan-edit"), _plan_edit_post),
    "plan end": (_person_url("therapist-plan-end"), lambda w: {}),
    "phase": (_person_url("therapist-phase"), lambda w: {"phase": "hold", "pinned": "on"}),
    "link send": (_person_url("therapist-link-send"), lambda w: {}),
    "seen": (_person_url("therapist-seen"), lambda w: {}),
    "resume": (_person_url("therapist-resume"), lambda w: {"phase": "subsiding"}),
    "link revoke": (_person_url("therapist-link-revoke"), lambda w: {}),
    # An export writes a History line, so it is a POST like the other actions.
    "client export": (_person_url("therapist-client-export"), lambda w: {"format": "json"}),
    "client delete": (
        _person_url("therapist-client-delete"),
        lambda w: {"confirm_name": w.person.name},
    ),
    "alert resolve": (
        lambda w: reverse("therapist-alert-resolve", args=[w.person.public_id, 1]),
        lambda w: {},
    ),
    "exercise edit": (
        lambda w: reverse("therapist-exercise-edit", args=[w.exercise.pk]),
        lambda w: {
            "name": "Hacked exercise",
            "instructions": "x",
            "duration_minutes": "5",
            "video_url": "",
        },
    ),
}

THERAPIST_POST_ONLY = {
    "logout": lambda w: reverse("therapist-logout"),
    "plan end": _person_url("therapist-plan-end"),
    "phase": _person_url("therapist-phase"),
    "link send": _person_url("therapist-link-send"),
    "link revoke": _person_url("therapist-link-revoke"),
    "client export": _person_url("therapist-client-export"),
    "alert resolve": lambda w: reverse("therapist-alert-resolve", args=[w.person.public_id, 1]),
}

CLIENT_PAGES = {
    "today": lambda w: reverse("client-today"),
    "whole plan": lambda w: reverse("client-plan"),
    "check-in": lambda w: reverse("client-checkin"),
    "safety": lambda w: reverse("client-safety"),
    "progress": lambda w: reverse("client-progress"),
    "settings": lambda w: reverse("client-settings"),
}

# Open to anyone, by design (each has its own tests in test_client_pages / test_therapist_pages).
PUBLIC_URL_NAMES = {
    "therapist-login",
    "therapist-logout",
    "client-login",
    "client-short-login",  # the text message's form of client-login (tests/test_sms.py)
    "client-new-link",
    "client-warning-signs",
    "client-forget",
    "client-calendar",  # a calendar app has no session: a calendar-only signed token instead
    "client-start",  # the home-screen icon: Today if logged in, else "open your latest link"
    "client-offline",  # the page a phone keeps for no signal (names the practice if logged in)
}


def snapshot(w: World) -> dict[str, object]:
    """Everything a forbidden request might change."""
    person = Client.objects.get(pk=w.person.pk)
    exercise = Exercise.objects.get(pk=w.exercise.pk)
    return {
        "client": (
            person.name,
            person.email,
            person.time_zone,
            person.links_revoked_at,
            person.suggested_channel,
        ),
        "password": person.user.password,
        "plans": list(
            Plan.objects.order_by("pk").values_list("pk", "phase", "phase_pinned", "ended_at")
        ),
        "steps": list(
            PlanStep.objects.order_by("pk").values_list(
                "pk", "skipped", "personal_note", "flare", "subsiding", "maintenance"
            )
        ),
        "sessions": MassageSession.objects.count(),
        "phase changes": PhaseChange.objects.count(),
        "completions": Completion.objects.count(),
        "exercise": (exercise.name, exercise.instructions),
        "protocols": Protocol.objects.count(),
        "mails": len(mail.outbox),
        "users": User.objects.count(),
        "audit events": AuditEvent.objects.count(),
    }


def test_it_covers_every_therapist_and_client_url(world):
    """A new therapist or client URL must join this matrix (or PUBLIC_URL_NAMES)."""
    from aftercare.urls import urlpatterns

    names = [getattr(pattern, "name", None) or "" for pattern in urlpatterns]
    named = {name for name in names if name.startswith(("therapist-", "client-"))}
    url_makers = [
        *THERAPIST_PAGES.values(),
        *(url_for for url_for, _ in THERAPIST_WRITES.values()),
        *THERAPIST_POST_ONLY.values(),
        *CLIENT_PAGES.values(),
    ]
    covered = {resolve(make(world)).url_name for make in url_makers}
    covered |= {"therapist-library-install", "client-step-done"}
    # POST-only, the client's own notifications and reminder channel: tests/test_push*.py
    # and tests/test_channels*.py check ownership, CSRF and logged-out callers.
    covered |= {
        "client-reminder-channel",
        "client-push-subscribe",
        "client-push-unsubscribe",
        "client-push-test",
    }
    assert named - covered - PUBLIC_URL_NAMES == set()


# --- Anonymous ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page", THERAPIST_PAGES)
def test_it_sends_anonymous_visitors_of_therapist_pages_to_the_login(world, page):
    url = THERAPIST_PAGES[page](world)
    response = browser_as("anonymous", world).get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('therapist-login')}?next={url}"


@pytest.mark.parametrize("action", [*THERAPIST_WRITES, "library install"])
def test_it_sends_anonymous_writes_to_the_login_and_changes_nothing(world, action):
    if action == "library install":
        url, data = reverse("therapist-library-install"), {}
    else:
        url_for, data_for = THERAPIST_WRITES[action]
        url, data = url_for(world), data_for(world)
    before = snapshot(world)
    response = browser_as("anonymous", world).post(url, data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("therapist-login") + "?next=")
    assert snapshot(world) == before


@pytest.mark.parametrize("page", CLIENT_PAGES)
def test_it_sends_anonymous_visitors_of_client_pages_to_the_new_link_page(world, page):
    response = browser_as("anonymous", world).get(CLIENT_PAGES[page](world))
    assert response.status_code == 302
    assert response["Location"] == reverse("client-new-link")


def test_it_sends_an_anonymous_done_to_the_new_link_page(world):
    step = world.plan.steps.get(name="Passive SI reset")
    data = {"step": step.pk, "day": world.person.local_today().isoformat(), "slot": "morning"}
    response = browser_as("anonymous", world).post(reverse("client-step-done"), data)
    assert response.status_code == 302
    assert response["Location"] == reverse("client-new-link")
    assert not Completion.objects.exists()


@pytest.mark.parametrize(
    "name", ["client-new-link", "client-warning-signs", "therapist-login", "home"]
)
def test_it_keeps_the_public_pages_public(world, name):
    assert browser_as("anonymous", world).get(reverse(name)).status_code == 200


# --- A client on therapist pages ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["client", "neighbour"])
@pytest.mark.parametrize("page", THERAPIST_PAGES)
def test_it_answers_not_found_to_a_client_on_therapist_pages(world, role, page):
    response = browser_as(role, world).get(THERAPIST_PAGES[page](world))
    assert response.status_code == 404


@pytest.mark.parametrize("action", [*THERAPIST_WRITES, "library install"])
def test_it_answers_not_found_to_a_client_writing_on_therapist_pages(world, action):
    if action == "library install":
        url, data = reverse("therapist-library-install"), {}
    else:
        url_for, data_for = THERAPIST_WRITES[action]
        url, data = url_for(world), data_for(world)
    before = snapshot(world)
    response = browser_as("client", world).post(url, data)
    assert response.status_code == 404
    assert snapshot(world) == before


# --- The therapist -------------------------------------------------------------------------------


@pytest.mark.parametrize("page", THERAPIST_PAGES)
def test_it_shows_every_therapist_page_to_the_practices_therapist(world, page):
    response = browser_as("therapist", world).get(THERAPIST_PAGES[page](world))
    assert response.status_code == 200


def test_it_shows_the_therapist_only_their_practices_clients(world):
    page = browser_as("therapist", world).get(reverse("therapist-dashboard")).content.decode()
    assert world.person.name in page
    assert world.neighbour.name in page
    assert "Olly Otherpractice" not in page


# --- A therapist of another practice -----------------------------------------------------------------


@pytest.mark.parametrize("page", PRACTICE_OBJECT_PAGES)
def test_it_answers_not_found_to_another_practices_therapist(world, page):
    response = browser_as("stranger", world).get(THERAPIST_PAGES[page](world))
    assert response.status_code == 404


@pytest.mark.parametrize("action", THERAPIST_WRITES)
def test_it_lets_another_practices_therapist_change_nothing(world, action):
    url_for, data_for = THERAPIST_WRITES[action]
    before = snapshot(world)
    response = browser_as("stranger", world).post(url_for(world), data_for(world))
    assert response.status_code == 404
    assert snapshot(world) == before


@pytest.mark.parametrize("page", ["dashboard", "exercises"])
def test_it_shows_another_practices_therapist_none_of_this_practices_data(world, page):
    response = browser_as("stranger", world).get(THERAPIST_PAGES[page](world))
    assert response.status_code == 200
    content = response.content.decode()
    assert world.person.name not in content
    assert world.neighbour.name not in content
    assert reverse("therapist-exercise-edit", args=[world.exercise.pk]) not in content


def test_it_never_lets_another_practices_therapist_search_this_practice(world):
    response = browser_as("stranger", world).get(
        reverse("therapist-dashboard"), {"q": world.person.email}
    )
    assert world.person.name not in response.content.decode()


def test_it_hides_the_built_in_library_from_the_exercise_editor(world):
    builtin = Exercise.objects.filter(practice=None).first()
    response = browser_as("therapist", world).get(
        reverse("therapist-exercise-edit", args=[builtin.pk])
    )
    assert response.status_code == 404


def test_it_never_edits_another_clients_step_through_the_plan_formset(world):
    """The formset only edits the steps of the plan in the URL, whatever ids are posted."""
    data = _plan_edit_post(world)
    foreign = world.neighbour_plan.steps.get(name="Passive SI reset")
    data["form-0-id"] = str(foreign.pk)
    theirs_before = list(
        PlanStep.objects.filter(plan=world.neighbour_plan)
        .order_by("pk")
        .values_list("skipped", "personal_note", "flare", "subsiding", "maintenance")
    )
    response = browser_as("therapist", world).post(
        reverse("therapist-plan-edit", args=[world.person.public_id]), data
    )
    assert response.status_code in (200, 302)
    theirs_after = list(
        PlanStep.objects.filter(plan=world.neighbour_plan)
        .order_by("pk")
        .values_list("skipped", "personal_note", "flare", "subsiding", "maintenance")
    )
    assert theirs_after == theirs_before
    assert not PlanStep.objects.filter(plan=world.neighbour_plan, personal_note="Hacked").exists()
    assert PlanStep.objects.count() == 10


def test_it_refuses_a_session_with_another_practices_protocol(world):
    data = _session_post(world)
    data["protocol"] = str(Protocol.objects.get(practice=world.stranger.practice).pk)
    before = snapshot(world)
    response = browser_as("therapist", world).post(
        reverse("therapist-session", args=[world.person.public_id]), data
    )
    assert response.status_code == 200
    assert snapshot(world) == before


# --- Clients on client pages ---------------------------------------------------------------------


def test_it_shows_each_client_only_their_own_plan(world):
    mine = browser_as("client", world).get(reverse("client-today")).content.decode()
    theirs = browser_as("neighbour", world).get(reverse("client-today")).content.decode()
    my_step = world.plan.steps.get(name="Passive SI reset").pk
    their_step = world.neighbour_plan.steps.get(name="Passive SI reset").pk
    assert f'-{my_step}"' in mine
    assert f'-{their_step}"' not in mine
    assert f'-{their_step}"' in theirs
    assert f'-{my_step}"' not in theirs
    assert "Hi " + world.person.first_name in mine
    assert "Hi " + world.neighbour.first_name in theirs


@pytest.mark.parametrize(
    ("role", "ticked"),
    [
        ("anonymous", False),
        ("client", True),
        ("neighbour", False),
        ("therapist", False),
        ("stranger", False),
    ],
)
def test_it_lets_only_the_client_tick_their_own_steps(world, role, ticked):
    step = world.plan.steps.get(name="Passive SI reset")
    data = {
        "step": str(step.pk),
        "day": world.person.local_today().isoformat(),
        "slot": "morning",
        "action": "done",
    }
    browser_as(role, world).post(reverse("client-step-done"), data)
    assert Completion.objects.filter(step=step).exists() is ticked


@pytest.mark.parametrize("role", ["therapist", "stranger"])
@pytest.mark.parametrize("page", CLIENT_PAGES)
def test_it_shows_therapists_no_client_page(world, role, page):
    response = browser_as(role, world).get(CLIENT_PAGES[page](world))
    assert response.status_code == 302
    assert response["Location"] == reverse("client-new-link")


# --- POST only -----------------------------------------------------------------------------------


@pytest.mark.parametrize("action", THERAPIST_POST_ONLY)
def test_it_answers_get_on_a_therapist_action_with_405(world, action):
    before = snapshot(world)
    browser = browser_as("therapist", world)
    response = browser.get(THERAPIST_POST_ONLY[action](world))
    assert response.status_code == 405
    assert snapshot(world) == before
    assert browser.session.get(SESSION_KEY) == str(world.therapist.user.pk)


def test_it_installs_nothing_on_a_get_of_library_install(world):
    before = snapshot(world)
    response = browser_as("therapist", world).get(reverse("therapist-library-install"))
    assert response.status_code in (302, 405)
    assert snapshot(world) == before


@pytest.mark.parametrize("name", ["client-step-done", "client-forget"])
def test_it_answers_get_on_a_client_action_with_405(world, name):
    browser = browser_as("client", world)
    response = browser.get(reverse(name))
    assert response.status_code == 405
    assert browser.session.get(SESSION_KEY) == str(world.person.user.pk)


# --- CSRF ----------------------------------------------------------------------------------------


def _csrf_cases(w: World) -> dict[str, tuple[str, str, dict[str, str]]]:
    step = w.plan.steps.get(name="Passive SI reset")
    return {
        "login": (
            "anonymous",
            reverse("therapist-login"),
            {"email": w.therapist.user.email, "password": factories.DEFAULT_PASSWORD},
        ),
        "logout": ("therapist", reverse("therapist-logout"), {}),
        "client add": (
            "therapist",
            reverse("therapist-client-add"),
            {
                "name": "Csrf Victim",
                "email": "csrf@example.com",
                "time_zone": "Europe/London",
                "massage_cadence": "none",
            },
        ),
        **{
            action: ("therapist", url_for(w), data_for(w))
            for action, (url_for, data_for) in THERAPIST_WRITES.items()
        },
        "exercise add": (
            "therapist",
            reverse("therapist-exercise-add"),
            {"name": "Csrf exercise", "instructions": "x", "duration_minutes": "5"},
        ),
        "library install": ("therapist", reverse("therapist-library-install"), {}),
        "done": (
            "client",
            reverse("client-step-done"),
            {
                "step": str(step.pk),
                "day": w.person.local_today().isoformat(),
                "slot": "morning",
                "action": "done",
            },
        ),
        "forget": ("client", reverse("client-forget"), {}),
        "new link": ("anonymous", reverse("client-new-link"), {"email": w.person.email}),
    }


CSRF_ACTIONS = [
    "login",
    "logout",
    "client add",
    *THERAPIST_WRITES,
    "exercise add",
    "library install",
    "done",
    "forget",
    "new link",
]


@pytest.mark.parametrize("action", CSRF_ACTIONS)
def test_it_rejects_a_post_without_a_csrf_token(world, action):
    role, url, data = _csrf_cases(world)[action]
    browser = browser_as(role, world, enforce_csrf_checks=True)
    user_before = browser.session.get(SESSION_KEY)
    before = snapshot(world)
    clients_before = Client.objects.count()
    exercises_before = Exercise.objects.count()

    response = browser.post(url, data)

    assert response.status_code == 403
    assert snapshot(world) == before
    assert Client.objects.count() == clients_before
    assert Exercise.objects.count() == exercises_before
    assert browser.session.get(SESSION_KEY) == user_before  # nobody logged in or out


def _with_csrf(browser: Browser, page: str) -> str:
    browser.get(page)
    return browser.cookies["csrftoken"].value


def test_it_accepts_the_same_therapist_post_with_its_token(world):
    browser = browser_as("therapist", world, enforce_csrf_checks=True)
    token = _with_csrf(browser, reverse("therapist-client", args=[world.person.public_id]))
    response = browser.post(
        reverse("therapist-plan-end", args=[world.person.public_id]),
        {"csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    world.plan.refresh_from_db()
    assert world.plan.ended_at is not None


def test_it_accepts_the_same_client_post_with_its_token(world):
    browser = browser_as("client", world, enforce_csrf_checks=True)
    token = _with_csrf(browser, reverse("client-today"))
    step = world.plan.steps.get(name="Passive SI reset")
    response = browser.post(
        reverse("client-step-done"),
        {
            "csrfmiddlewaretoken": token,
            "step": str(step.pk),
            "day": world.person.local_today().isoformat(),
            "slot": "morning",
            "action": "done",
        },
    )
    assert response.status_code == 302
    assert Completion.objects.filter(step=step).count() == 1
