"""The submit button in Chromium: one click, and it says "Saving…" and is disabled until
the next page; a second submit of the same form is not sent (issue 10, item 4)."""

from __future__ import annotations

import json
import time

import pytest

from clients import services as people
from clients.models import Client
from tests import factories
from tests.browser import chromium, desktop_context

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Runs in the page: 100 ms after the submit (the server is still saving) note what the
# button looks like, then try to send the form again, as a second Enter would.
WATCH = """
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.hasAttribute("data-submit-once") || sessionStorage.getItem("seen")) { return; }
  setTimeout(function () {
    var button = form.querySelector("button.btn-primary");
    sessionStorage.setItem("seen", JSON.stringify({
      text: button.textContent, disabled: button.disabled, busy: form.getAttribute("aria-busy")
    }));
    form.requestSubmit();
  }, 100);
});
"""


def test_the_add_client_button_says_saving_and_sends_once(
    require_service, live_server, monkeypatch
):
    require_service("chromium")
    base = live_server.url
    therapist = factories.TherapistFactory(practice=factories.practice_with_library())
    create = people.client_create

    def slow_create(**kwargs):
        time.sleep(1)  # a slow save: the page stays up with the button pressed
        return create(**kwargs)

    monkeypatch.setattr(people, "client_create", slow_create)

    with chromium() as browser:
        context = desktop_context(browser, base)
        page = context.new_page()
        page.goto(f"{base}/login/")
        page.get_by_label("Email").fill(therapist.user.email)
        page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("heading", name="Clients", exact=True).wait_for()

        page.goto(f"{base}/t/clients/new/")
        page.get_by_label("Name").fill("Robin Ash")
        page.get_by_label("Email").fill("robin@example.com")
        page.evaluate(WATCH)
        posts = []
        page.on(
            "request", lambda request: posts.append(request) if request.method == "POST" else None
        )
        page.get_by_role("button", name="Add client").click()
        page.get_by_role("heading", name="Record session and assign plan").wait_for()

        seen = json.loads(page.evaluate("sessionStorage.getItem('seen')"))
        assert seen == {"text": "Saving…", "disabled": True, "busy": "true"}
        assert len(posts) == 1, "one post left the browser"
        assert Client.objects.filter(email="robin@example.com").count() == 1
        context.close()
