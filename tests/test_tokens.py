"""The signed links in reminder emails (aftercare/tokens.py), without a database.

tests/test_email_links.py follows the links through the pages; these pin the token rules
themselves: one purpose per salt, the ages, and nothing but a whole number read back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import signing

from aftercare import tokens

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.mark.parametrize("action", tokens.ACTIONS)
def test_an_action_token_reads_back_for_its_own_action_only(action):
    token = tokens.action_token(42, action)
    assert tokens.read_action(token, action) == 42
    other = next(a for a in tokens.ACTIONS if a != action)
    assert tokens.read_action(token, other) is None
    assert tokens.read_action(token, "delete") is None
    for kind in tokens.UNSUBSCRIBE_KINDS:
        assert tokens.read_unsubscribe(token, kind) is None


@pytest.mark.parametrize("kind", tokens.UNSUBSCRIBE_KINDS)
def test_an_unsubscribe_token_reads_back_for_its_own_kind_only(kind):
    token = tokens.unsubscribe_token(7, kind)
    assert tokens.read_unsubscribe(token, kind) == 7
    other = next(k for k in tokens.UNSUBSCRIBE_KINDS if k != kind)
    assert tokens.read_unsubscribe(token, other) is None
    assert tokens.read_unsubscribe(token, "everything") is None
    for action in tokens.ACTIONS:
        assert tokens.read_action(token, action) is None


def test_unknown_purposes_cannot_be_signed():
    with pytest.raises(AssertionError):
        tokens.action_token(1, "unsubscribe")
    with pytest.raises(AssertionError):
        tokens.unsubscribe_token(1, "done")


def test_an_action_link_works_for_a_week(clock):
    token = tokens.action_token(42, "done")
    clock.shift(timedelta(days=7) - timedelta(seconds=1))
    assert tokens.read_action(token, "done") == 42
    clock.shift(timedelta(seconds=2))
    assert tokens.read_action(token, "done") is None


def test_an_unsubscribe_link_works_for_a_year(clock):
    token = tokens.unsubscribe_token(7, "routine")
    clock.shift(timedelta(days=365) - timedelta(seconds=1))
    assert tokens.read_unsubscribe(token, "routine") == 7
    clock.shift(timedelta(seconds=2))
    assert tokens.read_unsubscribe(token, "routine") is None


@pytest.mark.parametrize("value", ["42", 4.2, None, [42], {"id": 42}])
def test_a_validly_signed_token_that_is_not_a_whole_number_reads_as_nothing(value):
    # Signed with the right salt (e.g. by a future version) but not an id: refused.
    action = signing.dumps(value, salt="aftercare.email.done")
    unsubscribe = signing.dumps(value, salt="aftercare.email.unsubscribe.booking")
    assert tokens.read_action(action, "done") is None
    assert tokens.read_unsubscribe(unsubscribe, "booking") is None


@pytest.mark.parametrize("token", ["", "abc", "42:bad:signature", "x" * 500])
def test_garbage_reads_as_nothing(token):
    assert tokens.read_action(token, "checkin") is None
    assert tokens.read_unsubscribe(token, "routine") is None


def test_it_reads_when_a_token_was_signed(clock):
    # Revoking a client's links ends the action tokens signed before it (views/email_links.py).
    action = tokens.action_token(42, "done")
    unsubscribe = tokens.unsubscribe_token(7, "routine")
    clock.shift(timedelta(days=3))
    assert tokens.signed_at(action) == NOW
    assert tokens.signed_at(unsubscribe) == NOW
    assert tokens.signed_at(action).tzinfo is UTC


@pytest.mark.parametrize(
    "token", ["", "no-colons", "MQ:!!:sig", "MQ:zzzzzzzzzzzzzzzzzzzz:sig", "MQ::sig"]
)
def test_a_token_with_no_readable_time_was_signed_at_no_time(token):
    assert tokens.signed_at(token) is None
