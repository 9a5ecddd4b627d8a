"""Who may see or act on which sheet, hop or consent record: the one module that answers it,
and the only one that grants or revokes access.

Grants: two records move together, in the caller's transaction: guardian's object permission
for the agency's group (answers "may this agency open this sheet?") and a SheetAccess row (the
indexed path lists read, and the sections the agency may see). Every change is audited.

A hop's check is guardian's table read in SQL (`_handoff_viewable`), so the hop, its versions
and the permission come back in one query (`handoff_read`, the audited detail).

Lookups (`sheet_for`, `sheet_owned_by`, `handoff_for`, `consent_record_for`): services, web
views and the API fetch a single object through these, never with their own ownership filter.
A missing object and one the staff member's agency may not see are the same NotFound (404), so
an id reveals nothing; an object it sees but may not act on in that role is NotAllowed (403).
Lists are relay.selectors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone
from guardian.core import ObjectPermissionChecker
from guardian.shortcuts import assign_perm, remove_perm

from agencies.actors import Staff
from agencies.errors import NotAllowed, NotFound
from agencies.models import Agency, Role
from audit.context import Actor
from audit.models import AuditAction
from consent.models import ConsentRecord
from consent.vocabulary import SHEET_SECTIONS, SPECIAL_CARE_SECTIONS, Section
from relay.audit_events import access_event
from relay.models import (
    Handoff,
    HandoffGroupObjectPermission,
    IntakeRecord,
    Provision,
    ReferralSheet,
    SheetAccess,
)
from relay.states import RELAY_ONWARD_FROM
from relay.states import Side as Side  # re-exported: handoff_for(side=access.Side.SENDER)

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
        sections=list(SHEET_SECTIONS),
        granted_at=timezone.now(),
    )
    access_event(
        AuditAction.ACCESS_GRANTED,
        sheet_id=sheet.pk,
        agency_id=sheet.owner_agency_id,
        sections=list(SHEET_SECTIONS),
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
    row = SheetAccess.objects.filter(handoff=handoff).first()
    if row is None:
        return False
    revoked = list(row.sections)
    row.delete()
    group = handoff.to_agency.group
    still_shared = SheetAccess.objects.filter(agency=handoff.to_agency, sheet=handoff.sheet_id)
    if not still_shared.exists():
        remove_perm(VIEW_SHEET, group, handoff.sheet)
    access_event(
        AuditAction.ACCESS_REVOKED,
        sheet_id=handoff.sheet_id,
        agency_id=handoff.to_agency_id,
        sections=revoked,
        actor=actor,
        handoff_id=handoff.pk,
    )
    return True


def narrow_receiver(
    *, handoff: Handoff, sections: Iterable[str], actor: Actor, consent_id: int
) -> list[str]:
    """A refusal recorded after the send: the receiver no longer reads these sections of what
    the hop gave it (every version); the rest stays. Returns the sections taken away; the
    last section taken takes the hop's access with it (as revoke_receiver)."""
    row = SheetAccess.objects.select_for_update().filter(handoff=handoff).first()
    if row is None:
        return []
    removed = [s for s in row.sections if s in set(sections)]
    if not removed:
        return []
    remaining = [s for s in row.sections if s not in removed]
    if remaining:
        row.sections = remaining
        row.save(update_fields=["sections"])
    else:
        row.delete()
        still_shared = SheetAccess.objects.filter(agency=handoff.to_agency, sheet=handoff.sheet_id)
        if not still_shared.exists():
            remove_perm(VIEW_SHEET, handoff.to_agency.group, handoff.sheet)
    access_event(
        AuditAction.ACCESS_REVOKED,
        sheet_id=handoff.sheet_id,
        agency_id=handoff.to_agency_id,
        sections=removed,
        actor=actor,
        handoff_id=handoff.pk,
        reason="refused",
        consent_id=consent_id,
    )
    return removed


def can_view_sheet(*, agency: Agency, sheet: ReferralSheet) -> bool:
    return ObjectPermissionChecker(agency.group).has_perm(VIEW_SHEET, sheet)


def _handoff_viewable(agency: Agency, hop: str = "pk") -> Exists:
    """The rule "the agency may see this hop" as a condition on the row that names the hop
    (`hop`: the column holding its id): guardian's object permission VIEW_HANDOFF granted to
    the agency's group, read from guardian's own table exactly as guardian's
    ObjectPermissionChecker reads it (the permission's content type and codename, the group,
    the object), so it can ride in the query that fetches the hop instead of two more round
    trips. Grants and revocations still go through guardian (grant_sender, grant_receiver)."""
    return Exists(
        HandoffGroupObjectPermission.objects.filter(
            content_object=OuterRef(hop),
            group_id=agency.group_id,
            permission__codename=VIEW_HANDOFF.split(".", 1)[1],
            # guardian's own lookup (guardian.core.get_content_type): Django's cached type.
            permission__content_type=ContentType.objects.get_for_model(Handoff),
        )
    )


