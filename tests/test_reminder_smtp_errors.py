"""Which mail server answers are worth another try (the reminder stays queued) and which
are final (the reminder is marked failed, with the server's words, for the therapist)."""

from __future__ import annotations

import smtplib

import pytest

from aftercare.outbox.reminders import _describe, is_transient


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (smtplib.SMTPDataError(451, b"4.3.0 try again later"), True),
        (smtplib.SMTPSenderRefused(421, b"4.7.0 too busy", "a@b.example"), True),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), True),
        (smtplib.SMTPConnectError(421, b"not now"), True),
        (TimeoutError("timed out"), True),
        (ConnectionRefusedError(111, "Connection refused"), True),
        # A wrong password is our configuration: keep the reminder until it is fixed.
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"), True),
        (smtplib.SMTPRecipientsRefused({"x@y.example": (450, b"4.2.1 mailbox busy")}), True),
        (smtplib.SMTPDataError(554, b"5.7.1 rejected as spam"), False),
        (smtplib.SMTPRecipientsRefused({"x@y.example": (550, b"5.1.1 no such user")}), False),
        (
            smtplib.SMTPRecipientsRefused(
                {"x@y.example": (450, b"busy"), "z@y.example": (550, b"no such user")}
            ),
            False,
        ),
        (ValueError("a bug in our code"), False),
    ],
)
def test_it_retries_only_what_may_work_next_time(error, transient):
    assert is_transient(error) is transient


def test_it_describes_a_refused_recipient_in_the_servers_words():
    error = smtplib.SMTPRecipientsRefused({"x@y.example": (550, b"5.1.1 <x@y.example>: no")})
    assert _describe(error) == "550 5.1.1 <x@y.example>: no"
    assert _describe(smtplib.SMTPDataError(554, b"5.7.1 spam")) == "554 5.7.1 spam"
