"""The ward coordinator's view and the clocks' policies (期限と督促の設定)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from agencies.actors import Staff
from agencies.models import AgencyKind, Role
from audit.models import AuditAction
from audit.services import audit_record
from conferences.selectors import overdue_for_coordinator, plans_coordinated_by
from conferences.views.base import staff_view
from duework import policy as clocks


@staff_view()
def coordinator(request: HttpRequest, staff: Staff) -> HttpResponse:
    """Overdue hops, plan actions and reviews of the municipality: kinds, ages, agencies and
    levels, no section content (links only where the coordinator is itself a party)."""
    now = timezone.now()
    rows = overdue_for_coordinator(staff=staff, now=now)
    audit_record(
        action=AuditAction.COORDINATOR_VIEWED,
        actor=staff.audit_actor(),
        object_type="agency",
        object_id=staff.agency.pk,
        detail={"rows": len(rows), "municipality": staff.agency.municipality},
    )
    return render(
        request,
        "conferences/coordinator.html",
        {
            "rows": rows,
            "plans": plans_coordinated_by(staff=staff, now=now),
            "municipality": staff.agency.municipality,
            "now": now,
            "staff_agency_id": staff.agency.pk,
        },
    )


def _step_text(spec: dict[str, Any]) -> dict[str, Any]:
    for key in ("before_days", "start_hours", "due_hours", "after_hours"):
        if key in spec:
            return {"anchor": key, "amount": spec[key]}
    return {"anchor": "after_hours", "amount": 0}


@staff_view(Role.SUPERVISOR)
def policies(request: HttpRequest, staff: Staff) -> HttpResponse:
    """Every clock kind's policy: the defaults, what differs per agency kind, and this
    agency's policy as its clocks will snapshot it."""
    tables = []
    for kind, label in clocks.KIND_LABELS.items():
        policy = clocks.policy_for(kind, agency=staff.agency)
        differs = [
            (AgencyKind(k).label, v[kind])
            for k, v in clocks.AGENCY_KIND_DEFAULTS.items()
            if kind in v
        ]
        tables.append(
            {
                "kind": kind,
                "label": label,
                "due_hours": policy.get("due_hours"),
                "repeat_hours": policy.get("repeat_hours"),
                "levels": [
                    {
                        "level": spec.get("level", i + 1),
                        "notify": clocks.NOTIFY_LABELS.get(
                            spec.get("notify", ""), spec.get("notify")
                        ),
                        **_step_text(spec),
                    }
                    for i, spec in enumerate(policy.get("levels") or [])
                ],
                "agency_kinds": differs,
            }
        )
    return render(request, "conferences/policies.html", {"tables": tables})
