"""Text messages: a routine reminder sent as a text through the real outbox (the file
backend), the Twilio backend against a local stand-in of its REST API, and the STOP /
START replies through Twilio's signed webhook."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from aftercare import sms
from aftercare.models import Reminder
from aftercare.outbox import channels, emails, reminders
from aftercare.rules import channels as rules
from clients import services as people
from clients.models import Client
from tests import factories
from tests.standins import http_standin

Status = Reminder.Status
NUMBER = "+447123456789"
SENDER = "+447400123456"
TOKEN = "twilio-auth-token-for-tests"


@pytest.fixture(autouse=True)
def _texts_to_files(settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    settings.TWILIO_AUTH_TOKEN = TOKEN


def texts(settings) -> list[str]:
    folder = Path(settings.SMS_FILE_PATH)
    return [p.read_text() for p in sorted(folder.glob("*.txt"))] if folder.exists() else []


def texting(client: Client) -> Client:
    """The practice sends texts and the client agreed to them."""
    practice = client.practice
    practice.sms_enabled, practice.sms_sender = True, SENDER
    practice.save()
    Client.objects.filter(id=client.id).update(
        reminder_channel="sms", sms_number=NUMBER, sms_opt_in_at=timezone.now()
    )
    return Client.objects.select_related("practice").get(id=client.id)


def queued(client: Client, slot_key: str) -> Reminder:
    reminders.reminders_plan_due()
    row = Reminder.objects.get(client=client, kind=Reminder.Kind.ROUTINE, slot_key=slot_key)
    Reminder.objects.filter(id=row.id).update(status=Status.QUEUED)
    return row


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


# --- through the outbox ---------------------------------------------------------------------


def test_a_routine_reminder_goes_as_one_short_text_instead_of_the_email(
    flare, client_person, clock, settings, client
):
    texting(client_person)
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(25, 8))

    assert reminders.reminder_send(row.id) == "sent"
    assert reminders.reminder_send(row.id) == "not queued"

    assert mail.outbox == []
    [text] = texts(settings)
    headers, _, body = text.partition("\n\n")
    assert f"To: {NUMBER}" in headers and f"From: {SENDER}" in headers
    body = body.strip()
    assert body.startswith(f"{client_person.practice.name}: Time for your morning routine.")
    assert body.endswith("Reply STOP to end texts.")
    assert len(body) <= 160
    assert body.isascii()
    link = next(word for word in body.split() if word.startswith("http://testserver/"))
    assert link.startswith("http://testserver/l/t")  # the short link (one text, not two)
    # The link logs the client in and opens Today.
    response = client.get(link.removeprefix("http://testserver"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("client-today")
    assert response.wsgi_request.user == client_person.user

    row.refresh_from_db()
    assert (row.status, row.channel, row.channel_note) == (Status.SENT, "sms", "")
    assert channels.sms_sent_count(client_person.practice) == 1


def test_a_client_who_replied_stop_gets_the_email_instead(flare, client_person, clock, settings):
    texting(client_person)
    Client.objects.filter(id=client_person.id).update(sms_stopped_at=timezone.now())
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(25, 8))

    assert reminders.reminder_send(row.id) == "sent"
    assert texts(settings) == []
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert (row.channel, row.channel_note) == (
        "email",
        "Text chosen, but the client replied STOP; sent by email.",
    )


def test_with_the_practices_texts_switched_off_the_email_goes(
    flare, client_person, clock, settings
):
    texting(client_person).practice.__class__.objects.update(sms_enabled=False)
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(25, 8))

    assert reminders.reminder_send(row.id) == "sent"
    assert texts(settings) == [] and len(mail.outbox) == 1


def test_quiet_hours_and_pauses_hold_back_texts_too(flare, client_person, clock, settings):
    texting(client_person)
    Client.objects.filter(id=client_person.id).update(quiet_start=time(18, 30))
    row = queued(client_person, "2026-11-25/evening")
    clock.move_to(at(25, 19))

    assert reminders.reminder_send(row.id) == "skipped"
    row.refresh_from_db()
    assert row.reason == "Quiet hours."
    assert texts(settings) == [] and mail.outbox == []


def test_never_more_than_two_texts_a_day(flare, client_person, clock, settings):
    texting(client_person)
    moment = at(25, 6)
    while moment < at(28, 6):
        clock.move_to(moment)
        reminders.reminders_plan_due()
        for reminder_id in reminders.reminders_claim() + reminders.reminders_sweep():
            reminders.reminder_send(reminder_id)
        moment += timezone.timedelta(minutes=30)

    sent = Reminder.objects.filter(client=client_person, status=Status.SENT)
    assert set(sent.values_list("channel", flat=True)) == {"sms"}
    per_day: dict = {}
    for row in sent:
        per_day[row.slot_day] = per_day.get(row.slot_day, 0) + 1
    assert per_day and max(per_day.values()) <= 2
    assert len(texts(settings)) == sent.count() and mail.outbox == []


def test_a_disk_that_refuses_the_file_is_retried_later(flare, client_person, clock, settings):
    texting(client_person)
    blocker = Path(settings.SMS_FILE_PATH)
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where the folder should be")
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(25, 8))

    assert reminders.reminder_send(row.id) == "retry"
    row.refresh_from_db()
    assert (row.status, row.channel) == (Status.PENDING, "sms")
    assert row.reason.startswith("Will retry: Could not write the text")
    assert mail.outbox == []


def test_the_therapist_sees_how_each_reminder_went(
    flare, client_person, clock, settings, therapist, therapist_client
):
    texting(client_person)
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(25, 8))
    reminders.reminder_send(row.id)
    Client.objects.filter(id=client_person.id).update(sms_stopped_at=timezone.now())
    row = queued(client_person, "2026-11-25/evening")
    clock.move_to(at(25, 19))
    reminders.reminder_send(row.id)

    # A fresh login: the fixture's session is older than a therapist's 12 hours by now.
    therapist_client.force_login(
        therapist.user, backend="django.contrib.auth.backends.ModelBackend"
    )
    page = therapist_client.get(reverse("therapist-client", args=[client_person.public_id]))
    html = page.content.decode()
    assert "by text message" in html and "by email" in html
    assert "Text chosen, but the client replied STOP; sent by email." in html
    assert "Replied STOP to texts" in html
    settings_page = therapist_client.get(reverse("therapist-settings")).content.decode()
    assert "Texts sent this month: <strong>1</strong>" in settings_page


# --- the Twilio backend against a stand-in -------------------------------------------------


def test_twilio_gets_to_from_and_body_with_the_accounts_basic_auth():
    reply = b'{"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}'
    with http_standin() as twilio:
        twilio.answer((201, reply))
        backend = sms.TwilioBackend(
            account_sid="AC123", auth_token="secret", api_base=twilio.base_url
        )

        message_id = backend.send(sms.Text(to=NUMBER, sender=SENDER, body="Time for your routine."))

    assert message_id == "SM0123456789abcdef0123456789abcdef"
    [request] = twilio.received
    assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert parse_qs(request.body.decode()) == {
        "To": [NUMBER],
        "From": [SENDER],
        "Body": ["Time for your routine."],
    }
    scheme, _, encoded = request.headers["authorization"].partition(" ")
    assert (scheme, base64.b64decode(encoded).decode()) == ("Basic", "AC123:secret")


@pytest.mark.parametrize(
    ("status", "code", "transient", "stopped"),
    [
        (400, 21610, False, True),  # the number replied STOP to Twilio
        (400, 21211, False, False),  # not a valid number
        (429, 20429, True, False),
        (503, 20500, True, False),
    ],
)
def test_twilio_refusals_say_whether_to_retry(status, code, transient, stopped):
    body = f'{{"code": {code}, "message": "no", "status": {status}}}'.encode()
    with http_standin() as twilio:
        twilio.answer((status, body))
        backend = sms.TwilioBackend(
            account_sid="AC123", auth_token="secret", api_base=twilio.base_url
        )
        with pytest.raises(sms.SmsError) as caught:
            backend.send(sms.Text(to=NUMBER, sender=SENDER, body="x"))
    assert (caught.value.transient, caught.value.stopped) == (transient, stopped)


def test_twilio_unreachable_is_retried():
    with http_standin() as twilio:
        base = twilio.base_url
    backend = sms.TwilioBackend(account_sid="AC123", auth_token="secret", api_base=base)
    with pytest.raises(sms.SmsError) as caught:
        backend.send(sms.Text(to=NUMBER, sender=SENDER, body="x"))
    assert caught.value.transient


def test_a_stop_that_twilio_knew_of_ends_texts_and_the_email_goes(
    flare, client_person, clock, settings
):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC123"
    texting(client_person)
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(25, 8))
    with http_standin() as twilio:
        twilio.answer((400, b'{"code": 21610, "message": "unsubscribed recipient", "status": 400}'))
        settings.TWILIO_API_BASE = twilio.base_url

        assert reminders.reminder_send(row.id) == "sent"

    assert len(twilio.received) == 1
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.channel == "email" and "21610" in row.channel_note
    assert Client.objects.get(id=client_person.id).sms_stopped_at is not None


# --- STOP and START: Twilio's webhook ------------------------------------------------------


def webhook(client, body: str, *, number: str = NUMBER, to: str = SENDER, token: str = TOKEN):
    url = "http://testserver" + reverse("sms-webhook")
    params = {"From": number, "To": to, "Body": body, "MessageSid": "SM1", "AccountSid": "AC1"}
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(reverse("sms-webhook"), params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.mark.parametrize(
    "word", ["STOP", "stop", " Stop. ", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]
)
def test_stop_ends_texts_for_that_number(client, client_person, word):
    texting(client_person)

    response = webhook(client, word)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert (
        response.content.decode() == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    )
    person = Client.objects.get(id=client_person.id)
    assert person.sms_stopped_at is not None
    assert person.sms_opt_in_at is not None  # the consent record stays


@pytest.mark.parametrize("word", ["START", "yes", "UNSTOP"])
def test_start_allows_texts_again(client, client_person, word):
    texting(client_person)
    Client.objects.filter(id=client_person.id).update(sms_stopped_at=timezone.now())

    assert webhook(client, word).status_code == 200
    assert Client.objects.get(id=client_person.id).sms_stopped_at is None


def test_a_forged_signature_is_refused_and_changes_nothing(client, client_person):
    texting(client_person)

    forged = webhook(client, "STOP", token="somebody-elses-token")
    url = reverse("sms-webhook")
    unsigned = client.post(url, {"From": NUMBER, "To": SENDER, "Body": "STOP"})
    # A real signature for START, replayed with the body changed to STOP.
    params = {"From": NUMBER, "To": SENDER, "Body": "START"}
    signature = RequestValidator(TOKEN).compute_signature("http://testserver" + url, params)
    tampered = client.post(url, {**params, "Body": "STOP"}, HTTP_X_TWILIO_SIGNATURE=signature)

    assert [r.status_code for r in (forged, unsigned, tampered)] == [403, 403, 403]
    assert Client.objects.get(id=client_person.id).sms_stopped_at is None


def test_without_an_auth_token_configured_nothing_is_believed(client, client_person, settings):
    texting(client_person)
    settings.TWILIO_AUTH_TOKEN = ""
    assert webhook(client, "STOP", token="").status_code == 403
    assert Client.objects.get(id=client_person.id).sms_stopped_at is None


def test_stop_reaches_only_the_practice_the_text_came_from(client, client_person):
    texting(client_person)
    elsewhere = factories.ClientFactory(
        practice=factories.PracticeFactory(sms_enabled=True, sms_sender="+447400999999")
    )
    Client.objects.filter(id=elsewhere.id).update(sms_number=NUMBER, sms_opt_in_at=timezone.now())

    webhook(client, "STOP", to=SENDER)

    assert Client.objects.get(id=client_person.id).sms_stopped_at is not None
    assert Client.objects.get(id=elsewhere.id).sms_stopped_at is None


def test_stop_to_another_practice_never_ends_texts_from_this_one(client, client_person):
    """The number is a client of this practice only; a STOP sent to another practice's
    number (an old course there, a mistyped reply) is about that practice's texts."""
    texting(client_person)
    factories.PracticeFactory(sms_enabled=True, sms_sender="+447400999999")

    webhook(client, "STOP", to="+447400999999")

    assert Client.objects.get(id=client_person.id).sms_stopped_at is None


