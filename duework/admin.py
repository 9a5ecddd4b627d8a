"""Operators see every clock read-only: kind, subject, owner, due time, level and state."""

from __future__ import annotations

from django.contrib import admin

from duework.models import Clock


@admin.register(Clock)
class ClockAdmin(admin.ModelAdmin):
    list_display = ("kind", "subject_key", "owner_agency", "due_at", "level", "state")
    list_filter = ("kind", "state", "level")
    ordering = ("next_fire_at", "id")
    readonly_fields = [f.name for f in Clock._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