def can_view_handoff(*, agency: Agency, handoff: Handoff) -> bool:
    return Handoff.objects.filter(pk=handoff.pk).filter(_handoff_viewable(agency)).exists()


def readable_sections(*, agency: Agency, sheet_id: int) -> set[str]:
    """The union of sections the agency's access rows give it on this sheet."""
    sections: set[str] = set()
    for row in SheetAccess.objects.filter(agency=agency, sheet_id=sheet_id).values_list(
        "sections", flat=True
    ):
        sections.update(row)
    return sections


def sees_special_care(staff: Staff) -> bool:
    """People in the viewer role (閲覧のみ) read 要配慮 sections (health, safeguarding) only if
    their agency grants it explicitly; every other role, and API keys with the scope, do."""
    if staff.is_api or staff.role != Role.VIEWER:
        return True
    return bool(staff.agency.viewers_see_special_care)


def readable_sections_for(*, staff: Staff, sheet_id: int) -> set[str]:
    """What this staff member may read of a sheet: the agency's sections, less the 要配慮
    ones for a viewer whose agency has not granted them."""
    sections = readable_sections(agency=staff.agency, sheet_id=sheet_id)
    if not sees_special_care(staff):
        sections -= SPECIAL_CARE_SECTIONS
    return sections


# --- Lookups: the one answer to "which object may this staff member or API key use" --------


@dataclass(frozen=True)
class ReadableSheet:
    """A sheet and the sections the agency may read of it (never empty)."""

    sheet: ReferralSheet
    sections: set[str]


def sheet_for(*, staff: Staff, sheet_id: int, for_update: bool = False) -> ReadableSheet:
    """A sheet the staff member's agency may read (owns, or was sent), with what it may read."""
    sheets: QuerySet[ReferralSheet] = ReferralSheet.objects.select_related("owner_agency")
    if for_update:
        sheets = sheets.select_for_update(of=("self",))
    sheet = sheets.filter(pk=sheet_id).first()
    if sheet is None or not can_view_sheet(agency=staff.agency, sheet=sheet):
        raise NotFound()
    sections = readable_sections_for(staff=staff, sheet_id=sheet.pk)
    if not sections:
        raise NotFound()
    return ReadableSheet(sheet=sheet, sections=sections)


def sheet_owned_by(*, staff: Staff, sheet_id: int, for_update: bool = False) -> ReferralSheet:
    """A sheet of the staff member's own agency: edits, attachments and consent are the owner's."""
    sheets: QuerySet[ReferralSheet] = ReferralSheet.objects.all()
    if for_update:
        sheets = sheets.select_for_update()
    sheet = sheets.filter(pk=sheet_id).first()
    if sheet is None or sheet.owner_agency_id != staff.agency.pk:
        raise NotFound()
    return sheet


def held_sections(*, agency: Agency, sheet_id: int) -> set[str]:
    """The sections an agency holds of another agency's sheet through the hops it received
    and took up (acknowledged, accepted or completed; `RELAY_ONWARD_FROM`, the same states it
    may relay onward from): what its access rows of those hops still give it. A hop merely
    sent, or declined, cancelled or withdrawn (its access row is gone), holds nothing."""
    sections: set[str] = set()
    for row in SheetAccess.objects.filter(
        agency=agency,
        sheet_id=sheet_id,
        handoff__to_agency=agency,
        handoff__status__in=list(RELAY_ONWARD_FROM),
    ).values_list("sections", flat=True):
        sections.update(row)
    return sections


def sheet_held_by(*, staff: Staff, sheet_id: int, for_update: bool = False) -> ReadableSheet:
    """A sheet on which the staff member's agency may record consent: its own (every
    section), or one it holds through a hop (`held_sections`). Anything else is NotFound,
    as for a sheet that does not exist."""
    sheets: QuerySet[ReferralSheet] = ReferralSheet.objects.select_related("owner_agency")
    if for_update:
        sheets = sheets.select_for_update(of=("self",))
    sheet = sheets.filter(pk=sheet_id).first()
    if sheet is None:
        raise NotFound()
    if sheet.owner_agency_id == staff.agency.pk:
        return ReadableSheet(sheet=sheet, sections=set(Section.values))
    sections = held_sections(agency=staff.agency, sheet_id=sheet.pk)
    if not sections or not can_view_sheet(agency=staff.agency, sheet=sheet):
        raise NotFound()
    return ReadableSheet(sheet=sheet, sections=sections)


