"""Playwright driving Debian's Chromium (never a downloaded browser)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from django.db import connections

from tests.conftest import CHROMIUM

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def browser_page(viewport: dict[str, int]):
    # Playwright's sync API runs an event loop in this thread; the live server's data
    # is set up by the test in the same thread, which Django would otherwise refuse.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=viewport, is_mobile=viewport == PHONE)
            yield context.new_page()
        finally:
            browser.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@contextmanager
def chromium():
    """One Chromium for several contexts: the therapist's desktop and the client's phone
    side by side, each with its own cookies."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # Code in this block runs in Playwright's greenlet, whose context gets its own
            # database connections; close them, or PostgreSQL can't drop the test database.
            connections.close_all()


def phone_context(browser, base_url: str):
    """A phone: 390x844, touch, mobile viewport; only the live server is reachable."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    _local_only(context, base_url)
    return context


def desktop_context(browser, base_url: str):
    context = browser.new_context(viewport=DESKTOP)
    _local_only(context, base_url)
    return context


def _local_only(context, base_url: str) -> None:
    # Tests never reach the internet: an embedded YouTube player is aborted, not fetched
    # (its iframe element still appears, which is what the tests look for).
    def route(request_route) -> None:
        if request_route.request.url.startswith(base_url):
            request_route.continue_()
        else:
            request_route.abort()

    context.route("**/*", route)


def shot(page, folder: str, name: str) -> None:
    """A full-page screenshot saved as test-artifacts/<folder>/<name>.png."""
    target = ARTIFACTS / folder
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=True)
