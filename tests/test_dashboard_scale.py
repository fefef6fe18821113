"""The dashboard at any size: each page read from indexes in the same order as the full
sort (selectors.Everyone against selectors.practice_clients), the counts that read the
whole practice cached and forgotten when they change (aftercare.practice_counts), and the
plan PostgreSQL can take for it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.timesince import timesince
from hypothesis import given
from hypothesis import strategies as st

from aftercare import checkins, practice_counts, selectors, services
from aftercare.models import Plan, PlanStep
from aftercare.rules.attention import Level
from aftercare.rules.phases import Phase
from aftercare.templatetags.therapist_tags import ago
from clients import services as people
from clients.models import Client
from tests import factories
from tests.test_dashboard import names_in_order, rows_of, text

DASHBOARD = reverse("therapist-dashboard")
EVERYONE = {"show": "all"}


def _level(plan: Plan, level: Level, hours_ago: float, reason: str = "Pain 7") -> None:
    """Set a plan's stored attention directly (what triage keeps), to build every case."""
    at = timezone.now() - timedelta(hours=hours_ago) if level else None
    Plan.objects.filter(pk=plan.pk).update(
        attention_level=level, attention_at=at, attention_reason=reason if level else ""
    )


# The mixed practice's clients needing the therapist, in the dashboard's order: level,
# then the newest trigger, then name whatever its case.
NEEDING_YOU_FIRST = ["zed Urgent", "Amy Today", "bob Today", "Cat Today", "Dan Soon", "eve Watch"]


@pytest.fixture
def mixed(clock, practice, therapist):
    """Every kind of row: levels with equal and different trigger times, calm plans,
    no plan, inactive clients above calm and calm, names differing only in case."""
    made = {}

    def person(name, level=None, hours_ago=0.0, active=True):
        client = factories.ClientFactory(practice=practice, name=name)
        if level is not None:
            plan = factories.plan_for(client, therapist, Phase.SUBSIDING)
            _level(plan, level, hours_ago)
        if not active:
            Client.objects.filter(pk=client.pk).update(active=False)
        made[name] = client
        return client

    person("zed Urgent", Level.URGENT, 5)
    person("Amy Today", Level.TODAY, 1)
    person("bob Today", Level.TODAY, 1)  # same trigger time as Amy: by name
    person("Cat Today", Level.TODAY, 3)
    person("Dan Soon", Level.SOON, 2)
    person("eve Watch", Level.WATCH, 30)
    for name in ("carl Calm", "Bea Calm", "abe Calm", "Abe Calm", "Dora Calm"):
        person(name, Level.CALM)
    for name in ("Nia NoPlan", "al NoPlan"):
        person(name)
    person("Ivy Inactive", Level.TODAY, 1, active=False)
    person("Ian Inactive", None, active=False)
    person("ike Inactive", Level.CALM, active=False)
    return made


def _everyone(practice) -> selectors.Everyone:
    counts = practice_counts.practice_counts(practice)
    return selectors.Everyone(
        practice, selectors.needs_me_count(practice), counts.clients, counts.active
    )


@pytest.mark.parametrize("page_size", [1, 2, 3, 5, 7, 50])
def test_every_page_is_the_full_sorts_slice(practice, mixed, page_size):
    """Pages cut across the three runs (above calm, calm, inactive) anywhere: together
    they are exactly the full sort, whatever the page size."""
    reference = [client.id for client in selectors.practice_clients(practice, "")]
    everyone = _everyone(practice)
    assert everyone.count() == len(reference) == len(mixed)
    paged = []
    for start in range(0, len(reference), page_size):
        paged += [row.client.id for row in everyone[start : start + page_size]]
    assert paged == reference
    names = [Client.objects.get(pk=pk).name for pk in paged]
    assert names[:6] == NEEDING_YOU_FIRST
    assert names[-3:] == ["Ivy Inactive", "Ian Inactive", "ike Inactive"]
    assert everyone[len(reference) : len(reference) + 10] == []


