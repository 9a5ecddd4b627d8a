"""Every permission-filtered list. Each is one indexed query per page, with a stable order.

Lists read the indexed access path (SheetAccess, and the handoff's own agency columns), never
guardian's get_objects_for_user, which scans the whole table at scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from agencies.models import Agency, Membership, Role
from consent.vocabulary import SPECIAL_CARE_SECTIONS
from notifications.models import InAppNotification
from relay.models import (
    Handoff,
    HandoffNote,
    NoteKind,
    Provision,
    ReferralSheet,
    SavedFilter,
    SheetAccess,
)
from relay.search import fold
from relay.states import NOT_YET_SENT, Status

_HANDOFF_RELATED = ("sheet", "from_agency", "to_agency", "service")


def _latest_provision() -> QuerySet[Provision]:
    return Provision.objects.filter(handoff=OuterRef("pk")).order_by("-version")


# The basics a hop row carries (school and grade as given, the folded search key), each
# with the provision's column it is read from and, for the sender's own drafts, the sheet's.
_BASICS = {
    "shared_key": "search_key",
    "shared_school": "school_name",
    "shared_grade": "grade",
}


def _basics_needed(annotated: bool, filters: dict[str, Any] | None) -> tuple[str, ...]:
    """Which basics to annotate: all of them for a list that shows them; for a page of
    plain columns (`annotated=False`, the API's values() page), only what its filters read:
    the three subqueries are otherwise built and compiled for nothing on every request."""
    if annotated:
        return tuple(_BASICS)
    f = filters or {}
    needed = []
    if f.get("q") and fold(f["q"]):
        needed.append("shared_key")
    if f.get("grade"):
        needed.append("shared_grade")
    return tuple(needed)


def _inbox_basics(
    qs: QuerySet[Handoff], agency: Agency, names: Iterable[str] = tuple(_BASICS)
) -> QuerySet[Handoff]:
    """School and grade of each received hop as the receiver was given them: from the basic
    section of the hop's newest provision, while its access row still lets it read that
    section (blank otherwise: declined, cancelled, withdrawn, or basic refused since). Never
    the owner's live sheet. `names`: which of _BASICS to annotate."""
    names = tuple(names)
    if not names:
        return qs
    # The access row's sections are a JSON list of codes: '"basic"' occurs in it exactly when
    # the basic section does (JSON containment is not available on SQLite).
    latest = _latest_provision().filter(
        handoff__access__agency=agency, handoff__access__sections__icontains='"basic"'
    )
    return qs.annotate(
        **{name: Coalesce(Subquery(latest.values(_BASICS[name])[:1]), Value("")) for name in names}
    )


def _outbox_basics(
    qs: QuerySet[Handoff], agency: Agency, names: Iterable[str] = tuple(_BASICS)
) -> QuerySet[Handoff]:
    """School and grade of each hop the agency created, as it sent them (its newest
    provision); a draft of its own sheet shows the sheet's, a draft relaying another agency's
    sheet shows none (it holds only provisions of it). `names`: which of _BASICS."""
    names = tuple(names)
    if not names:
        return qs
    latest = _latest_provision()
    own_draft = Q(sent_at__isnull=True, sheet__owner_agency_id=agency.pk)
    return qs.annotate(
        **{
            name: Coalesce(
                Subquery(latest.values(_BASICS[name])[:1]),
                Case(When(own_draft, then=F(f"sheet__{_BASICS[name]}")), default=Value("")),
            )
            for name in names
        }
    )


def _hop_filters(qs: QuerySet[Handoff], filters: dict[str, Any] | None) -> QuerySet[Handoff]:
    f = filters or {}
    if f.get("q") and (needle := fold(f["q"])):
        # Q, not keywords: the stubs' plugin knows the model's fields, not the annotations.
        qs = qs.filter(Q(shared_key__contains=needle))
    if f.get("grade"):
        qs = qs.filter(Q(shared_grade=f["grade"]))
    return qs


def handoffs_inbox_for(
    *,
    agency: Agency,
    statuses: Iterable[str] | None = None,
    updated_since: datetime | None = None,
    filters: dict[str, Any] | None = None,
    annotated: bool = True,
) -> QuerySet[Handoff]:
    """Hops sent to the agency, newest first (index handoff_inbox_idx), with the school and
    grade it was given (shared_school, shared_grade) and narrowed by `filters` (q: initials
    or school, folded as relay.search does; grade), both read from what the hops' provisions
    gave it, never from the live sheet.

    `annotated=False` is for a page of plain columns (QuerySet.values(), the API list): the
    same rows in the same order, without the annotations the page does not select (only
    those its filters read) and without select_related."""
    qs = Handoff.objects.filter(to_agency=agency, sent_at__isnull=False)
    if statuses:
        qs = qs.filter(status__in=list(statuses))
    if updated_since is not None:
        qs = qs.filter(updated_at__gte=updated_since)
    qs = _hop_filters(_inbox_basics(qs, agency, _basics_needed(annotated, filters)), filters)
    if annotated:
        qs = qs.select_related(*_HANDOFF_RELATED)
    return qs.order_by("-sent_at", "-id")


def handoffs_outbox_for(
    *,
    agency: Agency,
    statuses: Iterable[str] | None = None,
    updated_since: datetime | None = None,
    filters: dict[str, Any] | None = None,
    annotated: bool = True,
) -> QuerySet[Handoff]:
    """Hops the agency created, newest first (index handoff_outbox_idx); `returned` says a
    supervisor sent the hop back to draft at least once; school, grade and `filters` as the
    inbox, from what the agency sent. `annotated=False` as for the inbox (no `returned`
    either)."""
    qs = Handoff.objects.filter(from_agency=agency)
    if annotated:
        returned = HandoffNote.objects.filter(handoff=OuterRef("pk"), kind=NoteKind.RETURN)
        qs = qs.annotate(returned=Exists(returned))
    if statuses:
        qs = qs.filter(status__in=list(statuses))
    if updated_since is not None:
        qs = qs.filter(updated_at__gte=updated_since)
    rows = _hop_filters(_outbox_basics(qs, agency, _basics_needed(annotated, filters)), filters)
    if annotated:
        rows = rows.select_related(*_HANDOFF_RELATED)
    return rows.order_by("-created_at", "-id")


def handoffs_overdue_for(*, agency: Agency, now: datetime | None = None) -> QuerySet[Handoff]:
    """Hops sent to the agency and not acknowledged past their deadline."""
    return handoffs_inbox_for(agency=agency, statuses=[Status.SENT]).filter(
        ack_due_at__lt=now or timezone.now()
    )


def handoffs_awaiting_approval_for(*, agency: Agency) -> QuerySet[Handoff]:
    """The supervisor's approval queue (partial index handoff_approval_idx)."""
    queue = Handoff.objects.filter(from_agency=agency, status=Status.AWAITING_APPROVAL)
    return (
        _outbox_basics(queue, agency)
        .select_related(*_HANDOFF_RELATED, "created_by")
        .order_by("submitted_at", "id")
    )


def handoffs_of_sheet_for(*, agency: Agency, sheet: ReferralSheet) -> QuerySet[Handoff]:
    """The hops of one sheet that the agency took part in (as sender or receiver); for the
    sheet's owner also the hops relayed onward by others once they were sent (never another
    agency's drafts), each with the consent record it went under and who recorded it."""
    qs = (
        Handoff.objects.filter(sheet=sheet)
        .select_related(*_HANDOFF_RELATED, "consent__agency")
        .order_by("id")
    )
    if sheet.owner_agency_id == agency.pk:
        return qs.exclude(Q(status__in=list(NOT_YET_SENT)) & ~Q(from_agency=agency))
    received = qs.filter(to_agency=agency).exclude(status__in=list(NOT_YET_SENT))
    return received | qs.filter(from_agency=agency)


def sheets_visible_to(*, agency: Agency) -> QuerySet[SheetAccess]:
    """Access rows of the agency, newest grant first (index sheet_access_list_idx).

    A sheet received twice appears twice; callers that want each sheet once dedupe a page.
    """
    return (
        SheetAccess.objects.filter(agency=agency)
        .select_related("sheet", "handoff")
        .order_by("-granted_at", "-id")
    )


def sheets_owned_by(
    *, agency: Agency, filters: dict[str, Any] | None = None
) -> QuerySet[ReferralSheet]:
    """The agency's own sheets, newest first, narrowed by the sheet list's filters (q: initials
    or school, folded as relay.search does; grade; state draft/sent; urgency; counselor; the
    consultation date range). Only the owner's sheets: another agency's never match."""
    qs = ReferralSheet.objects.filter(owner_agency=agency)
    f = filters or {}
    if f.get("q") and (needle := fold(f["q"])):
        qs = qs.filter(search_key__contains=needle)
    if f.get("grade"):
        qs = qs.filter(grade=f["grade"])
    if f.get("state") == "draft":
        qs = qs.filter(first_sent_at__isnull=True)
    elif f.get("state") == "sent":
        qs = qs.filter(first_sent_at__isnull=False)
    if f.get("urgency"):
        qs = qs.filter(urgency=f["urgency"])
    if f.get("counselor"):
        qs = qs.filter(created_by_id=f["counselor"])
    if f.get("consulted_from"):
        qs = qs.filter(consulted_on__gte=f["consulted_from"])
    if f.get("consulted_to"):
        qs = qs.filter(consulted_on__lte=f["consulted_to"])
    return qs.order_by("-updated_at", "-id")


def saved_filters_for(*, user: Any, screen: str) -> QuerySet[SavedFilter]:
    return SavedFilter.objects.filter(user=user, screen=screen).order_by("name")


def notifications_for(*, agency: Agency, unread_only: bool = False) -> QuerySet[InAppNotification]:
    qs = InAppNotification.objects.filter(agency=agency)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.select_related("handoff").order_by("-created_at", "-id")


def counselors_of(agency: Agency) -> list[tuple[int, str]]:
    """The agency's staff who can write sheets, as (user id, name) for a filter."""
    return [
        (user_id, " ".join(filter(None, (last, first))) or username)
        for user_id, username, first, last in Membership.objects.filter(
            agency=agency, role__in=[Role.COUNSELOR, Role.SUPERVISOR]
        )
        .order_by("user__username")
        .values_list("user_id", "user__username", "user__first_name", "user__last_name")
    ]


def hop_chains_for(*, agency: Agency, sheets: Iterable[ReferralSheet]) -> dict[int, list[Handoff]]:
    """Closing the loop: for each of the agency's own sheets, every hop sent from it and onward
    (agency names, states, outcomes and whose consent each went under; no content), each hop
    followed by the hops relayed from it, so the first sender sees where the person landed.
    One query."""
    owned = [s.pk for s in sheets if s.owner_agency_id == agency.pk]
    hops = list(
        Handoff.objects.filter(sheet_id__in=owned, sent_at__isnull=False)
        .select_related("from_agency", "to_agency", "consent__agency")
        .order_by("sheet_id", "sent_at", "id")
    )
    children: dict[int | None, list[Handoff]] = {}
    for hop in hops:
        children.setdefault(hop.parent_id, []).append(hop)
    known = {hop.pk for hop in hops}
    chains: dict[int, list[Handoff]] = {pk: [] for pk in owned}

    def walk(hop: Handoff, depth: int) -> None:
        hop.depth = depth  # type: ignore[attr-defined]
        hop.next_hops = children.get(hop.pk, [])  # type: ignore[attr-defined]
        chains[hop.sheet_id].append(hop)
        for child in children.get(hop.pk, []):
            walk(child, depth + 1)

    for hop in hops:
        if hop.parent_id is None or hop.parent_id not in known:
            walk(hop, 0)
    return chains


@dataclass(frozen=True)
class SpecialCareReaders:
    """Who can read a sheet's 要配慮 sections (health, safeguarding): shown on the sheet."""

    staff: list[tuple[str, str]]  # (username, role label) in the owner agency
    viewers_allowed: bool
    agencies: list[tuple[str, list[str]]]  # (agency name, 要配慮 sections it holds)


def special_care_readers(*, sheet: ReferralSheet) -> SpecialCareReaders:
    """The owner agency's staff who may read the 要配慮 sections (every role but viewers,
    and viewers only where the agency allows), and the other agencies sent any of them."""
    owner = sheet.owner_agency
    roles = [Role.COUNSELOR, Role.SUPERVISOR, Role.INTAKE]
    if owner.viewers_see_special_care:
        roles.append(Role.VIEWER)
    members = (
        Membership.objects.filter(agency=owner, role__in=roles, user__is_active=True)
        .select_related("user")
        .order_by("role", "user__username")
    )
    agencies: dict[str, set[str]] = {}
    rows = (
        SheetAccess.objects.filter(sheet=sheet)
        .exclude(agency=owner)
        .select_related("agency")
        .order_by("agency__name")
    )
    for row in rows:
        held = SPECIAL_CARE_SECTIONS.intersection(row.sections)
        if held:
            agencies.setdefault(row.agency.name, set()).update(held)
    return SpecialCareReaders(
        staff=[(m.user.get_username(), m.get_role_display()) for m in members],
        viewers_allowed=owner.viewers_see_special_care,
        agencies=[(name, sorted(held)) for name, held in agencies.items()],
    )
