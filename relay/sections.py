"""Which field of the sheet belongs to which named section, and reading a section's content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from consent.vocabulary import ALL_SECTIONS, SPECIAL_CARE_SECTIONS, Section
from relay.models import ReferralSheet

SECTION_FIELDS: dict[Section, tuple[str, ...]] = {
    Section.BASIC: (
        "subject_initials",
        "subject_full_name",
        "birth_year",
        "grade",
        "gender",
        "school_name",
        "municipality",
    ),
    Section.CONSULTATION: (
        "consulted_on",
        "consulter",
        "consultation",
        "categories",
        "urgency",
        "support_policy",
    ),
    Section.ATTENDANCE: (
        "absence_days_month",
        "absence_days_since_april",
        "absence_days_last_year",
        "absence_reason",
        "attendance_will",
        "school_life",
    ),
    Section.HOME: ("family_structure", "daily_rhythm", "home_situation"),
    Section.HEALTH: (
        "class_type",
        "physical_condition",
        "mental_condition",
        "developmental_traits",
    ),
    Section.SAFEGUARDING: ("abuse_suspected", "safeguarding_note"),
    Section.CONNECTIONS: ("connections", "connections_note"),
    Section.WISHES: (
        "wish_person",
        "wish_guardian",
        "child_view",
        "interests",
        "preferred_consultee",
    ),
    Section.ATTACHMENTS: (),
    # Not held by the sheet: reported back by a receiver (relay.ProgressUpdate).
    Section.PROGRESS: (),
}
FIELD_SECTION: dict[str, Section] = {
    name: section for section, names in SECTION_FIELDS.items() for name in names
}
CONTENT_FIELDS: tuple[str, ...] = tuple(FIELD_SECTION)
# Fields whose value identifies the person: flagged in forms, never in notifications or logs.
IDENTIFYING_FIELDS = frozenset({"subject_full_name"})


def is_special_care(section: str) -> bool:
    return section in SPECIAL_CARE_SECTIONS


def normalise_sections(sections: Iterable[str]) -> list[str]:
    """Known section names, deduplicated, in the canonical order."""
    wanted = set(sections)
    unknown = wanted - ALL_SECTIONS
    if unknown:
        raise ValueError(f"unknown sections: {sorted(unknown)}")
    return [s for s in Section.values if s in wanted]


def _json_value(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def section_content(sheet: ReferralSheet, section: str) -> dict[str, Any]:
    return {name: _json_value(getattr(sheet, name)) for name in SECTION_FIELDS[Section(section)]}


def sheet_content(sheet: ReferralSheet, sections: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The content of the given sections only: what a reader may see, nothing more."""
    return {s: section_content(sheet, s) for s in normalise_sections(sections)}


def full_snapshot(sheet: ReferralSheet) -> dict[str, Any]:
    return {name: _json_value(getattr(sheet, name)) for name in CONTENT_FIELDS}


def attachments_content(sheet: ReferralSheet) -> dict[str, Any]:
    """The attachments section of a snapshot: which files, by id and hash (never the bytes)."""
    return {
        "files": [
            {
                "id": a.pk,
                "title": a.title,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
            }
            for a in sheet.attachments.order_by("id")
        ]
    }


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a snapshot: the hash a provision is audited with."""
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
