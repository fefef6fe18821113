"""What a reminder email looks like: parts, footer, subject privacy, headers, links."""

from __future__ import annotations

import re
import smtplib
from datetime import UTC, date, datetime
from html import unescape

import pytest
from django.core import mail
from django.utils import timezone

from aftercare.models import PlanStep, Reminder
from aftercare.outbox import reminders
from clients.models import Client, MassageSession

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
DISCLAIMER = "These are self-care suggestions from your massage therapist, not medical care."
HEALTH_WORDS = re.compile(r"pain|flare|\bback\b|symptom|sciatic|numb|\d", re.I)


def send(client: Client, slot_key: str, clock, when: datetime, kind: str = "routine"):
    reminders.reminders_plan_due()
    reminder = Reminder.objects.get(client=client, kind=kind, slot_key=slot_key)
    Reminder.objects.filter(id=reminder.id).update(status="queued", queued_at=timezone.now())
    clock.move_to(when)
    assert reminders.reminder_send(reminder.id) == "sent"
    return reminder, mail.outbox[-1]


def html_of(message) -> str:
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return html


def morning(client_person, clock):
    return send(client_person, "2026-11-25/morning", clock, datetime(2026, 11, 25, 8, tzinfo=UTC))


def test_it_has_a_text_and_an_html_part(flare, client_person, clock):
    _, message = morning(client_person, clock)
    assert message.body.startswith("Hi Client,")
    html = html_of(message)
    assert html.startswith("<!doctype html>")
    assert 'name="viewport"' in html
    for step in ("Passive SI reset", "Lumbar decompression", "Psoas release", "Heat first"):
        assert step in message.body
        assert step in html
    parsed = message.message()
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.get_payload()] == [
        "text/plain",
        "text/html",
    ]


@pytest.mark.parametrize("kind", ["routine", "booking"])
def test_the_footer_has_the_practice_address_and_disclaimer(
    flare, client_person, practice, clock, kind
):
    if kind == "routine":
        _, message = morning(client_person, clock)
    else:
        Client.objects.filter(id=client_person.id).update(massage_cadence="weekly")
        MassageSession.objects.create(client=client_person, date=date(2026, 11, 18))
        _, message = send(
            client_person,
            "booking/2026-11-18",
            clock,
            datetime(2026, 11, 25, 8, tzinfo=UTC),
            kind="booking",
        )
    text_footer = message.body[message.body.index("\n--\n") :]
    assert DISCLAIMER in text_footer
    assert f"{practice.name}\n1 High Street\nBristol" in text_footer
    html = html_of(message)
    html_footer = html[html.index("border-top:1px solid #e5e0d8") :]
    assert DISCLAIMER in html_footer
    assert "1 High Street<br>Bristol" in html_footer
    assert practice.name in html_footer
    assert message.from_email == f"{practice.name} <{practice.sender_email}>"


def test_subjects_carry_no_pain_scores_or_health_words(flare, client_person, clock):
    from aftercare import checkins

    checkins.symptom_log_create(
        plan=flare,
        submission_key=__import__("uuid").uuid4(),
        answers={
            "safety_signs": [],
            "pain_now": 8,
            "worst_pain": 9,
            "compared": "worse",
            "legs": "one",
            "sleep": "woken",
            "steps_done": [],
            "worse_steps": [],
            "worse_by": 0,
            "note": "Sciatica down my left leg",
            "flare_tap": True,
            "gone_tap": False,
        },
    )
    Client.objects.filter(id=client_person.id).update(massage_cadence="weekly")
    MassageSession.objects.create(client=client_person, date=date(2026, 11, 18))
    subjects = []
    for key, hour, kind in [
        ("2026-11-25/morning", 8, "routine"),
        ("booking/2026-11-18", 8, "booking"),
        ("2026-11-25/evening", 19, "routine"),
    ]:
        subjects.append(
            send(client_person, key, clock, datetime(2026, 11, 25, hour, tzinfo=UTC), kind)[
                1
            ].subject
        )
    # Two days later, with no log since: the check-in subject.
    Reminder.objects.filter(client=client_person, kind="routine").delete()
    clock.move_to(datetime(2026, 11, 28, 6, tzinfo=UTC))
    subjects.append(
        send(client_person, "2026-11-28/morning", clock, datetime(2026, 11, 28, 8, tzinfo=UTC))[
            1
        ].subject
    )
    assert subjects == [
        "Your morning routine",
        "Time to book your next massage",
        "Your evening routine",
        "A quick check-in, then your morning routine",
    ]
    for subject in subjects:
        assert not HEALTH_WORDS.search(subject), subject


