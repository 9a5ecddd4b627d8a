"""Reading what was sent: the provisions a receiving agency may still read, and what a
sending agency holds to send. Nothing here writes (relay.services.handoffs takes snapshots).

The owner of a sheet reads the sheet itself. Every other agency reads only provisions: for
each hop it received and may still read (its access row in relay.access), the newest version
of that hop, narrowed to the sections its access row still allows (a later recorded refusal
narrows them). A section shared by several hops is read from the newest provision holding it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agencies.models import Agency
from consent.vocabulary import Section
from relay.models import Attachment, Handoff, Provision, ReferralSheet, SheetAccess
from relay.search import search_key
from relay.sections import attachments_content, normalise_sections, sheet_content


@dataclass(frozen=True)
class Held:
    """One provision an agency may read, and the sections of it it may still read."""

    provision: Provision
    sections: frozenset[str]


def latest_provision(handoff_id: int) -> Provision | None:
    return Provision.objects.filter(handoff_id=handoff_id).order_by("-version").first()


def held_by(*, agency: Agency, sheet_id: int) -> list[Held]:
    """The newest provision of every hop of the sheet the agency received and may still read,
    newest first."""
    rows = list(
        SheetAccess.objects.filter(
            agency=agency, sheet_id=sheet_id, handoff__isnull=False
        ).values_list("handoff_id", "sections")
    )
    if not rows:
        return []
    allowed = {hop_id: frozenset(sections) for hop_id, sections in rows}
    newest: dict[int, Provision] = {}
    for provision in Provision.objects.filter(handoff_id__in=list(allowed)).order_by(
        "handoff_id", "version"
    ):
        newest[provision.handoff_id] = provision
    held = [Held(p, allowed[p.handoff_id] & frozenset(p.sections)) for p in newest.values()]
    return sorted(held, key=lambda h: (h.provision.created_at, h.provision.pk), reverse=True)


def received_content(
    *, agency: Agency, sheet_id: int, sections: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """What the agency holds of a sheet it does not own, section by section, from the newest
    provision that gave it each section."""
    wanted = set(normalise_sections(sections)) if sections is not None else None
    content: dict[str, dict[str, Any]] = {}
    for held in held_by(agency=agency, sheet_id=sheet_id):
        for section in held.sections:
            if section in content or (wanted is not None and section not in wanted):
                continue
            content[section] = held.provision.content.get(section, {})
    return {s: content[s] for s in Section.values if s in content}


def content_to_send(
    *, agency: Agency, sheet: ReferralSheet, sections: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """What the sending agency can give now: the sheet itself if it owns it, otherwise only
    what was provided to it (an agency passes on what it holds, never the owner's live sheet)."""
    chosen = normalise_sections(sections)
    if sheet.owner_agency_id == agency.pk:
        content = sheet_content(sheet, [s for s in chosen if s != Section.ATTACHMENTS])
        if Section.ATTACHMENTS in chosen:
            content[Section.ATTACHMENTS] = attachments_content(sheet)
        return {s: content[s] for s in chosen}
    held = received_content(agency=agency, sheet_id=sheet.pk, sections=chosen)
    return {s: held[s] for s in chosen if s in held}


def hop_content(
    *,
    handoff: Handoff,
    agency: Agency,
    provision: Provision | None,
    access_sections: Iterable[str] | None,
) -> dict[str, dict[str, Any]]:
    """The content of one version of a hop as this reader may see it: the sender sees what it
    sent; the receiver the sections its access row of this hop still allows (none once it
    lost access). `access_sections` is that row's sections, None without a row: relay.access.
    handoff_read fetches it with the hop."""
    if provision is None:
        return {}
    if handoff.from_agency_id == agency.pk:
        allowed = set(provision.sections)
    else:
        allowed = set(access_sections or ()) & set(provision.sections)
    return {
        s: provision.content[s] for s in Section.values if s in allowed and s in provision.content
    }


def attachment_ids(content: dict[str, dict[str, Any]]) -> list[int]:
    files = content.get(Section.ATTACHMENTS, {}).get("files", [])
    return [int(f["id"]) for f in files]


def attachments_in(content: dict[str, dict[str, Any]]) -> list[Attachment]:
    """The files a snapshot names, as rows (files are never changed once uploaded)."""
    ids = attachment_ids(content)
    return list(Attachment.objects.filter(pk__in=ids).order_by("id")) if ids else []


def basic_columns(content: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The searchable columns of a provision, from its basic section only (blank without it):
    the initials and school folded (relay.search), the school and the grade."""
    basic = content.get(Section.BASIC) or {}
    initials, school = basic.get("subject_initials") or "", basic.get("school_name") or ""
    return {
        "search_key": search_key(str(initials), str(school)),
        "school_name": str(school),
        "grade": str(basic.get("grade") or ""),
    }


def changed_sections(
    before: dict[str, dict[str, Any]] | None, after: dict[str, dict[str, Any]]
) -> list[str]:
    """Sections whose content differs between two versions (every section for the first)."""
    if before is None:
        return []
    return [s for s in Section.values if s in after and before.get(s) != after.get(s)]
