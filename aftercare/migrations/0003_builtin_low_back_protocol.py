"""The built-in low-back aftercare protocol (practice=None).

Facts from the practice's aftercare letter (shared/seed): heat for 20 minutes before
the routine; a passive sacroiliac routine of about 3 minutes, twice a day in severe
pain, then once a day, then a weekly reset; a lumbar decompression exercise daily in
acute pain and at least three times a week otherwise; psoas release leaning into a
counter corner with a small firm ball near the front of the hip; strength and mobility
for the QL and psoas. Frequencies per phase from design/TAPER.md. The wording is ours.
Each practice gets an editable copy (aftercare.services.library_install).
"""

from django.db import migrations

STEPS = [
    {
        "name": "Heat first",
        "summary": "20 minutes of gentle warmth on your low back before the routine.",
        "instructions": (
            "Warm your low back for 20 minutes before you start the routine: it relaxes "
            "the muscles so the movements come more easily.\n\n"
            "Use a heat pad or a hot-water bottle on a medium setting at most, always with "
            "a cloth or towel between it and your skin, and set a timer so you can't doze "
            "off on it."
        ),
        "safety_notes": (
            "Never put heat on skin that feels numb or tingly, on broken skin, or anywhere "
            "you can't feel warmth properly. Take it off if your skin turns red and sore."
        ),
        "duration_minutes": 20,
        "is_heat": True,
        "frequencies": ("before", "optional", "none"),
    },
    {
        "name": "Passive SI reset",
        "summary": "A gentle three-minute routine to settle the joints at the base of your spine.",
        "instructions": (
            "The sacroiliac (SI) joints are where the base of your spine meets your pelvis. "
            "They move only a little, but they carry the weight of your upper body into your "
            "legs, and when they're irritated your low back, hips or even legs can ache.\n\n"
            "This passive routine takes about three minutes. Move slowly, let the positions "
            "do the work and breathe out as you ease in. Follow the video step by step."
        ),
        "safety_notes": (
            "It should feel easy. Stop if you feel sharp pain, pain that shoots down a leg, "
            "or numbness or pins and needles."
        ),
        "duration_minutes": 3,
        "is_heat": False,
        "frequencies": ("2x_day", "1x_day", "1x_week"),
    },
    {
        "name": "Lumbar decompression",
        "summary": "A simple exercise that gives your lower spine room and support.",
        "instructions": (
            "Over the years the lower back can become compressed. This simple exercise "
            "takes pressure off it and helps the muscles around it hold it steady.\n\n"
            "Go at an easy pace and follow the video. Keep breathing throughout."
        ),
        "safety_notes": "Stop if the pain becomes sharp or spreads into a leg.",
        "duration_minutes": 5,
        "is_heat": False,
        "frequencies": ("1x_day", "1x_day", "3x_week"),
    },
    {
        "name": "Psoas release",
        "summary": "Lean into a small firm ball at the front of your hip to release the psoas.",
        "instructions": (
            "The psoas (say “so-as”) is a deep muscle at the front of your hip. It pairs "
            "with the QL at the back of your low back: like two sides of a tower, together "
            "they hold your pelvis and spine steady. When one tightens, the balance goes.\n\n"
            "Stand at the corner of a kitchen counter or a sturdy table. Put a small, firm "
            "ball, such as a racquetball, just inside the bony point at the front of your "
            "hip, and lean gently into it against the corner. Breathe slowly and let the "
            "muscle soften for a minute or two, then do the other side. Purpose-made psoas "
            "release tools work too if you have one."
        ),
        "safety_notes": (
            "Lean only as hard as feels like a deep ache that eases. Move the ball if you "
            "feel a pulse under it, or if the feeling is sharp or burning."
        ),
        "duration_minutes": 5,
        "is_heat": False,
        "frequencies": ("1x_day", "1x_day", "2x_week"),
    },
    {
        "name": "QL and psoas stretch and strength",
        "summary": "Stretches and strengthening for both sides of your low-back “tower”.",
        "instructions": (
            "The quadratus lumborum (QL) runs along the back and side of your low back; the "
            "psoas at the front of your hip works against it. Keeping both flexible and "
            "strong helps your pelvis stay level and your back comfortable.\n\n"
            "Work both sides evenly and follow the video. Once your back has settled, this "
            "is the part that keeps it settled."
        ),
        "safety_notes": "Stretch to a gentle pull, never to pain. Skip it on a flare day.",
        "duration_minutes": 10,
        "is_heat": False,
        "frequencies": ("none", "3x_week", "3x_week"),
    },
]


def create(apps, schema_editor):
    Exercise = apps.get_model("aftercare", "Exercise")
    Protocol = apps.get_model("aftercare", "Protocol")
    ProtocolStep = apps.get_model("aftercare", "ProtocolStep")
    protocol = Protocol.objects.create(
        practice=None,
        name="Low-back aftercare",
        description=(
            "Heat, a passive SI reset, lumbar decompression, psoas release and QL/psoas "
            "strength: twice a day in a flare, daily while it settles, a weekly reset after."
        ),
        is_default=True,
    )
    for order, step in enumerate(STEPS):
        flare, subsiding, maintenance = step["frequencies"]
        fields = {k: v for k, v in step.items() if k != "frequencies"}
        exercise = Exercise.objects.create(practice=None, **fields)
        ProtocolStep.objects.create(
            protocol=protocol,
            exercise=exercise,
            order=order,
            flare=flare,
            subsiding=subsiding,
            maintenance=maintenance,
        )


def remove(apps, schema_editor):
    Protocol = apps.get_model("aftercare", "Protocol")
    Exercise = apps.get_model("aftercare", "Exercise")
    Protocol.objects.filter(practice=None).delete()
    Exercise.objects.filter(practice=None).delete()


class Migration(migrations.Migration):
    dependencies = [("aftercare", "0002_initial")]

    operations = [migrations.RunPython(create, remove)]
