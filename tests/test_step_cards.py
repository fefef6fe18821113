"""Today's cached step cards (aftercare/step_cards.py): every way a step can change shows
on Today at once, the cache never holds anything per client or per request, and the card
a tick answers is the card the page draws."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import caches
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from aftercare import checkins, services, step_cards
from aftercare.models import Exercise, PlanStep
from aftercare.rules.phases import Phase
from tests import factories

TODAY = reverse("client-today")
DONE = reverse("client-step-done")
JSON = {"HTTP_ACCEPT": "application/json"}
# Columns of PlanStep the card body does not show (the frame and the form show the id;
# the schedule reads the rest). A new column must go here or in step_cards.FIELDS.
NOT_ON_THE_CARD = {
    "id",
    "plan",
    "exercise",
    "order",
    "flare",
    "subsiding",
    "maintenance",
    "skipped",
    "paused_at",
}


@pytest.fixture(autouse=True)
def _empty_card_cache():
    caches[step_cards.CACHE_ALIAS].clear()
    yield
    caches[step_cards.CACHE_ALIAS].clear()


def text(response) -> str:
    return html.unescape(response.content.decode())


def card(page: str, slot: str, step: PlanStep) -> str:
    """One step's <article> on a page (or in a tick's answer), its CSRF token (masked
    anew on every response) left out so two cards compare."""
    found = re.search(rf'<article[^>]*id="step-{slot}-{step.pk}".*?</article>', page, re.S)
    assert found, f"no card for {step.name}"
    return re.sub(r'(name="csrfmiddlewaretoken" value=)"[^"]+"', r"\1", found.group(0))


def step_named(plan, name: str) -> PlanStep:
    return plan.steps.get(name=name)


def today_card(phone, step: PlanStep, slot: str = "morning") -> str:
    return card(text(phone.get(TODAY)), slot, step)


# --- Every column the card shows is in the key ------------------------------------------


def test_every_column_of_a_step_is_either_on_the_card_key_or_not_shown():
    columns = {field.name for field in PlanStep._meta.concrete_fields}
    assert columns == set(step_cards.FIELDS) | NOT_ON_THE_CARD


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Renamed"),
        ("duration_minutes", 17),
        ("sets", 3),
        ("reps", 12),
        ("hold_seconds", 45),
        ("summary", "A new summary"),
        ("personal_note", "Only on the left"),
        ("is_heat", True),
        ("video_url", "https://youtu.be/dQw4w9WgXcQ"),
        ("video_file", "videos/abc.mp4"),
        ("instructions", "New instructions"),
        ("safety_notes", "Gently"),
    ],
)
def test_each_shown_column_changes_the_key(flare, field, value):
    step = step_named(flare, "Psoas release")
    before = step_cards._key(step, step_cards._setting_stamp())
    setattr(step, field, value)
    assert step_cards._key(step, step_cards._setting_stamp()) != before


# --- Every edit path shows on Today at once ----------------------------------------------


def test_adjust_steps_shows_on_today_at_once(phone, flare, client_person, therapist):
    psoas = step_named(flare, "Psoas release")
    assert "Only on the left side" not in today_card(phone, psoas)  # cached now
    therapist_phone = Browser()
    therapist_phone.force_login(therapist.user)
    from tests.test_therapist_pages import formset_data

    changes = {
        "personal_note": "Only on the left side",
        "video_url": "https://youtu.be/dQw4w9WgXcQ",
        "sets": "3",
        "reps": "8",
        "hold_seconds": "20",
    }
    response = therapist_phone.post(
        reverse("therapist-plan-edit", args=[client_person.public_id]),
        formset_data(flare, **{"Psoas release": changes}),
    )
    assert response.status_code == 302
    shown = today_card(phone, psoas)
    assert "From your therapist:</strong> Only on the left side" in shown
    assert "i.ytimg.com/vi/dQw4w9WgXcQ/mqdefault.jpg" in shown
    assert "3 sets of 8, hold 20 seconds" in shown


def test_an_edit_by_the_admin_or_a_script_shows_on_today_at_once(phone, flare):
    psoas = step_named(flare, "Psoas release")
    old = today_card(phone, psoas)
    psoas.instructions = "Lie on your back.\n\nBreathe out slowly."
    psoas.save()  # the admin's inline saves the model
    shown = today_card(phone, psoas)
    assert "<p>Lie on your back.</p>\n\n<p>Breathe out slowly.</p>" in shown
    assert shown != old
    PlanStep.objects.filter(pk=psoas.pk).update(name="Psoas, gently", safety_notes="Stop if")
    shown = today_card(phone, psoas)  # a queryset update, SQL: no save() anywhere
    assert "<h3>Psoas, gently" in shown and "Take care:</strong> Stop if" in shown


def test_a_library_edit_reaches_new_plans_only(phone, flare, client_person, therapist):
    """Plans copy their steps: a library edit leaves this plan's card as it is (no
    stale card, the documented rule), and the next plan shows it."""
    psoas = step_named(flare, "Psoas release")
    before = today_card(phone, psoas)
    exercise = Exercise.objects.get(pk=psoas.exercise_id)
    exercise.summary = "The library's new summary"
    exercise.save()
    assert today_card(phone, psoas) == before
    new_plan = factories.plan_for(client_person, therapist, Phase.FLARE)
    assert "The library's new summary" in today_card(phone, step_named(new_plan, "Psoas release"))


def test_a_changed_video_setting_shows_on_today_at_once(phone, flare, settings):
    psoas = step_named(flare, "Psoas release")
    PlanStep.objects.filter(pk=psoas.pk).update(video_url="https://cdn.example.com/psoas.mp4")
    settings.VIDEO_MP4_HOSTS = ["cdn.example.com"]
    assert 'data-src="https://cdn.example.com/psoas.mp4"' in today_card(phone, psoas)
    settings.VIDEO_MP4_HOSTS = []  # the host is no longer allowed
    assert "This step's video is unavailable" in today_card(phone, psoas)


def test_a_step_paused_by_a_check_in_leaves_today(phone, flare, client_person):
    psoas = step_named(flare, "Psoas release")
    assert f'id="step-morning-{psoas.pk}"' in text(phone.get(TODAY))
    PlanStep.objects.filter(pk=psoas.pk).update(paused_at=timezone.now())
    assert f'id="step-morning-{psoas.pk}"' not in text(phone.get(TODAY))


def test_a_template_change_changes_every_key(flare):
    step = step_named(flare, "Psoas release")
    before = step_cards._key(step, "")
    with mock.patch.object(step_cards, "_templates_stamp", return_value="another deploy"):
        assert step_cards._key(step, "") != before


# --- Cached once, per request nothing ----------------------------------------------------


def test_the_cards_are_rendered_once_then_read_from_the_cache(phone, flare):
    render = step_cards.render_to_string
    with mock.patch.object(step_cards, "render_to_string", side_effect=render) as rendered:
        first = text(phone.get(TODAY))
        # Morning 4 + evening 2 cards, none done yet; heat and the SI reset are in both
        # slots: 4 rendered, 4 entries.
        assert first.count("<h3>") == 6
        assert rendered.call_count == 4
        assert len(caches[step_cards.CACHE_ALIAS]._cache) == 4
        second = text(phone.get(TODAY))
        assert rendered.call_count == 4
    token = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert token.sub("", first) == token.sub("", second)


def test_two_clients_with_equal_plans_never_see_each_others_tokens_ticks_or_names(
    clock, practice, therapist
):
    client_person = factories.ClientFactory(
        practice=practice, primary_therapist=therapist, name="Ayesha Khan"
    )
    flare = factories.plan_for(client_person, therapist, Phase.FLARE)
    other = factories.ClientFactory(practice=practice, primary_therapist=therapist, name="Bo Lind")
    other_plan = factories.plan_for(other, therapist, Phase.FLARE)
    phones = {}
    for person in (client_person, other):
        phones[person.pk] = Browser()
        phones[person.pk].force_login(person.user, backend="sesame.backends.ModelBackend")
    si_reset = step_named(flare, "Passive SI reset")
    services.step_complete(step=si_reset, day=client_person.local_today(), slot="morning")
    mine = phones[client_person.pk].get(TODAY)
    theirs = phones[other.pk].get(TODAY)
    mine_page, theirs_page = text(mine), text(theirs)
    # Names and ticks: each their own.
    assert f"Hi {client_person.first_name}" in mine_page
    assert f"Hi {other.first_name}" in theirs_page
    assert client_person.first_name not in theirs_page
    assert mine_page.count("is-done") == 1 and theirs_page.count("is-done") == 0
    # Their step ids, never the other plan's.
    assert f'value="{si_reset.pk}"' in mine_page
    assert f'value="{si_reset.pk}"' not in theirs_page
    other_si = step_named(other_plan, "Passive SI reset")
    assert f'value="{other_si.pk}"' in theirs_page
    # CSRF tokens: each page's own, and what it holds is each session's secret.
    tokens = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
    mine_tokens, theirs_tokens = set(tokens.findall(mine_page)), set(tokens.findall(theirs_page))
    assert mine_tokens and theirs_tokens and not mine_tokens & theirs_tokens
    # Each can tick with the token of their own page, not with the other's.
    for person, page, step in ((other, theirs_page, other_si),):
        posted = Browser(enforce_csrf_checks=True)
        posted.cookies = phones[person.pk].cookies
        data = {"step": step.pk, "day": person.local_today().isoformat(), "slot": "morning"}
        token = tokens.search(page).group(1)
        assert posted.post(DONE, {**data, "csrfmiddlewaretoken": token}).status_code == 302
        wrong = tokens.search(mine_page).group(1)
        assert posted.post(DONE, {**data, "csrfmiddlewaretoken": wrong}).status_code == 403
    # And the cache itself: step text only.
    entries = [str(v) for v in _cached_values()]
    assert entries
    for entry in entries:
        assert "csrfmiddlewaretoken" not in entry and "<form" not in entry
        assert client_person.first_name not in entry and other.first_name not in entry
        assert "is-done" not in entry and 'id="step-' not in entry and "value=" not in entry


def _cached_values():
    import pickle

    cache = caches[step_cards.CACHE_ALIAS]
    return [pickle.loads(value) for value in cache._cache.values()]


def test_a_personal_note_stays_on_its_own_plan(flare, client_person, practice, therapist):
    other = factories.ClientFactory(practice=practice, primary_therapist=therapist)
    other_plan = factories.plan_for(other, therapist, Phase.FLARE)
    PlanStep.objects.filter(plan=flare, name="Psoas release").update(personal_note="Left only")
    phone, other_phone = Browser(), Browser()
    phone.force_login(client_person.user, backend="sesame.backends.ModelBackend")
    other_phone.force_login(other.user, backend="sesame.backends.ModelBackend")
    assert "Left only" in today_card(phone, step_named(flare, "Psoas release"))
    assert "Left only" not in text(other_phone.get(TODAY))
    assert "Left only" not in today_card(other_phone, step_named(other_plan, "Psoas release"))


def test_a_cache_entry_that_is_not_ours_is_escaped_not_run(phone, flare):
    """Only SafeStrings our template rendered are inserted as HTML; a plain string under a
    card's key (another writer, a wrong pickle) shows as text, never as markup."""
    psoas = step_named(flare, "Psoas release")
    key = step_cards._key(psoas, step_cards._setting_stamp())
    caches[step_cards.CACHE_ALIAS].set(key, "<script>alert(1)</script>")
    page = phone.get(TODAY).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- The tick's card is the page's card --------------------------------------------------


