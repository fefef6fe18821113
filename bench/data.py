"""Bench data, made fast: one practice through the app's own services, then thousands of
clients with plans cloned from a real plan by set-based SQL (INSERT ... SELECT)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import time

from django.db import connection, transaction

from aftercare import services
from aftercare.models import Plan, PlanStep
from aftercare.rules.phases import Phase
from clients import services as people
from clients.models import Client, Practice, Therapist

PASSWORD = "bench-therapist-password"


@dataclass
class BenchPractice:
    practice: Practice
    therapist: Therapist
    template: Plan  # a plan made by plan_assign: its steps are what clones copy


def practice_make(tag: str) -> BenchPractice:
    """A practice with its library, a therapist and one client with a real plan."""
    with transaction.atomic():
        practice = people.practice_create(
            name=f"Bench practice {tag}",
            postal_address="1 Bench Street\nBristol",
            sender_email=f"hello@{tag}.bench.example",
            booking_url="https://bench.example/book",
        )
        therapist = people.therapist_create(
            practice=practice,
            email=f"therapist@{tag}.bench.example",
            password=PASSWORD,
            display_name=f"Therapist {tag}",
        )
        protocol = services.library_install(practice=practice)
        client = people.client_create(
            practice=practice,
            name=f"Template {tag}",
            email=f"template@{tag}.bench.example",
            primary_therapist=therapist,
        )
        plan = services.plan_assign(
            client=client, protocol=protocol, by=therapist, phase=Phase.SUBSIDING
        )
    return BenchPractice(practice, therapist, plan)


def clients_make(
    bench: BenchPractice,
    count: int,
    *,
    tag: str,
    zones: tuple[str, ...] = ("Europe/London",),
    phases: tuple[str, ...] = (Phase.SUBSIDING,),
    morning: time = time(8, 0),
    evening: time = time(19, 0),
    step_copies: int = 1,
    logs_per_client: int = 0,
) -> list[int]:
    """`count` clients with an active plan each (steps copied from the template plan,
    `step_copies` times over), zones and phases taken in turn. Returns the client ids."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO clients_user
                (password, is_superuser, email, name, is_active, is_staff, date_joined)
            SELECT '!bench', false, %(tag)s || '-' || g || '@clients.invalid', '', true, false, now()
            FROM generate_series(1, %(count)s) AS g
            """,
            {"tag": tag, "count": count},
        )
        cursor.execute(
            """
            INSERT INTO clients_client
                (public_id, name, email, phone, time_zone, massage_cadence, active, notes,
                 morning_time, evening_time, reset_weekday, three_x_days, quiet_start,
                 quiet_end, paused_until, routine_emails, booking_emails, links_revoked_at,
                 created_at, updated_at, user_id, practice_id, primary_therapist_id)
            SELECT gen_random_uuid(),
                   'Client ' || %(tag)s || ' ' || lpad(split_part(split_part(u.email, '@', 1), '-', 2), 6, '0'),
                   split_part(u.email, '@', 1) || '@people.bench.example', '',
                   (%(zones)s::text[])[1 + (u.id %% cardinality(%(zones)s::text[]))],
                   'fortnightly', true, '', %(morning)s, %(evening)s, 6, '[0, 2, 4]'::jsonb,
                   '21:00', '07:30', NULL, true, true, NULL, now(), now(), u.id,
                   %(practice)s, %(therapist)s
            FROM clients_user u
            WHERE u.email LIKE %(tag)s || '-%%@clients.invalid'
            """,
            {
                "tag": tag,
                "zones": list(zones),
                "morning": morning,
                "evening": evening,
                "practice": bench.practice.id,
                "therapist": bench.therapist.id,
            },
        )
        cursor.execute(
            """
            INSERT INTO aftercare_plan
                (name, phase, phase_since, phase_pinned, maintenance_days, started_at,
                 ended_at, assigned_by_id, client_id, session_id, protocol_id)
            SELECT %(name)s, (%(phases)s::text[])[1 + (c.id %% cardinality(%(phases)s::text[]))],
                   now() - interval '1 day', false, 7, now() - interval '1 day', NULL,
                   %(therapist)s, c.id, NULL, %(protocol)s
            FROM clients_client c JOIN clients_user u ON u.id = c.user_id
            WHERE u.email LIKE %(tag)s || '-%%@clients.invalid'
            """,
            {
                "tag": tag,
                "name": bench.template.name,
                "phases": [str(p) for p in phases],
                "therapist": bench.therapist.id,
                "protocol": bench.template.protocol_id,
            },
        )
        # Each new plan's planning bookmark, "plan me" (what plan_assign's mark makes).
        cursor.execute(
            """
            INSERT INTO aftercare_planningbookmark (plan_id, planned_until)
            SELECT p.id, NULL
            FROM aftercare_plan p
            JOIN clients_client c ON c.id = p.client_id
            JOIN clients_user u ON u.id = c.user_id
            WHERE u.email LIKE %(tag)s || '-%%@clients.invalid'
            """,
            {"tag": tag},
        )
        # Every column of the template's steps (whatever fields PlanStep has today).
        copied = [
            f'"{field.column}"'
            for field in PlanStep._meta.concrete_fields
            if field.column not in ("id", "plan_id", "order")
        ]
        cursor.execute(
            f"""
            INSERT INTO aftercare_planstep ("order", plan_id, {", ".join(copied)})
            SELECT s."order" + 100 * k, p.id, {", ".join("s." + column for column in copied)}
            FROM aftercare_plan p
            JOIN clients_client c ON c.id = p.client_id
            JOIN clients_user u ON u.id = c.user_id
            CROSS JOIN aftercare_planstep s
            CROSS JOIN generate_series(0, %(copies)s - 1) AS k
            WHERE u.email LIKE %(tag)s || '-%%@clients.invalid' AND s.plan_id = %(template)s
            ORDER BY p.id, k, s."order", s.id
            """,
            {"tag": tag, "copies": step_copies, "template": bench.template.id},
        )
        if logs_per_client:
            cursor.execute(
                """
                INSERT INTO aftercare_symptomlog
                    (at, day, safety, safety_signs, pain_now, worst_pain, compared, legs, sleep,
                     steps_done, worse_steps, worse_by, note, flare_tap, gone_tap,
                     submission_key, plan_id)
                SELECT now() - make_interval(days => n), (now() - make_interval(days => n))::date,
                       'none', '[]'::jsonb, 2, 2 + ((p.id + n) %% 5), 'same', 'none', 'fine',
                       '[]'::jsonb, '[]'::jsonb, 0, '', false, false, gen_random_uuid(), p.id
                FROM aftercare_plan p
                JOIN clients_client c ON c.id = p.client_id
                JOIN clients_user u ON u.id = c.user_id
                CROSS JOIN generate_series(1, %(logs)s) AS n
                WHERE u.email LIKE %(tag)s || '-%%@clients.invalid'
                """,
                {"tag": tag, "logs": logs_per_client},
            )
        cursor.execute(
            """
            SELECT c.id FROM clients_client c JOIN clients_user u ON u.id = c.user_id
            WHERE u.email LIKE %(tag)s || '-%%@clients.invalid' ORDER BY c.id
            """,
            {"tag": tag},
        )
        ids = [row[0] for row in cursor.fetchall()]
    analyze()
    return ids


def analyze() -> None:
    """Fresh planner statistics after a bulk load, as autovacuum would give in production."""
    with connection.cursor() as cursor:
        for table in (
            "clients_user",
            "clients_client",
            "aftercare_plan",
            "aftercare_planningbookmark",
            "aftercare_planstep",
            "aftercare_symptomlog",
            "aftercare_reminder",
        ):
            cursor.execute(f"ANALYZE {table}")


def session_for(user) -> str:
    """A logged-in session for `user`, as django.contrib.auth.login would store it."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def client(client_id: int) -> Client:
    return Client.objects.select_related("user", "practice").get(id=client_id)


def steps_of(client_id: int) -> int:
    return PlanStep.objects.filter(plan__client_id=client_id, plan__ended_at=None).count()


def new_tag() -> str:
    return uuid.uuid4().hex[:8]
