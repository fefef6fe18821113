"""Double submit (issue 10, item 4): a form that creates something creates it once.

Sent twice with the same submission key (a double click, a retry, a phone that resent
the post), every creating therapist form answers the second time with the first one's
redirect: no second row, no second email, no 500. On PostgreSQL, five posts at once of
Record session and assign plan give one session and one plan with the same key, and no
500 with different keys or none (each assignment ends the one before, as one after the
other would).
"""

from __future__ import annotations

import re
import threading
import uuid

import pytest
from django.core import mail
from django.db import IntegrityError, connection
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from aftercare import services, submissions
from aftercare.models import Exercise, Plan, Protocol
from clients.models import AuditEvent, Client, MassageSession, SubmissionKey
from tests import factories

KEY = re.compile(r'<input type="hidden" name="submission_key" value="([0-9a-f-]{36})">')


def key_on(response) -> str:
    """The submission key the page's form carries."""
    found = KEY.findall(response.content.decode())
    assert len(found) == 1, "the form carries exactly one submission key"
    return found[0]


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


session_data = factories.session_form


def client_data(**overrides) -> dict[str, str]:
    data = {
        "name": "Robin Ash",
        "email": "robin@example.com",
        "time_zone": "Europe/Berlin",
        "massage_cadence": "weekly",
    }
    data.update(overrides)
    return data


def exercise_data(**overrides) -> dict[str, str]:
    data = {
        "name": "Cat-camel",
        "instructions": "Round, then arch, slowly.",
        "duration_minutes": "4",
        "video_url": "https://vimeo.com/76979871",
    }
    data.update(overrides)
    return data


@pytest.fixture
def bare_therapist_client(db):
    """A therapist of a practice whose library is still empty, logged in."""
    therapist = factories.TherapistFactory(practice=factories.PracticeFactory())
    client = Browser()
    client.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    client.therapist = therapist
    return client


# --- Every creating form carries a key ----------------------------------------------------------


def test_every_creating_form_carries_a_fresh_submission_key(
    therapist_client, client_person, bare_therapist_client
):
    session_url = reverse("therapist-session", args=[client_person.public_id])
    pages = [
        (therapist_client, session_url),
        (therapist_client, reverse("therapist-client-add")),
        (therapist_client, reverse("therapist-exercise-add")),
        (bare_therapist_client, reverse("therapist-exercises")),  # "Add the low-back plan"
    ]
    for browser, url in pages:
        first, second = key_on(browser.get(url)), key_on(browser.get(url))
        assert first != second, f"{url}: each form shown gets its own key"
        assert "data-submit-once" in browser.get(url).content.decode()
    person = factories.ClientFactory(practice=bare_therapist_client.therapist.practice)
    no_protocol = bare_therapist_client.get(reverse("therapist-session", args=[person.public_id]))
    assert "Your library has no plan yet" in no_protocol.content.decode()
    key_on(no_protocol)


def test_the_therapist_pages_load_the_submit_once_script(therapist_client):
    page = therapist_client.get(reverse("therapist-client-add")).content.decode()
    assert re.search(r'<script src="/static/js/submit-once[^"]*\.js" defer>', page)


def test_edit_forms_carry_no_key(therapist_client, client_person, practice):
    exercise = Exercise.objects.filter(practice=practice).first()
    for url in [
        reverse("therapist-client-edit", args=[client_person.public_id]),
        reverse("therapist-exercise-edit", args=[exercise.pk]),
    ]:
        assert not KEY.findall(therapist_client.get(url).content.decode())


# --- Twice with the same key: the first result --------------------------------------------------


def test_record_session_and_assign_twice_gives_one_session_one_plan_one_email(
    therapist_client, client_person, practice, django_capture_on_commit_callbacks
):
    url = reverse("therapist-session", args=[client_person.public_id])
    data = {**session_data(practice), "submission_key": key_on(therapist_client.get(url))}

    with django_capture_on_commit_callbacks(execute=True):
        first = therapist_client.post(url, data)
    with django_capture_on_commit_callbacks(execute=True):
        second = therapist_client.post(url, data, follow=True)

    assert first.status_code == 302
    assert first["Location"] == reverse("therapist-client", args=[client_person.public_id])
    assert second.redirect_chain == [(first["Location"], 302)]
    assert second.status_code == 200
    assert submissions.REPEATED in messages_of(second)
    assert MassageSession.objects.filter(client=client_person).count() == 1
    assert Plan.objects.filter(client=client_person).count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [client_person.email]
    assert AuditEvent.objects.filter(client=client_person, action="plan_assigned").count() == 1


