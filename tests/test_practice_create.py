"""`manage.py practice_create`: a new deployment's practice, therapist and plan."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import Client as Browser
from django.urls import reverse

from aftercare.models import Protocol
from clients.models import Practice, Therapist

ARGS = [
    "--name=Back in Balance",
    "--address=12 Mill Lane, Bristol",
    "--sender=hello@backinbalance.example",
    "--booking-url=https://backinbalance.example/book",
    "--emergency-number=112",
    "--time-zone=America/New_York",
    "--therapist-email=ana@backinbalance.example",
    "--therapist-name=Ana Flores",
]
PASSWORD = "mill-lane-massage-2026"


def test_it_creates_a_practice_a_therapist_who_can_log_in_and_the_plan(db, monkeypatch):
    monkeypatch.setenv("THERAPIST_PASSWORD", PASSWORD)
    call_command("practice_create", *ARGS)
    practice = Practice.objects.get(name="Back in Balance")
    assert (practice.emergency_number, practice.time_zone) == ("112", "America/New_York")
    assert Therapist.objects.get(practice=practice).display_name == "Ana Flores"
    assert Protocol.objects.filter(practice=practice).count() == 1
    browser = Browser()
    response = browser.post(
        reverse("therapist-login"), {"email": "ana@backinbalance.example", "password": PASSWORD}
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("--sender=not-an-address", "--sender: not an email address"),
        ("--therapist-email=nope", "--therapist-email: not an email address"),
        ("--booking-url=javascript:alert(1)", "--booking-url: not a web address"),
        ("--time-zone=Mars/Olympus", "--time-zone: .*not a time zone we know"),
    ],
)
def test_it_refuses_bad_input_and_creates_nothing(db, monkeypatch, change, message):
    monkeypatch.setenv("THERAPIST_PASSWORD", PASSWORD)
    name = change.split("=")[0]
    args = [a for a in ARGS if not a.startswith(name + "=")] + [change]
    with pytest.raises(CommandError, match=message):
        call_command("practice_create", *args)
    assert not Practice.objects.filter(name="Back in Balance").exists()


def test_it_refuses_a_weak_password_and_a_taken_address(db, monkeypatch):
    monkeypatch.setenv("THERAPIST_PASSWORD", "123")
    with pytest.raises(CommandError, match="Password:"):
        call_command("practice_create", *ARGS)
    assert not Practice.objects.exists()
    monkeypatch.setenv("THERAPIST_PASSWORD", PASSWORD)
    call_command("practice_create", *ARGS)
    with pytest.raises(CommandError, match="already has an account"):
        call_command("practice_create", *ARGS)
    assert Practice.objects.count() == 1
