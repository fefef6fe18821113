"""The test suite's SMTP sink (tests/smtp_sink.py) in a process of its own, so receiving
mail never competes with the sender for the same interpreter.

Prints its port, then answers each line read from stdin with the number of messages
accepted so far; stops at end of input.
"""

from __future__ import annotations

import sys

from tests.smtp_sink import SmtpSink


def main() -> None:
    with SmtpSink() as sink:
        print(sink.port, flush=True)
        for _line in sys.stdin:
            print(len(sink), flush=True)


if __name__ == "__main__":
    main()