def test_add_client_twice_gives_one_client(therapist_client, practice):
    url = reverse("therapist-client-add")
    data = {**client_data(), "submission_key": key_on(therapist_client.get(url))}

    first = therapist_client.post(url, data)
    second = therapist_client.post(url, data)

    added = Client.objects.get(practice=practice, email="robin@example.com")
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert first["Location"] == reverse("therapist-session", args=[added.public_id])
    assert Client.objects.filter(practice=practice, name="Robin Ash").count() == 1
    assert AuditEvent.objects.filter(client=added, action="client_added").count() == 1


def test_add_exercise_twice_gives_one_exercise(therapist_client, practice):
    url = reverse("therapist-exercise-add")
    data = {**exercise_data(), "submission_key": key_on(therapist_client.get(url))}

    first = therapist_client.post(url, data)
    second = therapist_client.post(url, data)

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("therapist-exercises")
    assert Exercise.objects.filter(practice=practice, name="Cat-camel").count() == 1


def test_install_the_library_twice_gives_one_copy(bare_therapist_client):
    practice = bare_therapist_client.therapist.practice
    person = factories.ClientFactory(practice=practice)
    session_url = reverse("therapist-session", args=[person.public_id])
    key = key_on(bare_therapist_client.get(session_url))
    data = {"back": session_url, "submission_key": key}

    first = bare_therapist_client.post(reverse("therapist-library-install"), data)
    second = bare_therapist_client.post(reverse("therapist-library-install"), data)

    assert first["Location"] == second["Location"] == session_url
    assert Protocol.objects.filter(practice=practice).count() == 1
    assert Exercise.objects.filter(practice=practice).count() == 5


def test_install_the_library_from_two_tabs_still_gives_one_copy(bare_therapist_client):
    practice = bare_therapist_client.therapist.practice
    url = reverse("therapist-library-install")
    for _ in range(2):  # two forms, two keys
        response = bare_therapist_client.post(url, {"submission_key": str(uuid.uuid4())})
        assert response["Location"] == reverse("therapist-exercises")
    assert Protocol.objects.filter(practice=practice).count() == 1
    assert Exercise.objects.filter(practice=practice).count() == 5


# --- What a key does not do -----------------------------------------------------------------------


def test_a_refused_form_does_not_use_up_its_key(therapist_client, practice):
    url = reverse("therapist-client-add")
    key = key_on(therapist_client.get(url))

    refused = therapist_client.post(
        url, {**client_data(email="not an address"), "submission_key": key}
    )
    assert refused.status_code == 200
    fixed = therapist_client.post(url, {**client_data(), "submission_key": key})

    assert fixed.status_code == 302
    assert Client.objects.filter(practice=practice, email="robin@example.com").count() == 1


def test_two_forms_with_two_keys_create_two_things(therapist_client, practice):
    url = reverse("therapist-exercise-add")
    for _ in range(2):
        therapist_client.post(
            url, {**exercise_data(), "submission_key": key_on(therapist_client.get(url))}
        )
    assert Exercise.objects.filter(practice=practice, name="Cat-camel").count() == 2


def test_a_post_without_a_key_still_saves(therapist_client, practice):
    response = therapist_client.post(reverse("therapist-client-add"), client_data())
    assert response.status_code == 302
    assert Client.objects.filter(practice=practice, email="robin@example.com").exists()


def test_a_key_another_user_claimed_answers_bad_request(therapist_client, practice, therapist):
    other = factories.TherapistFactory(practice=practice)
    key = uuid.uuid4()
    SubmissionKey.objects.create(key=key, user=other.user, result_url="/t/")
    response = therapist_client.post(
        reverse("therapist-client-add"), {**client_data(), "submission_key": str(key)}
    )
    assert response.status_code == 400
    assert not Client.objects.filter(practice=practice, email="robin@example.com").exists()


def test_a_lost_unique_constraint_is_retried_not_a_500(
    therapist_client, client_person, practice, monkeypatch, django_capture_on_commit_callbacks
):
    """What a parallel assignment without the client lock would do: the first attempt
    breaks one_active_plan; the retry, in a fresh transaction, saves."""
    real = services.plan_assign
    calls = []

    def loses_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError('duplicate key value violates unique constraint "one_active_plan"')
        return real(**kwargs)

    monkeypatch.setattr(services, "plan_assign", loses_once)
    url = reverse("therapist-session", args=[client_person.public_id])
    with django_capture_on_commit_callbacks(execute=True):
        response = therapist_client.post(
            url, {**session_data(practice), "submission_key": str(uuid.uuid4())}
        )

    assert response.status_code == 302
    assert len(calls) == 2
    # The first attempt's session rolled back with it.
    assert MassageSession.objects.filter(client=client_person).count() == 1
    assert Plan.objects.filter(client=client_person).count() == 1
    assert len(mail.outbox) == 1


