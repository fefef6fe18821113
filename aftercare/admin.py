from django.contrib import admin
from django.db import models

from aftercare import triage
from aftercare.forms import VideoUploadForm
from aftercare.models import (
    Completion,
    Exercise,
    PhaseChange,
    Plan,
    PlanningBookmark,
    PlanStep,
    Protocol,
    ProtocolStep,
)
from aftercare.outbox import reminders


class ProtocolStepInline(admin.TabularInline):
    model = ProtocolStep
    extra = 0


# Links typed without a scheme are https (Django 6's default; silences its warning).
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


class PlanStepInline(admin.StackedInline):
    model = PlanStep
    extra = 0
    formfield_overrides = HTTPS_URLS


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    form = VideoUploadForm
    formfield_overrides = HTTPS_URLS
    list_display = ["name", "practice", "duration_minutes", "is_heat"]
    list_filter = ["practice"]


@admin.register(Protocol)
class ProtocolAdmin(admin.ModelAdmin):
    list_display = ["name", "practice", "is_default"]
    inlines = [ProtocolStepInline]


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["client", "name", "phase", "phase_pinned", "started_at", "ended_at"]
    list_filter = ["phase"]
    inlines = [PlanStepInline]
    raw_id_fields = ["client", "session"]
    list_display = [*list_display, "attention_level"]
    readonly_fields = [
        "attention_level",
        "attention_reason",
        "attention_at",
        "attention_seen_at",
        "attention_recheck_at",
        "planned_until",
    ]

    @admin.display(description="Reminders planned until")
    def planned_until(self, plan: Plan) -> str:
        bookmark = PlanningBookmark.objects.filter(plan_id=plan.pk).first()
        if bookmark is None:
            return "-"  # a plan that has ended (or is not saved yet)
        return str(bookmark.planned_until or "the next tick")

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        # After the steps inline: the phase or steps set here reach the reminders.
        reminders.plan_needs_planning(plan=form.instance)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        # A plan added or changed here is assessed like one the app made (its clocks
        # start; a phase set here ends or starts an alert level).
        if obj.ended_at is None:
            triage.attention_refresh(plan=obj)


@admin.register(PhaseChange)
class PhaseChangeAdmin(admin.ModelAdmin):
    list_display = ["plan", "from_phase", "to_phase", "cause", "at"]


@admin.register(Completion)
class CompletionAdmin(admin.ModelAdmin):
    list_display = ["step", "day", "slot", "done_at"]
