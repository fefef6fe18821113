"""Client pages, phone first: the link that logs in, Today, the whole plan, a new link."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from sesame.utils import get_query_string
from sesame.utils import get_user as sesame_get_user
from sesame.views import LoginView

from aftercare import calendars, checkins, offline, push, selectors, services, step_cards, triage
from aftercare.forms import CheckinForm, ClientSettingsForm, NewLinkForm
from aftercare.models import PlanStep
from aftercare.outbox import emails, reminders
from aftercare.rules import routine, safety
from aftercare.rules.attention import Level
from aftercare.rules.phases import PHASE_SENTENCES, Phase
from aftercare.rules.schedule import SlotName
from aftercare.views.access import client_ip, client_required
from clients import throttle
from clients.models import Client

log = logging.getLogger(__name__)


class ClientLoginView(LoginView):
    """The emailed link: logs the phone in for months, then redirects to a clean
    address so the token never stays in the address bar or the history."""

    next_page = "client-today"

    def login_success(self) -> HttpResponse:
        self.request.session.set_expiry(timedelta(days=settings.CLIENT_SESSION_DAYS))
        return super().login_success()

    def login_failed(self) -> HttpResponse:
        return render(
            self.request,
            "client/link_expired.html",
            {"form": NewLinkForm()},
            status=403,
        )


class ClientShortLoginView(ClientLoginView):
    """The text message's link, /l/<page letter><token>: the same sesame token as the
    emailed link (same lifetime, same revoke, the same page when it no longer works),
    in fewer characters so a text stays one text. It opens only the pages of
    emails.SHORT_LINK_PAGES (never an address from the link itself)."""

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        page = emails.SHORT_LINK_PAGES.get(code[:1])
        if page is None:
            raise Http404("No such page.")
        self.page = page
        user = authenticate(request, sesame=code[1:], scope=self.scope, max_age=self.max_age)
        if user is None:
            return self.login_failed()
        login(request, user)
        return self.login_success()

    def get_success_url(self) -> str:
        return reverse(self.page)


@client_required
def today(request: HttpRequest) -> HttpResponse:
    client: Client = request.client
    day = client.local_today()
    plan = selectors.client_active_plan(client, ticks_on=day)  # the steps with today's ticks
    if plan is None:
        return render(request, "client/no_plan.html", {"client": client})
    if "routine" in request.GET and plan.phase != Phase.HOLD:
        return _routine_step(request, client, plan, day)
    view = selectors.plan_day(plan, client, day)
    book_by = None if plan.phase == Phase.HOLD else _booking_day(client)
    slots = _today_slots(view, client)
    _fill_cards([entry for slot in slots for entry in slot.entries])
    return render(
        request,
        "client/today.html",
        {
            "client": client,
            "plan": plan,
            "today": view,
            "current": slots[0] if slots else None,
            "others": slots[1:],
            "checkin_first": _checkin_first(slots),
            "phase_sentence": PHASE_SENTENCES[Phase(plan.phase)],
            "practice": client.practice,
            "done_url": reverse("client-step-done"),  # every card's form: reversed once
            # "Book your next massage" from the day the booking nudge is due (a hold
            # stops the nudges, so it stops this too).
            "book_by": book_by,
            "booking_due": book_by is not None and day >= book_by,
        },
    )


SLOT_TITLES = {SlotName.MORNING: "Morning routine", SlotName.EVENING: "Evening routine"}


@dataclass
class StepEntry:
    """One step of a slot as Today and the guided routine show it."""

    step: PlanStep
    done: bool
    done_at: datetime | None
    position: int  # 1-based, the guided routine's ?step=
    card: str = ""  # the step's card body, not done (step_cards: cached), on Today only

    @property
    def timer_seconds(self) -> int:
        """Heat is timed as a whole (its minutes); another step times each hold."""
        if self.step.is_heat:
            return self.step.duration_minutes * 60
        return self.step.hold_seconds or 0


@dataclass
class SlotRoutine:
    """One slot of today: its steps, its progress in words, where the routine goes on."""

    name: str
    title: str
    at: datetime
    day: date
    entries: list[StepEntry]
    progress: routine.Progress

    @property
    def next_position(self) -> int:
        """Where "Start" or "Continue" opens: the first step not done yet."""
        return next((e.position for e in self.entries if not e.done), 1)

    @property
    def started(self) -> bool:
        return self.progress.done > 0


def _slot_routine(slot: selectors.SlotView, day: date) -> SlotRoutine:
    entries = [
        StepEntry(
            step=step,
            done=step.id in slot.done,
            done_at=slot.done_at.get(step.id),
            position=position,
        )
        for position, step in enumerate(slot.steps, start=1)
    ]
    states = [
        routine.StepState(minutes=e.step.duration_minutes, done=e.done, optional=e.step.is_heat)
        for e in entries
    ]
    return SlotRoutine(
        name=slot.name,
        title=SLOT_TITLES[SlotName(slot.name)],
        at=slot.slot.local,
        day=day,
        entries=entries,
        progress=routine.routine_progress(states),
    )


def _today_slots(view: selectors.TodayView, client: Client) -> list[SlotRoutine]:
    """Today's slots, the one that is now or next first (the other comes collapsed)."""
    slots = [_slot_routine(slot, view.day) for slot in view.slots]
    if not slots:
        return []
    now = timezone.localtime(timezone.now(), client.zone).time()
    first = routine.current_slot([(s.at.time(), s.progress.finished) for s in slots], now)
    return [slots[first]] + [s for i, s in enumerate(slots) if i != first]