def test_old_keys_are_pruned_after_a_day(
    therapist_client, therapist, django_capture_on_commit_callbacks
):
    old = SubmissionKey.objects.create(
        key=uuid.uuid4(), user=therapist.user, created_at=timezone.now() - submissions.KEEP * 2
    )
    with django_capture_on_commit_callbacks(execute=True):
        therapist_client.post(
            reverse("therapist-client-add"), {**client_data(), "submission_key": str(uuid.uuid4())}
        )
    assert not SubmissionKey.objects.filter(pk=old.pk).exists()
    assert SubmissionKey.objects.filter(user=therapist.user).count() == 1


# --- Parallel, on PostgreSQL -----------------------------------------------------------------------


def post_at_once(user, url: str, payloads: list[dict]) -> list[object]:
    """Post each payload from its own thread (its own database connection), all released
    at the same moment. Returns each status code, or the exception a view raised."""
    browsers = []
    for _ in payloads:
        browser = Browser()
        browser.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        browsers.append(browser)
    start = threading.Barrier(len(payloads))
    results: list[object] = [None] * len(payloads)

    def post(index: int) -> None:
        try:
            start.wait()
            results[index] = browsers[index].post(url, payloads[index])
        except Exception as error:  # a 500 in the view: the test client re-raises it
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


parallel = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@parallel
def test_five_posts_at_once_with_one_key_give_one_session_one_plan(
    require_service, client_person, practice, therapist
):
    require_service("postgres")
    url = reverse("therapist-session", args=[client_person.public_id])
    data = {**session_data(practice), "submission_key": str(uuid.uuid4())}

    results = post_at_once(therapist.user, url, [data] * 5)

    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == [], f"no 500: {errors}"
    assert [r.status_code for r in results] == [302] * 5
    assert {r["Location"] for r in results} == {
        reverse("therapist-client", args=[client_person.public_id])
    }
    assert MassageSession.objects.filter(client=client_person).count() == 1
    assert Plan.objects.filter(client=client_person).count() == 1
    assert len(mail.outbox) == 1


@parallel
@pytest.mark.parametrize("keys", ["none", "different"])
def test_five_posts_at_once_without_one_key_give_no_500_and_one_active_plan(
    require_service, client_person, practice, therapist, keys
):
    require_service("postgres")
    factories.plan_for(client_person, therapist)  # a plan already running
    url = reverse("therapist-session", args=[client_person.public_id])
    data = session_data(practice, send_link=False)
    payloads = [
        data if keys == "none" else {**data, "submission_key": str(uuid.uuid4())} for _ in range(5)
    ]

    results = post_at_once(therapist.user, url, payloads)

    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == [], f"no 500: {errors}"
    assert [r.status_code for r in results] == [302] * 5
    # Five forms, five sessions: each assignment ended the plan before it.
    assert MassageSession.objects.filter(client=client_person).count() == 5
    assert Plan.objects.filter(client=client_person).count() == 6
    assert Plan.objects.filter(client=client_person, ended_at=None).count() == 1


@parallel
def test_five_client_adds_at_once_with_one_key_give_one_client(
    require_service, practice, therapist
):
    require_service("postgres")
    data = {**client_data(), "submission_key": str(uuid.uuid4())}

    results = post_at_once(therapist.user, reverse("therapist-client-add"), [data] * 5)

    assert [getattr(r, "status_code", r) for r in results] == [302] * 5
    assert len({r["Location"] for r in results}) == 1
    assert Client.objects.filter(practice=practice, email="robin@example.com").count() == 1


@parallel
def test_five_client_adds_at_once_with_different_keys_give_one_client_and_no_500(
    require_service, practice, therapist
):
    require_service("postgres")
    payloads = [{**client_data(), "submission_key": str(uuid.uuid4())} for _ in range(5)]

    results = post_at_once(therapist.user, reverse("therapist-client-add"), payloads)

    codes = sorted(getattr(r, "status_code", r) for r in results)
    assert codes == [200, 200, 200, 200, 302], codes  # one added, four told "already has"
    assert Client.objects.filter(practice=practice, email="robin@example.com").count() == 1