def test_a_row_from_the_page_query_is_the_row_of_the_full_sort(practice, therapist):
    person = factories.ClientFactory(practice=practice, name="Tess Trend")
    plan = factories.plan_for(person, therapist, Phase.FLARE)
    for worst in (4, 7):
        checkins.symptom_log_create(
            plan=plan,
            submission_key=uuid.uuid4(),
            answers={"pain_now": 2, "worst_pain": worst, "compared": "same"},
        )
    services.phase_set(plan=plan, phase=Phase.SUBSIDING, pinned=True, by=therapist.user)
    [paged] = _everyone(practice)[0:1]
    [full] = [selectors.dashboard_row(c) for c in selectors.practice_clients(practice, "")]
    assert paged.client.public_id == full.client.public_id
    assert (paged.client.name, paged.client.email, paged.client.active) == (
        full.client.name,
        full.client.email,
        True,
    )
    for field in ("plan_id", "phase", "pinned", "level", "reason", "last_worst", "trend"):
        assert getattr(paged, field) == getattr(full, field), field
    assert paged.last_at == full.last_at and paged.last_at.tzinfo is not None
    assert paged.trend == "up" and paged.pinned and paged.level is Level.SOON


def test_the_page_shows_the_same_rows_and_words(therapist_client, practice, mixed):
    response = therapist_client.get(DASHBOARD, EVERYONE)
    names = names_in_order(response)
    assert names[0] == "zed Urgent" and names[-1] == "ike Inactive"
    assert len(names) == len(mixed)
    page = text(response)
    assert f"{len(mixed)} clients, <strong>6 need you</strong> (listed first)." in page
    urgent = rows_of(response)[0]
    assert '<span class="badge attention attention-40">Urgent</span>' in urgent
    assert '<span class="badge phase-subsiding">Subsiding</span>' in urgent
    assert 'aria-label="Seen: zed Urgent"' in urgent and "csrfmiddlewaretoken" in urgent
    assert 'name="back" value="/t/?show=all"' in urgent
    client_url = reverse("therapist-client", args=[mixed["zed Urgent"].public_id])
    assert f'href="{client_url}"' in urgent
    no_plan = next(row for row in rows_of(response) if ">al NoPlan<" in row)
    assert "No plan" in no_plan and "No check-in yet" in no_plan and "Seen" not in no_plan
    assert "inactive" in next(row for row in rows_of(response) if ">Ivy Inactive<" in row)[:60]
    needs = therapist_client.get(DASHBOARD)
    assert names_in_order(needs) == names[:6]
    assert "6 clients need you, the most pressing first." in text(needs)


def test_a_name_is_escaped(therapist_client, practice, therapist):
    person = factories.ClientFactory(practice=practice, name='<b>Bold</b> "Q" & Co')
    _level(factories.plan_for(person, therapist), Level.SOON, 1, reason="<i>x</i>")
    page = therapist_client.get(DASHBOARD, EVERYONE).content.decode()
    assert "<b>Bold</b>" not in page and "<i>x</i>" not in page
    assert "&lt;b&gt;Bold&lt;/b&gt; &quot;Q&quot; &amp; Co" in page
    assert 'aria-label="Seen: &lt;b&gt;Bold&lt;/b&gt; &quot;Q&quot; &amp; Co"' in page


def test_an_empty_practice_reads_no_rows(therapist_client):
    with CaptureQueriesContext(connection) as queries:
        response = therapist_client.get(DASHBOARD)
    assert "No clients yet" in text(response)
    assert not any("aftercare_symptomlog" in q["sql"] for q in queries)


# --- the cached counts ------------------------------------------------------------------------


def test_the_counts_are_read_once_then_from_the_cache(
    practice, therapist, django_assert_num_queries
):
    factories.ClientFactory(practice=practice)
    with django_assert_num_queries(4):  # clients (all, active), data problems (3)
        first = practice_counts.practice_counts(practice)
    with django_assert_num_queries(0):
        assert practice_counts.practice_counts(practice) == first


def test_a_client_added_or_deleted_counts_at_once(
    therapist_client, practice, django_capture_on_commit_callbacks
):
    factories.ClientFactory(practice=practice, name="First One")
    assert "1 client." in text(therapist_client.get(DASHBOARD, EVERYONE))
    with django_capture_on_commit_callbacks(execute=True):
        second = people.client_create(practice=practice, name="Second One", email="s@example.com")
    assert "2 clients." in text(therapist_client.get(DASHBOARD, EVERYONE))
    from aftercare import privacy

    with django_capture_on_commit_callbacks(execute=True):
        privacy.client_delete(client=second)
    assert "1 client." in text(therapist_client.get(DASHBOARD, EVERYONE))


