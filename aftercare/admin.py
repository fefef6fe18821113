from django.contrib import admin
from django.db import models

from aftercare.forms import VideoUploadForm
from aftercare.models import (
    Completion,
    Exercise,
    PhaseChange,
    Plan,
    PlanStep,
    Protocol,
    ProtocolStep,
)


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


@admin.register(PhaseChange)
class PhaseChangeAdmin(admin.ModelAdmin):
    list_display = ["plan", "from_phase", "to_phase", "cause", "at"]


@admin.register(Completion)
class CompletionAdmin(admin.ModelAdmin):
    list_display = ["step", "day", "slot", "done_at"]
