"""Random and hostile input thrown at every form people fill in.

Each form is found by opening its page and reading the field names from the HTML, so
a new field is fuzzed the day it is added. For every submission:
- no server error;
- a form that does not accept the input (it answers 200 with the form again) saves
  nothing at all: every table is compared before and after;
- what people typed never comes back unescaped (no live <script> or handler).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.apps import apps
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_permissions import World, browser_as
from tests.test_permissions import world as permissions_world

world = permissions_world

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "' OR 1=1 --",
    "../../etc/passwd",
    "\x00",
    "\u202e\u0000\ud7ff",
    "9" * 400,
    "-1",
    "11",
    "1e309",
    "NaN",
    "2026-02-30",
    "25:61",
    "Mars/Olympus_Mons",
    "https://evil.example/video.mp4",
    "",
    " ",
]
# What a browser could send for one field: hostile strings, numbers, text, or several
# values for one name.
VALUE = st.one_of(
    st.sampled_from(HOSTILE),
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
    st.text(max_size=60),
)
FIELD_VALUE = st.one_of(VALUE, st.lists(VALUE, min_size=1, max_size=3))

# Tables whose rows a rejected submission must leave exactly as they were. Sessions are
# left out: opening a page may refresh the visitor's own session.
SKIPPED_TABLES = {"django_session", "django_admin_log"}

FIELD_NAME = re.compile(r'<(?:input|select|textarea)[^>]*\sname="([^"]+)"')
LIVE_SCRIPT = re.compile(r"<script>alert|<img src=x onerror", re.IGNORECASE)


def everything() -> dict[str, list[tuple]]:
    state = {}
    for model in apps.get_models():
        table = model._meta.db_table
        if table in SKIPPED_TABLES:
            continue
        state[table] = sorted(model.objects.values_list(), key=repr)
    return state


def _person(name: str) -> Callable[[World], str]:
    return lambda w: reverse(name, args=[w.person.public_id])


# (who fills it in, the page with the form)
FORMS: dict[str, tuple[str, Callable[[World], str]]] = {
    "therapist login": ("anonymous", lambda w: reverse("therapist-login")),
    "client add": ("therapist", lambda w: reverse("therapist-client-add")),
    "client edit": ("therapist", _person("therapist-client-edit")),
    "session and plan": ("therapist", _person("therapist-session")),
    "plan steps": ("therapist", _person("therapist-plan-edit")),
    "exercise add": ("therapist", lambda w: reverse("therapist-exercise-add")),
    "exercise edit": (
        "therapist",
        lambda w: reverse("therapist-exercise-edit", args=[w.exercise.pk]),
    ),
    "client delete": ("therapist", _person("therapist-client-delete")),
    "check-in": ("client", lambda w: reverse("client-checkin")),
    "settings": ("client", lambda w: reverse("client-settings")),
    "new link": ("anonymous", lambda w: reverse("client-new-link")),
}


def field_names(html: str) -> list[str]:
    names = {name for name in FIELD_NAME.findall(html) if name != "csrfmiddlewaretoken"}
    return sorted(names)


@pytest.mark.parametrize("form", FORMS)
def test_it_survives_random_and_hostile_input(world, form):
    role, page_for = FORMS[form]
    url = page_for(world)
    page = browser_as(role, world).get(url)
    assert page.status_code == 200
    names = field_names(page.content.decode())
    assert names, f"{form}: no fields found on {url}"

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    @given(data=st.fixed_dictionaries({}, optional={name: FIELD_VALUE for name in names}))
    def submit(data):
        browser = browser_as(role, world)
        before = everything()
        response = browser.post(url, data)
        assert response.status_code < 500, (form, data)
        body = response.content.decode(errors="replace")
        assert not LIVE_SCRIPT.search(body), (form, data)
        if response.status_code == 200:
            # The form came back: the input was refused, and nothing may have changed.
            assert everything() == before, (form, data)

    submit()


def test_it_reads_the_fields_of_the_check_in_form(world):
    """A guard on the fuzzer: it must see the real fields, or it would fuzz nothing."""
    page = browser_as("client", world).get(reverse("client-checkin")).content.decode()
    names = field_names(page)
    assert {"pain_now", "worst_pain"} <= set(names)


PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_it_escapes_what_people_type_in_pages_and_emails(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    """Valid submissions carrying markup: saved as text, shown as text everywhere."""
    therapist = browser_as("therapist", world)
    response = therapist.post(
        reverse("therapist-client-edit", args=[world.person.public_id]),
        {
            "name": f"Pat {PAYLOAD}",
            "email": world.person.email,
            "time_zone": "Europe/London",
            "massage_cadence": "weekly",
            "notes": PAYLOAD,
        },
    )
    assert response.status_code == 302
    world.person.refresh_from_db()
    assert world.person.name == f"Pat {PAYLOAD}"  # kept exactly as typed
    checkin = browser_as("client", world).get(reverse("client-checkin")).content.decode()
    key = re.search(r'name="submission_key" value="([^"]+)"', checkin).group(1)
    browser_as("client", world).post(
        reverse("client-checkin"),
        {
            "submission_key": key,
            "warning": "no",
            "pain_now": "3",
            "worst_pain": "4",
            "compared": "same",
            "legs": "none",
            "sleep": "fine",
            "note": PAYLOAD,
        },
    )
    from aftercare.models import SymptomLog

    assert SymptomLog.objects.filter(plan=world.plan, note=PAYLOAD).exists()
    with django_capture_on_commit_callbacks(execute=True):
        therapist.post(reverse("therapist-link-send", args=[world.person.public_id]))
    pages = [
        therapist.get(reverse("therapist-dashboard")),
        therapist.get(reverse("therapist-client", args=[world.person.public_id])),
        browser_as("client", world).get(reverse("client-today")),
        browser_as("client", world).get(reverse("client-plan")),
    ]
    for page in pages:
        body = page.content.decode()
        assert "<script>alert" not in body and "<img src=x" not in body
        assert "&lt;script&gt;alert" in body or page.request["PATH_INFO"].startswith("/c/")
    assert mailoutbox, "the link email was sent"
    for message in mailoutbox:
        html = message.alternatives[0][0] if message.alternatives else ""
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "\n" not in message.subject and "<script>" not in message.subject