def _fill_cards(entries: list[StepEntry]) -> None:
    """Each step's card body (cached: step_cards) on the entries not done; a done step
    shows one line, rendered per request."""
    pending = [entry for entry in entries if not entry.done]
    cards = step_cards.bodies([entry.step for entry in pending])
    for entry in pending:
        entry.card = cards[entry.step.id]


def _checkin_first(slots: list[SlotRoutine]) -> bool:
    """The check-in is the one big button once the routine due now is done: every slot
    finished, or the next one not due yet (the morning done, the evening tonight)."""
    if not slots or all(s.progress.finished for s in slots):
        return True
    current = slots[0]
    earlier_done = any(s.progress.finished for s in slots[1:])
    return earlier_done and timezone.now() < current.at


def _booking_day(client: Client) -> date | None:
    """The suggested day for the next massage: the booking nudge's day (last session +
    the client's cadence, reminders.booking_due). None without a booking link, a cadence
    or a session."""
    if not client.practice.booking_url or client.massage_cadence == Client.Cadence.NONE:
        return None
    last_session = selectors.client_last_session(client)
    if last_session is None:
        return None
    try:
        _kind, _key, day, _due_at = reminders.booking_due(client, last_session)[0]
    except (ValueError, KeyError, OverflowError):
        return None
    return day


@client_required
def whole_plan(request: HttpRequest) -> HttpResponse:
    client: Client = request.client
    plan = selectors.client_active_plan(client)
    if plan is None:
        return render(request, "client/no_plan.html", {"client": client})
    steps = [step for step in plan.steps.all() if step.in_routine]
    rows = [
        (
            step,
            step.get_flare_display(),
            step.get_subsiding_display(),
            step.get_maintenance_display(),
        )
        for step in steps
    ]
    return render(
        request,
        "client/plan.html",
        {
            "client": client,
            "plan": plan,
            "rows": rows,
            "phase_sentence": PHASE_SENTENCES[Phase(plan.phase)],
            "practice": client.practice,
            "phase_columns": PLAN_COLUMNS,
        },
    )


# The plan table's columns, in the client's words (the current phase is marked "now").
PLAN_COLUMNS = (
    (Phase.FLARE.value, "In a flare"),
    (Phase.SUBSIDING.value, "While it settles"),
    (Phase.MAINTENANCE.value, "Once it's gone"),
)


