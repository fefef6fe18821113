"""A hostile review of the dashboard read from indexes with cached counts (issue 13):
each test is a way a therapist could see a wrong count or miss a client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.urls import reverse

from aftercare import practice_counts
from clients.models import Client
from tests import factories
from tests.test_dashboard import names_in_order, text
from tests.test_dashboard_scale import mixed as mixed_fixture

mixed = mixed_fixture  # every kind of row (a fixture)

DASHBOARD = reverse("therapist-dashboard")
EVERYONE = {"show": "all"}


def test_a_client_moved_to_another_practice_leaves_both_counts_at_once(
    therapist_client, practice, django_capture_on_commit_callbacks
):
    """Django admin moves a client to another practice (a save of the whole row): the
    practice they left must stop counting them on its next view, not a minute later."""
    factories.ClientFactory(practice=practice, name="Stays Here")
    mover = factories.ClientFactory(practice=practice, name="Moves Away")
    other = factories.PracticeFactory()
    assert "2 clients." in text(therapist_client.get(DASHBOARD, EVERYONE))  # cached: 2
    assert practice_counts.practice_counts(other).clients == 0  # cached: 0

    mover = Client.objects.get(pk=mover.pk)  # loaded fresh, as the admin does
    mover.practice = other
    with django_capture_on_commit_callbacks(execute=True):
        mover.save()

    response = therapist_client.get(DASHBOARD, EVERYONE)
    assert "1 client." in text(response)
    assert names_in_order(response) == ["Stays Here"]
    assert practice_counts.practice_counts(other).clients == 1


def test_counts_are_not_cached_in_one_process_when_workers_share_no_cache(
    therapist_client, practice, settings, monkeypatch
):
    """Without Redis the default cache is each web worker's own memory (bin/start-web
    runs 3): a client added through one worker never reaches the other workers' stamps,
    and their cached 'active' count would cut the calm run one client short (the last
    by name vanishes) for up to a minute. The therapist's next click may land there."""
    settings.PRACTICE_COUNTS_CACHED = False  # what settings.py says without REDIS_URL
    for name in ("Anna", "Bert"):
        factories.ClientFactory(practice=practice, name=name)
    assert names_in_order(therapist_client.get(DASHBOARD, EVERYONE)) == ["Anna", "Bert"]
    # Another worker adds a client: its forget() reaches only its own memory.
    monkeypatch.setattr(practice_counts, "_new_stamp", lambda practice_id: None)
    factories.ClientFactory(practice=practice, name="Carl")
    response = therapist_client.get(DASHBOARD, EVERYONE)
    assert names_in_order(response) == ["Anna", "Bert", "Carl"]
    assert "3 clients." in text(response)


def test_settings_cache_the_counts_only_with_a_shared_cache():
    root = Path(__file__).resolve().parent.parent
    probe = "from django.conf import settings; print(settings.PRACTICE_COUNTS_CACHED)"

    def cached(redis_url: str) -> str:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "aftercare.settings"}
        env.pop("REDIS_URL", None)
        if redis_url:
            env["REDIS_URL"] = redis_url
        run = subprocess.run(
            [sys.executable, "-c", "import django; django.setup(); " + probe],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return run.stdout.strip()

    assert cached("") == "False"
    assert cached("redis://127.0.0.1:6379/0") == "True"


# --- what held: paging by every odd page number, with the filter and a search -------------


def test_every_page_number_shows_a_page_and_the_pages_are_the_full_order(
    therapist_client, practice, mixed, monkeypatch
):
    from aftercare import selectors
    from aftercare.views import therapist as views

    monkeypatch.setattr(views, "DASHBOARD_PAGE_SIZE", 5)
    full = [c.name for c in selectors.practice_clients(practice, "")]
    calm = [c.name for c in selectors.practice_clients(practice, "calm")]
    for params, expected in (
        (EVERYONE, full),
        ({}, full[:6]),  # Needs me
        ({"q": "calm", "show": "all"}, calm),
    ):
        pages = -(-len(expected) // 5) or 1
        seen = []
        for number in range(1, pages + 1):
            seen += names_in_order(therapist_client.get(DASHBOARD, {**params, "page": number}))
        assert seen == expected, params
        last = names_in_order(therapist_client.get(DASHBOARD, {**params, "page": pages}))
        first = names_in_order(therapist_client.get(DASHBOARD, {**params, "page": 1}))
        for odd, page in (("0", last), ("-1", last), ("999", last), ("abc", first), ("", first)):
            response = therapist_client.get(DASHBOARD, {**params, "page": odd})
            assert response.status_code == 200 and names_in_order(response) == page, odd


def test_the_way_back_and_an_email_are_escaped_in_the_rows(therapist_client, practice, therapist):
    from aftercare.rules.attention import Level
    from tests.test_dashboard_scale import _level

    person = factories.ClientFactory(practice=practice, name="Ann")
    Client.objects.filter(pk=person.pk).update(email='a"><svg onload=x>@e.com')  # imported
    _level(factories.plan_for(person, therapist), Level.SOON, 1)
    page = therapist_client.get(DASHBOARD, {"show": "all", "x": '"><script>alert(1)</script>'})
    html = page.content.decode()
    assert "<script>alert(1)" not in html and "<svg onload" not in html
    assert "&quot;&gt;&lt;script&gt;" in html or "%22%3E%3Cscript%3E" in html
