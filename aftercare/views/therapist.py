"""Therapist pages: log in, clients, record a session and assign the plan, the library."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth import login, logout
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.forms import modelformset_factory
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from aftercare import (
    checkins,
    data_problems,
    practice_counts,
    privacy,
    selectors,
    services,
    submissions,
    triage,
    videos,
)
from aftercare.forms import (
    ClientDeleteForm,
    ClientForm,
    ExerciseForm,
    LoginForm,
    PhaseForm,
    PlanStepForm,
    ResumeForm,
    SessionPlanForm,
    StepTweakForm,
    TherapistSettingsForm,
)
from aftercare.models import Alert, Exercise, PhaseChange, PlanStep, Protocol, Reminder
from aftercare.outbox import emails, reminders
from aftercare.rules.phases import Phase
from aftercare.views.access import client_ip, get_therapist, practice_client, therapist_required
from clients import services as people
from clients.models import Client, Practice

log = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.is_authenticated and hasattr(user, "therapist"):
        return redirect("therapist-dashboard")
    if user.is_authenticated and hasattr(user, "client"):
        return redirect("client-today")
    return render(request, "home.html")


def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and hasattr(request.user, "therapist"):
        return redirect("therapist-dashboard")
    form = LoginForm(request.POST or None, ip=client_ip(request))
    if request.method == "POST" and form.is_valid():
        login(request, form.user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(_safe_next(request) or "therapist-dashboard")
    return render(request, "therapist/login.html", {"form": form})


def _safe_next(request: HttpRequest, name: str = "next") -> str:
    """A same-site address from the form or query string, never an open redirect."""
    target = request.POST.get(name) or request.GET.get(name) or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return ""


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You have logged out.")
    return redirect("therapist-login")


DASHBOARD_PAGE_SIZE = 50
RESCHEDULING_FIELDS = {"time_zone", "massage_cadence"}


@therapist_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Who needs me, in what order and why: "Needs me" (the default) lists the clients
    above calm, the most pressing first; "Everyone" adds the rest. Sorted and paged in
    the database, so only one page of rows is loaded, and without a search nothing
    reads every client of the practice: the counts of all clients and of data problems
    come from the cache (aftercare.practice_counts), the rest from indexes."""
    therapist = get_therapist(request)
    practice = therapist.practice
    query = request.GET.get("q", "").strip()[:100]
    needs_count = selectors.needs_me_count(practice)
    counts = practice_counts.practice_counts(practice)
    show = request.GET.get("show")
    if show not in ("needs", "all"):
        # Nobody needs you: the whole list is more use than an empty one.
        show = "needs" if needs_count and not query else "all"
    if query:
        clients = selectors.practice_clients(practice, query, needs_me=show == "needs")
    elif show == "needs":  # the first run of Everyone alone
        clients = selectors.Everyone(practice, needs_count, needs_count, needs_count)
    else:
        clients = selectors.Everyone(practice, needs_count, counts.clients, counts.active)
    page = Paginator(clients, DASHBOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = page.object_list
    if query:
        rows = [selectors.dashboard_row(client) for client in rows]
    return render(
        request,
        "therapist/dashboard.html",
        {
            "rows": rows,
            "page": page,
            "query": query,
            "show": show,
            "practice": practice,
            "attention_count": needs_count,
            # Stored data the app can't use (a zone that isn't real...): their pages say what.
            "problem_count": counts.problems,
        },
    )


@therapist_required
@require_POST
def attention_seen(request: HttpRequest, public_id) -> HttpResponse:
    """One tap: "I've seen this". The row drops to calm until something new triggers."""
    client = practice_client(get_therapist(request), public_id)
    plan = selectors.client_active_plan(client)
    if plan is not None:
        level = triage.attention_seen(plan=plan, by=request.user).level
        if level.emails_now:
            messages.info(
                request,
                f"Seen. {client.first_name} stays at the top until you resume their routine.",
            )
        else:
            messages.success(
                request, f"Seen: {client.first_name} is off your list until something new comes in."
            )
    return redirect(_safe_next(request, "back") or "therapist-dashboard")


@therapist_required
@require_POST
def plan_resume(request: HttpRequest, public_id) -> HttpResponse:
    """After a warning sign: the therapist has been in touch; the routine goes on."""
    client = practice_client(get_therapist(request), public_id)
    plan = selectors.client_active_plan(client)
    form = ResumeForm(request.POST)
    if plan is None or plan.phase != Phase.HOLD:
        messages.info(request, "The routine is not on hold.")
    elif not form.is_valid():
        messages.error(request, "Choose the phase the routine goes on in.")
    else:
        phase = Phase(form.cleaned_data["phase"])
        if services.plan_resume(plan=plan, phase=phase, by=request.user):
            messages.success(
                request,
                f"Routine resumed in {phase.label}. {client.first_name}'s reminders restart.",
            )
        else:  # resumed meanwhile, from another tab or by a colleague
            messages.info(request, "The routine is not on hold.")
    return redirect("therapist-client", public_id=client.public_id)


@therapist_required
def settings_page(request: HttpRequest) -> HttpResponse:
    """The therapist's own settings: the morning digest."""
    therapist = get_therapist(request)
    # Not `request.POST or None`: unticking the only box posts no field of the form.
    data = request.POST if request.method == "POST" else None
    form = TherapistSettingsForm(data, instance=therapist)
    if form.is_bound and form.is_valid():
        form.save()
        messages.success(request, "Settings saved.")
        return redirect("therapist-settings")
    from aftercare.outbox.channels import sms_sent_count

    practice = therapist.practice
    return render(
        request,
        "therapist/settings.html",
        {
            "form": form,
            "therapist": therapist,
            "practice": practice,
            # Texts cost money: what this month has used so far, for the whole practice.
            "sms_this_month": sms_sent_count(practice),
        },
    )


@therapist_required
@submissions.first_result
def client_add(request: HttpRequest) -> HttpResponse:
    therapist = get_therapist(request)
    form = ClientForm(
        request.POST or None,
        practice=therapist.practice,
        initial={"primary_therapist": therapist, "time_zone": "Europe/London"},
    )
    if request.method == "POST" and form.is_valid():

        def create() -> HttpResponse:
            try:
                with transaction.atomic():
                    client = people.client_create(
                        practice=therapist.practice, by=therapist.user, **form.cleaned_data
                    )
            except IntegrityError:  # the same address added at the same moment (another key)
                form.add_error("email", "A client of your practice already has this email address.")
                return render(request, "therapist/client_form.html", {"form": form, "client": None})
            messages.success(
                request, f"{client.name} added. Record their session to assign the plan."
            )
            return redirect("therapist-session", public_id=client.public_id)

        return submissions.submit_once(request, create)
    return render(request, "therapist/client_form.html", {"form": form, "client": None})


@therapist_required
def client_edit(request: HttpRequest, public_id) -> HttpResponse:
    therapist = get_therapist(request)
    client = practice_client(therapist, public_id)
    form = ClientForm(request.POST or None, instance=client, practice=therapist.practice)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            changed = people.client_update(client=client, by=therapist.user, **form.cleaned_data)
            if RESCHEDULING_FIELDS & set(changed):
                # Planned rows carry the old zone's times or the old cadence's dates:
                # drop them so the next tick plans them afresh.
                reminders.reminders_forget_pending(client=client, kinds=tuple(Reminder.Kind))
        messages.success(request, "Saved.")
        return redirect("therapist-client", public_id=client.public_id)
    return render(request, "therapist/client_form.html", {"form": form, "client": client})


@therapist_required
def client_detail(request: HttpRequest, public_id) -> HttpResponse:
    therapist = get_therapist(request)
    client = practice_client(therapist, public_id)
    plan = selectors.client_active_plan(client)
    context = {
        "client": client,
        "plan": plan,
        "sessions": client.sessions.select_related("therapist")[:20],
        "link": emails.client_link(client),
        "phase_form": PhaseForm(
            initial={"phase": plan.phase, "pinned": plan.phase_pinned} if plan else None
        ),
        "phase_changes": plan.phase_changes.select_related("by")[:20] if plan else [],
        "alerts": selectors.plan_open_alerts(plan) if plan else [],
        "logs": selectors.plan_logs(plan) if plan else [],
        "progress": selectors.plan_progress(plan, client) if plan else None,
        "reminder_history": client.reminders.exclude(status=Reminder.Status.PENDING).order_by(
            "-due_at"
        )[:30],
        "upcoming": _upcoming(client),
        "data_problems": data_problems.client_problems(client, plan),
        "history": client.audit_events.all()[:50],
    }
    return render(request, "therapist/client_detail.html", context)


def _upcoming(client: Client) -> list[reminders.Upcoming]:
    """The next 14 days' reminders; none while stored data the planner can't use (the
    page's "Problems with this client's data" box says which)."""
    try:
        return reminders.reminders_preview(client, days=14)
    except (ValueError, KeyError, TypeError) as error:
        log.warning("Client %s: no reminder preview: %r", client.pk, error)
        return []


@therapist_required
@submissions.first_result
def session_assign(request: HttpRequest, public_id) -> HttpResponse:
    """Record a session and assign the plan: one short form."""
    therapist = get_therapist(request)
    client = practice_client(therapist, public_id)
    protocols = list(
        Protocol.objects.filter(practice=therapist.practice).prefetch_related("steps__exercise")
    )
    if not protocols:
        return render(request, "therapist/no_protocol.html", {"client": client})
    form = SessionPlanForm(
        request.POST or None,
        practice=therapist.practice,
        initial={"protocol": protocols[0]},
    )
    tweak_forms = {
        protocol.id: [(step, _tweak_form(request, step)) for step in protocol.steps.all()]
        for protocol in protocols
    }
    if request.method == "POST" and form.is_valid():
        protocol = form.cleaned_data["protocol"]
        chosen = tweak_forms[protocol.id]
        if all(tweak.is_valid() for _, tweak in chosen):
            # Once per submission key: a double or parallel submit gets this redirect.
            return submissions.submit_once(
                request, lambda: _assigned(request, therapist, client, form.cleaned_data, chosen)
            )
    return render(
        request,
        "therapist/session_form.html",
        {
            "client": client,
            "form": form,
            "tweak_sections": [(p, tweak_forms[p.id]) for p in protocols],
            # An error inside the collapsed step tweaks must be visible.
            "tweaks_open": any(t.errors for steps in tweak_forms.values() for _, t in steps),
        },
    )


def _tweak_form(request: HttpRequest, step) -> StepTweakForm:
    initial = {
        "include": True,
        "flare": step.flare,
        "subsiding": step.subsiding,
        "maintenance": step.maintenance,
    }
    prefix = f"step-{step.id}"
    if request.method == "POST":
        return StepTweakForm(request.POST, prefix=prefix, initial=initial)
    return StepTweakForm(prefix=prefix, initial=initial)


def _assigned(request: HttpRequest, therapist, client: Client, data: dict, chosen) -> HttpResponse:
    plan = _record_and_assign(therapist, client, data, chosen)
    if data["send_link"]:
        transaction.on_commit(
            lambda: services.client_link_send(client=client, by=therapist.user, first=True)
        )
        messages.success(
            request, f"Plan assigned. {client.first_name} has been emailed their link."
        )
    else:
        messages.success(request, "Plan assigned. Copy the client's link below to share it.")
    return redirect("therapist-client", public_id=plan.client.public_id)


@transaction.atomic
def _record_and_assign(therapist, client: Client, data: dict, chosen) -> object:
    session = people.session_record(
        client=client, therapist=therapist, date=data["date"], notes=data["notes"]
    )
    tweaks = {step.id: services.StepTweak(**tweak.cleaned_data) for step, tweak in chosen}
    return services.plan_assign(
        client=client,
        protocol=data["protocol"],
        by=therapist,
        phase=Phase(data["phase"]),
        session=session,
        tweaks=tweaks,
    )


@therapist_required
@require_POST
@submissions.first_result
def library_install(request: HttpRequest) -> HttpResponse:
    practice = get_therapist(request).practice

    def install() -> HttpResponse:
        # One install per practice, even for two posts with different keys (two tabs).
        Practice.objects.select_for_update(no_key=True).get(pk=practice.pk)
        if Protocol.objects.filter(practice=practice, steps__isnull=False).exists():
            messages.info(request, "The low-back plan is already in your library.")
        else:
            services.library_install(practice=practice)
            messages.success(request, "The low-back plan is now in your library.")
        return redirect(_safe_next(request, "back") or "therapist-exercises")

    return submissions.submit_once(request, install)


@therapist_required
@require_POST
def link_send(request: HttpRequest, public_id) -> HttpResponse:
    client = practice_client(get_therapist(request), public_id)
    services.client_link_send(client=client, by=request.user)
    messages.success(request, f"A new link is on its way to {client.email}.")
    return redirect("therapist-client", public_id=client.public_id)


@therapist_required
@require_POST
def link_revoke(request: HttpRequest, public_id) -> HttpResponse:
    client = practice_client(get_therapist(request), public_id)
    people.client_links_revoke(client=client, by=request.user)
    messages.success(
        request,
        f"All of {client.first_name}'s links are revoked and their phone is logged out. "
        "Send a new link when they need one.",
    )
    return redirect("therapist-client", public_id=client.public_id)


@therapist_required
def plan_edit(request: HttpRequest, public_id) -> HttpResponse:
    client = practice_client(get_therapist(request), public_id)
    plan = selectors.client_active_plan(client)
    if plan is None:
        messages.info(request, "No active plan yet: record a session to assign one.")
        return redirect("therapist-session", public_id=client.public_id)
    # edit_only: a forged TOTAL_FORMS can never create a step without a plan.
    StepFormSet = modelformset_factory(PlanStep, form=PlanStepForm, extra=0, edit_only=True)
    formset = StepFormSet(
        request.POST or None, queryset=PlanStep.objects.filter(plan=plan).order_by("order", "id")
    )
    if request.method == "POST" and formset.is_valid():
        services.plan_steps_update(plan=plan, steps=formset.save(commit=False), by=request.user)
        messages.success(request, "Plan steps saved. The client's Today page shows them now.")
        return redirect("therapist-client", public_id=client.public_id)
    return render(
        request, "therapist/plan_edit.html", {"client": client, "plan": plan, "formset": formset}
    )


@therapist_required
@require_POST
def plan_end(request: HttpRequest, public_id) -> HttpResponse:
    client = practice_client(get_therapist(request), public_id)
    plan = selectors.client_active_plan(client)
    if plan is not None:
        services.plan_end(plan=plan, by=request.user)
        messages.success(request, "Plan ended. No more reminders will be sent for it.")
    return redirect("therapist-client", public_id=client.public_id)


@therapist_required
@require_POST
def phase_set(request: HttpRequest, public_id) -> HttpResponse:
    therapist = get_therapist(request)
    client = practice_client(therapist, public_id)
    plan = selectors.client_active_plan(client)
    form = PhaseForm(request.POST)
    if plan is None or not form.is_valid():
        messages.error(request, "Choose a phase from the list.")
        return redirect("therapist-client", public_id=client.public_id)
    phase = Phase(form.cleaned_data["phase"])
    services.phase_set(
        plan=plan,
        phase=phase,
        pinned=form.cleaned_data["pinned"],
        by=therapist.user,
        reason=form.cleaned_data["reason"],
        cause=PhaseChange.Cause.THERAPIST,
    )
    messages.success(request, f"Phase set to {phase.label}.")
    return redirect("therapist-client", public_id=client.public_id)


@therapist_required
def exercises(request: HttpRequest) -> HttpResponse:
    practice = get_therapist(request).practice
    return render(
        request,
        "therapist/exercises.html",
        {"exercises": Exercise.objects.filter(practice=practice)},
    )


@therapist_required
@submissions.first_result
def exercise_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    practice = get_therapist(request).practice
    exercise = get_object_or_404(Exercise, practice=practice, pk=pk) if pk else None
    previous_video = exercise.video_file.name if exercise else ""
    form = ExerciseForm(request.POST or None, request.FILES or None, instance=exercise)
    if request.method == "POST" and form.is_valid():

        def save() -> HttpResponse:  # adding: once per submission key
            saved = form.save(commit=False)
            saved.practice = practice
            saved.save()
            if previous_video != saved.video_file.name:  # replaced or cleared: plans keep theirs
                transaction.on_commit(lambda: videos.upload_forget(previous_video))
            messages.success(
                request,
                f"“{saved.name}” saved. Plans assigned from now on use it; "
                "existing plans keep their own copy.",
            )
            return redirect(reverse("therapist-exercises"))

        return submissions.submit_once(request, save)
    return render(request, "therapist/exercise_form.html", {"form": form, "exercise": exercise})


@therapist_required
@require_POST
def alert_resolve(request: HttpRequest, public_id, alert_id: int) -> HttpResponse:
    therapist = get_therapist(request)
    client = practice_client(therapist, public_id)
    alert = get_object_or_404(Alert, pk=alert_id, plan__client=client)
    checkins.alert_resolve(alert=alert, by=therapist.user)
    messages.success(request, "Alert marked as handled.")
    return redirect("therapist-client", public_id=client.public_id)


@therapist_required
@require_POST
def client_export(request: HttpRequest, public_id) -> HttpResponse:
    """Everything about one client, as JSON (format=json) or a zip of CSVs (format=csv).
    A POST: each export is written to the client's History, so opening the address
    (a prefetch, a link preview) must export nothing."""
    client = practice_client(get_therapist(request), public_id)
    kind = request.POST.get("format", "json")
    if kind not in ("json", "csv"):
        raise Http404("Unknown export format")
    export = privacy.client_export(client=client, by=request.user, kind=kind)
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = content_disposition_header(True, export.filename)
    response["Cache-Control"] = "no-store"
    return response


@therapist_required
def client_delete(request: HttpRequest, public_id) -> HttpResponse:
    """A confirmation page (type the client's name), then a POST that deletes it all."""
    client = practice_client(get_therapist(request), public_id)
    form = ClientDeleteForm(request.POST or None, client=client)
    if request.method == "POST" and form.is_valid():
        name = privacy.client_delete(client=client)
        messages.success(request, f"{name} and all their data have been deleted.")
        return redirect("therapist-dashboard")
    return render(request, "therapist/client_delete.html", {"client": client, "form": form})