def test_the_card_a_tick_answers_is_the_card_today_draws(phone, flare, client_person):
    psoas = step_named(flare, "Psoas release")
    PlanStep.objects.filter(pk=psoas.pk).update(personal_note="Slowly")
    day = client_person.local_today()
    data = {"step": psoas.pk, "day": day.isoformat(), "slot": "morning"}
    done = phone.post(DONE, {**data, "action": "done"}, **JSON).json()
    assert card(html.unescape(done["card"]), "morning", psoas) == today_card(phone, psoas)
    undone = phone.post(DONE, {**data, "action": "undo"}, **JSON).json()
    answered = card(html.unescape(undone["card"]), "morning", psoas)
    assert "From your therapist:</strong> Slowly" in answered
    assert answered == today_card(phone, psoas)


def test_a_tick_after_an_edit_answers_the_new_card(phone, flare, client_person):
    psoas = step_named(flare, "Psoas release")
    day = client_person.local_today()
    data = {"step": psoas.pk, "day": day.isoformat(), "slot": "morning"}
    phone.post(DONE, {**data, "action": "done"}, **JSON)
    today_card(phone, psoas)
    PlanStep.objects.filter(pk=psoas.pk).update(summary="Edited while it was done")
    undone = phone.post(DONE, {**data, "action": "undo"}, **JSON).json()
    assert "Edited while it was done" in html.unescape(undone["card"])


