"""A local SMTP sink for the reliability tests: a real SMTP server (aiosmtpd) on
127.0.0.1 in a background thread that records every message it accepts.

    with SmtpSink() as sink:
        env["EMAIL_URL"] = sink.url
        sink.temp_fail_next(2)         # the next 2 messages get "451 try again later"
        sink.drop_next(1)              # then one whose connection is closed, no answer
        sink.refuse_recipient("x@example.com")  # 550 at RCPT TO, for good
        sink.delay = 0.02              # each MAIL FROM waits 20 ms (a slow server)
        ...
        assert sink.count("<reminder.1.routine@practice0.example>") == 1

Failures are scripted at the end of DATA (the whole message was received), in the
order they were asked for, so a test knows which attempt gets which answer. A message
counts as delivered the moment the sink accepts it ("250"), as a real mail server
would: what a client does after that (QUIT, marking its row sent) no longer matters.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import compat32

from aiosmtpd.controller import Controller

ACCEPTED = "accepted"
TEMP_FAILED = "temp_failed"
DROPPED = "dropped"
REFUSED = "refused"


@dataclass(frozen=True)
class Delivery:
    """A message the sink accepted (answered 250 to)."""

    message_id: str
    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    accepted_at: float  # time.time(), comparable with timestamps the app stores
    content: bytes


@dataclass(frozen=True)
class Attempt:
    """Every message the sink saw the end of, whatever it answered."""

    message_id: str
    rcpt_tos: tuple[str, ...]
    outcome: str  # ACCEPTED, TEMP_FAILED, DROPPED or REFUSED (at RCPT, no message id)
    at: float


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)  # async: other connections go on meanwhile
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.sink._refused.get(address.lower())
        if code is not None:
            self.sink._record_attempt(Attempt("", (address,), REFUSED, time.time()))
            return f"{code} 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode()
        headers = message_from_bytes(content, policy=compat32)
        message_id = (headers.get("Message-ID") or "").strip()
        rcpt_tos = tuple(envelope.rcpt_tos)
        outcome = self.sink._next_outcome()
        now = time.time()
        if outcome is DROPPED:
            self.sink._record_attempt(Attempt(message_id, rcpt_tos, DROPPED, now))
            # The message was received but never answered: the client sees the
            # connection close and cannot know whether it was delivered.
            server.transport.close()
            return "421 4.4.2 connection dropped"  # written to a closed transport: lost
        if isinstance(outcome, int):
            self.sink._record_attempt(Attempt(message_id, rcpt_tos, TEMP_FAILED, now))
            return f"{outcome} 4.3.0 try again later"
        delivery = Delivery(
            message_id=message_id,
            mail_from=envelope.mail_from,
            rcpt_tos=rcpt_tos,
            subject=str(headers.get("Subject", "")),
            accepted_at=now,
            content=content,
        )
        self.sink._record_delivery(delivery)
        return "250 2.0.0 OK queued"


class SmtpSink:
    """Start with `with SmtpSink() as sink:` (or start()/stop()); thread-safe to read."""

    def __init__(self, host: str = "127.0.0.1", *, delay: float = 0.0) -> None:
        self.host = host
        self.port = 0
        self.delay = delay  # seconds each MAIL FROM waits before its answer
        self.outage = False  # True: every message is answered 421 (the server is down)
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._attempts: list[Attempt] = []
        self._script: deque[object] = deque()  # outcomes for the next messages
        self._refused: dict[str, int] = {}
        self._controller: Controller | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> SmtpSink:
        last_error: Exception | None = None
        for _ in range(5):  # another process may take the free port before we bind it
            port = free_port(self.host)
            controller = Controller(_Handler(self), hostname=self.host, port=port, ready_timeout=10)
            try:
                controller.start()
            except Exception as error:  # the port was taken meanwhile: try another one
                last_error = error
                continue
            self._controller, self.port = controller, port
            return self
        raise RuntimeError(f"SMTP sink could not start on {self.host}: {last_error}")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The EMAIL_URL a worker uses to send here."""
        return f"smtp://{self.host}:{self.port}"

    # --- failure injection -------------------------------------------------------------

    def temp_fail_next(self, count: int, code: int = 451) -> None:
        """The next `count` messages are answered `code` (4xx: "try again later")."""
        if not 400 <= code < 500:
            raise ValueError("a temporary failure is a 4xx code")
        with self._lock:
            self._script.extend([code] * count)

    def drop_next(self, count: int) -> None:
        """The next `count` messages get no answer: the connection is closed after DATA."""
        with self._lock:
            self._script.extend([DROPPED] * count)

    def refuse_recipient(self, address: str, code: int = 550) -> None:
        """Every message to `address` is refused for good at RCPT TO."""
        with self._lock:
            self._refused[address.lower()] = code

    def reset(self) -> None:
        with self._lock:
            self._deliveries.clear()
            self._attempts.clear()
            self._script.clear()
            self._refused.clear()
        self.delay = 0.0

    # --- what was received ------------------------------------------------------------

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    @property
    def attempts(self) -> list[Attempt]:
        with self._lock:
            return list(self._attempts)

    def counts(self) -> Counter[str]:
        """Accepted messages per Message-ID."""
        with self._lock:
            return Counter(delivery.message_id for delivery in self._deliveries)

    def count(self, message_id: str) -> int:
        return self.counts()[message_id]

    def attempts_for(self, message_id: str) -> list[Attempt]:
        return [attempt for attempt in self.attempts if attempt.message_id == message_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._deliveries)

    # --- called by the handler (in the sink's thread) ---------------------------------

    def _next_outcome(self) -> object:
        with self._lock:
            if self.outage:
                return 421
            return self._script.popleft() if self._script else ACCEPTED

    def _record_attempt(self, attempt: Attempt) -> None:
        with self._lock:
            self._attempts.append(attempt)

    def _record_delivery(self, delivery: Delivery) -> None:
        with self._lock:
            self._deliveries.append(delivery)
            self._attempts.append(
                Attempt(delivery.message_id, delivery.rcpt_tos, ACCEPTED, delivery.accepted_at)
            )
