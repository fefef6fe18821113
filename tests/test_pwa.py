"""The installable app, request by request: the manifest (per practice), the icons, the
service worker's headers and scope, the CSP, which pages the phone may keep and for
whom, and a tick or check-in made offline and sent later (its time, never doubled)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.contrib.staticfiles import finders
from django.test import Client as Browser
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from aftercare import offline
from aftercare.models import Completion, PlanStep, SymptomLog
from aftercare.rules.queued import MAX_AGE, accepted_time
from tests import factories

pytestmark = pytest.mark.django_db


def step_named(plan, name: str) -> PlanStep:
    return PlanStep.objects.get(plan=plan, name=name)


def tick(step, day, slot="morning") -> dict[str, str]:
    return {"step": str(step.pk), "day": day.isoformat(), "slot": slot, "action": "done"}


# --- The manifest and icons -------------------------------------------------------------


def test_the_manifest_is_named_after_the_clients_practice(phone, practice, plan):
    practice.name = "Back in Balance Massage"
    practice.save()
    response = phone.get(reverse("pwa-manifest"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] == "Back in Balance Massage"
    assert manifest["short_name"] == "Aftercare"  # too long for under an icon
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == reverse("client-start")
    assert manifest["scope"] == "/c/"
    assert manifest["start_url"].startswith(manifest["scope"])
    assert manifest["theme_color"] == "#2f6b4f"
    sizes = {(icon["sizes"], icon.get("purpose", "any")) for icon in manifest["icons"]}
    assert sizes == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}


def test_another_practice_gets_its_own_name_and_a_visitor_the_apps(client, phone, plan):
    other = factories.practice_with_library()
    other.name = "Kneads"
    other.save()
    someone = factories.ClientFactory(practice=other)
    assert json.loads(client.get(reverse("pwa-manifest")).content)["name"] != "Kneads"
    client.force_login(someone.user, backend="sesame.backends.ModelBackend")
    manifest = json.loads(client.get(reverse("pwa-manifest")).content)
    assert (manifest["name"], manifest["short_name"]) == ("Kneads", "Kneads")
    client.logout()
    assert json.loads(client.get(reverse("pwa-manifest")).content)["name"] == "Aftercare"


def test_the_icons_are_pngs_of_the_sizes_the_manifest_says(phone, plan):
    manifest = json.loads(phone.get(reverse("pwa-manifest")).content)
    for icon in manifest["icons"]:
        path = finders.find(icon["src"].removeprefix("/static/"))
        assert path, icon["src"]
        with open(path, "rb") as file:
            data = file.read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width = int.from_bytes(data[16:20], "big")
        height = int.from_bytes(data[20:24], "big")
        assert f"{width}x{height}" == icon["sizes"]
        assert phone.get(icon["src"]).status_code == 200


def test_client_pages_link_the_manifest_and_the_scripts(phone, plan):
    page = phone.get(reverse("client-today")).content.decode()
    assert f'<link rel="manifest" href="{reverse("pwa-manifest")}"' in page
    assert '<meta name="theme-color" content="#2f6b4f">' in page
    assert "apple-touch-icon" in page
    assert "js/offline.js" in page and "js/install-hint.js" in page
    assert "data-install-hint hidden" in page


def test_therapist_pages_do_not_register_the_service_worker(therapist_client):
    page = therapist_client.get(reverse("therapist-dashboard")).content.decode()
    assert "offline.js" not in page and "manifest" not in page


# --- The service worker -------------------------------------------------------------------


def test_the_service_worker_is_served_from_the_root_for_the_client_pages_only(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/c/"
    assert "no-cache" in response["Cache-Control"] and "max-age=0" in response["Cache-Control"]
    body = response.content.decode()
    config = json.loads(body.split("const CONFIG = ", 1)[1].split(";\n", 1)[0])
    assert config["scope"] == "/c/"
    assert config["queueUrls"] == [reverse("client-step-done"), reverse("client-checkin")]
    assert reverse("therapist-dashboard") not in body
    for handler in ("fetch", "sync", "push", "notificationclick"):
        assert f'addEventListener("{handler}"' in body


def test_the_csp_allows_the_worker_and_the_manifest_from_this_site_only(phone, plan):
    policy = phone.get(reverse("client-today"))["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["worker-src"] == "'self'"
    assert directives["manifest-src"] == "'self'"
    assert directives["script-src"] == "'self'"


# --- What the phone may keep, and for whom --------------------------------------------------


@pytest.mark.parametrize(
    "name", ["client-today", "client-plan", "client-warning-signs", "client-checkin"]
)
def test_the_plan_pages_may_be_kept_for_the_logged_in_client(phone, client_person, plan, name):
    response = phone.get(reverse(name))
    assert response.status_code == 200
    assert response["X-Offline-Store"] == "1"
    assert response["X-Offline-Client"] == offline.client_cache_key(client_person)


def test_other_client_pages_are_never_kept(phone, plan):
    for name in ("client-settings", "client-progress", "client-new-link"):
        response = phone.get(reverse(name))
        assert response.status_code == 200
        assert "X-Offline-Store" not in response, name
    # With a query (the check-in's "?flare=1", the page after a hard check-in): not kept,
    # so it never replaces the plain form.
    flare = phone.get(reverse("client-checkin") + "?flare=1")
    assert flare.status_code == 200 and "X-Offline-Store" not in flare


def test_a_page_that_sets_a_cookie_is_not_kept(phone, client_person, plan):
    step = step_named(plan, "Passive SI reset")
    undo = {**tick(step, client_person.local_today()), "action": "undo"}
    phone.post(reverse("client-step-done"), undo)  # leaves a message for Today
    response = phone.get(reverse("client-today"))
    assert "no longer marked done" in response.content.decode()
    assert response.cookies  # the message is read, its cookie cleared
    assert "X-Offline-Store" not in response


def test_nobody_logged_in_says_none_and_nothing_is_kept(client, plan):
    response = client.get(reverse("client-warning-signs"))
    assert response["X-Offline-Client"] == "none"
    assert "X-Offline-Store" not in response
    assert '<meta name="aftercare-client" content="none">' in response.content.decode()
    logged_out = client.get(reverse("client-start"))
    assert logged_out["X-Offline-Client"] == "none"


def test_therapist_pages_carry_no_offline_headers(therapist_client):
    response = therapist_client.get(reverse("therapist-dashboard"))
    assert "X-Offline-Client" not in response and "X-Offline-Store" not in response


def test_each_client_has_their_own_key_and_revoking_links_changes_it(practice, plan):
    first = factories.ClientFactory(practice=practice)
    second = factories.ClientFactory(practice=practice)
    key = offline.client_cache_key(first)
    assert key != offline.client_cache_key(second)
    assert str(first.public_id) not in key and len(key) == 20
    first.user.set_unusable_password()
    first.user.save()
    assert offline.client_cache_key(first) != key


def test_the_start_page_opens_today_or_asks_for_the_latest_link(client, phone, plan):
    assert phone.get(reverse("client-start"))["Location"] == reverse("client-today")
    phone.logout()
    page = phone.get(reverse("client-start"))
    assert page.status_code == 200
    assert "Open the link in the latest email" in page.content.decode()


def test_the_offline_page_is_kept_with_the_practices_emergency_number(phone, practice, plan):
    practice.emergency_number = "112"
    practice.save()
    response = phone.get(reverse("client-offline"))
    assert response["X-Offline-Store"] == "1"
    page = response.content.decode()
    assert "Saved on this phone, will send when you're back online." in page
    assert 'href="tel:112"' in page


# --- The queued time -------------------------------------------------------------------------

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, NOW),
        ("", NOW),
        ("yesterday", NOW),
        ("2026-12-04T08:10:00", NOW),  # no zone: unreadable as an instant
        ("2026-12-04T08:10:00.000Z", datetime(2026, 12, 4, 8, 10, tzinfo=UTC)),
        ("2026-12-04T09:10:00+01:00", datetime(2026, 12, 4, 8, 10, tzinfo=UTC)),
        ("2026-12-04T09:00:01Z", NOW),  # a second in the future
        ("2026-12-04T09:00:00Z", NOW),
        ("2026-12-02T09:00:00Z", datetime(2026, 12, 2, 9, 0, tzinfo=UTC)),  # 48 h exactly
        ("2026-12-02T08:59:59Z", NOW),  # older than 48 h
        ("9999-12-31T23:59:59-12:00", NOW),  # past the last day Python can hold in UTC
        ("0001-01-01T00:00:00+12:00", NOW),  # before the first
    ],
)
def test_the_queued_time_is_believed_only_within_bounds(raw, expected):
    assert accepted_time(raw, NOW) == expected


@given(st.datetimes(timezones=st.just(UTC)))
def test_property_the_accepted_time_is_never_future_nor_too_old(when):
    accepted = accepted_time(when.isoformat(), NOW)
    assert NOW - MAX_AGE <= accepted <= NOW
    assert accepted in (when, NOW)


def test_a_tick_made_offline_at_0810_counts_for_that_morning(phone, client_person, flare, clock):
    # London, Wednesday 25 Nov: ticked at 08:10 with no signal, sent at 18:00.
    step = step_named(flare, "Passive SI reset")
    made = datetime(2026, 11, 25, 8, 10, tzinfo=UTC)
    clock.move_to(datetime(2026, 11, 25, 18, 0, tzinfo=UTC))
    replay = {"X-Queued-At": "2026-11-25T08:10:00.000Z"}
    response = phone.post(reverse("client-step-done"), tick(step, made.date()), headers=replay)
    assert response.status_code == 302
    done = Completion.objects.get(step=step, day=made.date(), slot="morning")
    assert done.done_at == made
    # Sent again (the sync and a page open race, or a reply lost on the way): one row.
    phone.post(reverse("client-step-done"), tick(step, made.date()), headers=replay)
    assert Completion.objects.filter(step=step).count() == 1


def test_a_tick_made_last_thing_at_night_and_sent_a_day_later_still_counts(
    phone, client_person, flare, clock
):
    step = step_named(flare, "Passive SI reset")
    day = datetime(2026, 11, 25).date()
    clock.move_to(datetime(2026, 11, 27, 0, 30, tzinfo=UTC))  # two days later, local
    # Without its queued time the day is too old to tick: refused, as for any late tick.
    phone.post(reverse("client-step-done"), tick(step, day, "evening"))
    assert not Completion.objects.filter(step=step).exists()
    made = {"X-Queued-At": "2026-11-25T23:50:00Z"}
    phone.post(reverse("client-step-done"), tick(step, day, "evening"), headers=made)
    done = Completion.objects.get(step=step, day=day, slot="evening")
    assert done.done_at == datetime(2026, 11, 25, 23, 50, tzinfo=UTC)


def test_a_queued_time_from_the_future_counts_as_now(phone, flare, clock):
    step = step_named(flare, "Passive SI reset")
    future = {"X-Queued-At": "2026-11-26T08:10:00Z"}  # a phone whose clock runs fast
    phone.post(
        reverse("client-step-done"), tick(step, datetime(2026, 11, 25).date()), headers=future
    )
    assert Completion.objects.get(step=step).done_at == datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def test_a_check_in_made_offline_keeps_its_time_and_is_saved_once(
    phone, client_person, flare, clock
):
    clock.move_to(datetime(2026, 11, 26, 0, 30, tzinfo=UTC))  # sent after midnight
    data = factories.checkin_answers(worst=4)
    made = {"X-Queued-At": "2026-11-25T21:15:00Z"}
    first = phone.post(reverse("client-checkin"), data, headers=made)
    again = phone.post(reverse("client-checkin"), data, headers=made)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"]
    log = SymptomLog.objects.get(submission_key=data["submission_key"])
    assert SymptomLog.objects.filter(plan=flare).count() == 1
    assert log.at == datetime(2026, 11, 25, 21, 15, tzinfo=UTC)
    assert log.day == datetime(2026, 11, 25).date()  # the client's day when they made it


def test_a_late_check_in_never_goes_before_what_the_plan_already_knows(phone, flare, clock):
    clock.move_to(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    phone.post(reverse("client-checkin"), factories.checkin_answers(worst=4))
    clock.move_to(datetime(2026, 11, 25, 13, 0, tzinfo=UTC))
    queued = factories.checkin_answers(worst=5)
    phone.post(reverse("client-checkin"), queued, headers={"X-Queued-At": "2026-11-25T10:00:00Z"})
    log = SymptomLog.objects.get(submission_key=queued["submission_key"])
    assert log.at == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # after the newer check-in


@pytest.mark.parametrize("raw", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+12:00"])
def test_a_queued_time_at_the_end_of_the_calendar_is_now_not_a_500(phone, flare, clock, raw):
    step = step_named(flare, "Passive SI reset")
    headers = {"X-Queued-At": raw}
    ticked = phone.post(
        reverse("client-step-done"), tick(step, datetime(2026, 11, 25).date()), headers=headers
    )
    assert ticked.status_code == 302
    assert Completion.objects.get(step=step).done_at == clock_now()
    data = factories.checkin_answers(worst=4)
    assert phone.post(reverse("client-checkin"), data, headers=headers).status_code == 302
    assert SymptomLog.objects.get(submission_key=data["submission_key"]).at == clock_now()


def test_a_check_in_without_a_queued_time_is_made_now(phone, flare, clock):
    data = factories.checkin_answers(worst=4)
    phone.post(reverse("client-checkin"), data)
    assert SymptomLog.objects.get(submission_key=data["submission_key"]).at == clock_now()


def clock_now() -> datetime:
    return datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def test_a_replay_made_for_another_client_is_refused_and_changes_nothing(
    phone, client_person, flare, clock, practice
):
    step = step_named(flare, "Passive SI reset")
    day = datetime(2026, 11, 25).date()
    someone_else = factories.ClientFactory(practice=practice)
    replay = {
        "X-Queued-At": "2026-11-25T05:30:00Z",
        "X-Queued-For": offline.client_cache_key(someone_else),
    }
    refused = phone.post(reverse("client-step-done"), tick(step, day), headers=replay)
    assert refused.status_code == 409
    assert refused["X-Offline-Client"] == offline.client_cache_key(client_person)
    data = factories.checkin_answers(worst=4)
    assert phone.post(reverse("client-checkin"), data, headers=replay).status_code == 409
    assert not Completion.objects.exists() and not SymptomLog.objects.exists()
    # Nobody logged in: refused too (the phone keeps it for when the client is back).
    mine = {**replay, "X-Queued-For": offline.client_cache_key(client_person)}
    anonymous = Browser().post(reverse("client-step-done"), tick(step, day), headers=mine)
    assert anonymous.status_code == 409 and anonymous["X-Offline-Client"] == "none"
    # The right client: saved.
    ok = phone.post(reverse("client-step-done"), tick(step, day), headers=mine)
    assert ok.status_code == 302
    assert Completion.objects.filter(step=step).count() == 1