def test_yesterdays_late_tick_still_answers_without_a_card(phone, flare, client_person):
    psoas = step_named(flare, "Psoas release")
    yesterday = client_person.local_today() - timedelta(days=1)
    data = {"step": psoas.pk, "day": yesterday.isoformat(), "slot": "morning", "action": "done"}
    answer = phone.post(DONE, data, **JSON).json()
    assert answer["done"] is None


def test_a_check_in_paused_step_is_not_on_the_card_cache_path(phone, flare, client_person):
    """A check-in that pauses a step (pain up by 2) takes it off Today at once."""
    psoas = step_named(flare, "Psoas release")
    assert f'id="step-morning-{psoas.pk}"' in text(phone.get(TODAY))
    answers = {"pain_now": 6, "worst_pain": 7, "compared": "worse", "legs": "none"}
    answers.update(sleep="fine", worse_steps=[psoas.pk], worse_by=3)
    import uuid

    checkins.symptom_log_create(plan=flare, submission_key=uuid.uuid4(), answers=answers)
    psoas.refresh_from_db()
    assert psoas.paused_at is not None
    assert f'id="step-morning-{psoas.pk}"' not in text(phone.get(TODAY))


def test_todays_ticks_come_with_the_steps_and_only_todays(phone, flare, client_person):
    """client_active_plan(ticks_on=day) reads the ticks in the steps' query: yesterday's
    tick and the evening's stay out of this morning, a tick made since shows."""
    heat, si_reset = step_named(flare, "Heat first"), step_named(flare, "Passive SI reset")
    day = client_person.local_today()
    services.step_complete(step=heat, day=day - timedelta(days=1), slot="morning")
    services.step_complete(step=si_reset, day=day, slot="evening")
    page = text(phone.get(TODAY))
    assert "is-done" not in card(page, "morning", heat)
    assert "is-done" not in card(page, "morning", si_reset)
    assert "is-done" in card(page, "evening", si_reset)
    services.step_complete(step=heat, day=day, slot="morning")
    page = text(phone.get(TODAY))
    assert "Heat first, done 06:00" in card(page, "morning", heat)


