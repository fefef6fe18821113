"""The warning signs (red flags), in our own words from NICE NG59 and NHS lists.

One list serves the check-in form, the safety screens and the public warning-signs page.
"""

from __future__ import annotations

from aftercare.rules.taper import Safety

# Any of these: stop all reminders, show the emergency screen, alert the therapist.
EMERGENCY_SIGNS: tuple[tuple[str, str], ...] = (
    ("saddle_numbness", "New numbness around your genitals, bottom or inner thighs"),
    ("bladder_bowel", "New trouble passing urine, or losing control of your bladder or bowels"),
    (
        "legs_weak",
        "Weakness, numbness or pain in both legs, a leg getting weaker, or trouble walking",
    ),
    ("sexual_function", "A new change in sexual function"),
    ("accident", "Pain after a serious accident or fall"),
    ("chest_pain", "Chest pain"),
)

# Any of these: pause the routine, alert the therapist, see a doctor today.
DOCTOR_SIGNS: tuple[tuple[str, str], ...] = (
    ("fever", "A fever or chills"),
    ("weight_loss", "Weight loss you can't explain"),
    ("cancer", "A history of cancer"),
    ("night_pain", "Pain that is worse at night or doesn't ease when you rest"),
    ("bones", "Osteoporosis or long-term steroid use, and a minor fall"),
    ("immunity", "A weakened immune system or a recent infection"),
    ("one_leg", "New or spreading numbness or weakness in one leg"),
)

EMERGENCY_KEYS = frozenset(key for key, _ in EMERGENCY_SIGNS)
DOCTOR_KEYS = frozenset(key for key, _ in DOCTOR_SIGNS)
SIGN_TEXT = dict(EMERGENCY_SIGNS + DOCTOR_SIGNS)


def safety_level(signs: list[str] | set[str]) -> Safety:
    """Emergency, doctor or none for the signs a client ticked."""
    chosen = set(signs)
    if chosen & EMERGENCY_KEYS:
        return Safety.EMERGENCY
    if chosen & DOCTOR_KEYS:
        return Safety.DOCTOR
    return Safety.NONE