def test_other_replies_change_nothing(client, client_person):
    texting(client_person)
    response = webhook(client, "Thanks, will do! stop by later")
    assert response.status_code == 200
    assert Client.objects.get(id=client_person.id).sms_stopped_at is None


def test_the_webhook_takes_only_post(client):
    assert client.get(reverse("sms-webhook")).status_code == 405


def test_a_name_with_curly_quotes_or_emoji_still_makes_one_plain_text(
    flare, client_person, clock, settings
):
    """One character outside the plain set (’ from a phone keyboard, an emoji) turns a
    text into 70-character pieces: three texts billed for one. The text stays plain."""
    client = texting(client_person)
    practice = client.practice
    practice.name = "Anna’s Massage Room 💆 Café"
    practice.save()
    plan = client_person.plans.get()
    plan.steps.filter(order=plan.steps.order_by("order").first().order).update(
        name="Knee–to–chest “gentle” 🙂"
    )
    row = queued(client_person, "2026-11-25/morning")
    clock.move_to(at(25, 8))

    assert reminders.reminder_send(row.id) == "sent"

    [text] = texts(settings)
    body = text.partition("\n\n")[2].strip()
    assert body.isascii(), body
    assert len(body) <= 160
    assert body.startswith("Anna's Massage Room Cafe: Time for your morning routine.")


