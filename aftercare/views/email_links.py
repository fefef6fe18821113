"""Pages opened from links in reminder emails, on any device, logged in or not.

Opening a link changes nothing (mail scanners open every link): each page asks for one
tap, and only that POST records anything; neither touches the session of whoever is
signed in on the device. The tokens are signed, expiring and single-purpose
(aftercare.tokens); "Done" and "Log how I feel" links end when the client's links are
revoked or the client is deactivated, unsubscribe links keep working (RFC 8058).
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from aftercare import checkins, services, tokens
from aftercare.forms import CheckinForm
from aftercare.models import Reminder
from aftercare.outbox import reminders
from aftercare.rules import safety
from aftercare.rules.phases import PHASE_SENTENCES, Phase
from clients.models import Client


def _expired(request: HttpRequest) -> HttpResponse:
    from aftercare.forms import NewLinkForm

    return render(request, "client/link_expired.html", {"form": NewLinkForm()}, status=410)


def email_action(request: HttpRequest, action: str, token: str) -> HttpResponse:
    reminder_id = tokens.read_action(token, action)
    reminder = (
        Reminder.objects.select_related("client__practice", "plan")
        .filter(id=reminder_id, kind=Reminder.Kind.ROUTINE, plan__ended_at=None)
        .first()
        if reminder_id
        else None
    )
    if reminder is None or not _still_acts_for(reminder.client, token):
        return _expired(request)
    # Whoever is signed in on this phone (a shared device) stays signed in: these pages
    # act only on the token, never on the session, and show nothing of the session's user.
    if action == "done":
        return _done(request, reminder)
    return _checkin(request, reminder)


def _still_acts_for(client: Client, token: str) -> bool:
    """A deactivated client's links do nothing; revoking ends the links sent before it."""
    if not client.active:
        return False
    if client.links_revoked_at is None:
        return True
    signed = tokens.signed_at(token)
    # To the second: a link signed in the same second as the revocation is refused too.
    return signed is not None and signed > client.links_revoked_at


def _done(request: HttpRequest, reminder: Reminder) -> HttpResponse:
    slot = reminders.slot_of(reminder)
    context = {"reminder": reminder, "slot": slot, "practice": reminder.client.practice}
    if slot is None or reminder.plan.phase == Phase.HOLD:
        return render(request, "client/email_done.html", {**context, "gone": True})
    steps = [step for step in reminder.plan.steps.all() if step.id in {s.key for s in slot.steps}]
    context["steps"] = steps
    if request.method == "POST":
        with transaction.atomic():
            for step in steps:
                services.step_complete(step=step, day=slot.day, slot=str(slot.name))
        return render(request, "client/email_done.html", {**context, "recorded": True})
    return render(request, "client/email_done.html", context)


def _checkin(request: HttpRequest, reminder: Reminder) -> HttpResponse:
    plan = reminder.plan
    client = reminder.client
    if plan.phase == Phase.HOLD:
        return render(
            request, "client/email_done.html", {"gone": True, "practice": client.practice}
        )
    # The same steps as the check-in page, prefilled with those ticked on the reminder's day.
    form = CheckinForm(
        request.POST or None,
        steps=checkins.checkin_steps(plan),
        initial={
            "submission_key": uuid.uuid4(),
            "steps_done": checkins.steps_ticked(plan, reminder.slot_day),
        },
    )
    if request.method == "POST" and form.is_valid():
        result = checkins.symptom_log_create(
            plan=plan,
            submission_key=form.cleaned_data["submission_key"],
            answers=form.answers(),
        )
        if result.log.safety != "none":
            signs = [safety.SIGN_TEXT[k] for k in result.log.safety_signs if k in safety.SIGN_TEXT]
            return render(
                request,
                "client/safety.html",
                {"level": result.log.safety, "signs": signs, "practice": client.practice},
            )
        decision = result.decision
        moved = decision.phase if decision and decision.changed else None
        return render(
            request,
            "client/email_checkin_saved.html",
            {
                "practice": client.practice,
                "client": client,
                "moved": moved,
                "sentence": PHASE_SENTENCES[moved] if moved else "",
            },
        )
    return render(
        request,
        "client/checkin.html",
        {"client": client, "plan": plan, "form": form, "practice": client.practice},
    )


@csrf_exempt  # RFC 8058 one-click: the mail provider POSTs without our cookie; the token is the key
def unsubscribe(request: HttpRequest, kind: str, token: str) -> HttpResponse:
    client_id = tokens.read_unsubscribe(token, kind)
    client = Client.objects.select_related("practice").filter(id=client_id).first()
    if client is None:
        return _expired(request)
    context = {"client": client, "kind": kind, "practice": client.practice, "token": token}
    if request.method == "POST":
        subscribe = request.POST.get("resubscribe") == "1"
        services.email_preference_set(client=client, kind=kind, on=subscribe)
        context["done"] = "resubscribed" if subscribe else "unsubscribed"
    return render(request, "client/unsubscribe.html", context)
