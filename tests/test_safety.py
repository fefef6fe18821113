"""The warning signs (aftercare/rules/safety.py), without a database: which answer stops
everything, which pauses the routine, and that every sign has its words.

tests/test_checkin_pages.py asks them through the check-in form; these pin the list itself.
"""

from __future__ import annotations

import pytest

from aftercare.rules import safety
from aftercare.rules.taper import Safety

EMERGENCY = [key for key, _ in safety.EMERGENCY_SIGNS]
DOCTOR = [key for key, _ in safety.DOCTOR_SIGNS]


@pytest.mark.parametrize("sign", EMERGENCY)
def test_any_emergency_sign_is_an_emergency_whatever_else_is_ticked(sign):
    assert safety.safety_level([sign]) is Safety.EMERGENCY
    assert safety.safety_level({sign, *DOCTOR}) is Safety.EMERGENCY
    assert safety.safety_level([*DOCTOR, sign, "unknown"]) is Safety.EMERGENCY


@pytest.mark.parametrize("sign", DOCTOR)
def test_any_doctor_sign_alone_means_see_a_doctor_today(sign):
    assert safety.safety_level([sign]) is Safety.DOCTOR
    assert safety.safety_level([sign, "unknown"]) is Safety.DOCTOR


@pytest.mark.parametrize("signs", [[], set(), ["unknown"], ["none"], ["Chest_Pain"]])
def test_no_known_sign_is_no_warning(signs):
    assert safety.safety_level(signs) is Safety.NONE


def test_the_emergency_signs_are_the_nice_and_nhs_red_flags():
    # Cauda equina (saddle, bladder/bowel, both legs, sexual function), trauma, chest pain.
    assert EMERGENCY == [
        "saddle_numbness",
        "bladder_bowel",
        "legs_weak",
        "sexual_function",
        "accident",
        "chest_pain",
    ]
    assert DOCTOR == [
        "fever",
        "weight_loss",
        "cancer",
        "night_pain",
        "bones",
        "immunity",
        "one_leg",
    ]


def test_every_sign_has_its_own_key_and_words():
    assert not set(EMERGENCY) & set(DOCTOR)
    assert frozenset(EMERGENCY) == safety.EMERGENCY_KEYS
    assert frozenset(DOCTOR) == safety.DOCTOR_KEYS
    assert set(safety.SIGN_TEXT) == set(EMERGENCY) | set(DOCTOR)
    assert all(text and text[0].isupper() for text in safety.SIGN_TEXT.values())
    assert safety.SIGN_TEXT["chest_pain"] == "Chest pain"
