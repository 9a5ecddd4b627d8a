"""Records of provision and receipt of personal data (APPI Art. 29 and 30): the one module.

Every send of a hop (its first send and each update, one relay.Provision each, with the hash
of exactly what was sent) is a provision by its sender and a receipt by its receiver. The
supervisor's
screen, its CSV download and `manage.py export_provision_records` all read these rows, so the
subject is masked the same way everywhere: by sheet id, with the initials only where the agency
keeping the record may still read the sheet's basic section. The export itself (and its audit
event) is relay.services.exports.provision_records_export.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.models import Agency
from consent.vocabulary import Basis, Purpose, Section
from relay.models import Handoff, Provision, SheetAccess
from relay.states import Status

DIRECTIONS = ("both", "provided", "received")


@dataclass(frozen=True)
class ProvisionQuery:
    """Which records: a period; one agency's (in one or both directions) or every agency's;
    optionally one subject's sheet."""

    start: datetime
    end: datetime
    agency: Agency | None = None
    direction: str = "both"
    sheet_id: int | None = None


@dataclass(frozen=True)
class ProvisionRow:
    """One send (a version of a hop) as a record of provision (we gave) or of receipt (we
    were given)."""

    handoff_id: int
    version: int
    content_hash: str
    direction: str  # "provided" | "received"
    sent_at: datetime
    provider: str
    recipient: str
    sheet_id: int
    initials: str
    sections: list[str]
    basis: str
    consent_id: int | None
    purpose: str
    status: str
    council: str = ""  # the council a council's basis names (issue 16)

    @property
    def subject_reference(self) -> str:
        return f"{self.initials} #{self.sheet_id}" if self.initials else f"#{self.sheet_id}"


def _provisions(query: ProvisionQuery) -> list[Provision]:
    scope = Q()
    if query.agency is not None:
        if query.direction in ("both", "provided"):
            scope |= Q(handoff__from_agency=query.agency)
        if query.direction in ("both", "received"):
            scope |= Q(handoff__to_agency=query.agency)
    sends = Provision.objects.filter(scope, created_at__gte=query.start, created_at__lt=query.end)
    if query.sheet_id is not None:
        sends = sends.filter(handoff__sheet_id=query.sheet_id)
    return list(
        sends.select_related(
            "consent__council", "handoff__from_agency", "handoff__to_agency", "handoff__sheet"
        ).order_by("created_at", "id")
    )


def _directions(hop: Handoff, query: ProvisionQuery) -> list[tuple[str, int]]:
    """The records a hop makes, each with the agency that keeps it."""
    if query.agency is not None:
        if hop.from_agency_id == query.agency.pk:
            return [("provided", hop.from_agency_id)]
        return [("received", hop.to_agency_id)]
    wanted = [("provided", hop.from_agency_id), ("received", hop.to_agency_id)]
    return [(d, a) for d, a in wanted if query.direction in ("both", d)]


def _initials(send: Provision, keeper_id: int, with_basic: set[tuple[int, int]]) -> str:
    """The initials the keeping agency may read: the owner its sheet's, another agency those
    its provision holds (never the live sheet's)."""
    hop = send.handoff
    if (keeper_id, hop.sheet_id) not in with_basic:
        return ""
    if keeper_id == hop.sheet.owner_agency_id:
        return hop.sheet.subject_initials
    return str(send.content.get(Section.BASIC, {}).get("subject_initials", ""))


def provision_records(query: ProvisionQuery) -> list[ProvisionRow]:
    """Every record in the query, oldest first: one per send (every version), two per send
    when no agency is named."""
    sends = _provisions(query)
    hops = [p.handoff for p in sends]
    # (agency, sheet) pairs whose keeper may still read the basic section: one query.
    with_basic = {
        (agency_id, sheet_id)
        for agency_id, sheet_id, sections in SheetAccess.objects.filter(
            agency_id__in={h.from_agency_id for h in hops} | {h.to_agency_id for h in hops},
            sheet_id__in={h.sheet_id for h in hops},
        ).values_list("agency_id", "sheet_id", "sections")
        if Section.BASIC in sections
    }
    rows = []
    for send in sends:
        hop = send.handoff
        consent = send.consent
        for direction, keeper_id in _directions(hop, query):
            rows.append(
                ProvisionRow(
                    handoff_id=hop.pk,
                    version=send.version,
                    content_hash=send.content_hash,
                    direction=direction,
                    sent_at=send.created_at,
                    provider=hop.from_agency.name,
                    recipient=hop.to_agency.name,
                    sheet_id=hop.sheet_id,
                    initials=_initials(send, keeper_id, with_basic),
                    sections=list(send.sections),
                    basis=consent.basis if consent is not None else "",
                    consent_id=consent.pk if consent is not None else None,
                    purpose=hop.purpose,
                    status=hop.status,
                    council=consent.council.name if consent and consent.council else "",
                )
            )
    return rows


def basis_text(row: ProvisionRow) -> str:
    """The consent record or the lawful basis the hop went out under, with the record's id."""
    if not row.basis:
        return ""
    text = f"{Basis(row.basis).label} #{row.consent_id}"
    return f"{text}({row.council})" if row.council else text


def _section_labels(sections: list[str]) -> str:
    return _("、").join(str(Section(s).label) for s in sections if s in Section.values)


# --- CSV layouts: the same rows, for people (labels) or for programs (codes) ----------------


@dataclass(frozen=True)
class Layout:
    """The columns of a provision-records CSV."""

    name: str
    header: Callable[[], list[str]]
    row: Callable[[ProvisionRow], Sequence[Any]]


def _labelled_header() -> list[str]:
    return [
        _("区分"),
        _("提供日時"),
        _("提供元"),
        _("提供先"),
        _("本人の識別(イニシャル・シート番号)"),
        _("提供した項目"),
        _("根拠(同意記録・法令上の根拠)"),
        _("目的"),
        _("状態"),
        _("引き継ぎ番号"),
        _("版"),
        _("送付内容のハッシュ(SHA-256)"),
    ]


def _labelled_row(r: ProvisionRow) -> list[Any]:
    return [
        _("提供") if r.direction == "provided" else _("受領"),
        timezone.localtime(r.sent_at).strftime("%Y-%m-%d %H:%M"),
        r.provider,
        r.recipient,
        r.subject_reference,
        _section_labels(r.sections),
        basis_text(r),
        Purpose(r.purpose).label,
        Status(r.status).label,
        r.handoff_id,
        r.version,
        r.content_hash,
    ]


CODED_COLUMNS = (
    "direction",
    "handoff_id",
    "sent_at",
    "provider",
    "recipient",
    "subject_reference",
    "sections",
    "purpose",
    "basis",
    "consent_id",
    "status",
    "version",
    "content_hash",
)


def _coded_row(r: ProvisionRow) -> list[Any]:
    subject = f"シート #{r.sheet_id}"
    return [
        r.direction,
        r.handoff_id,
        r.sent_at.isoformat(),
        r.provider,
        r.recipient,
        f"{r.initials} ({subject})" if r.initials else subject,
        " ".join(r.sections),
        r.purpose,
        r.basis,
        r.consent_id or "",
        r.status,
        r.version,
        r.content_hash,
    ]


LABELLED = Layout("labelled", _labelled_header, _labelled_row)
CODED = Layout("coded", lambda: list(CODED_COLUMNS), _coded_row)
LAYOUTS = {layout.name: layout for layout in (LABELLED, CODED)}