@client_required
@require_POST
def step_done(request: HttpRequest) -> HttpResponse:
    """Tick or untick one step for one slot of today (or yesterday, ticked late). With
    `Accept: application/json` (Today's script) it answers the new card and progress
    instead of a redirect; without script the form posts and the page reloads."""
    client: Client = request.client
    plan = selectors.client_active_plan(client)
    wants_json = "application/json" in request.headers.get("Accept", "")
    own = _own_step(request, plan)
    if own is None:  # another client's step, an ended plan's, or none: nothing to see
        raise Http404("No such step.")
    target = _done_target(request, client, plan, own)
    if target is None:
        text = "That step couldn't be updated. Please try again from this page."
        if wants_json:
            return JsonResponse({"error": text}, status=400)
        messages.error(request, text)
        return redirect("client-today")
    step, day, slot = target
    undo = request.POST.get("action") == "undo"
    if undo:
        services.step_uncomplete(step=step, day=day, slot=slot)
        said = f"“{step.name}” is no longer marked done."
    else:
        services.step_complete(step=step, day=day, slot=slot, at=offline.queued_at(request))
        said = f"“{step.name}” done."
    if wants_json:
        return _tick_answer(request, client, plan, step, day, slot, said)
    if undo:
        messages.info(request, said)
    then = _routine_position(request.POST.get("then"))
    if then is not None:  # "Done, next" in the guided routine without script
        return redirect(_routine_url(slot, then))
    return redirect(reverse("client-today") + f"#step-{slot}-{step.id}")


def _own_step(request: HttpRequest, plan) -> PlanStep | None:
    """The posted step if it belongs to this client's active plan."""
    if plan is None:
        return None
    try:
        step_id = int(request.POST.get("step", ""))
    except ValueError:
        return None
    return next((step for step in plan.steps.all() if step.id == step_id), None)


def _done_target(request: HttpRequest, client: Client, plan, own: PlanStep):
    """The (step, day, slot) a Done button names, if the step is due in that slot of a
    recent day (so adherence data stays true)."""
    try:
        day = date.fromisoformat(request.POST.get("day", ""))
        slot = SlotName(request.POST.get("slot", ""))
    except ValueError:
        return None
    today = offline.queued_at(request).astimezone(client.zone).date()  # made offline: that day
    if not today - timedelta(days=1) <= day <= today:
        return None
    for slot_view in selectors.plan_day(plan, client, day).slots:
        if slot_view.name == slot:
            step = next((s for s in slot_view.steps if s.id == own.id), None)
            return (step, day, str(slot)) if step else None
    return None


def _tick_answer(request, client, plan, step, day, slot, said) -> JsonResponse:
    """What Today's script swaps in after a tick: the step's card, its slot's head
    (progress and next action) and the check-in card, plus a sentence to announce."""
    slots = _today_slots(selectors.plan_day(plan, client, day), client)
    current = next((s for s in slots if s.name == slot), None)
    entry = next((e for e in current.entries if e.step.id == step.id), None) if current else None
    if entry is None or day != client.local_today():  # yesterday's: Today doesn't show it
        return JsonResponse({"said": said, "done": None})
    _fill_cards([entry])
    checkin_first = _checkin_first(slots)

    def html(template: str, **context) -> str:
        return render_to_string(template, context, request=request)

    return JsonResponse(
        {
            "said": f"{said} {current.title}: {current.progress.words}.",
            "done": entry.done,
            "slot": slot,
            "card": html(
                "includes/step_card.html",
                entry=entry,
                slot=current,
                day=day,
                done_url=reverse("client-step-done"),
            ),
            "head": html(
                "client/includes/slot_head.html",
                slot=current,
                lead=current is slots[0],
                checkin_first=checkin_first,
            ),
            "checkin": html(
                "client/includes/checkin_card.html",
                current=slots[0],
                checkin_first=checkin_first,
            ),
        }
    )


