"""The reminder pipeline on the real services (issue 4, "Reliability tests").

PostgreSQL (pytest-django's test database, committed rows so another process sees
them), Redis as the Celery broker, a real `celery -A aftercare worker` subprocess and a
local SMTP sink (tests/smtp_sink.py) that counts accepted messages per Message-ID.

The test process plays beat: it calls the tick task's function itself (plan, claim,
sweep, hand out to Redis), so nothing waits for a minute schedule; test 4 also runs two
real `celery beat` processes ticking every second. Without PostgreSQL and Redis these
tests skip with the reason; with REQUIRE_SERVICES=1 (.ci/run) they fail instead.

docs/reminders.md explains why each property holds and the one duplicate window.
"""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from aftercare import tasks
from aftercare.models import Heartbeat, Reminder
from aftercare.outbox import emails, reminders
from aftercare.rules import schedule
from tests import factories
from tests.services import BEAT_READY, WORKER_READY, at_once, beat, wait_until, worker
from tests.smtp_sink import ACCEPTED, DROPPED, TEMP_FAILED, SmtpSink

pytestmark = [
    pytest.mark.services,
    pytest.mark.postgres,
    pytest.mark.redis,
    # transaction=True: the worker, another process, must see the rows. serialized_rollback:
    # the flush after each test would otherwise take the built-in protocol (a data
    # migration) with it.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

Status = Reminder.Status

# Short clocks for the test process's sweep (the worker gets its own through its env).
REQUEUE_SECONDS = 2  # a queued row older than this lost its broker message
STUCK_SECONDS = 3  # a sending row older than this lost its worker (sends here take ms)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def services(require_service, settings):
    """PostgreSQL and Redis, or skip (fail under REQUIRE_SERVICES=1)."""
    require_service("postgres")
    require_service("redis")
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.fail(f"CELERY_BROKER_URL is not Redis: {settings.CELERY_BROKER_URL}")
    settings.REMINDER_REQUEUE_SECONDS = REQUEUE_SECONDS
    settings.REMINDER_STUCK_SECONDS = STUCK_SECONDS


@pytest.fixture
def broker(services):
    """A client of the broker's Redis database (settings, so CI's db 15 is the one used)."""
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()  # no messages left over from an earlier test
    yield client
    client.close()


@pytest.fixture
def sink(services):
    smtp = SmtpSink().start()
    yield smtp
    smtp.stop()


@pytest.fixture
def spawn(services, broker, sink, tmp_path):
    """Start celery processes for this test; all are killed afterwards, pass or fail."""
    started = []

    def start(kind: str = "worker", name: str = "beat", **env):
        env = {
            "EMAIL_URL": sink.url,
            "EMAIL_TIMEOUT": 5,
            "REMINDER_RETRY_BASE_SECONDS": 1,
            "REMINDER_REQUEUE_SECONDS": REQUEUE_SECONDS,
            "REMINDER_STUCK_SECONDS": STUCK_SECONDS,
            **env,
        }
        if kind == "worker":
            concurrency = env.pop("concurrency", 1)
            process = worker(tmp_path, concurrency=concurrency, **env)
            ready = WORKER_READY
        else:
            process = beat(tmp_path, name, **env)
            ready = BEAT_READY
        started.append(process)
        return process.start(ready=ready)

    yield start
    for process in reversed(started):
        process.kill()
        # Captured output: pytest shows it only when the test failed.
        print(f"\n--- {process.name} log ({process.log}) ---\n{process.tail(60)}")


# --- data ----------------------------------------------------------------------------------


def booking_rows(
    count: int, *, clients: int = 4, practice=None, due_over: float = 0.0
) -> list[Reminder]:
    """`count` booking nudges spread over a few clients; no time-of-day rules apply to
    them, so they are due whenever the test runs: all of them a minute ago, or with
    `due_over`, one after the other over that many seconds from a second from now."""
    practice = practice or factories.PracticeFactory()
    people = [factories.ClientFactory(practice=practice) for _ in range(clients)]
    now = timezone.now()
    first = now.date() - timedelta(days=30)
    rows = []
    for number in range(count):
        person = people[number % len(people)]
        session = first - timedelta(days=number)  # one nudge per (imaginary) session
        kind = Reminder.Kind.BOOKING if number % 3 else Reminder.Kind.BOOKING_FOLLOWUP
        prefix = "booking" if kind == Reminder.Kind.BOOKING else "followup"
        rows.append(
            Reminder(
                client=person,
                kind=kind,
                slot_key=f"{prefix}/{session.isoformat()}",
                slot_day=now.date(),
                due_at=now + timedelta(seconds=1 + due_over * number / count)
                if due_over
                else now - timedelta(minutes=1),
            )
        )
    return Reminder.objects.bulk_create(rows)


def routine_row_due_now() -> Reminder:
    """A routine reminder as the planner makes it, due ten minutes ago: the client lives
    in a zone where it is about noon now (never quiet hours) and does the routine then."""
    now = timezone.now()
    offset = 12 - now.hour  # -11 .. +12 hours: local time is 12:xx
    zone = "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    local = now + timedelta(hours=offset)
    practice = factories.practice_with_library()
    therapist = factories.TherapistFactory(practice=practice)
    person = factories.ClientFactory(
        practice=practice,
        primary_therapist=therapist,
        time_zone=zone,
        morning_time=(local - timedelta(minutes=10)).time().replace(second=0, microsecond=0),
    )
    plan = factories.plan_for(person, therapist)
    [slot] = [
        slot
        for slot in reminders.routine_slots(plan, local.date(), 1)
        if slot.name == schedule.SlotName.MORNING
    ]
    assert slot.utc <= now
    return Reminder.objects.create(
        client=person,
        plan=plan,
        kind=Reminder.Kind.ROUTINE,
        slot_key=schedule.slot_key(slot),
        slot_day=slot.day,
        due_at=slot.utc,
    )


def message_ids(rows) -> dict[int, str]:
    ids = [row.id for row in rows]
    found = Reminder.objects.select_related("client__practice").filter(id__in=ids)
    return {row.id: emails.reminder_message_id(row) for row in found}


def statuses(ids) -> dict[int, str]:
    return dict(Reminder.objects.filter(id__in=ids).values_list("id", "status"))


def all_finished(ids) -> bool:
    return not Reminder.objects.filter(
        id__in=ids, status__in=[Status.PENDING, Status.QUEUED, Status.SENDING]
    ).exists()


def tick_until_finished(ids, *, timeout: float, every: float = 1.5) -> None:
    """Play beat: tick now and then until no row is waiting any more."""
    last = 0.0

    def finished() -> bool:
        nonlocal last
        if all_finished(ids):
            return True
        if time.monotonic() - last >= every:
            tasks.tick()
            last = time.monotonic()
        return False

    wait_until(
        finished,
        timeout=timeout,
        interval=0.2,
        message=lambda: f"rows still waiting: {waiting(ids)}",
    )


def waiting(ids) -> dict[int, str]:
    return {i: s for i, s in statuses(ids).items() if s not in (Status.SENT, Status.FAILED)}


def quiet_for(sink: SmtpSink, seconds: float, *, timeout: float) -> int:
    """Wait until the sink saw no new attempt for `seconds`; the number of deliveries."""
    state = {"count": -1, "since": time.monotonic()}

    def settled() -> bool:
        count = len(sink.attempts)
        if count != state["count"]:
            state.update(count=count, since=time.monotonic())
            return False
        return time.monotonic() - state["since"] >= seconds

    wait_until(settled, timeout=timeout, interval=0.1, message="the sink never went quiet")
    return len(sink)


def assert_exactly_once(sink: SmtpSink, ids: dict[int, str], *, allow_twice=()) -> None:
    """Every row's Message-ID was accepted once; a row in `allow_twice` once or twice."""
    counts = sink.counts()
    assert set(counts) <= set(ids.values()), "the sink got mail for rows it should not"
    wrong = {
        row: counts[mid]
        for row, mid in ids.items()
        if counts[mid] not in ({1, 2} if row in allow_twice else {1})
    }
    assert not wrong, f"rows not delivered exactly once (row: deliveries): {wrong}"


# --- 1. normal run -------------------------------------------------------------------------


def test_1_normal_run_delivers_every_due_reminder_exactly_once(spawn, sink, capsys):
    routine = routine_row_due_now()
    rows = [routine, *booking_rows(70)]  # two batches of the 50 a task carries
    ids = message_ids(rows)
    spawn("worker")

    tasks.tick()
    wait_until(lambda: all_finished(ids), timeout=60, message=lambda: f"waiting: {waiting(ids)}")
    quiet_for(sink, 1.0, timeout=10)  # nothing more arrives afterwards either

    assert statuses(ids) == dict.fromkeys(ids, Status.SENT)
    assert_exactly_once(sink, ids)
    assert len(sink) == len(ids)
    assert list(Reminder.objects.filter(id__in=ids).values_list("attempts", flat=True)) == [
        1
    ] * len(ids)
    # Each went to its client, with the headers the issue asks for.
    by_id = {d.message_id: d for d in sink.deliveries}
    for row in Reminder.objects.select_related("client").filter(id__in=ids):
        delivery = by_id[ids[row.id]]
        assert delivery.rcpt_tos == (row.client.email,)
        assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in delivery.content
    routine_mail = by_id[ids[routine.id]].content.decode(errors="replace")
    assert "text/html" in routine_mail and "text/plain" in routine_mail

    # The duplicate window: from the sink's 250 to the row's sent_at (docs/reminders.md).
    accepted = {d.message_id: d.accepted_at for d in sink.deliveries}
    windows = [
        row.sent_at.timestamp() - accepted[ids[row.id]]
        for row in Reminder.objects.filter(id__in=ids)
    ]
    assert min(windows) > 0, "a row was marked sent before the mail server accepted it"
    assert max(windows) < 5
    # ... plus the conditional UPDATE that records it (sent_at is read just before it).
    updates = []
    for row_id in list(ids)[:30]:
        started = time.perf_counter()
        Reminder.objects.filter(id=row_id, status=Status.SENT).update(reason="")
        updates.append(time.perf_counter() - started)
    with capsys.disabled():
        print(
            f"\n[duplicate window] sink 250 -> row sent_at over {len(windows)} sends: "
            f"median {statistics.median(windows) * 1000:.2f} ms, "
            f"p95 {sorted(windows)[int(len(windows) * 0.95) - 1] * 1000:.2f} ms, "
            f"max {max(windows) * 1000:.2f} ms; the UPDATE that marks it sent: "
            f"median {statistics.median(updates) * 1000:.2f} ms, max {max(updates) * 1000:.2f} ms"
        )


# --- 2. kill -9 mid-batch ------------------------------------------------------------------


def test_2_killing_the_worker_mid_batch_loses_none_and_doubles_none(spawn, sink, capsys):
    rows = booking_rows(40)
    ids = message_ids(rows)
    sink.delay = 0.2  # each message takes ~0.2 s: one batch of 40 takes ~8 s
    first = spawn("worker")

    tasks.tick()
    wait_until(lambda: len(sink) >= 10, timeout=60, message="the batch never got going")
    first.kill()  # SIGKILL to the worker and its pool child

    # The dead worker changes nothing any more: this is the state it left.
    at_kill = statuses(ids)
    accepted_at_kill = set(sink.counts())
    sending_at_kill = {row for row, status in at_kill.items() if status == Status.SENDING}
    # The batch claims its rows at once (one UPDATE): the ones it had not sent yet are
    # "sending", and come back through the sweep.
    assert list(at_kill.values()).count(Status.SENDING) > 1, "not killed mid-batch"
    assert list(at_kill.values()).count(Status.SENT) >= 9
    # The only row that may arrive twice: its mail was accepted but the worker died
    # before recording it (docs/reminders.md, "the duplicate window"). One pool process
    # sends one email at a time, and marks each sent at once: at most one such row.
    window = {row for row in sending_at_kill if ids[row] in accepted_at_kill}
    assert len(window) <= 1

    sink.delay = 0.0
    spawn("worker")
    time.sleep(STUCK_SECONDS)  # the sweep treats "sending" this old as interrupted
    tick_until_finished(ids, timeout=60)
    quiet_for(sink, 1.0, timeout=10)

    assert statuses(ids) == dict.fromkeys(ids, Status.SENT), "a reminder was lost"
    assert_exactly_once(sink, ids, allow_twice=window)
    interrupted = set(
        Reminder.objects.filter(id__in=ids, interrupted=True).values_list("id", flat=True)
    )
    assert interrupted == sending_at_kill  # the therapist sees which ones were cut off
    with capsys.disabled():
        print(
            f"\n[kill -9] at the kill: {list(at_kill.values()).count(Status.SENT)} sent, "
            f"{len(sending_at_kill)} sending, {list(at_kill.values()).count(Status.QUEUED)} queued; "
            f"rows in the duplicate window: {len(window)}"
        )


# --- 3. Redis flushed with reminders in flight ---------------------------------------------


def test_3_flushing_redis_with_reminders_in_flight_loses_none(spawn, sink, broker):
    rows = booking_rows(120)  # three messages of 50, 50 and 20 ids
    ids = message_ids(rows)
    sink.delay = 0.03
    spawn("worker")

    tasks.tick()
    wait_until(lambda: len(sink) >= 5, timeout=60, message="sending never started")
    broker.flushdb()  # the queued messages, the unacked one: all gone

    # Whatever the worker was holding finishes; the rest is lost as far as Redis knows.
    delivered_before_sweep = quiet_for(sink, 2.0, timeout=60)
    assert delivered_before_sweep < len(ids), "nothing was in flight when Redis was flushed"
    assert Reminder.objects.filter(id__in=ids, status=Status.QUEUED).exists()

    sink.delay = 0.0
    tick_until_finished(ids, timeout=60)  # the sweep hands the lost rows out again
    quiet_for(sink, 1.0, timeout=10)

    assert statuses(ids) == dict.fromkeys(ids, Status.SENT)
    assert_exactly_once(sink, ids)


# --- 4. two beats --------------------------------------------------------------------------


def test_4a_concurrent_ticks_claim_each_row_once(services):
    """Eight ticks at the same instant, each in its own PostgreSQL connection."""
    rows = booking_rows(400, clients=8)
    ids = {row.id for row in rows}
    claimed = at_once(lambda: reminders.reminders_claim(limit=120) + reminders.reminders_sweep(), 8)

    everything = [row for batch in claimed for row in batch]
    assert len(everything) == len(set(everything)), "two ticks claimed the same row"
    assert set(everything) == ids  # 8 x 120 > 400: every due row was claimed, once
    assert set(statuses(ids).values()) == {Status.QUEUED}


def test_4b_two_beat_processes_cause_no_duplicates(spawn, sink):
    tick_env = {"TICK_SECONDS": 1, "REMINDER_STUCK_SECONDS": 60}
    work = spawn("worker", concurrency=2, **tick_env)  # two ticks can run at once
    beats = [spawn("beat", name, **tick_env) for name in ("beat-a", "beat-b")]
    # The rows are made once the ticks run (on a loaded machine the processes can take
    # longer to start than the rows take to fall due, and one tick would claim them all).
    wait_until(
        lambda: Heartbeat.objects.filter(name="tick").exists(),
        timeout=60,
        message="no tick yet",
    )
    # Rows fall due over 6 s while both beats tick every second: many ticks claim some.
    rows = booking_rows(150, due_over=6)
    ids = message_ids(rows)
    planned_client = factories.plan_for(
        factories.ClientFactory(practice=rows[0].client.practice),
        factories.TherapistFactory(practice=rows[0].client.practice),
    ).client

    wait_until(lambda: all_finished(ids), timeout=90, message=lambda: f"waiting: {waiting(ids)}")
    ticked = Heartbeat.objects.get(name="tick").at
    wait_until(  # both beats keep ticking after the work is done: still nothing doubles
        lambda: Heartbeat.objects.get(name="tick").at > ticked + timedelta(seconds=3),
        timeout=30,
        message="the beats stopped ticking",
    )
    quiet_for(sink, 1.0, timeout=10)

    assert statuses(ids) == dict.fromkeys(ids, Status.SENT)
    assert_exactly_once(sink, ids)
    # Both beats really ticked, and the rows were claimed by several ticks, not one.
    for process in beats:
        assert process.log.read_text().count("Sending due task reminders-tick") >= 3
    claims = re.findall(r"'claimed': (\d+)", work.log.read_text())
    assert sum(map(int, claims)) >= len(ids)
    assert len([n for n in claims if int(n)]) >= 2
    # The ticks planned the plan's upcoming slots too, once each (a unique key per slot).
    assert Reminder.objects.filter(client=planned_client, kind=Reminder.Kind.ROUTINE).exists()


# --- 5. temporary and permanent SMTP failures ----------------------------------------------


def test_5_transient_smtp_errors_are_retried_and_permanent_ones_shown(spawn, sink, client):
    practice = factories.PracticeFactory()
    therapist = factories.TherapistFactory(practice=practice)
    lucky = factories.ClientFactory(practice=practice, primary_therapist=therapist)
    refused = factories.ClientFactory(practice=practice, primary_therapist=therapist)
    now = timezone.now()
    rows = Reminder.objects.bulk_create(
        Reminder(
            client=person,
            kind=Reminder.Kind.BOOKING,
            slot_key=f"booking/{(now - timedelta(days=14)).date()}",
            slot_day=now.date(),
            due_at=now - timedelta(minutes=1),
        )
        for person in (lucky, refused)
    )
    ids = message_ids(rows)
    good, bad = (ids[row.id] for row in rows)
    sink.temp_fail_next(1)  # "451 try again later"
    sink.drop_next(1)  # then the connection closes with no answer
    sink.refuse_recipient(refused.email)  # 550, for good
    spawn("worker")

    # The retries are rows put back to pending with a later due time (1 s, 2 s): the tick
    # claims them again, so no retry ever waits in the broker.
    tick_until_finished(ids, timeout=60, every=0.5)
    quiet_for(sink, 1.0, timeout=10)

    sent = Reminder.objects.get(id=rows[0].id)
    assert sent.status == Status.SENT and sent.attempts == 3
    assert [a.outcome for a in sink.attempts_for(good)] == [TEMP_FAILED, DROPPED, ACCEPTED]
    assert sink.count(good) == 1

    failed = Reminder.objects.get(id=rows[1].id)
    assert failed.status == Status.FAILED and failed.attempts == 1
    assert "550" in failed.reason and "mailbox unavailable" in failed.reason
    assert "b'" not in failed.reason  # the server's words, not a Python repr
    assert sink.count(bad) == 0

    # The therapist sees it on the client's page, with the mail server's answer.
    client.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("therapist-client", args=[refused.public_id]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "status-failed" in html and "550" in html and "mailbox unavailable" in html


# --- 6. the mail server down while therapists and clients use the app -----------------------


def test_6_an_smtp_outage_gives_no_error_page_and_every_email_goes_once_after(spawn, sink, client):
    """Issue 10: the plan link, "email me a new link" and the therapist's alert were sent
    from inside the request. Now each is a row in the outbox: the pages answer at once
    while the mail server is down, and every email goes exactly once when it is back."""
    from django.test import Client as Browser

    from tests.test_therapist_pages import session_data

    practice = factories.practice_with_library()
    therapist = factories.TherapistFactory(practice=practice)
    people = [
        factories.ClientFactory(practice=practice, primary_therapist=therapist) for _ in range(3)
    ]
    sink.outage = True
    spawn("worker")
    client.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    for person in people:
        response = client.post(
            reverse("therapist-session", args=[person.public_id]), session_data(practice)
        )
        assert response.status_code == 302, response.content.decode()[:500]
    phone = Browser()
    for person in people:
        response = phone.post(reverse("client-new-link"), {"email": person.email})
        assert response.status_code == 200
    rows = list(Reminder.objects.filter(kind=Reminder.Kind.LINK))
    assert len(rows) == 6
    ids = message_ids(rows)
    # While the server is down, the worker tries, is told "421", and the rows wait.
    wait_until(
        lambda: len({a.message_id for a in sink.attempts}) == 6,
        timeout=30,
        message="the worker never tried every email",
    )
    for _ in range(3):
        tasks.tick()
        time.sleep(0.5)
    assert len(sink) == 0
    assert not Reminder.objects.filter(id__in=ids, status=Status.FAILED).exists()

    sink.outage = False  # the mail server is back
    tick_until_finished(ids, timeout=60, every=0.5)
    quiet_for(sink, 1.0, timeout=10)
    assert_exactly_once(sink, ids)
    assert set(statuses(ids).values()) == {Status.SENT}
    # The History still says each link was sent.
    for person in people:
        assert person.audit_events.filter(action="link_sent").exists()


# --- 7. the other channels: texts and notifications through the same outbox ---------------


def test_7_texts_and_notifications_go_through_the_same_outbox_exactly_once(spawn, sink, tmp_path):
    """A real worker sends a mixed batch: nudges chosen by text (the file backend), by
    notification (a push service stand-in on 127.0.0.1), by email, and by notification to
    a phone the push service has forgotten (410: the email goes). A busy push service
    (503) is retried through the database like a busy mail server. Each person gets each
    nudge once, by one way."""
    from aftercare import push
    from aftercare.models import PushSubscription
    from clients.models import Client
    from tests.standins import Browser, http_standin, verify_vapid

    public, private = push.generate_pair()
    sms_dir = tmp_path / "sms"
    practice = factories.PracticeFactory(sms_enabled=True, sms_sender="+447400123456")
    rows = booking_rows(24, clients=6, practice=practice)
    people = sorted({row.client_id for row in rows})
    by_text, by_push, by_email, push_gone, push_busy, _plain = people
    for number, person in enumerate((by_text, by_push, push_gone, push_busy)):
        if person == by_text:
            Client.objects.filter(id=person).update(
                reminder_channel="sms",
                sms_number=f"+44712345678{number}",
                sms_opt_in_at=timezone.now(),
            )
        else:
            Client.objects.filter(id=person).update(reminder_channel="push")
    Client.objects.filter(id=by_email).update(reminder_channel="email")

    with http_standin() as push_service:
        browsers = {}
        for person in (by_push, push_gone, push_busy):
            browsers[person] = Browser.new()
            PushSubscription.objects.create(
                client_id=person,
                endpoint=f"{push_service.base_url}/push/{person}",
                p256dh=browsers[person].p256dh,
                auth=browsers[person].auth,
            )

        answers = {f"/push/{push_gone}": [410], f"/push/{push_busy}": [503, 503]}
        real_next = push_service._next

        def answer_for_path() -> tuple[int, bytes]:
            path = push_service.received[-1].path
            queue = answers.get(path)
            if path == f"/push/{push_gone}":
                return (410, b"")
            if queue:
                return (queue.pop(0), b"")
            return real_next()

        push_service._next = answer_for_path
        spawn(
            "worker",
            app="tests.standin_worker",  # allows the stand-in's 127.0.0.1, tests only
            SMS_BACKEND="file",
            SMS_FILE_PATH=sms_dir,
            VAPID_PUBLIC_KEY=public,
            VAPID_PRIVATE_KEY=private,
            VAPID_SUBJECT="mailto:hello@practice.example",
        )
        ids = message_ids(rows)
        tasks.tick()
        tick_until_finished(ids, timeout=90)
        quiet_for(sink, 1.0, timeout=10)

    assert statuses(ids) == dict.fromkeys(ids, Status.SENT)
    found = {row.id: row for row in Reminder.objects.filter(id__in=ids)}
    channel_of = {person: set() for person in people}
    for row in found.values():
        channel_of[row.client_id].add(row.channel)
    assert channel_of[by_text] == {"sms"}
    assert channel_of[by_push] == {"push"}
    assert channel_of[push_busy] == {"push"}
    assert channel_of[push_gone] == channel_of[by_email] == channel_of[_plain] == {"email"}

    # Texts: one file per row of the texting client, none for anyone else.
    texts = [path.read_text() for path in sms_dir.glob("*.txt")]
    text_rows = [row for row in found.values() if row.client_id == by_text]
    assert len(texts) == len(text_rows) == 4
    assert all("To: +447123456780" in text and "Reply STOP" in text for text in texts)

    # Notifications: each one pushed decrypts to its row's slot, signed with our key.
    pushed = {}
    for request in push_service.received:
        person = int(request.path.rsplit("/", 1)[1])
        claims, key = verify_vapid(request.headers["authorization"])
        assert key == public and claims["aud"] == push_service.base_url
        payload = browsers[person].decrypt(request.body)
        pushed.setdefault(person, []).append(payload["slot"])
    for person in (by_push, push_busy):
        slots = sorted(row.slot_key for row in found.values() if row.client_id == person)
        delivered = pushed[person]
        if person == push_busy:  # two 503s, then delivered: the slots repeat only there
            assert sorted(set(delivered)) == slots
        else:
            assert sorted(delivered) == slots  # exactly once each
    assert any(found[i].attempts > 1 for i in found if found[i].client_id == push_busy)

    # The forgotten phone: removed, and its nudges came by email with the reason.
    assert not PushSubscription.objects.filter(client_id=push_gone).exists()
    for row in found.values():
        if row.client_id == push_gone:
            assert "410" in row.channel_note or "no phone has them on" in row.channel_note

    # Email: exactly once for every row that went by email, none for the others.
    email_ids = {i: mid for i, mid in ids.items() if found[i].channel == "email"}
    assert_exactly_once(sink, email_ids)
    assert len(sink) == len(email_ids) == 12
