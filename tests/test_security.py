"""The security baseline people never see: headers, cookies, sessions, rate limits."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from tests import factories


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    parsed = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


@pytest.mark.parametrize("role_page", ["therapist-login", "client-new-link", "client-today"])
def test_it_sends_a_strict_content_security_policy(phone, role_page):
    response = phone.get(reverse(role_page))
    policy = directives(response)
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    # Only the video hosts may be framed.
    assert sorted(policy["frame-src"]) == [
        "https://player.vimeo.com",
        "https://www.youtube-nocookie.com",
    ]


def test_it_keeps_inline_scripts_out_of_every_page_people_use(phone):
    """A policy without 'unsafe-inline' only works if no page relies on inline script."""
    for name in ("client-today", "client-plan", "client-checkin", "client-settings"):
        body = phone.get(reverse(name)).content.decode()
        for tag in body.split("<script")[1:]:
            assert "src=" in tag.split(">")[0], f"inline script on {name}"
        assert " onclick=" not in body and " onload=" not in body


def test_it_marks_pages_with_client_data_no_store(phone, therapist_client, client_person):
    for response in (
        phone.get(reverse("client-today")),
        phone.get(reverse("client-progress")),
        therapist_client.get(reverse("therapist-client", args=[client_person.public_id])),
        therapist_client.get(reverse("therapist-dashboard")),
    ):
        assert "no-store" in response["Cache-Control"]


def test_it_sends_hsts_and_secure_cookies_over_https(client, therapist, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    client.get(reverse("therapist-login"), secure=True)
    response = client.post(
        reverse("therapist-login"),
        {"email": therapist.user.email, "password": factories.DEFAULT_PASSWORD},
        secure=True,
    )
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    session_cookie = response.cookies["sessionid"]
    assert session_cookie["secure"] and session_cookie["httponly"]
    assert session_cookie["samesite"] == "Lax"


def test_it_starts_a_new_session_on_login(client, therapist):
    """Session fixation: a key planted before login is worthless after it."""
    client.get(reverse("therapist-login"))
    session = client.session
    session["planted"] = "yes"
    session.save()
    planted_key = session.session_key
    client.cookies["sessionid"] = planted_key
    client.post(
        reverse("therapist-login"),
        {"email": therapist.user.email, "password": factories.DEFAULT_PASSWORD},
    )
    assert client.session.get(SESSION_KEY) == str(therapist.user.pk)
    assert client.session.session_key != planted_key


def test_it_limits_login_attempts_per_ip_across_addresses(client, therapist, settings):
    settings.LOGIN_ATTEMPTS_PER_IP = 4
    url = reverse("therapist-login")
    for n in range(settings.LOGIN_ATTEMPTS_PER_IP):
        client.post(url, {"email": f"guess{n}@example.com", "password": "guess"})
    response = client.post(
        url, {"email": therapist.user.email, "password": factories.DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    assert "Too many attempts" in response.content.decode()
    assert client.session.get(SESSION_KEY) is None


def test_it_counts_the_address_a_trusted_proxy_saw(client, therapist, settings):
    """Behind one proxy, a caller cannot dodge the limit by forging X-Forwarded-For."""
    settings.LOGIN_ATTEMPTS_PER_IP = 3
    settings.TRUSTED_PROXIES = 1
    url = reverse("therapist-login")
    for n in range(3):
        client.post(
            url,
            {"email": f"guess{n}@example.com", "password": "guess"},
            HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 203.0.113.7",
        )
    response = client.post(
        url,
        {"email": therapist.user.email, "password": factories.DEFAULT_PASSWORD},
        HTTP_X_FORWARDED_FOR="10.0.0.99, 203.0.113.7",
    )
    assert "Too many attempts" in response.content.decode()
    other = client.post(
        url,
        {"email": therapist.user.email, "password": factories.DEFAULT_PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.1",
    )
    assert other.status_code == 302  # another real address is not blocked
