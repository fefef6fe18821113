"""A client's data, out and gone: export everything the practice holds about one client
(JSON, or a zip of CSV files a spreadsheet opens) and delete a client completely.

Both record or remove the client's History (clients.AuditEvent) in the same transaction.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from aftercare.models import (
    Alert,
    Completion,
    PhaseChange,
    Plan,
    PlanStep,
    PushSubscription,
    Reminder,
    SymptomLog,
)
from clients.models import AuditEvent, Client, MassageSession, User
from clients.services import audit_event_record

CLIENT_FIELDS = [
    "public_id",
    "name",
    "email",
    "phone",
    "time_zone",
    "massage_cadence",
    "active",
    "notes",
    "morning_time",
    "evening_time",
    "reset_weekday",
    "three_x_days",
    "quiet_start",
    "quiet_end",
    "paused_until",
    "routine_emails",
    "booking_emails",
    "reminder_channel",
    "suggested_channel",
    "sms_number",
    "sms_opt_in_at",
    "sms_stopped_at",
    "links_revoked_at",
    "created_at",
    "updated_at",
]

# Ids are kept so the tables join up (a step's plan_id, a completion's step_id).
TABLES: dict[str, tuple[type, str, list[str], dict[str, F]]] = {
    # name: (model, lookup to the client, fields, extra fields named for people)
    "sessions": (
        MassageSession,
        "client",
        ["id", "date", "duration_minutes", "notes", "created_at"],
        {"therapist_name": F("therapist__display_name")},
    ),
    "plans": (
        Plan,
        "client",
        [
            "id",
            "name",
            "session_id",
            "phase",
            "phase_since",
            "phase_pinned",
            "maintenance_days",
            "started_at",
            "ended_at",
        ],
        {"assigned_by_name": F("assigned_by__display_name")},
    ),
    "plan_steps": (
        PlanStep,
        "plan__client",
        [
            "id",
            "plan_id",
            "order",
            "name",
            "summary",
            "instructions",
            "safety_notes",
            "duration_minutes",
            "sets",
            "reps",
            "hold_seconds",
            "video_url",
            "is_heat",
            "flare",
            "subsiding",
            "maintenance",
            "personal_note",
            "skipped",
            "paused_at",
        ],
        {},
    ),
    "symptom_logs": (
        SymptomLog,
        "plan__client",
        [
            "id",
            "plan_id",
            "at",
            "day",
            "safety",
            "safety_signs",
            "pain_now",
            "worst_pain",
            "compared",
            "legs",
            "sleep",
            "steps_done",
            "worse_steps",
            "worse_by",
            "note",
            "flare_tap",
            "gone_tap",
        ],
        {},
    ),
    "completions": (
        Completion,
        "step__plan__client",
        ["id", "step_id", "day", "slot", "done_at"],
        {},
    ),
    "phase_changes": (
        PhaseChange,
        "plan__client",
        ["id", "plan_id", "at", "from_phase", "to_phase", "rule", "reason", "cause"],
        {"by_name": F("by__name")},
    ),
    "alerts": (
        Alert,
        "plan__client",
        [
            "id",
            "plan_id",
            "kind",
            "severity",
            "message",
            "step_id",
            "log_id",
            "created_at",
            "resolved_at",
        ],
        {"resolved_by_name": F("resolved_by__name")},
    ),
    "reminders": (
        Reminder,
        "client",
        [
            "id",
            "plan_id",
            "kind",
            "slot_key",
            "slot_day",
            "due_at",
            "status",
            "reason",
            "attempts",
            "sent_at",
            "channel",
            "channel_note",
            "created_at",
        ],
        {},
    ),
    # The phones with notifications on (not their keys: those are the browser's secret).
    "notification_phones": (
        PushSubscription,
        "client",
        ["id", "user_agent", "created_at", "last_success_at"],
        {},
    ),
    "history": (AuditEvent, "client", ["at", "actor_name", "action", "detail"], {}),
}


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    content_type: str
    filename: str


def client_data(client: Client) -> dict[str, list[dict]]:
    """Every row the practice holds about the client, table by table (one query each)."""
    data = {
        "client": list(
            Client.objects.filter(pk=client.pk).values(
                *CLIENT_FIELDS,
                practice_name=F("practice__name"),
                primary_therapist_name=F("primary_therapist__display_name"),
            )
        )
    }
    for name, (model, lookup, fields, named) in TABLES.items():
        rows = model.objects.filter(**{lookup: client}).order_by(*_order(fields))
        data[name] = list(rows.values(*fields, **named))
    return data


def _order(fields: list[str]) -> list[str]:
    return ["at", "id"] if "id" not in fields else ["id"]


def client_export(*, client: Client, by: User | None, kind: str) -> ExportFile:
    """The client's data as `json` or `csv` (a zip, one CSV per table); the export is
    noted in the client's History."""
    with transaction.atomic():
        data = client_data(client)
        audit_event_record(
            client=client,
            by=by,
            action=AuditEvent.Action.DATA_EXPORTED,
            detail="JSON" if kind == "json" else "CSV (zip)",
        )
    stem = f"aftercare-{slugify(client.name) or 'client'}-{timezone.localdate():%Y-%m-%d}"
    if kind == "json":
        document = {
            "exported_at": timezone.now(),
            **data,
            "client": data["client"][0],
        }
        content = json.dumps(document, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
        return ExportFile(content.encode(), "application/json", f"{stem}.json")
    return ExportFile(_csv_zip(data), "application/zip", f"{stem}.zip")


def _csv_zip(data: dict[str, list[dict]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, rows in data.items():
            archive.writestr(f"{name}.csv", _csv(name, rows))
    return buffer.getvalue()


def _csv(name: str, rows: list[dict]) -> str:
    header = list(rows[0]) if rows else _header(name)
    out = io.StringIO()
    # A byte-order mark so spreadsheets read the file as UTF-8 (names with accents).
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row[key]) for key in header])
    return out.getvalue()


def _header(name: str) -> list[str]:
    _, _, fields, named = TABLES[name]
    return [*fields, *named]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    # A cell starting with these is a formula to a spreadsheet: what a client typed in a
    # note must stay text (OWASP "CSV injection").
    if isinstance(value, str) and text.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + text
    return text


def client_delete(*, client: Client) -> str:
    """Delete the client and everything about them in one transaction: their login,
    sessions, plans, steps, check-ins, ticks, phase changes, alerts, reminders and
    History. Returns the name, for the message that says it is done."""
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        name, user_id = client.name, client.user_id
        client.delete()  # cascades to every row that belongs to the client
        # After the client: Client.user is PROTECTed so a login is never deleted alone.
        User.objects.filter(pk=user_id).delete()
    return name
