"""The one policy question: may these sections of this sheet go to this agency, now, for this?

Nothing else in Tsunagu decides it. The workflow calls `permits` inside the send transaction,
with `lock=True`, so a withdrawal racing a send waits for it (or the send sees the withdrawal).
A screen that asks many questions about one sheet (the send screen's coverage grid) loads the
sheet's records once with `consent_records` and asks `decide` for each cell: the same rule,
evaluated in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agencies.models import Agency, AgencyKind
from consent.models import COUNCIL_PURPOSES, Approval, ConsentRecord, ConsentStatus, Decision
from consent.vocabulary import Section

# The reason codes of a refusal, as a short phrase for people (a timeline, an audit log): the
# code itself is for machines (the API's problem documents, the audit detail).
REASON_LABELS = {
    "no-sections": gettext_lazy("共有する項目が選ばれていない"),
    "refused": gettext_lazy("本人・保護者が提供を拒否している"),
    "no-consent": gettext_lazy("同意の記録も法令上の根拠もない"),
    "withdrawn": gettext_lazy("同意が撤回されている"),
    "basis-not-approved": gettext_lazy("法令上の根拠が管理職の承認待ち"),
    "basis-rejected": gettext_lazy("法令上の根拠が却下された"),
    "expired": gettext_lazy("同意の有効期限が切れている"),
    "not-in-force": gettext_lazy("有効な同意がない"),
    "not-council-member": gettext_lazy("送付先が協議会の構成機関ではない"),
    "recipient-not-covered": gettext_lazy("送付先への提供に同意がない"),
    "kind-not-routable": gettext_lazy("窓口がつなぐことに同意された種別の機関ではない"),
    "purpose-not-covered": gettext_lazy("この目的での提供に同意がない"),
    "sections-not-covered": gettext_lazy("一部の項目の提供に同意がない"),
}


@dataclass(frozen=True)
class PolicyDecision:
    """Yes with the record that covers it, or no with a reason code and a message."""

    allowed: bool
    record: ConsentRecord | None = None
    reason: str = ""
    message: str = ""
    missing_sections: frozenset[str] = field(default_factory=frozenset)

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class Sender:
    """Who sends the hop, and how the sheet reached them. A routing desk's choice (a record
    naming the desk and kinds) covers a send only by that desk, of a sheet that came through
    it: its own sheet, or one it received by a hop."""

    agency_id: int
    owns_sheet: bool = False
    received_by_hop: bool = False

    @property
    def holds_through_desk(self) -> bool:
        return self.owns_sheet or self.received_by_hop


def _routed(record: ConsentRecord, recipient: Agency, sender: Sender | None) -> bool:
    """The desk the record names sends to an agency of a kind the record allows."""
    return (
        sender is not None
        and record.routes_through(sender.agency_id)
        and sender.holds_through_desk
        and recipient.pk != sender.agency_id
        and recipient.kind in record.routing_kinds
    )


def _covers(record: ConsentRecord, recipient: Agency, at: datetime, sender: Sender | None) -> bool:
    return record.covers_recipient(recipient, at) or _routed(record, recipient, sender)


def _refuse(reason: str, message: str, missing: Iterable[str] = ()) -> PolicyDecision:
    return PolicyDecision(False, None, reason, message, frozenset(missing))


def _section_labels(sections: Iterable[str]) -> str:
    return "、".join(str(Section(s).label) for s in sorted(sections))


def consent_records(*, sheet_id: int, lock: bool = False) -> list[ConsentRecord]:
    """Every consent record and lawful basis of the sheet, with their named recipients, in the
    order `decide` prefers them (newest first). `lock` holds them until the transaction ends."""
    query = (
        ConsentRecord.objects.filter(sheet_id=sheet_id)
        .select_related("council")
        .prefetch_related("recipient_agencies", "council__members")
        .order_by("-valid_from", "-id")
    )
    if lock:
        query = query.select_for_update(of=("self",))
    return list(query)


def permits(
    *,
    sheet_id: int,
    recipient: Agency,
    sections: Iterable[str],
    purpose: str,
    at: datetime,
    lock: bool = False,
    record_id: int | None = None,
    sender: Sender | None = None,
) -> PolicyDecision:
    """Decide whether `sections` of the sheet may be shared with `recipient` for `purpose`.

    With `record_id`, only that record may give permission (the sender named it); recorded
    refusals still apply whichever record is named. `sender` lets a routing desk's choice
    count (see Sender).
    """
    wanted = frozenset(sections)
    if not wanted:
        return _refuse("no-sections", _("共有する項目が選ばれていません。"))
    return decide(
        records=consent_records(sheet_id=sheet_id, lock=lock),
        recipient=recipient,
        sections=wanted,
        purpose=purpose,
        at=at,
        record_id=record_id,
        sender=sender,
    )


def decide(
    *,
    records: list[ConsentRecord],
    recipient: Agency,
    sections: Iterable[str],
    purpose: str,
    at: datetime,
    record_id: int | None = None,
    sender: Sender | None = None,
) -> PolicyDecision:
    """The rule itself, over a sheet's records as `consent_records` loads them (no query)."""
    wanted = frozenset(sections)
    if not wanted:
        return _refuse("no-sections", _("共有する項目が選ばれていません。"))

    # A recorded refusal (partial or whole) wins over any permission that overlaps it.
    for record in records:
        if record.decision != Decision.DENY or not record.in_force_at(at):
            continue
        refused = wanted & frozenset(record.sections)
        if refused and record.covers_recipient(recipient, at) and purpose in record.purposes:
            return _refuse(
                "refused",
                _(
                    "本人・保護者が %(agency)s への「%(sections)s」の提供を拒否しています"
                    "(同意記録 #%(id)s)。"
                )
                % {"agency": recipient.name, "sections": _section_labels(refused), "id": record.pk},
                refused,
            )

    permits_ = [
        r
        for r in records
        if r.decision == Decision.PERMIT and (record_id is None or r.pk == record_id)
    ]
    in_force = [r for r in permits_ if r.in_force_at(at)]
    for record in in_force:
        if (
            _covers(record, recipient, at, sender)
            and wanted <= frozenset(record.sections)
            and purpose in record.purposes
            and (record.council_id is None or purpose in COUNCIL_PURPOSES)
        ):
            return PolicyDecision(True, record)

    # Refused: say why, as precisely as the records allow.
    if not permits_:
        return _refuse("no-consent", _("このシートには同意の記録も法令上の根拠もありません。"))
    if not in_force:
        if any(r.status == ConsentStatus.WITHDRAWN for r in permits_):
            return _refuse("withdrawn", _("同意は撤回されています。"))
        if any(r.approval == Approval.PENDING for r in permits_):
            return _refuse(
                "basis-not-approved", _("法令上の根拠は管理職の承認待ちのため、まだ使えません。")
            )
        if any(r.approval == Approval.REJECTED for r in permits_):
            return _refuse("basis-rejected", _("法令上の根拠は管理職に却下されました。"))
        if any(r.valid_until <= at for r in permits_):
            return _refuse("expired", _("同意の有効期限が切れています。"))
        return _refuse("not-in-force", _("有効な同意がありません。"))
    for_recipient = [r for r in in_force if _covers(r, recipient, at, sender)]
    if not for_recipient:
        desk_records = [
            r
            for r in in_force
            if sender is not None
            and sender.holds_through_desk
            and r.routes_through(sender.agency_id)
        ]
        if desk_records:
            kinds = sorted({k for r in desk_records for k in r.routing_kinds})
            return _refuse(
                "kind-not-routable",
                _(
                    "%(agency)s は、窓口がつなぐことに同意された種別(%(kinds)s)の機関では"
                    "ありません。"
                )
                % {
                    "agency": recipient.name,
                    "kinds": "、".join(str(AgencyKind(k).label) for k in kinds),
                },
            )
        council_bases = [r for r in in_force if r.council_id is not None]
        if council_bases:
            council = council_bases[0].council
            return _refuse(
                "not-council-member",
                _(
                    "%(agency)s は %(council)s の構成機関ではないため、"
                    "協議会を根拠とする提供はできません。"
                )
                % {"agency": recipient.name, "council": council.name if council else ""},
            )
        return _refuse(
            "recipient-not-covered",
            _("%(agency)s への提供には同意がありません。") % {"agency": recipient.name},
        )
    for_purpose = [r for r in for_recipient if purpose in r.purposes]
    if not for_purpose:
        return _refuse("purpose-not-covered", _("この目的での提供には同意がありません。"))
    best = min(for_purpose, key=lambda r: len(wanted - frozenset(r.sections)))
    missing = wanted - frozenset(best.sections)
    return _refuse(
        "sections-not-covered",
        _("次の項目の提供には同意がありません: %(sections)s")
        % {"sections": _section_labels(missing)},
        missing,
    )
