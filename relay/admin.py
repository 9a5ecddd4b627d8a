"""Admin for operators: each hop's acknowledgment clock and escalation state, read-only.

Shows ids, agencies, states and times only: never the sheet, the shared sections or the
message to the receiver (reading those is an audited act of an agency, not an operator's).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from relay.models import Handoff


@admin.register(Handoff)
class HandoffEscalationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "sheet_id",
        "from_agency",
        "to_agency",
        "status",
        "urgent",
        "ack_due_at",
        "escalation_level",
        "next_escalation_at",
    )
    list_filter = ("status", "escalation_level", "urgent")
    list_select_related = ("from_agency", "to_agency")
    search_fields = ("=id", "=sheet__id")
    ordering = ("next_escalation_at", "id")
    fields = list_display
    readonly_fields = list_display

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