def _routine_position(value) -> int | None:
    try:
        position = int(value)
    except (TypeError, ValueError):
        return None
    return position if 1 <= position <= 100 else None


def _routine_url(slot: str, position: int) -> str:
    return reverse("client-today") + f"?routine={slot}&step={position}"


def _routine_step(request: HttpRequest, client: Client, plan, day: date) -> HttpResponse:
    """The guided routine, one step a screen (?routine=morning&step=2), then a finish
    screen; the same page with or without script (client.js adds the timer's sound,
    ticks in place and moves on without a reload)."""
    slots = {s.name: s for s in _today_slots(selectors.plan_day(plan, client, day), client)}
    current = slots.get(request.GET.get("routine", ""))
    position = _routine_position(request.GET.get("step"))
    if current is None or position is None or position > len(current.entries) + 1:
        return redirect("client-today")
    scale = float(getattr(settings, "ROUTINE_TIMER_SCALE", 1))
    context = {
        "client": client,
        "plan": plan,
        "practice": client.practice,
        "slot": current,
        "day": day,
        "count": len(current.entries),
    }
    if position > len(current.entries):
        return render(request, "client/routine_done.html", context)
    entry = current.entries[position - 1]
    return render(
        request,
        "client/routine_step.html",
        {
            **context,
            "entry": entry,
            "step": entry.step,
            "timer_ms": round(entry.timer_seconds * 1000 * scale),
            "previous": _routine_url(current.name, position - 1) if position > 1 else "",
            "next": _routine_url(current.name, position + 1),
            "then": position + 1,
        },
    )


def new_link(request: HttpRequest) -> HttpResponse:
    """Email me a new link. Says the same whether or not the address is known."""
    form = NewLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        window = settings.NEW_LINK_WINDOW_SECONDS
        ok = throttle.hit(
            "link-email", email, limit=settings.NEW_LINK_PER_EMAIL, window=window
        ) & throttle.hit(
            "link-ip", client_ip(request), limit=settings.NEW_LINK_PER_IP, window=window
        )
        if not ok:
            form.add_error(
                None,
                "We've sent several links already. Please check your inbox (and spam folder), "
                "or try again in an hour.",
            )
        else:
            for client in Client.objects.filter(email=email, active=True).select_related(
                "practice", "user"
            ):
                services.link_email_add(client=client)  # the outbox: no SMTP here
            return render(request, "client/new_link_sent.html", {"email": email})
    return render(request, "client/new_link.html", {"form": form})


@require_POST
def forget_phone(request: HttpRequest) -> HttpResponse:
    """Log this phone out (for a shared or borrowed phone); its notifications stop."""
    push.forget_this_phone(request)
    logout(request)
    return render(request, "client/forgotten.html")


def warning_signs(request: HttpRequest) -> HttpResponse:
    """Public: the red flags, for clients and for anyone a client forwards it to."""
    client = getattr(request.user, "client", None) if request.user.is_authenticated else None
    request.client = client
    practice = client.practice if client else None
    return render(
        request,
        "client/warning_signs.html",
        {
            "practice": practice,
            "emergency_signs": safety.EMERGENCY_SIGNS,
            "doctor_signs": safety.DOCTOR_SIGNS,
        },
    )


