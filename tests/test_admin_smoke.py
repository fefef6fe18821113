"""Every model admin answers, for a superuser, on rows that have related data: the
changelist, the change, add and delete-confirmation pages (the delete page prints every
related row, so a broken __str__ anywhere below a client shows up here). Models are read
from the admin's registry, so a newly registered model is covered without editing this."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client as Browser
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from aftercare import checkins, services
from aftercare.models import Alert, Completion, PhaseChange, Plan, PlanStep, Reminder, SymptomLog
from aftercare.rules.phases import Phase
from clients import services as people
from clients.models import AuditEvent, MassageSession, User
from tests import factories

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
MODEL_IDS = [model._meta.label for model, _ in REGISTRY]


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("boss@example.com", "admin-password-for-tests")


@pytest.fixture
def busy_client(practice, therapist, superuser):
    """A client with something in every table: sessions, a plan and its steps, check-ins
    (one that moved the phase, one with a warning sign), ticks, alerts, reminders, history."""
    person = factories.ClientFactory(
        practice=practice, primary_therapist=therapist, name="Ben & Jerry O'Neil"
    )
    session = people.session_record(
        client=person, therapist=therapist, date=date(2026, 1, 5), notes="Tight QL"
    )
    plan = services.plan_assign(
        client=person,
        protocol=practice.protocols.first(),
        by=therapist,
        phase=Phase.SUBSIDING,
        session=session,
    )
    checkins.symptom_log_create(
        plan=plan,
        submission_key=uuid.uuid4(),
        answers={"pain_now": 6, "worst_pain": 8, "compared": "worse", "note": "<b>worse</b>"},
    )
    step = plan.steps.get(name="Passive SI reset")
    services.step_complete(step=step, day=person.local_today(), slot="morning")
    Alert.objects.create(
        plan=plan, kind="worse_three_times", severity=50, message="Worse three times", step=step
    )
    checkins.symptom_log_create(
        plan=plan,
        submission_key=uuid.uuid4(),
        answers={"safety_signs": ["saddle_numbness"]},
    )
    Reminder.objects.create(
        client=person,
        plan=plan,
        kind=Reminder.Kind.ROUTINE,
        slot_key=f"{person.local_today():%Y-%m-%d}/evening",
        slot_day=person.local_today(),
        due_at=timezone.now() + timedelta(hours=3),
    )
    people.client_links_revoke(client=person, by=therapist.user)
    Group.objects.get_or_create(name="Front desk")
    return person


def row_of(model, person):
    """A row of `model` that belongs to (or is) the busy client, else any row."""
    queryset = model._default_manager.all()
    for lookup in (
        {"pk": person.pk} if model._meta.label == "clients.Client" else None,
        {"client": person},
        {"plan__client": person},
        {"step__plan__client": person},
        {"pk": person.practice_id} if model._meta.label == "clients.Practice" else None,
        {"practice": person.practice},
    ):
        if not lookup:
            continue
        try:
            row = queryset.filter(**lookup).first()
        except Exception:  # the model has no such relation
            continue
        if row is not None:
            return row
    return queryset.first()


def test_the_busy_client_has_rows_in_every_table_below_a_client(busy_client):
    """The delete pages print every one of these rows: each table must have one."""
    below = [MassageSession, AuditEvent, Plan, PlanStep, SymptomLog, Completion]
    below += [PhaseChange, Alert, Reminder]
    empty = [m._meta.label for m in below if not m._default_manager.exists()]
    assert empty == []


def test_every_row_of_both_apps_has_a_readable_str_and_repr(busy_client):
    for app in ("aftercare", "clients"):
        for model in apps.get_app_config(app).get_models():
            for row in model._default_manager.all()[:50]:
                assert isinstance(str(row), str) and str(row), model._meta.label
                assert isinstance(repr(row), str), model._meta.label


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=MODEL_IDS)
def test_every_admin_page_answers_for_a_superuser(busy_client, superuser, model, model_admin):
    browser = Browser()
    browser.force_login(superuser, backend="django.contrib.auth.backends.ModelBackend")
    request = RequestFactory().get("/admin/")
    request.user = superuser
    info = (model._meta.app_label, model._meta.model_name)
    row = row_of(model, busy_client)
    assert row is not None, f"the test gives {model._meta.label} a row"
    str(row), repr(row)

    pages = {"changelist": reverse("admin:{}_{}_changelist".format(*info))}
    if model_admin.has_add_permission(request):
        pages["add"] = reverse("admin:{}_{}_add".format(*info))
    pages["change"] = reverse("admin:{}_{}_change".format(*info), args=[row.pk])
    if model_admin.has_delete_permission(request, row):
        pages["delete"] = reverse("admin:{}_{}_delete".format(*info), args=[row.pk])
    for name, url in pages.items():
        response = browser.get(url)
        assert response.status_code == 200, f"{name} {url}: {response.status_code}"
    # A search and a filter on the changelist render too.
    response = browser.get(pages["changelist"], {"q": "Ben & Jerry"})
    assert response.status_code == 200