# --- one text, never two: the short link and the short wording ------------------------------

SITE = "https://aftercare.annasmassage.co.uk"
LONG_NAME = "The Long Street Massage Clinic Ltd of Somewhere"  # cut to 30 in a text
GSM7_CHARACTERS = set(
    "@$\n\r _!\"#%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
) | set("^{}\\[~]|")


def sms_of(reminder, *, checkin_first: bool, slot=None, monkeypatch) -> str:
    monkeypatch.setattr(channels.emails, "checkin_first", lambda plan, now: checkin_first)
    return channels.sms_body(reminder, now=timezone.now(), slot=slot)


@pytest.mark.parametrize(
    ("kind", "checkin_first"),
    [("routine", False), ("routine", True), ("booking", False), ("booking_followup", False)],
)
@pytest.mark.parametrize("slot_name", ["morning", "evening"])
def test_every_kind_of_text_is_one_segment_with_a_real_address_and_a_long_name(
    flare, client_person, settings, monkeypatch, kind, checkin_first, slot_name
):
    settings.SITE_URL = SITE
    practice = client_person.practice
    practice.name = LONG_NAME
    practice.save()
    flare.steps.update(name="Knee to chest stretch with a long name")
    slot = SimpleNamespace(
        name=slot_name, steps=[SimpleNamespace(key=step.id) for step in flare.steps.all()]
    )
    reminder = Reminder(client=client_person, plan=flare, kind=kind, slot_key="x")

    body = sms_of(reminder, checkin_first=checkin_first, slot=slot, monkeypatch=monkeypatch)

    assert rules.gsm7_length(body) <= 160, (len(body), body)
    assert set(body) <= GSM7_CHARACTERS
    assert body.startswith(LONG_NAME[:30].strip() + ": ")
    assert body.endswith(" Reply STOP to end texts.")
    page = "c" if checkin_first else "t"
    assert f" {SITE}/l/{page}" in body