def test_the_plain_sql_columns_name_the_tables_the_models_use():
    """selectors' TICKED_SQL and NEWEST_SESSION_SQL spell table names out: a renamed table
    must fail here, not on Today."""
    from aftercare import selectors
    from aftercare.models import Completion, Plan
    from clients.models import MassageSession

    words = set(re.findall(r"\w+", selectors.TICKED_SQL + " " + selectors.NEWEST_SESSION_SQL))
    for model in (Completion, PlanStep, MassageSession, Plan):
        assert model._meta.db_table in words


def test_the_booking_line_reads_the_newest_session_loaded_with_the_plan(
    phone, flare, client_person, practice
):
    """The access check's newest-session column: an older session added later does not
    move the suggested day, a newer one does."""
    from clients.models import MassageSession

    practice.booking_url = "https://book.example/now"
    practice.save()
    client_person.massage_cadence = "monthly"
    client_person.save()
    today = client_person.local_today()
    MassageSession.objects.create(client=client_person, date=today - timedelta(days=40))
    page = text(phone.get(TODAY))
    assert "Time for your next massage" in page
    MassageSession.objects.create(client=client_person, date=today - timedelta(days=60))
    assert "Time for your next massage" in text(phone.get(TODAY))
    MassageSession.objects.create(client=client_person, date=today)
    assert "Time for your next massage" not in text(phone.get(TODAY))


def test_a_cache_that_fails_still_shows_today(phone, flare):
    """The step_cards cache moved to a server that is down: Today renders every card."""
    cache = caches[step_cards.CACHE_ALIAS]
    with (
        mock.patch.object(cache, "get_many", side_effect=ConnectionError("down")),
        mock.patch.object(cache, "set_many", side_effect=AssertionError("not called")),
    ):
        page = text(phone.get(TODAY))
    assert page.count("How to do it") == 6
    with mock.patch.object(cache, "set_many", side_effect=ConnectionError("down")):
        caches[step_cards.CACHE_ALIAS].clear()
        assert text(phone.get(TODAY)).count("How to do it") == 6
