"""One small audit helper per event family (sheet, handoff, access); services call these."""

from __future__ import annotations

from typing import Any

from audit.context import Actor
from audit.models import AuditAction, AuditEvent
from audit.services import audit_record
from relay.models import Handoff, ReferralSheet


def sheet_event(
    action: AuditAction,
    *,
    sheet: ReferralSheet,
    actor: Actor,
    sections: list[str] | None = None,
    **detail: Any,
) -> AuditEvent:
    return audit_record(
        action=action,
        actor=actor,
        object_type="sheet",
        object_id=sheet.pk,
        sheet_id=sheet.pk,
        sections=sections or (),
        detail=detail,
    )


def handoff_event(
    action: AuditAction, *, handoff: Handoff, actor: Actor, **detail: Any
) -> AuditEvent:
    consent = handoff.consent
    return audit_record(
        action=action,
        actor=actor,
        object_type="handoff",
        object_id=handoff.pk,
        sheet_id=handoff.sheet_id,
        recipient_agency_id=handoff.to_agency_id,
        sections=handoff.sections,
        lawful_basis="" if consent is None else consent.basis,
        detail={
            "status": handoff.status,
            "from_agency_id": handoff.from_agency_id,
            **({"consent_id": consent.pk} if consent is not None else {}),
            **detail,
        },
    )


def access_event(
    action: AuditAction,
    *,
    sheet_id: int,
    agency_id: int,
    sections: list[str],
    actor: Actor,
    handoff_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    return audit_record(
        action=action,
        actor=actor,
        object_type="sheet",
        object_id=sheet_id,
        sheet_id=sheet_id,
        recipient_agency_id=agency_id,
        sections=sections,
        detail={**({"handoff_id": handoff_id} if handoff_id else {}), **detail},
    )