@given(
    name=st.text(max_size=60),
    steps=st.text(max_size=200),
    sentence=st.sampled_from(
        [
            *(
                s.format(name=n)
                for s in channels._SMS_SENTENCES.values()
                for n in ("morning", "evening", "daily")
            ),
        ]
    ),
)
def test_any_practice_name_and_step_names_still_make_one_segment(name, steps, sentence):
    """The pieces sms_body joins, for any name a practice or a step could have."""
    who = channels._plain(name)[:30].strip()
    link = f"{SITE}/l/c" + "A" * 30  # a sesame token is 30 characters
    body = rules.sms_text(who, sentence, channels._plain(steps), link)
    assert rules.gsm7_length(body) <= 160, body
    assert set(body) <= GSM7_CHARACTERS


@pytest.mark.parametrize(("page", "lands_on"), [("t", "client-today"), ("c", "client-checkin")])
def test_the_short_link_logs_the_client_in_and_opens_its_page(
    flare, client_person, client, page, lands_on
):
    factories.ClientFactory(practice=client_person.practice)  # someone else, never logged in
    link = emails.client_short_link(client_person, page).removeprefix("http://testserver")
    assert link.startswith(f"/l/{page}")

    response = client.get(link)

    assert response.status_code == 302
    assert response["Location"] == reverse(lands_on)
    assert client.get(reverse(lands_on)).wsgi_request.user == client_person.user
    # A ?next= on the link goes nowhere else.
    client.logout()
    assert client.get(link + "?next=https://evil.example/")["Location"] == reverse(lands_on)