@client_required
def checkin(request: HttpRequest) -> HttpResponse:
    """The symptom check-in (safety questions first), then a response in proportion to
    what it means (TAPER.md, "What the client sees after a check-in")."""
    client: Client = request.client
    plan = selectors.client_active_plan(client)
    if plan is None:
        return render(request, "client/no_plan.html", {"client": client})
    if plan.phase == Phase.HOLD:
        return redirect("client-safety")
    if request.method == "GET" and "saved" in request.GET:
        return _checkin_saved(request, client, plan, request.GET["saved"])
    initial = {
        "submission_key": uuid.uuid4(),
        "flare_tap": request.GET.get("flare") == "1",
        "gone_tap": request.GET.get("gone") == "1",
        # What was ticked on Today comes ticked here: nothing answered twice.
        "steps_done": checkins.steps_ticked(plan, client.local_today()),
    }
    steps = checkins.checkin_steps(plan)
    form = CheckinForm(request.POST or None, steps=steps, initial=initial)
    context = {"client": client, "plan": plan, "form": form, "practice": client.practice}
    if request.method == "POST":
        if form.is_valid() and form.reask_pending:
            # "Both legs" or "woken by pain" and the matching sign never asked: one more
            # question before saving (in place with JS; this step without it).
            return render(
                request, "client/checkin_reask.html", {**context, "signs": form.reask_pending}
            )
        if not form.is_valid() and form.only_reask_errors():
            signs = [name.removeprefix("reask_") for name in form.errors]
            return render(request, "client/checkin_reask.html", {**context, "signs": signs})
        if form.is_valid():
            result = checkins.symptom_log_create(
                plan=plan,
                submission_key=form.cleaned_data["submission_key"],
                answers=form.answers(),
                now=offline.checkin_time(request, plan),  # a check-in made offline: its time
            )
            if result.log.safety != "none":
                return redirect("client-safety")
            if result.attention >= Level.SOON:
                key = result.log.submission_key
                return redirect(f"{reverse('client-checkin')}?saved={key}")
            _say_what_changed(request, result)
            return redirect("client-today")
    return render(request, "client/checkin.html", context)


def _checkin_saved(request: HttpRequest, client: Client, plan, key: str) -> HttpResponse:
    """After a check-in at soon or today: a hard day, who knows, what to do now. Only for
    the plan's newest log, and only while what it raised still stands; otherwise Today."""
    try:
        key = uuid.UUID(key)
    except ValueError:
        return redirect("client-today")
    newest = plan.logs.order_by("-at", "-id").first()
    if newest is None or newest.submission_key != key or newest.safety != "none":
        return redirect("client-today")
    # What this check-in itself raised ("better" after a long flare is not a hard day).
    level = triage.checkin_level(plan, newest)
    if level < Level.SOON:
        return redirect("client-today")
    moved = plan.phase_changes.filter(at=newest.at).order_by("-id").first()
    phase = Phase(plan.phase)
    # A step that raised pain by 2 or more is paused by the check-in: say which.
    worse = plan.steps.filter(pk__in=newest.worse_steps, paused_at__isnull=False)
    paused = [step.name for step in worse]
    practice = client.practice
    return render(
        request,
        "client/checkin_saved.html",
        {
            "client": client,
            "plan": plan,
            "practice": practice,
            "log": newest,
            "today_level": level >= Level.TODAY,
            "moved_to": phase.label if moved else "",
            "phase_sentence": PHASE_SENTENCES[phase],
            "paused": paused,
            # NHS 111 is the UK's urgent-advice line: named only where 999 is the number.
            "uk": practice.emergency_number.strip() == "999",
        },
    )


def _say_what_changed(request: HttpRequest, result) -> None:
    decision = result.decision
    if result.duplicate or decision is None or not decision.changed:
        messages.success(request, "Thanks, your check-in is saved.")
        return
    messages.success(
        request,
        f"Thanks, your check-in is saved. Your plan has moved to {decision.phase.label}: "
        f"{PHASE_SENTENCES[decision.phase]}",
    )


@client_required
def safety_screen(request: HttpRequest) -> HttpResponse:
    """What to do now, after a "yes" to a warning sign: emergency or see a doctor today."""
    client: Client = request.client
    plan = selectors.client_active_plan(client)
    if plan is None or plan.phase != Phase.HOLD:
        return redirect("client-today")
    last = plan.logs.filter(at__gte=plan.phase_since).exclude(safety="none").order_by("-at").first()
    if last is None:  # paused by the therapist, not by a warning sign: Today explains
        return redirect("client-today")
    level = last.safety
    signs = [safety.SIGN_TEXT[key] for key in last.sign_keys() if key in safety.SIGN_TEXT]
    return render(
        request,
        "client/safety.html",
        {"client": client, "practice": client.practice, "level": level, "signs": signs},
    )


