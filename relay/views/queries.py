"""Reads the screens need beyond relay.selectors: consent records of a sheet, the lawful bases
waiting for a supervisor, and recipient suggestions from the directory. Read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import Agency
from consent.models import Approval, ConsentRecord, Decision
from consent.vocabulary import Basis
from relay.models import ReferralSheet
from relay.views.display import category_label, join_labels

# Approximate age by grade (the age reached during the school year), for matching agencies.
GRADE_AGE = {
    "preschool": 5,
    "e1": 6,
    "e2": 7,
    "e3": 8,
    "e4": 9,
    "e5": 10,
    "e6": 11,
    "j1": 12,
    "j2": 13,
    "j3": 14,
    "h1": 15,
    "h2": 16,
    "h3": 17,
}


def pending_lawful_bases_for(*, agency: Agency) -> QuerySet[ConsentRecord]:
    """Lawful bases recorded by the agency and waiting for its supervisor, oldest first."""
    return (
        ConsentRecord.objects.filter(agency=agency, approval=Approval.PENDING)
        .exclude(basis=Basis.CONSENT)
        .prefetch_related("recipient_agencies")
        .select_related("obtained_by")
        .order_by("created_at", "id")
    )


def consents_of_sheet(*, sheet: ReferralSheet) -> QuerySet[ConsentRecord]:
    """Every consent record and lawful basis of a sheet (for its owner), newest first."""
    return (
        ConsentRecord.objects.filter(sheet=sheet)
        .prefetch_related("recipient_agencies")
        .select_related("obtained_by", "approved_by", "withdrawn_by")
        .order_by("-created_at", "-id")
    )


def consented_sections(*, sheet_id: int) -> list[str]:
    """Sections some permit in force now covers: the send screen's default choice."""
    now = timezone.now()
    sections: set[str] = set()
    for record in ConsentRecord.objects.filter(sheet_id=sheet_id, decision=Decision.PERMIT):
        if record.in_force_at(now):
            sections.update(record.sections)
    return sorted(sections)


@dataclass(frozen=True)
class Suggestion:
    agency: Agency
    score: int
    reasons: list[str]


def _age_of(content: dict[str, dict[str, Any]]) -> int | None:
    basic = content.get("basic", {})
    if basic.get("birth_year"):
        return timezone.localdate().year - int(basic["birth_year"])
    return GRADE_AGE.get(basic.get("grade") or "")


def suggest_recipients(
    *, agencies: QuerySet[Agency], content: dict[str, dict[str, Any]], limit: int = 8
) -> list[Suggestion]:
    """Agencies ranked by what the sheet says: shared categories, municipality, age."""
    categories = set(content.get("consultation", {}).get("categories") or [])
    municipality = (content.get("basic", {}).get("municipality") or "").strip()
    age = _age_of(content)
    ranked = []
    for agency in agencies.prefetch_related("categories"):
        reasons = []
        score = 0
        shared = sorted(categories & {c.code for c in agency.categories.all()})
        if shared:
            score += 2 * len(shared)
            reasons.append(
                _("分野: %(c)s") % {"c": join_labels([category_label(c) for c in shared])}
            )
        if (
            municipality
            and agency.municipality
            and (agency.municipality in municipality or municipality in agency.municipality)
        ):
            score += 5  # local agencies first: a referral is a place the person can go
            reasons.append(_("同じ市区町村"))
        if age is not None and (agency.age_min is not None or agency.age_max is not None):
            low = agency.age_min if agency.age_min is not None else 0
            high = agency.age_max if agency.age_max is not None else 200
            if low <= age <= high:
                score += 1
                reasons.append(_("対象年齢"))
            else:
                score -= 3
        if score > 0:
            ranked.append(Suggestion(agency=agency, score=score, reasons=reasons))
    ranked.sort(key=lambda s: (-s.score, s.agency.municipality, s.agency.name))
    return ranked[:limit]
