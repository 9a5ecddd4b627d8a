"""The only module that grants or revokes access to sheets and handoffs.

Two records move together, in the caller's transaction: guardian's object permission for the
agency's group (answers "may this agency open this sheet?") and a SheetAccess row (the indexed
path lists read, and the sections the agency may see). Every change is audited.
"""

from __future__ import annotations

from django.utils import timezone
from guardian.core import ObjectPermissionChecker
from guardian.shortcuts import assign_perm, remove_perm

from agencies.models import Agency
from audit.context import Actor
from audit.models import AuditAction
from consent.vocabulary import Section
from relay.audit_events import access_event
from relay.models import Handoff, ReferralSheet, SheetAccess

VIEW_SHEET = "relay.view_referralsheet"
CHANGE_SHEET = "relay.change_referralsheet"
VIEW_HANDOFF = "relay.view_handoff"


def grant_owner(*, sheet: ReferralSheet, actor: Actor) -> None:
    """The creating agency sees and edits every section of its sheet."""
    group = sheet.owner_agency.group
    assign_perm(VIEW_SHEET, group, sheet)
    assign_perm(CHANGE_SHEET, group, sheet)
    SheetAccess.objects.create(
        agency=sheet.owner_agency,
        sheet=sheet,
        handoff=None,
        sections=list(Section.values),
        granted_at=timezone.now(),
    )
    access_event(
        AuditAction.ACCESS_GRANTED,
        sheet_id=sheet.pk,
        agency_id=sheet.owner_agency_id,
        sections=list(Section.values),
        actor=actor,
    )


def grant_sender(*, handoff: Handoff) -> None:
    """The sending agency follows its own hop from the moment it is drafted."""
    assign_perm(VIEW_HANDOFF, handoff.from_agency.group, handoff)


def grant_receiver(*, handoff: Handoff, actor: Actor) -> None:
    """At send: the receiving agency may read the hop and exactly the sections it shares."""
    group = handoff.to_agency.group
    assign_perm(VIEW_HANDOFF, group, handoff)
    assign_perm(VIEW_SHEET, group, handoff.sheet)
    SheetAccess.objects.create(
        agency=handoff.to_agency,
        sheet=handoff.sheet,
        handoff=handoff,
        sections=list(handoff.sections),
        granted_at=handoff.sent_at or timezone.now(),
    )
    access_event(
        AuditAction.ACCESS_GRANTED,
        sheet_id=handoff.sheet_id,
        agency_id=handoff.to_agency_id,
        sections=list(handoff.sections),
        actor=actor,
        handoff_id=handoff.pk,
    )


def revoke_receiver(*, handoff: Handoff, actor: Actor) -> bool:
    """Decline, cancellation or withdrawal: the receiver loses the sheet content this hop gave
    it. It keeps seeing the hop itself (its status and history, no content). Idempotent."""
    deleted, _ = SheetAccess.objects.filter(handoff=handoff).delete()
    if not deleted:
        return False
    group = handoff.to_agency.group
    still_shared = SheetAccess.objects.filter(agency=handoff.to_agency, sheet=handoff.sheet_id)
    if not still_shared.exists():
        remove_perm(VIEW_SHEET, group, handoff.sheet)
    access_event(
        AuditAction.ACCESS_REVOKED,
        sheet_id=handoff.sheet_id,
        agency_id=handoff.to_agency_id,
        sections=list(handoff.sections),
        actor=actor,
        handoff_id=handoff.pk,
    )
    return True


def can_view_sheet(*, agency: Agency, sheet: ReferralSheet) -> bool:
    return ObjectPermissionChecker(agency.group).has_perm(VIEW_SHEET, sheet)


def can_view_handoff(*, agency: Agency, handoff: Handoff) -> bool:
    return ObjectPermissionChecker(agency.group).has_perm(VIEW_HANDOFF, handoff)


def readable_sections(*, agency: Agency, sheet_id: int) -> set[str]:
    """The union of sections the agency's access rows give it on this sheet."""
    sections: set[str] = set()
    for row in SheetAccess.objects.filter(agency=agency, sheet_id=sheet_id).values_list(
        "sections", flat=True
    ):
        sections.update(row)
    return sections