@client_required
def progress_page(request: HttpRequest) -> HttpResponse:
    """The last 30 days: pain, the days the routine was done, one sentence from the data."""
    client: Client = request.client
    plan = selectors.client_active_plan(client)
    if plan is None:
        return render(request, "client/no_plan.html", {"client": client})
    return render(
        request,
        "client/progress.html",
        {
            "client": client,
            "plan": plan,
            "practice": client.practice,
            "progress": selectors.plan_progress(plan, client),
        },
    )


@client_required
def settings_page(request: HttpRequest, channel_form=None) -> HttpResponse:
    client: Client = request.client
    if channel_form is not None:  # the "How should we remind you?" form came back invalid
        form = ClientSettingsForm(instance=client)
    else:
        form = ClientSettingsForm(request.POST or None, instance=client)
    if request.method == "POST" and form.is_valid():
        services.client_settings_save(
            client=form.save(commit=False),
            pause_days=form.cleaned_data["pause_days"],
            resume=form.cleaned_data["resume"],
        )
        messages.success(request, "Saved. Your next reminder follows these settings.")
        return redirect("client-settings")
    calendar_url = emails.absolute(reverse("client-calendar")) + get_query_string(
        client.user, scope="calendar"
    )
    webcal_url = "webcal://" + calendar_url.split("://", 1)[1]
    return render(
        request,
        "client/settings.html",
        {
            "client": client,
            "practice": client.practice,
            "form": form,
            "calendar_url": calendar_url,
            "webcal_url": webcal_url,
            "google_calendar_url": "https://calendar.google.com/calendar/r?cid="
            + quote(webcal_url, safe=""),
            "paused": client.is_paused(client.local_today()),
            **_channel_context(client, channel_form),
        },
        status=400 if channel_form is not None else 200,
    )


def _channel_context(client: Client, channel_form) -> dict[str, object]:
    """What "How should we remind you?" shows: the choice, this phone's notifications,
    the number and when the client agreed to texts."""
    from aftercare.channel_forms import ReminderChannelForm
    from aftercare.outbox.channels import sms_sender

    try:
        vapid_public_key = push.keys().public
    except (ValueError, KeyError, OSError):  # a damaged VAR_DIR/vapid.json
        log.exception("The VAPID key pair can't be read: no notification button")
        vapid_public_key = ""
    return {
        "channel_form": channel_form or ReminderChannelForm(client=client),
        "vapid_public_key": vapid_public_key,
        "push_devices": client.push_subscriptions.count(),
        "sms_enabled": client.practice.sms_enabled,
        "sms_sender": sms_sender(client),
        "suggested": _suggestion(client),
        "suggested_words": SUGGESTION_WORDS.get(_suggestion(client), ""),
    }


# The therapist's suggestion, in the client's words.
SUGGESTION_WORDS = {
    "email": "email",
    "push": "a notification on your phone",
    "sms": "text messages",
}


def _suggestion(client: Client) -> str:
    """The channel the therapist suggests, when it differs from the client's choice and
    the client could pick it (texts only while the practice sends them); else ""."""
    channel = client.suggested_channel
    if not channel or channel == client.reminder_channel:
        return ""
    if channel == "sms" and not client.practice.sms_enabled:
        return ""
    return channel


def calendar_feed(request: HttpRequest) -> HttpResponse:
    """The routine's slots as a calendar subscription (.ics) for clients who prefer
    their calendar. The link carries a calendar-only token; revoking links ends it."""
    user = sesame_get_user(request, scope="calendar", max_age=timedelta(days=365))
    client = getattr(user, "client", None) if user else None
    if client is None or not client.active:
        return HttpResponse(
            "This calendar link no longer works.", status=404, content_type="text/plain"
        )
    body = calendars.routine_calendar(client)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="aftercare.ics"'
    return response
