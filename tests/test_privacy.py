"""Privacy, request by request: a therapist exports one client's data (JSON, or a zip of
CSVs), deletes a client with everything about them, and reads the History of who
changed what."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
import zipfile
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aftercare import checkins, services
from aftercare.models import (
    Alert,
    Completion,
    PhaseChange,
    Plan,
    PlanStep,
    Reminder,
    SymptomLog,
)
from aftercare.rules.phases import Phase
from clients import services as people
from clients.models import AuditEvent, Client, MassageSession, User
from tests import factories

THERAPIST_BACKEND = "django.contrib.auth.backends.ModelBackend"
CLIENT_BACKEND = "sesame.backends.ModelBackend"
SESSION_NOTE = "Tight left QL, private-note-4b1e"
LOG_NOTE = '=HYPERLINK("http://evil.example") worse after gardening'


def desk_for(therapist) -> Browser:
    browser = Browser()
    browser.force_login(therapist.user, backend=THERAPIST_BACKEND)
    return browser


def phone_for(person: Client) -> Browser:
    browser = Browser()
    browser.force_login(person.user, backend=CLIENT_BACKEND)
    return browser


def with_history(person: Client, therapist) -> Plan:
    """A client with a row in every table that holds something about them."""
    session = people.session_record(
        client=person, therapist=therapist, date=date(2026, 1, 5), notes=SESSION_NOTE
    )
    plan = factories.plan_for(person, therapist, phase=Phase.SUBSIDING)
    Plan.objects.filter(pk=plan.pk).update(session=session)
    result = checkins.symptom_log_create(
        plan=plan,
        submission_key=uuid.uuid4(),
        answers={"pain_now": 6, "worst_pain": 8, "compared": "worse", "note": LOG_NOTE},
    )
    step = plan.steps.get(name="Passive SI reset")
    services.step_complete(step=step, day=person.local_today(), slot="morning")
    Alert.objects.create(
        plan=plan, kind="worse_three_times", severity=50, message="Worse three times", step=step
    )
    Reminder.objects.create(
        client=person,
        plan=plan,
        kind=Reminder.Kind.ROUTINE,
        slot_key=f"{person.local_today():%Y-%m-%d}/evening",
        slot_day=person.local_today(),
        due_at=timezone.now() + timedelta(hours=3),
    )
    assert result.decision.changed  # worst pain 8: the check-in moved the plan to Flare
    return plan


def export(desk: Browser, person: Client, kind: str | None = None):
    data = {"format": kind} if kind else {}
    return desk.post(reverse("therapist-client-export", args=[person.public_id]), data)


def unzip(response) -> dict[str, list[dict[str, str]]]:
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return {
        name.removesuffix(".csv"): list(
            csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig")))
        )
        for name in archive.namelist()
    }


def history_of(person: Client) -> list[tuple[str, str, str]]:
    return list(
        AuditEvent.objects.filter(client=person)
        .order_by("at", "id")
        .values_list("action", "actor_name", "detail")
    )


def history_section(page) -> str:
    body = page.content.decode()
    match = re.search(r'<section[^>]*aria-labelledby="history-h".*?</section>', body, re.S)
    assert match, "the client page has a History section"
    return match.group(0)


# --- Export ------------------------------------------------------------------------------------


def test_it_exports_everything_about_the_client_as_json(therapist, client_person):
    plan = with_history(client_person, therapist)
    response = export(desk_for(therapist), client_person, "json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="aftercare-client-')
    assert response["Content-Disposition"].endswith('.json"')
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["client"]["name"] == client_person.name
    assert data["client"]["email"] == client_person.email
    assert data["client"]["public_id"] == str(client_person.public_id)
    assert data["client"]["primary_therapist_name"] == therapist.display_name
    assert [s["notes"] for s in data["sessions"]] == [SESSION_NOTE]
    assert [(p["id"], p["phase"]) for p in data["plans"]] == [(plan.pk, "flare")]
    assert {s["name"] for s in data["plan_steps"]} == set(plan.steps.values_list("name", flat=True))
    assert [log["note"] for log in data["symptom_logs"]] == [LOG_NOTE]
    assert data["symptom_logs"][0]["worst_pain"] == 8
    assert len(data["completions"]) == 1
    assert [(c["from_phase"], c["to_phase"]) for c in data["phase_changes"]] == [
        ("", "subsiding"),
        ("subsiding", "flare"),
    ]
    assert [a["message"] for a in data["alerts"]] == ["Worse three times"]
    assert [r["slot_key"] for r in data["reminders"]] == [
        f"{client_person.local_today():%Y-%m-%d}/evening"
    ]
    assert {e["action"] for e in data["history"]} >= {"client_added", "plan_assigned"}


def test_it_exports_one_csv_per_table_in_a_zip_a_spreadsheet_opens(therapist, client_person):
    with_history(client_person, therapist)
    response = export(desk_for(therapist), client_person, "csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].endswith('.zip"')
    assert "no-store" in response["Cache-Control"]
    tables = unzip(response)
    assert set(tables) == {
        "client",
        "sessions",
        "plans",
        "plan_steps",
        "symptom_logs",
        "completions",
        "phase_changes",
        "alerts",
        "reminders",
        "notification_phones",
        "history",
    }
    assert [row["name"] for row in tables["client"]] == [client_person.name]
    assert tables["client"][0]["routine_emails"] == "yes"
    assert [row["notes"] for row in tables["sessions"]] == [SESSION_NOTE]
    assert len(tables["plan_steps"]) == 5
    assert len(tables["completions"]) == 1
    assert len(tables["alerts"]) == 1
    assert len(tables["reminders"]) == 1
    # What the client typed stays text in a spreadsheet, never a live formula.
    assert tables["symptom_logs"][0]["note"] == "'" + LOG_NOTE


def test_it_keeps_the_csv_headers_of_an_empty_table(therapist, client_person):
    response = export(desk_for(therapist), client_person, "csv")
    raw = zipfile.ZipFile(io.BytesIO(response.content)).read("symptom_logs.csv")
    header = raw.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("id,plan_id,at,day,safety")
    assert unzip(response)["symptom_logs"] == []


def test_it_exports_json_when_no_format_is_given(therapist, client_person):
    response = export(desk_for(therapist), client_person)
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["client"]["name"] == client_person.name


def test_it_answers_not_found_to_an_unknown_format(therapist, client_person):
    assert export(desk_for(therapist), client_person, "xml").status_code == 404
    assert not AuditEvent.objects.filter(action="data_exported").exists()


def test_it_exports_none_of_another_clients_data(practice, therapist, client_person):
    neighbour = factories.ClientFactory(practice=practice, name="Nina Neighbour")
    people.session_record(
        client=neighbour, therapist=therapist, date=date(2026, 1, 6), notes="neighbour-note-9c"
    )
    factories.plan_for(neighbour, therapist)
    factories.plan_for(client_person, therapist)
    body = export(desk_for(therapist), client_person, "json").content.decode()
    assert "Nina Neighbour" not in body
    assert "neighbour-note-9c" not in body
    assert neighbour.email not in body


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_it_answers_not_found_to_another_practices_therapist(client_person, therapist, kind):
    with_history(client_person, therapist)
    stranger = factories.TherapistFactory(practice=factories.practice_with_library())
    events = AuditEvent.objects.count()
    response = export(desk_for(stranger), client_person, kind)
    assert response.status_code == 404
    assert client_person.name not in response.content.decode(errors="replace")
    assert AuditEvent.objects.count() == events


def test_it_answers_not_found_to_the_client_asking_for_their_export(client_person, therapist):
    with_history(client_person, therapist)
    response = export(phone_for(client_person), client_person, "json")
    assert response.status_code == 404


# --- Delete ------------------------------------------------------------------------------------

# django_session is left out: logging a browser in writes to it.
IGNORED_TABLES = {"django_session"}
CLIENT_TABLES = [
    User,
    Client,
    MassageSession,
    Plan,
    PlanStep,
    SymptomLog,
    Completion,
    PhaseChange,
    Alert,
    Reminder,
    AuditEvent,
]


def row_counts() -> dict[str, int]:
    return {
        model._meta.db_table: model.objects.count()
        for model in apps.get_models()
        if model._meta.db_table not in IGNORED_TABLES
    }


def delete_url(person: Client) -> str:
    return reverse("therapist-client-delete", args=[person.public_id])


def test_it_asks_for_the_clients_name_before_deleting(therapist, client_person):
    page = desk_for(therapist).get(delete_url(client_person))
    assert page.status_code == 200
    body = page.content.decode()
    assert f"Delete {client_person.name}" in body
    assert 'name="confirm_name"' in body
    assert reverse("therapist-client-export", args=[client_person.public_id]) in body


@pytest.mark.parametrize("typed", ["", "Someone Else", "Client"])
def test_it_deletes_nothing_when_the_name_does_not_match(therapist, client_person, typed):
    with_history(client_person, therapist)
    before = row_counts()
    response = desk_for(therapist).post(delete_url(client_person), {"confirm_name": typed})
    assert response.status_code == 200
    assert "confirm_name" in response.context["form"].errors
    assert row_counts() == before


def test_it_deletes_the_client_and_every_row_about_them(practice, therapist):
    # Another client with a full history, who must keep every row.
    keeper = factories.ClientFactory(practice=practice, name="Kim Keeper")
    with_history(keeper, therapist)
    desk = desk_for(therapist)
    before = row_counts()

    client_person = factories.ClientFactory(practice=practice, name="Dee Leted")
    with_history(client_person, therapist)
    phone = phone_for(client_person)
    desk.get(reverse("therapist-client", args=[client_person.public_id]))
    export(desk, client_person, "json")
    with_data = row_counts()
    for model in CLIENT_TABLES:
        table = model._meta.db_table
        assert with_data[table] > before[table], f"the test gives the client rows in {table}"

    response = desk.post(
        delete_url(client_person), {"confirm_name": f"  {client_person.name.upper()} "}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("therapist-dashboard")
    assert row_counts() == before, "every row about the client is gone, and only those"
    assert not User.objects.filter(pk=client_person.user_id).exists()
    assert Client.objects.filter(pk=keeper.pk).exists()
    dashboard = desk.get(response["Location"])
    assert f"{client_person.name} and all their data have been deleted." in (
        dashboard.content.decode()
    )
    assert client_person.name not in dashboard.content.decode().split("deleted.")[1]
    # The phone that was logged in is logged out: its user is gone.
    assert phone.get(reverse("client-today"))["Location"] == reverse("client-new-link")
    gone = desk.get(reverse("therapist-client", args=[client_person.public_id]))
    assert gone.status_code == 404


def test_it_lets_another_practices_therapist_delete_nothing(therapist, client_person):
    with_history(client_person, therapist)
    stranger = factories.TherapistFactory(practice=factories.practice_with_library())
    before = row_counts()
    browser = desk_for(stranger)
    assert browser.get(delete_url(client_person)).status_code == 404
    response = browser.post(delete_url(client_person), {"confirm_name": client_person.name})
    assert response.status_code == 404
    assert row_counts() == before


def test_it_lets_the_client_delete_nothing(therapist, client_person):
    with_history(client_person, therapist)
    before = row_counts()
    response = phone_for(client_person).post(
        delete_url(client_person), {"confirm_name": client_person.name}
    )
    assert response.status_code == 404
    assert row_counts() == before


# --- History -----------------------------------------------------------------------------------


def test_it_records_a_client_added_by_the_therapist(therapist):
    desk = desk_for(therapist)
    response = desk.post(
        reverse("therapist-client-add"),
        {
            "name": "Ada Added",
            "email": "ada@example.com",
            "time_zone": "Europe/London",
            "massage_cadence": "weekly",
        },
    )
    assert response.status_code == 302
    person = Client.objects.get(name="Ada Added")
    assert history_of(person) == [("client_added", therapist.display_name, "")]
    page = desk.get(reverse("therapist-client", args=[person.public_id]))
    assert "Client added" in history_section(page)
    assert therapist.display_name in history_section(page)


def test_it_records_which_details_changed_but_not_the_notes(therapist, client_person):
    desk = desk_for(therapist)
    response = desk.post(
        reverse("therapist-client-edit", args=[client_person.public_id]),
        {
            "name": client_person.name,
            "email": client_person.email,
            "phone": "07700 900123",
            "time_zone": "Europe/London",
            "massage_cadence": client_person.massage_cadence,
            "primary_therapist": str(therapist.pk),
            "notes": "Disc history, secret-health-note-5d",
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(client=client_person, action="client_edited")
    assert (event.actor_name, event.detail) == (therapist.display_name, "Changed: phone, notes")
    page = desk.get(reverse("therapist-client", args=[client_person.public_id]))
    history = history_section(page)
    assert "Details edited" in history and "Changed: phone, notes" in history
    assert "secret-health-note-5d" not in history
    assert "07700" not in history


def test_it_records_no_edit_when_nothing_changed(therapist, client_person):
    desk_for(therapist).post(
        reverse("therapist-client-edit", args=[client_person.public_id]),
        {
            "name": client_person.name,
            "email": client_person.email,
            "time_zone": client_person.time_zone,
            "massage_cadence": client_person.massage_cadence,
            "primary_therapist": str(therapist.pk),
        },
    )
    assert not AuditEvent.objects.filter(action="client_edited").exists()


def test_it_records_a_plan_assigned_steps_adjusted_and_the_plan_ended(therapist, client_person):
    desk = desk_for(therapist)
    protocol = client_person.practice.protocols.get()
    data = {"date": "2026-01-05", "notes": "", "protocol": str(protocol.pk), "phase": "flare"}
    for step in protocol.steps.all():
        data[f"step-{step.pk}-include"] = "on"
        for phase in ("flare", "subsiding", "maintenance"):
            data[f"step-{step.pk}-{phase}"] = getattr(step, phase)
    assert desk.post(reverse("therapist-session", args=[client_person.public_id]), data)[
        "Location"
    ] == reverse("therapist-client", args=[client_person.public_id])
    plan = Plan.objects.get(client=client_person)

    steps = list(plan.steps.order_by("order", "id"))
    edit = {
        "form-TOTAL_FORMS": str(len(steps)),
        "form-INITIAL_FORMS": str(len(steps)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for i, step in enumerate(steps):
        edit[f"form-{i}-id"] = str(step.pk)
        edit[f"form-{i}-personal_note"] = step.personal_note
        edit[f"form-{i}-video_url"] = step.video_url
        for phase in ("flare", "subsiding", "maintenance"):
            edit[f"form-{i}-{phase}"] = getattr(step, phase)
    psoas = steps.index(plan.steps.get(name="Psoas release"))
    edit[f"form-{psoas}-skipped"] = "on"
    edit[f"form-{psoas}-personal_note"] = "Gently, sore-hip-note-2a"
    desk.post(reverse("therapist-plan-edit", args=[client_person.public_id]), edit)
    desk.post(reverse("therapist-plan-end", args=[client_person.public_id]))

    assert [(a, who) for a, who, _ in history_of(client_person)] == [
        ("client_added", ""),
        ("plan_assigned", therapist.display_name),
        ("plan_steps_edited", therapist.display_name),
        ("plan_ended", therapist.display_name),
    ]
    detail = dict((a, d) for a, _, d in history_of(client_person))
    assert detail["plan_assigned"] == f"{plan.name}, starting in Flare"
    assert detail["plan_steps_edited"] == "Psoas release (personal note, skipped)"
    history = history_section(desk.get(reverse("therapist-client", args=[client_person.public_id])))
    for label in ("Plan assigned", "Plan steps adjusted", "Plan ended"):
        assert label in history
    assert "sore-hip-note-2a" not in history


def test_it_records_phases_set_pinned_and_unpinned_by_the_therapist(therapist, client_person):
    factories.plan_for(client_person, therapist, phase=Phase.FLARE)
    desk = desk_for(therapist)
    url = reverse("therapist-phase", args=[client_person.public_id])
    desk.post(url, {"phase": "subsiding"})
    desk.post(url, {"phase": "subsiding", "pinned": "on"})
    desk.post(url, {"phase": "subsiding", "pinned": "on"})  # nothing changes: no line
    desk.post(url, {"phase": "subsiding"})
    desk.post(url, {"phase": "hold", "pinned": "on"})

    phase_events = [e for e in history_of(client_person) if e[0].startswith("phase_")]
    name = therapist.display_name
    assert phase_events == [
        ("phase_set", name, "Flare → Subsiding"),
        ("phase_pinned", name, "Subsiding"),
        ("phase_unpinned", name, "Subsiding"),
        ("phase_set", name, "Subsiding → On hold, pinned"),
    ]
    history = history_section(desk.get(reverse("therapist-client", args=[client_person.public_id])))
    for label in ("Phase set", "Phase pinned", "Phase unpinned", "Subsiding → On hold, pinned"):
        assert label in history


def test_it_attributes_phase_changes_from_a_check_in_and_the_flare_button_to_the_client(
    therapist, client_person
):
    plan = factories.plan_for(client_person, therapist, phase=Phase.SUBSIDING)
    phone = phone_for(client_person)
    answers = {
        "warning": "no",
        "pain_now": "4",
        "worst_pain": "7",
        "compared": "worse",
        "legs": "none",
        "sleep": "fine",
    }
    phone.post(reverse("client-checkin"), {**answers, "submission_key": str(uuid.uuid4())})
    plan.refresh_from_db()
    assert plan.phase == Phase.FLARE
    services.phase_set(plan=plan, phase=Phase.SUBSIDING, pinned=False, by=therapist.user)
    phone.post(
        reverse("client-checkin"),
        {**answers, "worst_pain": "5", "flare_tap": "on", "submission_key": str(uuid.uuid4())},
    )

    changes = [e for e in history_of(client_person) if e[0] == "phase_changed"]
    client_label = f"{client_person.name} (client)"
    assert changes == [
        ("phase_changed", client_label, "Subsiding → Flare after a check-in"),
        ("phase_changed", client_label, "Subsiding → Flare after the client's button"),
    ]
    assert AuditEvent.objects.filter(action="phase_changed").first().actor == client_person.user
    page = desk_for(therapist).get(reverse("therapist-client", args=[client_person.public_id]))
    assert "after the client&#x27;s button" in history_section(page)


def test_it_records_links_sent_and_revoked_and_data_exported(
    therapist, client_person, mailoutbox, django_capture_on_commit_callbacks
):
    desk = desk_for(therapist)
    with django_capture_on_commit_callbacks(execute=True):
        desk.post(reverse("therapist-link-send", args=[client_person.public_id]))
    desk.post(reverse("therapist-link-revoke", args=[client_person.public_id]))
    export(desk, client_person, "csv")
    export(desk, client_person, "json")

    assert len(mailoutbox) == 1
    assert history_of(client_person)[1:] == [
        ("link_sent", therapist.display_name, ""),
        ("links_revoked", therapist.display_name, ""),
        ("data_exported", therapist.display_name, "CSV (zip)"),
        ("data_exported", therapist.display_name, "JSON"),
    ]
    history = history_section(desk.get(reverse("therapist-client", args=[client_person.public_id])))
    for label in ("Link emailed", "Links revoked", "Data exported</strong>: CSV (zip)"):
        assert label in history


def test_it_records_the_first_link_sent_with_the_plan(
    therapist, client_person, django_capture_on_commit_callbacks, mailoutbox
):
    protocol = client_person.practice.protocols.get()
    data = {"date": "2026-01-05", "protocol": str(protocol.pk), "phase": "flare"}
    data["send_link"] = "on"
    for step in protocol.steps.all():
        data[f"step-{step.pk}-include"] = "on"
        for phase in ("flare", "subsiding", "maintenance"):
            data[f"step-{step.pk}-{phase}"] = getattr(step, phase)
    with django_capture_on_commit_callbacks(execute=True):
        desk_for(therapist).post(reverse("therapist-session", args=[client_person.public_id]), data)
    assert len(mailoutbox) == 1
    assert [a for a, _, _ in history_of(client_person)] == [
        "client_added",
        "plan_assigned",
        "link_sent",
    ]


def test_it_shows_the_latest_50_events_newest_first_with_one_query(therapist, client_person):
    desk = desk_for(therapist)
    url = reverse("therapist-client", args=[client_person.public_id])
    desk.get(url)  # warm up the session and the template cache

    def add_events(count: int) -> None:
        start = AuditEvent.objects.count()
        for n in range(start, start + count):
            people.audit_event_record(
                client=client_person,
                by=therapist.user,
                action=AuditEvent.Action.DATA_EXPORTED,
                detail=f"export-{n:03d}",
                at=timezone.now() + timedelta(minutes=n),
            )

    add_events(2)
    with CaptureQueriesContext(connection) as few:
        desk.get(url)
    add_events(70)
    with CaptureQueriesContext(connection) as many:
        page = desk.get(url)

    assert len(many) == len(few)
    history_queries = [q for q in many if "clients_auditevent" in q["sql"]]
    assert len(history_queries) == 1
    shown = re.findall(r"export-\d{3}", history_section(page))
    assert len(shown) == 50
    assert shown[0] == "export-072" and shown[-1] == "export-023"


def test_it_shows_another_client_none_of_the_history(practice, therapist, client_person):
    neighbour = factories.ClientFactory(practice=practice, name="Nina Neighbour")
    desk = desk_for(therapist)
    desk.post(reverse("therapist-link-revoke", args=[neighbour.public_id]))
    page = desk.get(reverse("therapist-client", args=[client_person.public_id]))
    assert "Links revoked" not in history_section(page)
