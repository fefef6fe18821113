"""Web push, end to end without the internet: the outbox sends a routine reminder to a
push service stand-in on 127.0.0.1; the test checks it as a push service and a browser
would (the VAPID JWT's ES256 signature, then the aes128gcm payload decrypted with the
subscription's private key made here) and finds the slot and a link that logs the
client in. A subscription the push service has forgotten (404/410) is removed and the
email goes instead."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client as WebClient
from django.urls import reverse

from aftercare import push
from aftercare.models import PushSubscription, Reminder
from aftercare.outbox import reminders
from clients import services as people
from clients.models import Client
from tests import factories
from tests.standins import Browser, http_standin, verify_vapid

Status = Reminder.Status


@pytest.fixture(autouse=True)
def _own_vapid_file(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""
    settings.VAPID_SUBJECT = "mailto:hello@practice.example"


@pytest.fixture
def push_service(monkeypatch):
    # The stand-in listens on 127.0.0.1, which push.send refuses in the app (an address
    # inside our network): allowed here, for this test only.
    monkeypatch.setattr(push, "STANDIN_HOSTS", frozenset({"127.0.0.1"}))
    with http_standin() as standin:
        yield standin


def subscribe(
    client: Client, push_service, name: str = "phone-1"
) -> tuple[Browser, PushSubscription]:
    browser = Browser.new()
    subscription = PushSubscription.objects.create(
        client=client,
        endpoint=f"{push_service.base_url}/push/{name}",
        p256dh=browser.p256dh,
        auth=browser.auth,
    )
    Client.objects.filter(id=client.id).update(reminder_channel="push")
    return browser, subscription


def queued(client: Client, slot_key: str) -> Reminder:
    reminders.reminders_plan_due()
    row = Reminder.objects.get(client=client, kind=Reminder.Kind.ROUTINE, slot_key=slot_key)
    Reminder.objects.filter(id=row.id).update(status=Status.QUEUED)
    return row


def at(hour: int) -> datetime:
    return datetime(2026, 11, 25, hour, 0, tzinfo=UTC)


# --- the whole way ------------------------------------------------------------------------


def test_a_routine_reminder_arrives_as_a_signed_encrypted_notification(
    flare, client_person, clock, push_service, client
):
    browser, subscription = subscribe(client_person, push_service)
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(8))

    assert reminders.reminder_send(row.id) == "sent"

    # One request to the push service, and no email: the notification replaced it.
    assert mail.outbox == []
    [request] = push_service.received
    assert request.path == "/push/phone-1"
    assert request.headers["content-encoding"] == "aes128gcm"
    assert int(request.headers["ttl"]) > 0
    claims, key = verify_vapid(request.headers["authorization"])
    assert key == push.keys().public  # signed with the app's VAPID key
    assert claims["aud"] == push_service.base_url
    assert claims["sub"] == "mailto:hello@practice.example"
    assert claims["exp"] > at(8).timestamp()  # not expired when it arrives

    payload = browser.decrypt(request.body)
    assert payload["slot"] == "2026-11-25/morning"
    assert payload["title"] == client_person.practice.name
    assert payload["body"].startswith("Time for your morning routine.")
    step_names = [step.name for step in flare.steps.all() if step.in_routine]
    assert any(name in payload["body"] for name in step_names)
    assert payload["url"].startswith("http://testserver/c/login/?sesame=")

    # The link opens Today, logged in as this client, on a phone that had no session.
    response = client.get(payload["url"].removeprefix("http://testserver"), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("client-today")
    assert response.wsgi_request.user == client_person.user

    row.refresh_from_db()
    assert (row.status, row.channel, row.channel_note, row.attempts) == (
        Status.SENT,
        "push",
        "",
        1,
    )
    subscription.refresh_from_db()
    assert subscription.last_success_at is not None


@pytest.mark.parametrize("status", [404, 410])
def test_a_forgotten_subscription_is_removed_and_the_email_goes(
    flare, client_person, clock, push_service, status
):
    subscribe(client_person, push_service)
    push_service.answer(status)
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(8))

    assert reminders.reminder_send(row.id) == "sent"

    assert len(push_service.received) == 1
    assert not PushSubscription.objects.filter(client=client_person).exists()
    assert [m.to for m in mail.outbox] == [[client_person.email]]
    row.refresh_from_db()
    assert (row.status, row.channel) == (Status.SENT, "email")
    assert f"Notification failed: {status}: the phone turned them off." in row.channel_note
    assert row.channel_note.endswith("Sent by email instead.")


def test_one_phone_gone_and_one_still_there_is_one_notification(
    flare, client_person, clock, push_service
):
    subscribe(client_person, push_service, "old-phone")
    browser, _ = subscribe(client_person, push_service, "new-phone")
    push_service.answer(410, 201)
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(8))

    assert reminders.reminder_send(row.id) == "sent"

    assert mail.outbox == []
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [
        f"{push_service.base_url}/push/new-phone"
    ]
    assert browser.decrypt(push_service.received[1].body)["slot"] == "2026-11-25/morning"
    row.refresh_from_db()
    assert row.channel == "push" and "410" in row.channel_note


def test_a_busy_push_service_is_retried_later_like_a_busy_mail_server(
    flare, client_person, clock, push_service
):
    browser, _ = subscribe(client_person, push_service)
    push_service.answer(503, 201)
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(8))

    assert reminders.reminder_send(row.id) == "retry"
    row.refresh_from_db()
    assert (row.status, row.channel) == (Status.PENDING, "push")
    assert row.due_at > at(8)
    assert mail.outbox == []

    clock.move_to(row.due_at)
    assert reminders.reminders_claim() == [row.id]
    assert reminders.reminder_send(row.id) == "sent"
    row.refresh_from_db()
    assert (row.status, row.channel, row.attempts) == (Status.SENT, "push", 2)
    assert browser.decrypt(push_service.received[-1].body)["slot"] == "2026-11-25/morning"
    assert mail.outbox == []


def test_push_chosen_with_no_phone_left_goes_by_email_and_says_so(flare, client_person, clock):
    Client.objects.filter(id=client_person.id).update(reminder_channel="push")
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(8))

    assert reminders.reminder_send(row.id) == "sent"
    row.refresh_from_db()
    assert (row.channel, row.channel_note) == (
        "email",
        "Notifications chosen, but no phone has them on; sent by email.",
    )
    assert len(mail.outbox) == 1


def test_quiet_hours_stop_a_notification_too(flare, client_person, clock, push_service):
    from datetime import time

    subscribe(client_person, push_service)
    Client.objects.filter(id=client_person.id).update(quiet_start=time(18, 30))
    row = queued(client_person, "2026-11-25/evening")
    clock.move_to(at(19))

    assert reminders.reminder_send(row.id) == "skipped"
    assert push_service.received == [] and mail.outbox == []


# --- subscribing, on the client's own phone -----------------------------------------------


def subscription_json(browser: Browser, endpoint: str = "https://push.example.net/send/abc"):
    return json.dumps(
        {"endpoint": endpoint, "keys": {"p256dh": browser.p256dh, "auth": browser.auth}}
    )


def csrf_phone(client_person) -> tuple[WebClient, str]:
    """A phone logged in as the client, with CSRF checks on, as a real browser is."""
    phone = WebClient(enforce_csrf_checks=True)
    phone.force_login(client_person.user, backend="sesame.backends.ModelBackend")
    page = phone.get(reverse("client-settings"))
    return phone, page.cookies["csrftoken"].value


def test_the_client_turns_notifications_on_for_their_phone(client_person):
    phone, token = csrf_phone(client_person)
    browser = Browser.new()

    response = phone.post(
        reverse("client-push-subscribe"),
        subscription_json(browser),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
        HTTP_USER_AGENT="Mobile Safari",
    )
    again = phone.post(
        reverse("client-push-subscribe"),
        subscription_json(browser),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )

    assert response.json() == {"ok": True, "channel": "push"}
    assert again.status_code == 200  # a double tap adds nothing
    saved = PushSubscription.objects.get()
    assert (saved.client, saved.p256dh, saved.auth) == (client_person, browser.p256dh, browser.auth)
    assert saved.session_key == phone.session.session_key
    assert Client.objects.get(id=client_person.id).reminder_channel == "push"
    page = phone.get(reverse("client-settings"))
    assert "On for 1 phone." in page.content.decode()


def test_subscribing_needs_the_csrf_token(client_person):
    phone, _ = csrf_phone(client_person)
    response = phone.post(
        reverse("client-push-subscribe"),
        subscription_json(Browser.new()),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"endpoint": "https://push.example.net/x"}',
        '{"endpoint": "http://push.example.net/x", "keys": {"p256dh": "AAAA", "auth": "AAAA"}}',
        '{"endpoint": "https://push.example.net/x", "keys": {"p256dh": "AAAA", "auth": "AAAA"}}',
        '{"endpoint": 5, "keys": {"p256dh": 1, "auth": 2}}',
    ],
)
def test_a_bad_subscription_is_refused_with_a_message(client_person, body):
    phone, token = csrf_phone(client_person)
    response = phone.post(
        reverse("client-push-subscribe"),
        body,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 400
    assert response.json()["error"]
    assert not PushSubscription.objects.exists()
    assert Client.objects.get(id=client_person.id).reminder_channel == "email"


def test_nobody_else_subscribes_or_unsubscribes_for_a_client(client, client_person, therapist):
    browser = Browser.new()
    PushSubscription.objects.create(
        client=client_person,
        endpoint="https://push.example.net/send/mine",
        p256dh=browser.p256dh,
        auth=browser.auth,
    )
    other = factories.ClientFactory(practice=client_person.practice)

    # Logged out: sent to the new-link page, nothing stored.
    anonymous = client.post(
        reverse("client-push-subscribe"),
        subscription_json(Browser.new(), "https://push.example.net/a"),
        content_type="application/json",
    )
    assert anonymous.status_code == 302 and PushSubscription.objects.count() == 1
    # Another client cannot remove this client's phone.
    client.force_login(other.user, backend="sesame.backends.ModelBackend")
    response = client.post(
        reverse("client-push-unsubscribe"),
        json.dumps({"endpoint": "https://push.example.net/send/mine"}),
        content_type="application/json",
    )
    assert response.json()["removed"] == 0
    assert PushSubscription.objects.filter(client=client_person).count() == 1
    # A therapist is no client.
    client.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(reverse("client-push-test"), "{}", content_type="application/json")
    assert response.status_code == 302
    # Getting is not allowed.
    client.force_login(client_person.user, backend="sesame.backends.ModelBackend")
    assert client.get(reverse("client-push-subscribe")).status_code == 405


def test_turning_off_the_last_phone_goes_back_to_email(client_person):
    phone, token = csrf_phone(client_person)
    browser = Browser.new()
    phone.post(
        reverse("client-push-subscribe"),
        subscription_json(browser),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )

    response = phone.post(
        reverse("client-push-unsubscribe"),
        json.dumps({"endpoint": "https://push.example.net/send/abc"}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )

    assert response.json() == {"ok": True, "removed": 1, "channel": "email"}
    assert not PushSubscription.objects.exists()


def test_logging_out_removes_this_phones_notifications_only(client_person):
    phone, token = csrf_phone(client_person)
    phone.post(
        reverse("client-push-subscribe"),
        subscription_json(Browser.new(), "https://push.example.net/send/this-phone"),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    browser = Browser.new()
    PushSubscription.objects.create(
        client=client_person,
        endpoint="https://push.example.net/send/other-phone",
        p256dh=browser.p256dh,
        auth=browser.auth,
        session_key="another-session",
    )

    phone.post(reverse("client-forget"), {"csrfmiddlewaretoken": token})

    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [
        "https://push.example.net/send/other-phone"
    ]


def test_revoking_the_clients_links_removes_every_phone(client_person, therapist):
    for name in ("a", "b"):
        browser = Browser.new()
        PushSubscription.objects.create(
            client=client_person,
            endpoint=f"https://push.example.net/send/{name}",
            p256dh=browser.p256dh,
            auth=browser.auth,
        )
    people.client_links_revoke(client=client_person, by=therapist.user)
    assert not PushSubscription.objects.exists()


def test_the_test_button_sends_a_notification_to_the_phone(client_person, push_service):
    browser, _ = subscribe(client_person, push_service)
    phone, token = csrf_phone(client_person)

    response = phone.post(
        reverse("client-push-test"), "{}", content_type="application/json", HTTP_X_CSRFTOKEN=token
    )

    assert response.json() == {"ok": True, "delivered": 1}
    payload = browser.decrypt(push_service.received[0].body)
    assert payload["body"] == "This is how your reminders will look."
    verify_vapid(push_service.received[0].headers["authorization"])


def test_the_test_button_says_when_no_phone_can_be_reached(client_person, push_service):
    subscribe(client_person, push_service)
    push_service.answer(410)
    phone, token = csrf_phone(client_person)

    response = phone.post(
        reverse("client-push-test"), "{}", content_type="application/json", HTTP_X_CSRFTOKEN=token
    )

    assert response.status_code == 502
    assert "couldn't reach your phone" in response.json()["error"]
    assert not PushSubscription.objects.exists()


# --- keys -----------------------------------------------------------------------------------


def test_the_embedded_default_makes_one_key_pair_and_keeps_it(settings, tmp_path):
    first = push.keys()
    push._stored_pair.cache_clear()
    again = push.keys()

    assert first == again
    stored = json.loads((tmp_path / "vapid.json").read_text())
    assert stored == {"public_key": first.public, "private_key": first.private}
    assert (tmp_path / "vapid.json").stat().st_mode & 0o077 == 0  # readable by us only
    assert len(push.b64url_decode(first.public)) == 65


def test_keys_from_the_environment_win(settings, tmp_path):
    public, private = push.generate_pair()
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = public, private

    assert push.keys().public == public and push.keys().private == private
    assert not (tmp_path / "vapid.json").exists()


def test_vapid_keys_prints_a_working_pair_for_env(capsys):
    from py_vapid import Vapid

    call_command("vapid_keys", subject="mailto:me@practice.example")
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.split())

    vapid = Vapid.from_string(lines["VAPID_PRIVATE_KEY"])
    header = vapid.sign(
        {"aud": "https://push.example.net", "exp": 4102444800, "sub": "mailto:x@y.z"}
    )
    claims, key = verify_vapid(header["Authorization"])
    assert key == lines["VAPID_PUBLIC_KEY"]
    assert lines["VAPID_SUBJECT"] == "mailto:me@practice.example"


def test_a_push_service_down_for_hours_gives_way_to_the_email_at_the_last_try(
    flare, client_person, clock, push_service
):
    subscribe(client_person, push_service)
    push_service.answer(503)
    row = queued(client_person, "2026-11-25/morning")
    Reminder.objects.filter(id=row.id).update(attempts=reminders.MAX_ATTEMPTS - 1)
    clock.move_to(at(8))

    assert reminders.reminder_send(row.id) == "sent"

    assert len(push_service.received) == 1
    assert [m.to for m in mail.outbox] == [[client_person.email]]
    row.refresh_from_db()
    assert (row.channel, row.attempts) == ("email", reminders.MAX_ATTEMPTS)
    assert row.channel_note.startswith("Notification failed: the push service said 503.")
    assert PushSubscription.objects.filter(client=client_person).exists()  # 503 isn't "gone"


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.0.0.1/push/abc",
        "https://169.254.169.254/latest/meta-data/iam",
        "https://localhost/push/abc",
        "https://[::1]/push/abc",
        "https://10.0.0.5/push/abc",
        "https://192.168.1.1/push/abc",
        "https://2130706433/push/abc",
        "https://0x7f.0x0.0x0.0x1/push/abc",
        "https://0x7f.1/push/abc",
        "https://push.example.net@127.0.0.1/push/abc",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://intranet/push/abc",
        "https://push.example.net:6379/push/abc",
    ],
)
def test_a_subscription_pointing_inside_our_network_is_refused(client_person, endpoint):
    """Our server POSTs to the endpoint it is given: one naming an internal address (the
    cloud's metadata service, a database port, this machine) would let a client make our
    server call it every reminder. A browser's push service is a public https name."""
    phone, token = csrf_phone(client_person)
    response = phone.post(
        reverse("client-push-subscribe"),
        subscription_json(Browser.new(), endpoint),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 400
    assert not PushSubscription.objects.exists()
    assert Client.objects.get(id=client_person.id).reminder_channel == "email"


@pytest.mark.parametrize(
    ("p256dh", "auth"), [("", ""), ("garbage", "garbage"), ("é", "x"), ("AAAA", "AAAA")]
)
def test_a_stored_subscription_with_unusable_keys_gives_way_to_the_email_at_once(
    flare, client_person, clock, push_service, p256dh, auth
):
    """A corrupt row (keys that never decode) will not work on any later try either: the
    email goes now, not after hours of retries, and the reminder is never lost."""
    _, subscription = subscribe(client_person, push_service)
    PushSubscription.objects.filter(id=subscription.id).update(p256dh=p256dh, auth=auth)
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(8))

    assert reminders.reminder_send(row.id) == "sent"

    row.refresh_from_db()
    assert (row.status, row.channel) == (Status.SENT, "email")
    assert "Notification failed" in row.channel_note
    assert [m.to for m in mail.outbox] == [[client_person.email]]
    assert push_service.received == []


@pytest.mark.parametrize(
    "padding", [{"p256dh": "." * 200}, {"auth": "!" * 100}, {"p256dh": "\n" * 50}]
)
def test_keys_padded_with_characters_base64_ignores_are_refused_not_a_500(client_person, padding):
    """base64 skips characters outside its alphabet, so a key padded with them decodes
    to the right length while being too long to store: refused with a message."""
    phone, token = csrf_phone(client_person)
    browser = Browser.new()
    keys = {"p256dh": browser.p256dh, "auth": browser.auth}
    keys = {name: value + padding.get(name, "") for name, value in keys.items()}
    response = phone.post(
        reverse("client-push-subscribe"),
        json.dumps({"endpoint": "https://push.example.net/send/abc", "keys": keys}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 400
    assert response.json()["error"]
    assert not PushSubscription.objects.exists()


def test_a_client_keeps_notifications_on_a_few_phones_not_thousands(client_person):
    """Every reminder is one request per phone, one after another in the batch: a client
    (or a script with their link) adding endless 'phones' would hold up every other
    client's reminders. The newest few are kept; the oldest go."""
    from aftercare.views.channels import MAX_PHONES

    phone, token = csrf_phone(client_person)
    for n in range(MAX_PHONES + 3):
        response = phone.post(
            reverse("client-push-subscribe"),
            subscription_json(Browser.new(), f"https://push.example.net/send/{n}"),
            content_type="application/json",
            HTTP_X_CSRFTOKEN=token,
        )
        assert response.status_code == 200
    kept = PushSubscription.objects.filter(client=client_person)
    assert sorted(kept.values_list("endpoint", flat=True)) == sorted(
        f"https://push.example.net/send/{n}" for n in range(3, MAX_PHONES + 3)
    )


@pytest.mark.parametrize("endpoint", ["garbage", "ftp://push.example.net/x", "https://exa mple/x"])
def test_a_stored_subscription_with_an_unusable_address_gives_way_to_the_email_at_once(
    flare, client_person, clock, push_service, endpoint
):
    _, subscription = subscribe(client_person, push_service)
    PushSubscription.objects.filter(id=subscription.id).update(endpoint=endpoint)
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(8))

    assert reminders.reminder_send(row.id) == "sent"

    row.refresh_from_db()
    assert (row.status, row.channel) == (Status.SENT, "email")
    assert "Notification failed" in row.channel_note
    assert [m.to for m in mail.outbox] == [[client_person.email]]


def test_a_public_name_that_points_inside_our_network_is_refused(client_person, monkeypatch):
    """127.0.0.1.nip.io and alike: a name anyone can register that resolves to an internal
    address. Checked when the phone subscribes (a name that changes its answer later is
    not caught here: docs/channels.md)."""
    import socket

    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "sneaky.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    phone, token = csrf_phone(client_person)
    response = phone.post(
        reverse("client-push-subscribe"),
        subscription_json(Browser.new(), "https://sneaky.example.com/push/abc"),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 400
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize("stored", ["", "{not json", '{"public_key": "x"}'])
def test_a_damaged_key_file_leaves_settings_working_for_every_client(
    client_person, settings, tmp_path, stored
):
    """A vapid.json cut short (a full disk, or read by a second process in the moment the
    first has made it and not yet written it) must not take Settings down: the page opens
    and only the notification button is missing."""
    (tmp_path / "vapid.json").write_text(stored)
    phone, _ = csrf_phone(client_person)
    page = phone.get(reverse("client-settings"))
    assert page.status_code == 200
    assert "How should we remind you?" in page.content.decode()
    assert "data-push " not in page.content.decode()


@pytest.mark.parametrize("stored", ["{not json", '{"public_key": "x"}'])
def test_a_damaged_key_file_sends_the_reminder_by_email_not_lost(
    flare, client_person, clock, push_service, tmp_path, stored
):
    subscribe(client_person, push_service)
    (tmp_path / "vapid.json").write_text(stored)
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(8))

    assert reminders.reminder_send(row.id) == "sent"

    row.refresh_from_db()
    assert (row.status, row.channel) == (Status.SENT, "email")
    assert [m.to for m in mail.outbox] == [[client_person.email]]


def test_a_name_that_points_inside_our_network_at_send_time_gets_the_email(
    flare, client_person, clock, push_service, monkeypatch
):
    """DNS rebinding: the name was public when the phone subscribed and points at this
    machine now. Resolved again before the send: nothing is posted there, the email goes."""
    import socket

    browser, subscription = subscribe(client_person, push_service)
    port = push_service.base_url.rsplit(":", 1)[1]
    # Without the check this address would reach the stand-in: "nothing received" counts.
    PushSubscription.objects.filter(id=subscription.id).update(
        endpoint=f"http://rebound.example.com:{port}/push/phone-1"
    )
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "rebound.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port)))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(8))

    assert reminders.reminder_send(row.id) == "sent"

    assert push_service.received == []
    row.refresh_from_db()
    assert (row.status, row.channel) == (Status.SENT, "email")
    assert "inside our network" in row.channel_note
    assert [m.to for m in mail.outbox] == [[client_person.email]]
