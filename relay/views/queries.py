"""Reads the screens need beyond relay.selectors: consent records of a sheet, the lawful bases
waiting for a supervisor, and recipient suggestions from the directory. Read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.grades import GRADE_AGE
from agencies.models import Agency
from agencies.places import Nearness, nearness
from consent.models import Approval, ConsentRecord, Decision
from consent.policy import consent_records, may_send_under
from consent.vocabulary import Basis
from relay.models import Handoff, ReferralSheet
from relay.states import TERMINAL
from relay.suggestions import place_of_person
from relay.views.display import category_label, join_labels


def pending_lawful_bases_for(*, agency: Agency) -> QuerySet[ConsentRecord]:
    """Lawful bases recorded by the agency and waiting for its supervisor, oldest first."""
    return (
        ConsentRecord.objects.filter(agency=agency, approval=Approval.PENDING)
        .exclude(basis=Basis.CONSENT)
        .prefetch_related("recipient_agencies")
        .select_related("obtained_by")
        .order_by("created_at", "id")
    )


def consents_of_sheet(
    *, sheet: ReferralSheet, agency: Agency | None = None
) -> QuerySet[ConsentRecord]:
    """Every consent record and lawful basis of a sheet (for its owner), or only those `agency`
    recorded (for an agency holding the sheet), newest first."""
    records = ConsentRecord.objects.filter(sheet=sheet)
    if agency is not None:
        records = records.filter(agency=agency)
    return (
        records.prefetch_related("recipient_agencies")
        .select_related("agency", "obtained_by", "approved_by", "withdrawn_by", "routing_desk")
        .order_by("-created_at", "-id")
    )


def _permits_for(*, sheet_id: int, sender: Agency) -> list[ConsentRecord]:
    """The permits in force now that the policy would let `sender` send under (its own,
    the owner's, or one naming it as the routing desk: consent.policy.may_send_under)."""
    now = timezone.now()
    return [
        record
        for record in consent_records(sheet_id=sheet_id)
        if record.decision == Decision.PERMIT
        and record.in_force_at(now)
        and may_send_under(record, sender)
    ]


def consented_sections(*, sheet_id: int, sender: Agency) -> list[str]:
    """Sections some permit in force now covers for this sender: the send screen's default."""
    sections: set[str] = set()
    for record in _permits_for(sheet_id=sheet_id, sender=sender):
        sections.update(record.sections)
    return sorted(sections)


def consented_recipients(*, sheet_id: int, sender: Agency) -> set[int]:
    """Agencies some permit in force now names (not by kind) for this sender: the send
    screen's default (a holder's own consent, or the owner's)."""
    named: set[int] = set()
    for record in _permits_for(sheet_id=sheet_id, sender=sender):
        named.update(a.pk for a in record.recipient_agencies.all())
    return named


def open_hops_to(*, sheet_id: int, from_agency: Agency) -> dict[int, Handoff]:
    """The agency's hops of this sheet that are not finished, by recipient: sending again to
    one of them would make a second hop, so the send screen does not pre-select them."""
    hops = (
        Handoff.objects.filter(sheet_id=sheet_id, from_agency=from_agency)
        .exclude(status__in=TERMINAL)
        .order_by("id")
    )
    return {hop.to_agency_id: hop for hop in hops}


@dataclass(frozen=True)
class Suggestion:
    """One suggested recipient, with the reasons shown to the counselor."""

    agency: Agency
    score: int
    reasons: list[str]
    tier: int = 3


# How near an agency is to the person: agencies.places.Nearness (the same municipality, another
# of Tokyo's 23 special wards for a ward's sheet, the same prefecture, anywhere else).
TIER_MUNICIPALITY = Nearness.CITY
TIER_WARDS = Nearness.TOKYO_WARDS
TIER_PREFECTURE = Nearness.PREFECTURE
TIER_ELSEWHERE = Nearness.ELSEWHERE


def _age_of(content: dict[str, dict[str, Any]]) -> int | None:
    basic = content.get("basic", {})
    if basic.get("birth_year"):
        return timezone.localdate().year - int(basic["birth_year"])
    return GRADE_AGE.get(basic.get("grade") or "")


@dataclass(frozen=True)
class Place:
    """Where the person lives, as far as the sheet (or else the sending agency) says."""

    prefecture: str
    municipality: str

    @classmethod
    def of(cls, *, content: dict[str, dict[str, Any]], sender: Agency | None) -> Place:
        written = str(content.get("basic", {}).get("municipality") or "")
        prefecture, municipality = place_of_person(written, near=sender)
        return cls(prefecture=prefecture, municipality=municipality)

    def tier(self, agency: Agency) -> int:
        """How near the agency is: one of the TIER_* values."""
        return nearness(
            prefecture=self.prefecture,
            municipality=self.municipality,
            agency_prefecture=agency.prefecture,
            agency_municipality=agency.municipality,
        )


def suggest_recipients(
    *,
    agencies: QuerySet[Agency],
    content: dict[str, dict[str, Any]],
    sender: Agency | None = None,
    limit: int = 8,
) -> list[Suggestion]:
    """Agencies that fit what the sheet says, nearest first: the same municipality, then (for a
    Tokyo ward) the other wards, then the same prefecture, then elsewhere; inside each, the
    most shared support categories first, then those whose ages fit.

    An agency is suggested if it is in the person's municipality or shares a category, and
    never if the person's age is outside the ages it serves. `sender` places a sheet that does
    not name its municipality (and names the prefecture of one that does not say it).
    """
    categories = set(content.get("consultation", {}).get("categories") or [])
    place = Place.of(content=content, sender=sender)
    age = _age_of(content)
    ranked = []
    for agency in agencies.prefetch_related("categories"):
        if age is not None and (agency.age_min is not None or agency.age_max is not None):
            low = agency.age_min if agency.age_min is not None else 0
            high = agency.age_max if agency.age_max is not None else 200
            fits_age = low <= age <= high
            if not fits_age:
                continue
        else:
            fits_age = False
        tier = place.tier(agency)
        shared = sorted(categories & {c.code for c in agency.categories.all()})
        if not shared and tier != TIER_MUNICIPALITY:
            continue
        reasons = []
        if tier == TIER_MUNICIPALITY:
            reasons.append(_("同じ市区町村"))
        elif tier == TIER_WARDS:
            reasons.append(_("東京23区"))
        elif tier == TIER_PREFECTURE:
            reasons.append(_("同じ都道府県"))
        if shared:
            reasons.append(
                _("分野: %(c)s") % {"c": join_labels([category_label(c) for c in shared])}
            )
        if fits_age:
            reasons.append(_("対象年齢"))
        score = 2 * len(shared) + int(fits_age)
        ranked.append(Suggestion(agency=agency, score=score, reasons=reasons, tier=tier))
    ranked.sort(key=lambda s: (s.tier, -s.score, s.agency.municipality, s.agency.name, s.agency.pk))
    return ranked[:limit]