def test_the_message_id_is_stable_across_retries(
    flare, client_person, practice, clock, monkeypatch
):
    reminders.reminders_plan_due()
    reminder = Reminder.objects.get(client=client_person, slot_key="2026-11-25/morning")
    Reminder.objects.filter(id=reminder.id).update(status="queued")
    clock.move_to(datetime(2026, 11, 25, 8, tzinfo=UTC))
    tried = []

    def refuse(self, messages):
        tried.extend(message.extra_headers["Message-ID"] for message in messages)
        raise smtplib.SMTPResponseException(451, b"Try again later")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    for _ in range(2):
        assert reminders.reminder_send(reminder.id) == "retry"
        Reminder.objects.filter(id=reminder.id).update(status="queued")  # claimed again
    monkeypatch.undo()
    assert reminders.reminder_send(reminder.id) == "sent"

    (message,) = mail.outbox
    expected = f"<reminder.{reminder.id}.routine@{practice.sender_email.split('@')[1]}>"
    assert tried == [expected, expected]
    assert message.message()["Message-ID"] == expected
    # Another row, another id.
    other = Reminder.objects.get(client=client_person, slot_key="2026-11-25/evening")
    Reminder.objects.filter(id=other.id).update(status="queued")
    clock.move_to(datetime(2026, 11, 25, 19, tzinfo=UTC))
    reminders.reminder_send(other.id)
    assert mail.outbox[-1].message()["Message-ID"] != expected


def test_it_has_one_click_unsubscribe_headers(flare, client_person, clock, client):
    _, message = morning(client_person, clock)
    headers = message.message()
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    match = re.fullmatch(
        r"<(http://testserver(/e/unsubscribe/routine/[^>]+))>", headers["List-Unsubscribe"]
    )
    assert match
    # The header's address is the one the footer offers, and it works by POST.
    assert match.group(1) in message.body
    assert client.post(match.group(2), {"List-Unsubscribe": "One-Click"}).status_code == 200
    client_person.refresh_from_db()
    assert client_person.routine_emails is False


def test_it_links_each_video_and_a_button_to_open_today(flare, client_person, clock, client):
    PlanStep.objects.filter(plan=flare, name="Passive SI reset").update(
        video_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    )
    _, message = morning(client_person, clock)
    html = html_of(message)
    assert "Watch here: https://www.youtube.com/watch?v=dQw4w9WgXcQ" in message.body
    assert html.count("▶ Watch here") == 1
    assert 'href="https://www.youtube.com/watch?v=dQw4w9WgXcQ"' in html
    # The button opens Today: a magic link that logs this phone in.
    button = re.search(r'<a href="([^"]+)"[^>]*>Open today\'s routine</a>', html)
    assert button
    link = unescape(button.group(1))
    assert link in message.body
    response = client.get(link.removeprefix("http://testserver"), follow=True)
    assert response.redirect_chain[-1][0] == "/c/"
    assert response.wsgi_request.user == client_person.user


def test_the_done_and_checkin_buttons_point_at_their_pages(flare, client_person, clock):
    _, message = morning(client_person, clock)
    html = html_of(message)
    assert re.search(r'href="http://testserver/e/done/[^"]+/"[^>]*>Done ✓</a>', html)
    assert re.search(r'href="http://testserver/e/checkin/[^"]+/"[^>]*>Log how I feel</a>', html)
    assert re.search(r"Mark it done: http://testserver/e/done/\S+/", message.body)
    assert re.search(r"Log how you feel: http://testserver/e/checkin/\S+/", message.body)
    assert "http://testserver/c/login/" in message.body  # the settings link logs in too


def test_text_the_therapist_or_client_typed_is_escaped_in_html(flare, client_person, clock):
    Client.objects.filter(id=client_person.id).update(name="<b>Eve</b> & co")
    PlanStep.objects.filter(plan=flare, name="Psoas release").update(
        personal_note='<script>alert("x")</script> Use the <i>green</i> ball'
    )
    _, message = morning(Client.objects.get(id=client_person.id), clock)
    html = html_of(message)
    assert "<script>" not in html
    assert (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Use the &lt;i&gt;green&lt;/i&gt;" in html
    )
    assert "Hi &lt;b&gt;Eve&lt;/b&gt;," in html
    # The text part shows the words as typed.
    assert '<script>alert("x")</script> Use the <i>green</i> ball' in message.body
    assert "Hi <b>Eve</b>," in message.body
