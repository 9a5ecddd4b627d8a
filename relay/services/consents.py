"""Recording consent or a lawful basis, approving a basis, and withdrawing consent.

Consent is recorded where the person is: by the sheet's owner, or by an agency that holds the
sheet through a hop it took up (`relay.access.sheet_held_by`), for the sections it holds only.
The record names its agency; only that agency prints, withdraws or voids it, and a lawful basis
it records waits for that agency's supervisor. Whose sends a record covers is the policy's
question (`consent.policy.usable_by`).

Withdrawal reaches into the relay: hops not yet sent can no longer be sent (the policy sees the
withdrawal), hops already sent under the record are stopped, their receivers lose access and
are told.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.actors import CONSENT_RECORDERS, READERS, SENDERS, Staff
from agencies.errors import IllegalTransition, InvalidInput, NotAllowed
from agencies.models import Agency, AgencyKind, Role
from audit.context import Actor
from audit.models import AuditAction
from audit.services import audit_record
from consent.councils import council_basis_check
from consent.models import (
    Approval,
    ChildAssent,
    ConsentRecord,
    ConsentStatus,
    Council,
    Decision,
    Grantor,
    Method,
)
from consent.routing import routing_scope_clean
from consent.vocabulary import Basis, Purpose
from notifications.notify import handoff_payload, notify_agency
from relay import access, eligibility, escalation
from relay.audit_events import handoff_event
from relay.models import Handoff, Provision
from relay.sections import normalise_sections
from relay.services.sheets import MAX_ATTACHMENT_BYTES, upload_content_matches
from relay.services.transactions import lock_sheet, workflow_transaction
from relay.states import OPEN_FOR_RECEIVER, Status


def _consent_event(action: AuditAction, record: ConsentRecord, staff: Staff, **detail: Any) -> None:
    audit_record(
        action=action,
        actor=staff.audit_actor(),
        object_type="consent",
        object_id=record.pk,
        sheet_id=record.sheet_id,
        sections=record.sections,
        lawful_basis=record.basis,
        detail={
            "decision": record.decision,
            "purposes": record.purposes,
            "recipient_kinds": record.recipient_kinds,
            "recipient_agency_ids": sorted(a.pk for a in record.recipient_agencies.all()),
            **(
                {"routing_desk_id": record.routing_desk_id, "routing_kinds": record.routing_kinds}
                if record.routing_desk_id
                else {}
            ),
            "valid_until": record.valid_until.isoformat(),
            **({"council_id": record.council_id} if record.council_id else {}),
            **detail,
        },
    )


CONSENTS_WRITE = "consents:write"  # the API scope of recording and withdrawing consent
MAX_VALIDITY = timedelta(days=3653)  # ten years


def _held_scope(held: access.ReadableSheet, sections: list[str]) -> None:
    """An agency records consent only for the sections it holds (the owner holds them all)."""
    not_held = sorted(set(sections) - held.sections)
    if not_held:
        raise InvalidInput(
            str(_("この機関が保有していない項目は選べません。")),
            field="sections",
            not_held=not_held,
        )


def _validated_scope(
    *,
    recipients: Iterable[Agency],
    recipient_kinds: Iterable[str],
    sections: Iterable[str],
    purposes: Iterable[str],
    valid_from: datetime,
    valid_until: datetime,
    routed: bool = False,
) -> tuple[list[Agency], list[str], list[str], list[str]]:
    agencies = list(recipients)
    kinds = sorted(set(recipient_kinds))
    if not set(kinds) <= set(AgencyKind.values):
        raise InvalidInput(field="recipient_kinds")
    if not agencies and not kinds and not routed:
        raise InvalidInput("提供先を1つ以上選んでください。", field="recipients")
    try:
        section_list = normalise_sections(sections)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="sections") from exc
    if not section_list:
        raise InvalidInput("共有する項目を1つ以上選んでください。", field="sections")
    purpose_list = sorted(set(purposes))
    if not purpose_list or not set(purpose_list) <= set(Purpose.values):
        raise InvalidInput("目的を選んでください。", field="purposes")
    if timezone.is_naive(valid_until) or timezone.is_naive(valid_from):
        raise InvalidInput(field="valid_until")
    if valid_until <= valid_from:
        raise InvalidInput("有効期限は開始日より後にしてください。", field="valid_until")
    if valid_until > valid_from + MAX_VALIDITY:
        # A consent is reviewed at least this often; and a date in year 9999 would overflow
        # the reminders computed from it.
        raise InvalidInput("有効期限は10年以内にしてください。", field="valid_until")
    return agencies, kinds, section_list, purpose_list


@workflow_transaction
def consent_record(
    *,
    staff: Staff,
    sheet_id: int,
    grantors: Iterable[str],
    method: str,
    recipients: Iterable[Agency] = (),
    recipient_kinds: Iterable[str] = (),
    sections: Iterable[str],
    purposes: Iterable[str],
    valid_until: datetime,
    valid_from: datetime | None = None,
    obtained_at: datetime | None = None,
    decision: str = Decision.PERMIT,
    child_assent: str = "",
    explanation_version: str = "",
    scanned_form: UploadedFile | None = None,
    obtained_by_label: str = "",
    routing_desk: Agency | None = None,
    routing_kinds: Iterable[str] = (),
) -> ConsentRecord:
    """Record the person's or guardian's consent (or refusal) to share sections with recipients
    (and, with `routing_desk`, with the desk and the agency it chooses among `routing_kinds`),
    on a sheet the agency owns or holds (then only for the sections it holds). A partner
    system names the staff member who obtained it (`obtained_by_label`)."""
    staff.require_role(*CONSENT_RECORDERS, api_scope=CONSENTS_WRITE)
    held = access.sheet_held_by(staff=staff, sheet_id=sheet_id, for_update=True)
    sheet = held.sheet
    label = obtained_by_label.strip()
    if staff.is_api and not label:
        raise InvalidInput("同意を取得した職員を記入してください。", field="obtained_by")
    try:
        ConsentRecord._meta.get_field("obtained_by_label").clean(label, None)
    except ValidationError as exc:
        raise InvalidInput(field="obtained_by") from exc
    now = timezone.now()
    valid_from = valid_from or now
    desk, desk_kinds = routing_scope_clean(
        desk=routing_desk, kinds=routing_kinds, decision=decision
    )
    agencies, kinds, section_list, purpose_list = _validated_scope(
        recipients=recipients,
        recipient_kinds=recipient_kinds,
        sections=sections,
        purposes=purposes,
        valid_from=valid_from,
        valid_until=valid_until,
        routed=desk is not None,
    )
    _held_scope(held, section_list)
    grantor_list = sorted(set(grantors))
    if not grantor_list or not set(grantor_list) <= set(Grantor.values):
        raise InvalidInput("同意した人を選んでください。", field="grantors")
    if method not in Method.values:
        raise InvalidInput("同意の方法を選んでください。", field="method")
    if child_assent and child_assent not in ChildAssent.values:
        raise InvalidInput(field="child_assent")
    if decision not in Decision.values:
        raise InvalidInput(field="decision")
    if (
        decision == Decision.PERMIT
        and grantor_list == [Grantor.GUARDIAN.value]
        and eligibility.is_adult(sheet, obtained_at or now)
    ):
        # consent.policy.decide would never let it permit a send (guardian_only).
        raise InvalidInput(
            "本人は18歳以上です。保護者だけの同意は記録できません。"
            "本人の同意(同意した人: 本人)を記録してください。",
            field="grantors",
            reason="adult-needs-own-consent",
        )
    record = ConsentRecord(
        sheet=sheet,
        agency=staff.agency,
        basis=Basis.CONSENT,
        decision=decision,
        grantors=grantor_list,
        child_assent=child_assent,
        method=method,
        explanation_version=explanation_version,
        recipient_kinds=kinds,
        routing_desk=desk,
        routing_kinds=desk_kinds,
        sections=section_list,
        purposes=purpose_list,
        valid_from=valid_from,
        valid_until=valid_until,
        obtained_by=staff.user,
        obtained_by_label=label or staff.label[:150],
        obtained_at=obtained_at or now,
    )
    upload_detail = _checked_scanned_form(scanned_form) if scanned_form is not None else None
    if scanned_form is not None:
        record.scanned_form.save("form", scanned_form, save=False)
    record.save()
    record.recipient_agencies.set(agencies)
    _consent_event(AuditAction.CONSENT_RECORDED, record, staff)
    if record.decision == Decision.DENY and record.in_force_at(now):
        _apply_refusal(record, staff)
    escalation.consent_clock_start(record)
    if upload_detail is not None:
        audit_record(
            action=AuditAction.CONSENT_FORM_UPLOADED,
            actor=staff.audit_actor(),
            object_type="consent",
            object_id=record.pk,
            sheet_id=record.sheet_id,
            detail=upload_detail,
        )
    return record


def _apply_refusal(record: ConsentRecord, staff: Staff) -> None:
    """A refusal recorded after a send: the covered receivers lose the refused sections of
    what they were given (every version), keep the rest. Lock order: the sheet is held; the
    hops next, by id."""
    actor = staff.audit_actor()
    hops = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("to_agency", "from_agency", "sheet")
        .filter(sheet_id=record.sheet_id, purpose__in=record.purposes, access__isnull=False)
        .order_by("id")
    )
    for hop in hops:
        if record.covers_recipient(hop.to_agency):
            access.narrow_receiver(
                handoff=hop, sections=record.sections, actor=actor, consent_id=record.pk
            )


SCANNED_FORM_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})


def _checked_scanned_form(upload: UploadedFile) -> dict[str, Any]:
    """A scanned consent form is checked by its content, like an attachment: PDF, PNG or
    JPEG whose first bytes agree, at most MAX_ATTACHMENT_BYTES. What is audited: type, size
    and SHA-256 (never the file's name, which may carry the person's name)."""
    if upload.size is None or upload.size > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(
            str(_("ファイルが大きすぎます(10MBまで)。")),
            field="scanned_form",
            limit=MAX_ATTACHMENT_BYTES,
        )
    if upload.content_type not in SCANNED_FORM_TYPES or not upload_content_matches(upload):
        raise InvalidInput(
            str(_("PDF・PNG・JPEGのファイルを選んでください(中身が形式と一致しません)。")),
            field="scanned_form",
        )
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return {"content_type": upload.content_type, "size": upload.size, "sha256": digest.hexdigest()}


@transaction.atomic
def lawful_basis_record(
    *,
    staff: Staff,
    sheet_id: int,
    basis: str,
    reason: str,
    recipients: Iterable[Agency] = (),
    recipient_kinds: Iterable[str] = (),
    sections: Iterable[str],
    purposes: Iterable[str],
    valid_until: datetime,
    council: Council | None = None,
) -> ConsentRecord:
    """Record a lawful basis that stands in for consent; it waits for a supervisor's approval
    (of the recording agency). A council's basis names the council, and covers only its
    members (consent.councils). A holder records one only for the sections it holds."""
    staff.require_role(*SENDERS)
    if basis == Basis.CONSENT or basis not in Basis.values:
        raise InvalidInput(field="basis")
    if not reason.strip():
        raise InvalidInput("理由を具体的に記入してください。", field="reason")
    held = access.sheet_held_by(staff=staff, sheet_id=sheet_id, for_update=True)
    sheet = held.sheet
    now = timezone.now()
    agencies, kinds, section_list, purpose_list = _validated_scope(
        recipients=recipients,
        recipient_kinds=recipient_kinds,
        sections=sections,
        purposes=purposes,
        valid_from=now,
        valid_until=valid_until,
    )
    _held_scope(held, section_list)
    council_basis_check(
        basis=basis,
        council=council,
        recorder=staff.agency,
        recipients=agencies,
        purposes=purpose_list,
        at=now,
    )
    record = ConsentRecord.objects.create(
        sheet=sheet,
        agency=staff.agency,
        basis=basis,
        decision=Decision.PERMIT,
        reason=reason.strip(),
        recipient_kinds=kinds,
        sections=section_list,
        purposes=purpose_list,
        valid_from=now,
        valid_until=valid_until,
        obtained_by=staff.person,
        obtained_by_label=staff.label[:150],
        obtained_at=now,
        approval=Approval.PENDING,
        council=council,
    )
    record.recipient_agencies.set(agencies)
    _consent_event(AuditAction.LAWFUL_BASIS_RECORDED, record, staff)
    return record


@transaction.atomic
def lawful_basis_decide(
    *, staff: Staff, record_id: int, approve: bool, note: str = ""
) -> ConsentRecord:
    """A supervisor of the recording agency approves or rejects a lawful basis."""
    staff.require_role(Role.SUPERVISOR)
    record = access.consent_record_for(staff=staff, record_id=record_id, for_update=True)
    if record.approval != Approval.PENDING:
        raise IllegalTransition()
    if record.obtained_by_id == staff.user_id:
        # Sharing without consent needs a second person: the recorder cannot approve it.
        raise NotAllowed(
            _("自分で記録した法令上の根拠は承認できません。別の管理職の承認が必要です。")
        )
    if not approve and not note.strip():
        raise InvalidInput("却下の理由を記入してください。", field="note")
    record.approval = Approval.APPROVED if approve else Approval.REJECTED
    record.approved_by = staff.user
    record.approved_at = timezone.now()
    record.approval_note = note.strip()
    record.save(update_fields=["approval", "approved_by", "approved_at", "approval_note"])
    _consent_event(
        AuditAction.LAWFUL_BASIS_APPROVED if approve else AuditAction.LAWFUL_BASIS_REJECTED,
        record,
        staff,
    )
    if approve:
        escalation.consent_clock_start(record)
    return record


def _stop_hops_under(record: ConsentRecord, staff: Staff, *, status: Status) -> list[Handoff]:
    """Stop the hops sent under a record; their receivers lose access and are notified."""
    actor = staff.audit_actor()
    now = timezone.now()
    stopped: list[Handoff] = []
    # Every hop that gave anything under the record: its current basis, or any version of
    # what it sent (an update may have gone out under a newer record).
    under = set(Provision.objects.filter(consent=record).values_list("handoff_id", flat=True))
    under |= set(Handoff.objects.filter(consent=record).values_list("pk", flat=True))
    hops = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("to_agency", "from_agency", "consent")
        .filter(pk__in=sorted(under))
        .order_by("id")
    )
    for hop in hops:
        if hop.status in OPEN_FOR_RECEIVER:
            hop.status = status
            hop.withdrawn_at = now
            hop.next_escalation_at = None
            hop.version += 1
            hop.save(
                update_fields=[
                    "status",
                    "withdrawn_at",
                    "next_escalation_at",
                    "version",
                    "updated_at",
                ]
            )
            escalation.clocks_follow(hop, at=now)
            handoff_event(AuditAction.HANDOFF_WITHDRAWN, handoff=hop, actor=actor)
        if access.revoke_receiver(handoff=hop, actor=actor):
            notify_agency(
                "handoff.withdrawn",
                agency=hop.to_agency,
                handoff=hop,
                payload=handoff_payload("handoff.withdrawn", hop),
                actor=actor,
            )
            stopped.append(hop)
    return stopped


@workflow_transaction
def consent_withdraw(
    *, staff: Staff, record_id: int, via: str, reason: str = "", at: datetime | None = None
) -> list[Handoff]:
    """The person or guardian withdraws consent: record it and stop every hop it carried.

    Only the recording agency withdraws its record (the owner cannot withdraw a holder's, nor
    a holder the owner's), and it acts only on the hops sent under that record: the hops
    another agency sent under its own consent go on."""
    staff.require_role(*CONSENT_RECORDERS, api_scope=CONSENTS_WRITE)
    record = access.consent_record_for(staff=staff, record_id=record_id)
    # The lock order of relay.services.transactions: sheet, consent record, then hops.
    lock_sheet(record.sheet_id)
    record = ConsentRecord.objects.select_for_update().get(pk=record_id)
    if record.status != ConsentStatus.ACTIVE or record.basis != Basis.CONSENT:
        raise IllegalTransition()
    if not via.strip():
        raise InvalidInput("撤回の申し出をした人を記入してください。", field="via")
    record.status = ConsentStatus.WITHDRAWN
    record.withdrawn_at = at or timezone.now()
    record.withdrawn_by = staff.user
    record.withdrawn_via = via.strip()[:100]
    record.withdrawal_reason = reason.strip()
    record.save(
        update_fields=[
            "status",
            "withdrawn_at",
            "withdrawn_by",
            "withdrawn_via",
            "withdrawal_reason",
        ]
    )
    _consent_event(AuditAction.CONSENT_WITHDRAWN, record, staff)
    escalation.consent_clock_stop(record, reason="withdrawn")
    return _stop_hops_under(record, staff, status=Status.WITHDRAWN)


@workflow_transaction
def consent_mark_entered_in_error(*, staff: Staff, record_id: int, reason: str) -> ConsentRecord:
    """A supervisor voids a record entered by mistake; hops sent under it are stopped too."""
    staff.require_role(Role.SUPERVISOR)
    record = access.consent_record_for(staff=staff, record_id=record_id)
    lock_sheet(record.sheet_id)
    record = ConsentRecord.objects.select_for_update().get(pk=record_id)
    if record.status == ConsentStatus.ENTERED_IN_ERROR:
        raise IllegalTransition()
    if not reason.strip():
        raise InvalidInput(field="reason")
    record.status = ConsentStatus.ENTERED_IN_ERROR
    record.withdrawal_reason = reason.strip()
    record.save(update_fields=["status", "withdrawal_reason"])
    _consent_event(AuditAction.CONSENT_ENTERED_IN_ERROR, record, staff)
    escalation.consent_clock_stop(record, reason="entered_in_error")
    _stop_hops_under(record, staff, status=Status.WITHDRAWN)
    return record


def consents_expire_due(*, now: datetime | None = None) -> int:
    """Mark active records past their validity as expired (the policy already ignores them by
    date; this makes the state visible). Hops already sent keep their access to what they were
    given (their provisions): expiry stops new sharing and updates, withdrawal takes back what
    was shared."""
    now = now or timezone.now()
    system = Actor.system("consent_expiry")
    count = 0
    with transaction.atomic():
        for record in (
            ConsentRecord.objects.select_for_update(skip_locked=True, of=("self",))
            .prefetch_related("recipient_agencies")
            .filter(status=ConsentStatus.ACTIVE, valid_until__lte=now)
            .order_by("id")[:1000]
        ):
            record.status = ConsentStatus.EXPIRED
            record.save(update_fields=["status"])
            audit_record(
                action=AuditAction.CONSENT_EXPIRED,
                actor=system,
                object_type="consent",
                object_id=record.pk,
                sheet_id=record.sheet_id,
                sections=record.sections,
                lawful_basis=record.basis,
                detail={"valid_until": record.valid_until.isoformat()},
            )
            escalation.consent_clock_stop(record, reason="expired")
            count += 1
    return count


@transaction.atomic
def consent_view(*, staff: Staff, consent_id: int) -> ConsentRecord:
    """Read a consent record (FHIR Consent export): only the agency that recorded it; audited.

    A receiver never reads the record itself: it names the other recipients and who consented.
    Another agency's record, or one that does not exist, is the same NotFound.
    """
    staff.require_role(*READERS, api_scope="sheets:read")
    record = access.consent_record_for(staff=staff, record_id=consent_id)
    _consent_event(AuditAction.SHEET_VIEWED, record, staff, via="consent")
    return record
