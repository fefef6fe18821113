"""Text messages behind one small interface: `send(Text)` returns the provider's id or
raises `SmsError` saying whether another try may work.

Backends (settings.SMS_BACKEND):
- "file" (the embedded default): each text is a readable file in VAR_DIR/sms/, as
  emails are in var/mail/; nothing leaves the machine.
- "twilio": Twilio's REST API (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)

# Twilio error codes that mean "this number said STOP": texts end until START.
TWILIO_UNSUBSCRIBED = {21610}


@dataclass(frozen=True)
class Text:
    to: str  # E.164
    sender: str  # a number in E.164 or an alphanumeric sender id
    body: str


class SmsError(Exception):
    def __init__(self, message: str, *, transient: bool, stopped: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.stopped = stopped  # the provider says the recipient opted out


def send(text: Text) -> str:
    return backend().send(text)


def backend():
    name = settings.SMS_BACKEND
    if name == "twilio":
        return TwilioBackend()
    if name == "file":
        return FileBackend()
    raise SmsError(f"SMS_BACKEND {name!r} is not one we know (file, twilio)", transient=True)


class FileBackend:
    """One file per text, named by time, with the headers a person reads first."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory or settings.SMS_FILE_PATH)

    def send(self, text: Text) -> str:
        now = datetime.now(UTC)
        message_id = uuid.uuid4().hex[:12]
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{now:%Y%m%d-%H%M%S}-{message_id}.txt"
            path.write_text(
                f"From: {text.sender}\nTo: {text.to}\nDate: {now:%Y-%m-%d %H:%M:%S} UTC\n"
                f"Length: {len(text.body)} characters\n\n{text.body}\n",
                encoding="utf-8",
            )
        except OSError as error:  # a full or read-only disk: worth another try later
            raise SmsError(f"Could not write the text: {error}", transient=True) from error
        return message_id


class TwilioBackend:
    def __init__(self, *, account_sid: str = "", auth_token: str = "", api_base: str = "") -> None:
        self.account_sid = account_sid or settings.TWILIO_ACCOUNT_SID
        self.auth_token = auth_token or settings.TWILIO_AUTH_TOKEN
        self.api_base = api_base or settings.TWILIO_API_BASE

    def client(self):
        from twilio.rest import Client

        if not (self.account_sid and self.auth_token):
            # Our configuration, not the reminder's fault: retried, so fixing it in time
            # still delivers what was due (as a refused SMTP login is).
            raise SmsError("TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN are not set", transient=True)
        http_client = _BaseRewritingClient(self.api_base, timeout=15) if self.api_base else None
        if http_client is None:
            from twilio.http.http_client import TwilioHttpClient

            http_client = TwilioHttpClient(timeout=15)
        return Client(self.account_sid, self.auth_token, http_client=http_client)

    def send(self, text: Text) -> str:
        import requests
        from twilio.base.exceptions import TwilioException, TwilioRestException

        client = self.client()
        try:
            message = client.messages.create(to=text.to, from_=text.sender, body=text.body)
        except TwilioRestException as error:
            transient = error.status == 429 or error.status >= 500
            raise SmsError(
                f"Twilio said {error.status} (code {error.code}): {error.msg}",
                transient=transient,
                stopped=error.code in TWILIO_UNSUBSCRIBED,
            ) from error
        except (requests.RequestException, OSError) as error:
            raise SmsError(f"Could not reach Twilio: {error}", transient=True) from error
        except TwilioException as error:
            raise SmsError(f"Twilio: {error}", transient=True) from error
        return str(message.sid)


def _BaseRewritingClient(api_base: str, *, timeout: float):  # noqa: N802 (a class factory)
    """A Twilio HTTP client that sends to `api_base` instead of https://*.twilio.com: for a
    local stand-in in tests. The requests keep their path, form body and basic auth."""
    from urllib.parse import urlsplit, urlunsplit

    from twilio.http.http_client import TwilioHttpClient

    base = urlsplit(api_base)

    class Rewriting(TwilioHttpClient):
        def request(self, method, url, *args, **kwargs):
            parts = urlsplit(url)
            url = urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
            return super().request(method, url, *args, **kwargs)

    return Rewriting(timeout=timeout)