def test_a_short_link_with_a_bad_token_opens_the_link_expired_page(client, client_person):
    token_link = emails.client_short_link(client_person, "t").removeprefix("http://testserver")
    # A changed signature character (not the last: its low bits are base64 padding).
    swapped = "A" if token_link[-5] != "A" else "B"
    forged = token_link[:-5] + swapped + token_link[-4:]
    for bad in (forged, "/l/t", "/l/tx"):
        response = client.get(bad)
        assert response.status_code == 403, bad
        assert "This link no longer works" in response.content.decode()
        assert "_auth_user_id" not in client.session


def test_an_expired_short_link_logs_nobody_in(client, client_person, clock, settings):
    link = emails.client_short_link(client_person, "c").removeprefix("http://testserver")
    clock.shift(settings.SESAME_MAX_AGE + 60)
    response = client.get(link)
    assert response.status_code == 403
    assert "This link no longer works" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_revoked_short_link_logs_nobody_in(client, client_person, therapist):
    link = emails.client_short_link(client_person, "t").removeprefix("http://testserver")
    people.client_links_revoke(client=client_person, by=therapist.user)
    response = client.get(link)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("letter", ["x", "T", "-", "%", "p"])
def test_an_unknown_page_letter_is_not_found(client, client_person, letter):
    token = emails.client_short_link(client_person, "t").rsplit("/l/t", 1)[1]
    response = client.get(f"/l/{letter}{token}")
    assert response.status_code == 404
    assert "_auth_user_id" not in client.session


def test_the_short_link_leaves_the_therapists_addresses_alone(client):
    """A therapist who types /t/settings still gets the page's address, not a text link's
    404: the short links live under /l/, away from the therapist's /t/."""
    for address in ("/t/settings", "/t/exercises", "/t/clients/new"):
        response = client.get(address)
        assert response.status_code == 301, address
        assert response["Location"] == address + "/"


def test_a_practice_name_of_brackets_is_shortened_to_keep_one_text():
    """Found by Hypothesis: '[' and '{' count two each, so a 30-character name of them
    with the longest sentence made 161 characters once the step names were dropped."""
    name = "000000000000000000[[[[{{{"
    sentence = "Check in, then morning routine."
    link = f"{SITE}/l/c" + "A" * 30

    body = rules.sms_text(name, sentence, "", link)

    assert rules.gsm7_length(body) == 159  # 161 less the brace (two) that did not fit
    assert body.startswith("000000000000000000[[[[{{: Check in")  # one brace fewer
    assert body.endswith(f"{link} Reply STOP to end texts.")
