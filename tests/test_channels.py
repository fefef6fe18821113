"""How should we remind you? The rule that picks the channel for one reminder (pure),
and the client's choice on Settings: bad numbers, consent, texts switched off at the
practice, notifications not on yet, and a double submit."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from aftercare.models import PushSubscription
from aftercare.rules.channels import EMAIL, PUSH, SMS, Reach, delivery
from clients.models import Client
from tests.standins import Browser

# --- the rule -------------------------------------------------------------------------------

TEXTS_OK = dict(sms_number=True, sms_opted_in=True, sms_stopped=False, sms_enabled=True)


@pytest.mark.parametrize(
    ("reach", "order", "note"),
    [
        (Reach(), (EMAIL,), ""),
        (Reach(chosen=PUSH, push_devices=2), (PUSH, EMAIL), ""),
        (
            Reach(chosen=PUSH, push_devices=0),
            (EMAIL,),
            "Notifications chosen, but no phone has them on; sent by email.",
        ),
        (Reach(chosen=SMS, **TEXTS_OK), (SMS, EMAIL), ""),
        (
            Reach(chosen=SMS, **{**TEXTS_OK, "sms_stopped": True}),
            (EMAIL,),
            "Text chosen, but the client replied STOP; sent by email.",
        ),
        (
            Reach(chosen=SMS, **{**TEXTS_OK, "sms_opted_in": False}),
            (EMAIL,),
            "Text chosen, but the client has not agreed to texts; sent by email.",
        ),
        (
            Reach(chosen=SMS, **{**TEXTS_OK, "sms_enabled": False}),
            (EMAIL,),
            "Text chosen, but the practice has texts switched off; sent by email.",
        ),
        (
            Reach(chosen=SMS, **{**TEXTS_OK, "sms_number": False}),
            (EMAIL,),
            "Text chosen, but no mobile number; sent by email.",
        ),
        # Email chosen: a phone with notifications on, or a number, changes nothing.
        (Reach(chosen=EMAIL, push_devices=1, **TEXTS_OK), (EMAIL,), ""),
    ],
)
def test_the_chosen_channel_goes_when_it_can_else_email(reach, order, note):
    assert delivery("routine", reach) == delivery("booking", reach)
    found = delivery("routine", reach)
    assert (found.order, found.note) == (order, note)


@pytest.mark.parametrize("kind", ["link", "alert", "digest"])
def test_links_and_the_therapists_emails_always_go_by_email(kind):
    assert delivery(kind, Reach(chosen=PUSH, push_devices=3)).order == (EMAIL,)
    assert delivery(kind, Reach(chosen=SMS, **TEXTS_OK)).order == (EMAIL,)


reaches = st.builds(
    Reach,
    chosen=st.sampled_from([EMAIL, PUSH, SMS, "pigeon"]),
    push_devices=st.integers(min_value=0, max_value=5),
    sms_number=st.booleans(),
    sms_opted_in=st.booleans(),
    sms_stopped=st.booleans(),
    sms_enabled=st.booleans(),
)
kinds = st.sampled_from(["routine", "booking", "booking_followup", "link", "alert", "digest"])


@given(kind=kinds, reach=reaches)
def test_every_reminder_has_one_way_to_go_and_email_is_the_last(kind, reach):
    found = delivery(kind, reach)
    assert found.order[-1] == EMAIL
    assert len(set(found.order)) == len(found.order)  # never the same way twice
    assert len(found.order) <= 2  # the chosen one, then email: one slot, one message


@given(kind=kinds, reach=reaches)
def test_a_text_only_goes_with_consent_a_number_no_stop_and_the_practice_switch(kind, reach):
    if SMS in delivery(kind, reach).order:
        assert reach.chosen == SMS and reach.sms_number and reach.sms_opted_in
        assert reach.sms_enabled and not reach.sms_stopped


@given(kind=kinds, reach=reaches)
def test_a_notification_only_goes_to_a_phone_that_has_them_on(kind, reach):
    if PUSH in delivery(kind, reach).order:
        assert reach.chosen == PUSH and reach.push_devices > 0


# --- Settings: "How should we remind you?" -------------------------------------------------


@pytest.fixture
def texting_practice(practice):
    practice.sms_enabled = True
    practice.phone = "+44 117 496 0000"  # Bristol: numbers typed without +44 are British
    practice.sms_sender = "+447400123456"
    practice.save()
    return practice


def choose(phone, **data):
    form = {"reminder_channel": "email", "sms_number": "", **data}
    return phone.post(reverse("client-reminder-channel"), form)


def stored(client_person) -> Client:
    return Client.objects.get(id=client_person.id)


def test_the_settings_page_offers_the_three_ways(phone, client_person):
    html = phone.get(reverse("client-settings")).content.decode()
    assert "How should we remind you?" in html
    assert 'value="email"' in html and 'value="push"' in html
    # Texts are off at this practice: the choice is there, disabled, with a note.
    assert 'value="sms" id="channel-sms" aria-describedby="sms-help" disabled' in html
    assert "Your practice doesn't send text messages yet." in html
    assert "Add to Home Screen" in html  # the iPhone's way to notifications


def test_a_client_chooses_texts_with_consent(phone, client_person, texting_practice, clock):
    response = choose(phone, reminder_channel="sms", sms_number="07123 456789", sms_consent="on")

    assert response.status_code == 302
    person = stored(client_person)
    assert (person.reminder_channel, person.sms_number) == ("sms", "+447123456789")
    assert person.sms_opt_in_at == timezone.now()
    page = phone.get(reverse("client-settings")).content.decode()
    assert "You agreed to texts at this number on 25 Nov 2026, 06:00." in page
    assert "by text" in page


def test_submitting_twice_keeps_the_first_consent_time(
    phone, client_person, texting_practice, clock
):
    choose(phone, reminder_channel="sms", sms_number="+44 7123 456789", sms_consent="on")
    first = stored(client_person).sms_opt_in_at
    clock.shift(60)
    again = choose(phone, reminder_channel="sms", sms_number="+44 7123 456789", sms_consent="on")

    assert again.status_code == 302
    assert stored(client_person).sms_opt_in_at == first


def test_a_new_number_needs_and_records_a_new_consent(
    phone, client_person, texting_practice, clock
):
    choose(phone, reminder_channel="sms", sms_number="+44 7123 456789", sms_consent="on")
    clock.shift(3600)
    choose(phone, reminder_channel="sms", sms_number="+44 7123 000000", sms_consent="on")

    person = stored(client_person)
    assert person.sms_number == "+447123000000"
    assert person.sms_opt_in_at == timezone.now()


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("hello", "That doesn&#x27;t look like a phone number."),
        ("12345", "That number isn&#x27;t complete or isn&#x27;t a real number."),
        ("+44 7700 900", "That number isn&#x27;t complete or isn&#x27;t a real number."),
        ("+44 117 496 0000", "That looks like a landline: texts need a mobile number."),
        ("", "Type the mobile number we should text."),
        ("+" + "9" * 29, "That doesn&#x27;t look like a phone number."),
        ("+" + "9" * 40, "Ensure this value has at most 30 characters"),
    ],
)
def test_a_bad_number_gets_a_clear_message_and_changes_nothing(
    phone, client_person, texting_practice, number, message
):
    response = choose(phone, reminder_channel="sms", sms_number=number, sms_consent="on")

    assert response.status_code == 400
    assert message in response.content.decode()
    person = stored(client_person)
    assert (person.reminder_channel, person.sms_number, person.sms_opt_in_at) == ("email", "", None)


def test_texts_need_the_consent_box(phone, client_person, texting_practice):
    response = choose(phone, reminder_channel="sms", sms_number="+44 7123 456789")

    assert response.status_code == 400
    assert "Tick this to agree to texts" in response.content.decode()
    assert stored(client_person).reminder_channel == "email"


def test_texts_cannot_be_chosen_while_the_practice_has_them_off(phone, client_person):
    response = choose(phone, reminder_channel="sms", sms_number="+44 7123 456789", sms_consent="on")

    assert response.status_code == 400
    assert "Your practice doesn&#x27;t send texts yet." in response.content.decode()
    assert stored(client_person).reminder_channel == "email"


def test_notifications_need_a_phone_that_turned_them_on(phone, client_person):
    response = choose(phone, reminder_channel="push")

    assert response.status_code == 400
    assert "Turn on notifications on your phone first" in response.content.decode()
    browser = Browser.new()
    PushSubscription.objects.create(
        client=client_person,
        endpoint="https://push.example.net/send/1",
        p256dh=browser.p256dh,
        auth=browser.auth,
    )
    assert choose(phone, reminder_channel="push").status_code == 302
    assert stored(client_person).reminder_channel == "push"


def test_going_back_to_email_ends_the_consent(phone, client_person, texting_practice):
    choose(phone, reminder_channel="sms", sms_number="+44 7123 456789", sms_consent="on")
    choose(phone, reminder_channel="email", sms_number="+44 7123 456789")

    person = stored(client_person)
    assert (person.reminder_channel, person.sms_opt_in_at) == ("email", None)


@pytest.mark.parametrize("channel", ["pigeon", "", "EMAIL"])
def test_an_unknown_channel_is_refused(phone, client_person, channel):
    assert choose(phone, reminder_channel=channel).status_code == 400
    assert stored(client_person).reminder_channel == "email"


def test_someone_logged_out_changes_nothing(client, client_person, texting_practice):
    response = client.post(
        reverse("client-reminder-channel"),
        {"reminder_channel": "sms", "sms_number": "+44 7123 456789", "sms_consent": "on"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("client-new-link")
    assert stored(client_person).reminder_channel == "email"


def test_a_number_without_country_code_needs_one_when_the_practice_has_no_country(
    phone, client_person, practice
):
    practice.sms_enabled, practice.phone = True, ""
    practice.save()
    response = choose(phone, reminder_channel="sms", sms_number="07123 456789", sms_consent="on")
    assert response.status_code == 400
    assert "with the country code" in response.content.decode()
    ok = choose(phone, reminder_channel="sms", sms_number="+44 7123 456789", sms_consent="on")
    assert ok.status_code == 302


def test_the_rule_and_the_model_name_the_same_channels():
    """The pure rule (no Django) and the model's choices (the clients app never imports
    aftercare) each spell the channels: they must agree, value and label."""
    from aftercare.rules import channels as rule
    from clients.models import Channel

    assert {c.value: c.label for c in Channel} == {c: rule.LABELS[c] for c in rule.CHANNELS}
