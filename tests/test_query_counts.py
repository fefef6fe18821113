"""Query counts of the two busiest pages, pinned (counts, never timings; `make bench` has
the timings). A page whose count grows with the plan or the practice is an N+1."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from aftercare import checkins, selectors, services
from aftercare.models import PlanStep
from aftercare.rules.phases import Phase
from tests import factories

# session, user, the client with their practice, active plan and newest session's day
# (one query, in the access check: the day for "Book your next massage"), the plan's
# steps with today's tick times (one subquery per slot)
TODAY_QUERIES = 4
# session, user, the therapist with their practice (one query, in the access check), how
# many need the therapist, and one page of clients with everything a row shows (sorted
# and limited in SQL, read from indexes): 5, whatever the number of clients. The counts
# that read the whole practice come from the cache (aftercare.practice_counts); when it
# has none, 4 more: all and active clients, and the data-problem count (distinct zones,
# the clients with bad values, distinct video links).
DASHBOARD_QUERIES = 5
DASHBOARD_QUERIES_COUNTING = DASHBOARD_QUERIES + 4


def _plan(practice, therapist, *, extra_copies: int = 0):
    client = factories.ClientFactory(practice=practice, primary_therapist=therapist)
    plan = factories.plan_for(client, therapist, phase=Phase.FLARE)
    steps = list(plan.steps.all())
    for copy in range(1, extra_copies + 1):
        for step in steps:
            step.pk = None
            step.name = f"{step.name} ({copy})"
            step.order += 100 * copy
        PlanStep.objects.bulk_create(steps)
        steps = list(plan.steps.filter(order__lt=100))
    return client, plan


def _today(client, person, plan):
    client.force_login(person.user, backend="sesame.backends.ModelBackend")
    day = person.local_today()
    view = selectors.plan_day(plan, person, day)
    first = view.slots[0].steps[0]
    services.step_complete(step=first, day=day, slot=view.slots[0].name)
    return view


@pytest.mark.parametrize("extra_copies", [0, 6])
def test_today_runs_the_same_queries_whatever_the_plans_size(
    client, practice, therapist, extra_copies, django_assert_num_queries
):
    person, plan = _plan(practice, therapist, extra_copies=extra_copies)
    view = _today(client, person, plan)
    due = sum(len(slot.steps) for slot in view.slots)
    with django_assert_num_queries(TODAY_QUERIES):
        response = client.get(reverse("client-today"))
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('<article class="step') == due
    assert page.count("is-done") == 1  # the tick came from the database
    assert practice.name in page
    assert due >= 6 * (extra_copies + 1)  # the large plan really is large


def _clients(practice, therapist, count: int) -> None:
    for n in range(count):
        person = factories.ClientFactory(
            practice=practice, primary_therapist=therapist, name=f"Person {n:03d}"
        )
        plan = factories.plan_for(person, therapist, phase=Phase.FLARE)
        answers = {"pain_now": 2, "worst_pain": 3 + n % 4, "compared": "same"}
        answers.update(legs="none", sleep="fine")
        for _ in range(2):
            checkins.symptom_log_create(plan=plan, submission_key=uuid.uuid4(), answers=answers)
        if n % 5 == 0:
            checkins.symptom_log_create(
                plan=plan, submission_key=uuid.uuid4(), answers={"safety_signs": ["fever"]}
            )


@pytest.mark.parametrize("count", [5, 50])
def test_the_dashboard_runs_the_same_queries_whatever_the_number_of_clients(
    client, practice, therapist, count, django_assert_num_queries
):
    _clients(practice, therapist, count)
    client.force_login(therapist.user, backend="django.contrib.auth.backends.ModelBackend")
    with django_assert_num_queries(DASHBOARD_QUERIES_COUNTING):  # nothing cached yet
        client.get(reverse("therapist-dashboard"), {"show": "all"})
    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = client.get(reverse("therapist-dashboard"), {"show": "all"})
    with django_assert_num_queries(DASHBOARD_QUERIES):
        client.get(reverse("therapist-dashboard"), {"show": "needs"})
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('<a class="name" href="/t/clients/') == count
    assert "Person 000" in page and f"Person {count - 1:03d}" in page
    # The doctor-sign clients rank first, at Today.
    assert page.count(">Today</span>") == len(range(0, count, 5))
    first = page.index('class="name"')
    assert page.index(">Today</span>") < page.index('class="name"', first + 1)


def test_a_client_without_a_plan_still_opens_their_pages(client, practice, therapist):
    person = factories.ClientFactory(practice=practice, primary_therapist=therapist)
    client.force_login(person.user, backend="sesame.backends.ModelBackend")
    response = client.get(reverse("client-today"))
    assert response.status_code == 200  # not sent to "ask for a new link"
    assert response.wsgi_request.user.client == person


def test_the_plan_loaded_by_the_access_check_is_used_once(client, practice, therapist):
    """A second look in the same request reads the plan again (it may have changed)."""
    person, plan = _plan(practice, therapist)
    from aftercare.views.access import _client_with_plan

    loaded = _client_with_plan(person.user)
    first = selectors.client_active_plan(loaded)
    assert first.pk == plan.pk and first.client is loaded
    assert loaded.practice.name == practice.name
    services.phase_set(plan=plan, phase=Phase.MAINTENANCE, pinned=False, by=therapist.user)
    assert selectors.client_active_plan(loaded).phase == Phase.MAINTENANCE