def test_a_problem_saved_through_the_app_shows_at_once(
    therapist_client, practice, therapist, django_capture_on_commit_callbacks
):
    person = factories.ClientFactory(practice=practice)
    plan = factories.plan_for(person, therapist)
    assert "data that needs fixing" not in text(therapist_client.get(DASHBOARD, EVERYONE))
    # Django admin, an import through the ORM: a save the services' checks never saw.
    person.time_zone = "Mars/Base"
    with django_capture_on_commit_callbacks(execute=True):
        person.save()
    page = text(therapist_client.get(DASHBOARD, EVERYONE))
    assert "1 client with data that needs fixing" in page
    # Fixed in Edit details: gone at once.
    with django_capture_on_commit_callbacks(execute=True):
        people.client_update(client=person, by=therapist.user, time_zone="Europe/London")
    assert "data that needs fixing" not in text(therapist_client.get(DASHBOARD, EVERYONE))
    # A step's video link edited on Adjust steps.
    step = plan.steps.first()
    step.video_url = "https://old-cdn.example/a.mp4"
    with django_capture_on_commit_callbacks(execute=True):
        services.plan_steps_update(plan=plan, steps=[step], by=therapist.user)
    assert "1 client with data" in text(therapist_client.get(DASHBOARD, EVERYONE))
    # A new plan (fresh steps from the library) ends the old one: fixed.
    with django_capture_on_commit_callbacks(execute=True):
        factories.plan_for(person, therapist)
    assert "data that needs fixing" not in text(therapist_client.get(DASHBOARD, EVERYONE))