HOP_RELATED = ("sheet", "from_agency", "to_agency", "service", "consent", "consent__agency")


def handoff_for(
    *, staff: Staff, handoff_id: int, for_update: bool = False, side: Side | None = None
) -> Handoff:
    """A hop the staff member's agency takes part in: as its sender from the draft on, as its
    receiver once it is sent (and after, without content, once it is declined or stopped).

    With `side`, the agency must also be on that side of the hop: the receiver acting as
    sender, or the sender as receiver, is NotAllowed (it sees the hop, it may not do that).
    With `for_update`, the hop's row is locked until the transaction ends.
    """
    hops = Handoff.objects.select_related(*HOP_RELATED)
    if for_update:
        hops = hops.select_for_update(of=("self",))
    handoff = hops.filter(_handoff_viewable(staff.agency), pk=handoff_id).first()
    if handoff is None:
        raise NotFound()
    if side == Side.SENDER and handoff.from_agency_id != staff.agency.pk:
        raise NotAllowed()
    if side == Side.RECEIVER and (
        handoff.to_agency_id != staff.agency.pk or handoff.sent_at is None
    ):
        raise NotAllowed()
    return handoff


def _own_access_sections(agency: Agency, hop: str) -> Subquery:
    """The sections of the agency's access row of the hop named by `hop` (NULL if none)."""
    row = SheetAccess.objects.filter(agency=agency, handoff_id=OuterRef(hop))
    return Subquery(row.values("sections")[:1])


@dataclass(frozen=True)
class ReadableHop:
    """A hop its reader's agency may see, fetched for reading in one query: every version of
    what it gave (oldest first), and the sections the reader's own access row of this hop
    still allows (None without such a row: the sender, or a receiver that lost access; and
    None when the hop gave nothing yet, as there is nothing to narrow)."""

    handoff: Handoff
    provisions: list[Provision]
    access_sections: frozenset[str] | None


def handoff_read(*, staff: Staff, handoff_id: int) -> ReadableHop:
    """handoff_for (same rule, same NotFound) for the audited detail, in one round trip: the
    hop, its provisions, the permission and the reader's access row come back together, one
    row per version. A hop that has no provision yet (a draft) takes a second query, the hop
    alone; a hop the agency may not see, or none at all, takes the same two queries and is
    the same NotFound, so neither a count nor an answer tells them apart."""
    agency = staff.agency
    provisions = list(
        Provision.objects.select_related(
            "created_by", *(f"handoff__{name}" for name in HOP_RELATED)
        )
        .filter(_handoff_viewable(agency, hop="handoff_id"), handoff__pk=handoff_id)
        .annotate(access_sections=_own_access_sections(agency, hop="handoff_id"))
        .order_by("version")
    )
    if provisions:
        handoff = provisions[0].handoff
        for provision in provisions:
            provision.handoff = handoff  # one hop object, whichever version is read
        sections = provisions[0].access_sections
    else:
        # Nothing given yet, so no content to narrow: the access row is not read.
        found = (
            Handoff.objects.select_related(*HOP_RELATED)
            .filter(_handoff_viewable(agency), pk=handoff_id)
            .first()
        )
        if found is None:
            raise NotFound()
        handoff, sections = found, None
    return ReadableHop(
        handoff=handoff,
        provisions=list[Provision](provisions),
        access_sections=None if sections is None else frozenset(sections),
    )


def consent_record_for(*, staff: Staff, record_id: int, for_update: bool = False) -> ConsentRecord:
    """A consent record (or lawful basis) the staff member's agency recorded: only the agency
    that obtained a consent prints, withdraws or voids it."""
    records: QuerySet[ConsentRecord] = ConsentRecord.objects.all()
    if for_update:
        records = records.select_for_update()
    record = records.filter(pk=record_id).first()
    if record is None or record.agency_id != staff.agency.pk:
        raise NotFound()
    return record


def intake_for(*, staff: Staff, intake_id: int, for_update: bool = False) -> IntakeRecord:
    """An intake record of the staff member's own routing desk; any other is NotFound."""
    records: QuerySet[IntakeRecord] = IntakeRecord.objects.all()
    if for_update:
        records = records.select_for_update()
    intake = records.filter(pk=intake_id).first()
    if intake is None or intake.desk_id != staff.agency.pk:
        raise NotFound()
    return intake
