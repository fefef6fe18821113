"""The foundation: the built-in protocol exists and CI really runs on its services."""

from __future__ import annotations

import pytest
from django.db import connection

from aftercare.models import Protocol


@pytest.mark.django_db
def test_it_ships_the_low_back_protocol_as_data():
    builtin = Protocol.objects.get(practice=None, is_default=True)
    names = [step.exercise.name for step in builtin.steps.select_related("exercise")]
    assert names == [
        "Heat first",
        "Passive SI reset",
        "Lumbar decompression",
        "Psoas release",
        "QL and psoas stretch and strength",
    ]
    si_reset = builtin.steps.get(exercise__name="Passive SI reset")
    assert (si_reset.flare, si_reset.subsiding, si_reset.maintenance) == (
        "2x_day",
        "1x_day",
        "1x_week",
    )


@pytest.mark.django_db
def test_it_runs_on_postgresql_when_asked(require_service):
    require_service("postgres")
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("select 1")
        assert cursor.fetchone() == (1,)