def test_a_change_behind_the_apps_back_shows_within_the_ttl(therapist_client, practice, settings):
    """SQL, an import, a settings change: no service says so; the count is at most
    practice_counts.TTL late (a per-process cache here, to travel in time)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    person = factories.ClientFactory(practice=practice)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        assert "data that needs fixing" not in text(therapist_client.get(DASHBOARD, EVERYONE))
        Client.objects.filter(pk=person.pk).update(time_zone="Mars/Base")
        traveller.shift(timedelta(seconds=practice_counts.TTL - 1))
        assert "data that needs fixing" not in text(therapist_client.get(DASHBOARD, EVERYONE))
        traveller.shift(timedelta(seconds=2))
        assert "1 client with data" in text(therapist_client.get(DASHBOARD, EVERYONE))


def test_counts_made_while_a_change_commits_are_not_served(practice, monkeypatch):
    """A view counts (old rows), a change commits and forgets, then the view stores what
    it counted: that must not be what the next view shows."""
    factories.ClientFactory(practice=practice)
    real_count = practice_counts._count

    def count_then_a_change_commits(p):
        counted = real_count(p)
        factories.ClientFactory(practice=practice)  # forgets (a new stamp)
        return counted

    monkeypatch.setattr(practice_counts, "_count", count_then_a_change_commits)
    assert practice_counts.practice_counts(practice).clients == 1
    monkeypatch.setattr(practice_counts, "_count", real_count)
    assert practice_counts.practice_counts(practice).clients == 2


def test_a_save_that_changes_no_count_keeps_the_cache(practice, django_assert_num_queries):
    person = factories.ClientFactory(practice=practice)
    practice_counts.practice_counts(practice)
    person.notes = "Prefers mornings"
    person.save(update_fields=["notes", "updated_at"])
    with django_assert_num_queries(0):
        practice_counts.practice_counts(practice)
    person.active = False
    person.save(update_fields=["active"])
    assert practice_counts.practice_counts(practice).active == 0


def test_with_the_cache_down_the_dashboard_counts_every_time(
    therapist_client, practice, monkeypatch, caplog
):
    factories.ClientFactory(practice=practice)

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get_many", down)
    monkeypatch.setattr(cache, "set", down)
    response = therapist_client.get(DASHBOARD, EVERYONE)
    assert response.status_code == 200 and "1 client." in text(response)
    with_cache_down = factories.ClientFactory(practice=practice)  # forget fails quietly
    assert with_cache_down.pk
    assert "2 clients." in text(therapist_client.get(DASHBOARD, EVERYONE))
    assert "cache unavailable" in caplog.text


def test_a_stale_active_count_never_breaks_a_page(therapist_client, practice, therapist):
    """Cached counts older than a change made behind the app's back (here: clients made
    inactive by SQL) shift the last pages by a row or two for at most the TTL, never
    an error or a row twice on one page."""
    for n in range(6):
        factories.ClientFactory(practice=practice, name=f"Client {n}")
    therapist_client.get(DASHBOARD, EVERYONE)  # counts cached: 6 active
    Client.objects.filter(name__in=["Client 0", "Client 1"]).update(active=False)
    response = therapist_client.get(DASHBOARD, EVERYONE)
    assert response.status_code == 200
    names = names_in_order(response)
    assert len(names) == len(set(names)) and set(names) <= {f"Client {n}" for n in range(6)}


def test_a_calm_plan_with_a_stray_trigger_time_keeps_its_place_by_name(practice, mixed):
    """SQL could leave a time on a calm plan (triage never does): the calm run stays in
    name order on every page, as its index reads it."""
    Plan.objects.filter(client=mixed["Dora Calm"]).update(attention_at=timezone.now())
    everyone = _everyone(practice)
    calm = [row.client.name for row in everyone[6:13]]
    assert calm == ["abe Calm", "Abe Calm", "al NoPlan", "Bea Calm", "carl Calm", "Dora Calm"] + [
        "Nia NoPlan"
    ]


def test_counts_older_than_the_needs_count_never_break_a_page(practice, mixed):
    """Cached counts from before clients were added behind the app's back, with the
    live "need you" count above them: a short page, never an error."""
    for clients, active in ((0, 0), (3, 2), (6, 5)):
        rows = selectors.Everyone(practice, 6, clients, active)[0:50]
        assert [row.client.name for row in rows][:6] == NEEDING_YOU_FIRST


# --- the plan PostgreSQL can take ---------------------------------------------------------------


def _explain(practice, start: int, stop: int) -> str:
    with CaptureQueriesContext(connection) as queries:
        _everyone(practice)[start:stop]
    sql = queries.captured_queries[-1]["sql"]
    with connection.cursor() as cursor:
        # A test database is tiny: a sequential scan would win. What is asserted is
        # that the indexes serve these queries (their predicates and order match).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_postgres_serves_each_run_from_its_index(require_service, practice, therapist, mixed):
    require_service("postgres")
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN of PostgreSQL")
    plan = _explain(practice, 0, 20)
    assert "plan_needs_attention" in plan  # the clients above calm
    assert "client_dashboard_order" in plan  # the calm ones, by name
    calm_only = _explain(practice, 7, 9)
    assert "client_dashboard_order" in calm_only and "plan_needs_attention" not in calm_only
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT COUNT(*) FROM aftercare_plan p JOIN clients_client c"
            " ON c.id = p.client_id WHERE p.ended_at IS NULL AND p.attention_level > 0"
            " AND c.practice_id = %s AND c.active",
            [practice.pk],
        )
        assert "plan_needs_attention" in "\n".join(row[0] for row in cursor.fetchall())


def test_needs_me_count_uses_the_partial_indexs_predicate(practice, therapist):
    """needs_me_count's SQL names the partial index's own conditions, so PostgreSQL can
    use it (COALESCE(level, 0) > 0 could not)."""
    with CaptureQueriesContext(connection) as queries:
        selectors.needs_me_count(practice)
    sql = queries.captured_queries[0]["sql"]
    assert '"aftercare_plan"."attention_level" > 0' in sql
    assert '"aftercare_plan"."ended_at" IS NULL' in sql


def test_steps_count_only_on_active_plans(practice, therapist, django_capture_on_commit_callbacks):
    person = factories.ClientFactory(practice=practice)
    plan = factories.plan_for(person, therapist)
    PlanStep.objects.filter(plan=plan).update(video_url="https://old-cdn.example/a.mp4")
    practice_counts.forget(practice.pk)
    assert practice_counts.practice_counts(practice).problems == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.plan_end(plan=plan, by=therapist.user)
    assert practice_counts.practice_counts(practice).problems == 0


# --- "days ago" -----------------------------------------------------------------------------------


@given(
    seconds=st.floats(min_value=60, max_value=3 * 365 * 24 * 3600),
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
)
def test_ago_says_what_djangos_timesince_says(seconds, start):
    """The dashboard's "days ago" skips the lazy translations and, under four weeks,
    the calendar: not a word changes."""
    now = start.replace(tzinfo=UTC)
    then = now - timedelta(seconds=seconds)
    with translation.override("en-gb"):
        assert ago(then, now) == f"{timesince(then, now)} ago"


@pytest.mark.parametrize(
    "delta",
    [timedelta(minutes=1), timedelta(hours=5, minutes=1), timedelta(days=2, hours=3)]
    + [timedelta(days=7), timedelta(days=27, hours=23, minutes=59), timedelta(days=28)],
)
def test_ago_at_the_edges(delta):
    now = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)  # after February: months are short
    with translation.override("en-gb"):
        assert ago(now - delta, now) == f"{timesince(now - delta, now)} ago"
