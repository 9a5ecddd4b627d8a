"""Turning ids, codes and section content into what a person reads (labels, not codes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import models
from django.utils import formats
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from agencies.categories import CATEGORIES
from audit.models import AuditAction
from consent.vocabulary import SPECIAL_CARE_SECTIONS, Section
from relay.choices import Connection, PreferredConsultee
from relay.models import ReferralSheet

_LIST_LABELS = {
    "connections": dict(Connection.choices),
    "preferred_consultee": dict(PreferredConsultee.choices),
}


def category_choices() -> list[tuple[str, str]]:
    """The support categories in the current language (labels live in agencies.categories)."""
    english = (get_language() or "ja").startswith("en")
    return [(code, en if english else ja) for code, ja, en in CATEGORIES]


def category_label(code: str) -> str:
    return dict(category_choices()).get(code, code)


def section_label(code: str) -> str:
    try:
        return str(Section(code).label)
    except ValueError:
        return code


def section_choices() -> list[tuple[str, str]]:
    """Sections with the 要配慮 mark in the label, for checkboxes."""
    return [(value, str(label)) for value, label in Section.choices]


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    multiline: bool = False
    identifying: bool = False


@dataclass(frozen=True)
class SectionBlock:
    code: str
    label: str
    special_care: bool
    rows: list[Row]


def action_label(action: str, detail: dict[str, Any] | None = None) -> str:
    """The audit action for people, in the active language."""
    try:
        return str(AuditAction(action).label)
    except ValueError:
        return action


def person_name(user: Any) -> str:
    """A staff member's name as written on Japanese forms, family name first (佐藤 美咲); empty
    if none is registered, so that a printed form leaves a line to write it on rather than
    showing a login ID."""
    if user is None:
        return ""
    last, first = (user.last_name or "").strip(), (user.first_name or "").strip()
    return " ".join(part for part in (last, first) if part)


def join_labels(labels: list[str]) -> str:
    """Japanese lists take 、; English takes a comma."""
    return _("、").join(labels)


def _sheet_field(name: str) -> models.Field[Any, Any]:
    """The sheet's concrete field `name` (section content holds only concrete columns)."""
    field = ReferralSheet._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"ReferralSheet.{name} is not a concrete field")
    return field


def _field_value(name: str, value: Any) -> str:
    field = _sheet_field(name)
    if value in (None, "", []):
        return ""
    if name == "categories":
        return join_labels([category_label(v) for v in value])
    if name in _LIST_LABELS:
        labels = _LIST_LABELS[name]
        return join_labels([str(labels.get(v, v)) for v in value])
    choices = dict(field.choices or [])
    if choices:
        return str(choices.get(value, value))
    if name == "consulted_on" and isinstance(value, str):
        return formats.date_format(date.fromisoformat(value), "DATE_FORMAT")
    if name.startswith("absence_days"):
        return _("%(n)s日") % {"n": value}
    return str(value)


def section_blocks(content: dict[str, dict[str, Any]]) -> list[SectionBlock]:
    """The content a reader may see, as labelled rows; empty fields are left out."""
    blocks = []
    for code, fields in content.items():
        if code == Section.ATTACHMENTS:
            continue  # files, listed on their own with their download links
        rows = []
        for name, value in fields.items():
            shown = _field_value(name, value)
            if not shown:
                continue
            field = _sheet_field(name)
            rows.append(
                Row(
                    label=str(field.verbose_name),
                    value=shown,
                    multiline=field.get_internal_type() == "TextField",
                    identifying=name == "subject_full_name",
                )
            )
        blocks.append(
            SectionBlock(
                code=code,
                label=section_label(code),
                special_care=code in SPECIAL_CARE_SECTIONS,
                rows=rows,
            )
        )
    return blocks
