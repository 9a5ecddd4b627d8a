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

from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agencies.models import Agency, AgencyKind
from consent.models import (
    COUNCIL_PURPOSES,
    Approval,
    ConsentRecord,
    ConsentStatus,
    Decision,
    Grantor,
)
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
    "adult-needs-own-consent": gettext_lazy("成人の本人の同意がない(保護者の同意のみ)"),
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


def _routed(record: ConsentRecord, recipient: Agency, sender: Agency | None) -> bool:
    """A routing desk's choice (Komae): the record names the sending agency as the desk that
    chooses, and the recipient is of a kind the person agreed the desk may choose among. Only
    the desk chooses: the agency that sent the sheet to the desk, or one the desk routed it
    to, gains nothing from it. (A sender sends only a sheet it owns or holds through a hop:
    the send's own rule, relay.access.)"""
    return (
        sender is not None
        and record.routes_through(sender.pk)
        and recipient.pk != sender.pk
        and recipient.kind in record.routing_kinds
    )


def _covers(record: ConsentRecord, recipient: Agency, at: datetime, sender: Agency | None) -> bool:
    """The record covers this send: it names the recipient and the sender may send under it
    (`usable_by`), or it is the sending desk's choice (`_routed`, whoever recorded it)."""
    if usable_by(record, sender) and record.covers_recipient(recipient, at):
        return True
    return _routed(record, recipient, sender)


def may_send_under(record: ConsentRecord, sender: Agency | None) -> bool:
    """The sender may send under the record for some recipient: as `usable_by`, or as the
    routing desk it names."""
    return usable_by(record, sender) or (sender is not None and record.routes_through(sender.pk))


def _refuse(reason: str, message: str, missing: Iterable[str] = ()) -> PolicyDecision:
    return PolicyDecision(False, None, reason, message, frozenset(missing))


def _section_labels(sections: Iterable[str]) -> str:
    return "、".join(str(Section(s).label) for s in sorted(sections))


def consent_records(*, sheet_id: int, lock: bool = False) -> list[ConsentRecord]:
    """Every consent record and lawful basis of the sheet, with their named recipients, in the
    order `decide` prefers them (newest first). `lock` holds them until the transaction ends."""
    query = (
        ConsentRecord.objects.filter(sheet_id=sheet_id)
        .annotate(sheet_owner_id=F("sheet__owner_agency_id"))
        .select_related("council")
        .prefetch_related("recipient_agencies", "council__members")
        .order_by("-valid_from", "-id")
    )
    if lock:
        query = query.select_for_update(of=("self",))
    return list(query)


def usable_by(record: ConsentRecord, sender: Agency | None) -> bool:
    """Whose sends a record covers. The sheet's owner records consent for the whole relay: its
    records cover a send by any agency holding the sheet (hop by hop, as the Adachi sheet is
    passed on). A record made by another agency, where the person was met later, covers only
    that agency's own sends: the person agreed to what that agency passes on. (A record naming
    a routing desk also covers that desk's choice, whoever recorded it: `_covers`.) `sender`
    None is
    not a send by an agency (a meeting's named basis): every record is considered."""
    if sender is None:
        return True
    owner_id = getattr(record, "sheet_owner_id", None)
    if owner_id is None:
        owner_id = record.sheet.owner_agency_id
    return record.agency_id in (sender.pk, owner_id)


def permits(
    *,
    sheet_id: int,
    sender: Agency | None,
    recipient: Agency,
    sections: Iterable[str],
    purpose: str,
    at: datetime,
    lock: bool = False,
    record_id: int | None = None,
    adult: bool = False,
) -> PolicyDecision:
    """Decide whether `sections` of the sheet may be shared by `sender` with `recipient` for
    `purpose`.

    With `record_id`, only that record may give permission (the sender named it); recorded
    refusals still apply whichever record is named. `adult`: the person is 18 or older now
    (see `decide`).
    """
    wanted = frozenset(sections)
    if not wanted:
        return _refuse("no-sections", _("共有する項目が選ばれていません。"))
    return decide(
        records=consent_records(sheet_id=sheet_id, lock=lock),
        sender=sender,
        recipient=recipient,
        sections=wanted,
        purpose=purpose,
        at=at,
        record_id=record_id,
        adult=adult,
    )


def guardian_only(record: ConsentRecord) -> bool:
    """A consent given by a guardian alone: not the person's, nor a legal representative's."""
    return not record.is_lawful_basis and set(record.grantors) == {Grantor.GUARDIAN.value}


def decide(
    *,
    records: list[ConsentRecord],
    sender: Agency | None,
    recipient: Agency,
    sections: Iterable[str],
    purpose: str,
    at: datetime,
    record_id: int | None = None,
    adult: bool = False,
) -> PolicyDecision:
    """The rule itself, over a sheet's records as `consent_records` loads them (no query).

    `adult`: the person is certainly 18 or older at `at` (the caller works it out from the
    sheet once, not per question). An adult consents for themselves: a consent whose only
    grantor is a guardian permits nothing for them (a recorded refusal still applies).

    A recorded refusal applies whoever recorded it and whoever sends; a permission only to the
    senders it covers (`usable_by`).
    """
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
        if r.decision == Decision.PERMIT
        and (record_id is None or r.pk == record_id)
        and may_send_under(r, sender)
    ]
    in_force = [r for r in permits_ if r.in_force_at(at)]
    guardian_for_adult = None
    for record in in_force:
        if (
            _covers(record, recipient, at, sender)
            and wanted <= frozenset(record.sections)
            and purpose in record.purposes
            and (record.council_id is None or purpose in COUNCIL_PURPOSES)
        ):
            if adult and guardian_only(record):
                guardian_for_adult = guardian_for_adult or record
                continue
            return PolicyDecision(True, record)
    if guardian_for_adult is not None:
        return _refuse(
            "adult-needs-own-consent",
            _(
                "本人は18歳以上のため、保護者の同意だけでは提供できません"
                "(同意記録 #%(id)s)。本人の同意を記録してください。"
            )
            % {"id": guardian_for_adult.pk},
        )

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
            if sender is not None and r.routes_through(sender.pk)
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
