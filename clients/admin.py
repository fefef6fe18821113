from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import models

from clients.models import Client, MassageSession, Practice, Therapist, User


def _replan(**which) -> None:
    """A change made here reaches the reminders: the plans it touches are planned again
    at the next tick (aftercare's planner only re-reads plans that were marked)."""
    from aftercare.outbox import reminders

    reminders.plan_needs_planning(**which)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


@admin.register(Practice)
class PracticeAdmin(admin.ModelAdmin):
    list_display = ["name", "sender_email", "sms_enabled"]
    # Links typed without a scheme are https (Django 6's default; silences its warning).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if change:  # the practice's zone is the fallback of clients without one
            _replan(practice=obj)


@admin.register(Therapist)
class TherapistAdmin(admin.ModelAdmin):
    list_display = ["display_name", "practice", "user"]
    list_filter = ["practice"]


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "practice", "active", "massage_cadence"]
    list_filter = ["practice", "active"]
    search_fields = ["name", "email"]
    raw_id_fields = ["user"]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        _replan(client=obj)  # times, zone, pause, active, subscriptions, cadence


@admin.register(MassageSession)
class MassageSessionAdmin(admin.ModelAdmin):
    list_display = ["client", "date", "therapist"]
    date_hierarchy = "date"

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        _replan(client=obj.client)  # a new session means new booking nudges
