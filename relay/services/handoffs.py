"""Handoffs: draft, submit, approve, send (under the consent gate), and the receiver's answers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.actors import READERS, SENDERS, Staff
from agencies.errors import (
    ConsentDoesNotCover,
    ConsentWithdrawn,
    DuplicateHandoff,
    EligibilityMismatch,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from agencies.models import Agency, Role, Service
from audit.models import AuditAction
from audit.services import audit_record
from consent.models import ConsentRecord
from consent.policy import PolicyDecision, consent_records, permits
from consent.vocabulary import SPECIAL_CARE_SECTIONS, Purpose
from notifications.notify import handoff_payload, notify_agency
from relay import access, eligibility, escalation, snapshots
from relay.audit_events import handoff_event
from relay.choices import Urgency
from relay.models import Handoff, HandoffNote, NoteKind, Provision, ReferralSheet
from relay.models.provisions import SENDER_ONLY_NOTES
from relay.sections import content_hash, normalise_sections
from relay.services.transactions import lock_sheet, workflow_transaction
from relay.states import (
    ACTIONS,
    NOT_YET_SENT,
    OPEN_FOR_RECEIVER,
    RECEIVER_CAN_READ,
    CancelReason,
    DeclineReason,
    Outcome,
    Status,
    can_transition,
)


def _require(staff: Staff, action: str) -> None:
    """The roles (or API scope) the transition table names for `action`."""
    who = ACTIONS[action]
    staff.require_role(*who.roles, api_scope=who.api_scope)


def _take(staff: Staff, handoff_id: int, action: str) -> Handoff:
    """Lock the sheet, then the hop, for `action` (the lock order of
    relay.services.transactions), acting from the side the transition table names."""
    peek = Handoff.objects.filter(pk=handoff_id).values_list("sheet_id", flat=True).first()
    if peek is None:
        raise NotFound()
    lock_sheet(peek)
    return access.handoff_for(
        staff=staff, handoff_id=handoff_id, for_update=True, side=ACTIONS[action].side
    )


def _note(
    handoff: Handoff, staff: Staff, *, kind: NoteKind, transition: str, text: str
) -> HandoffNote | None:
    """Append the note of a transition as its own row (never overwriting an earlier one)."""
    text = text.strip()
    if not text:
        return None
    return HandoffNote.objects.create(
        handoff=handoff,
        kind=kind,
        text=text,
        transition=transition,
        author=staff.user,
        author_label=staff.audit_actor().label[:150],
        agency=staff.agency,
        created_at=timezone.now(),
    )


def _note_detail(note: HandoffNote | None) -> dict[str, Any]:
    """The audit event names the note by id (its text stays out of the trail)."""
    return {"note_id": note.pk} if note is not None else {}


def _move(
    handoff: Handoff,
    target: Status,
    *,
    staff: Staff,
    action: AuditAction,
    fields: dict[str, Any] | None = None,
    **detail: Any,
) -> Handoff:
    """Apply one transition from the table, save what changed, and audit it."""
    if not can_transition(handoff.status, target):
        raise IllegalTransition(current=handoff.status, target=str(target))
    changes = dict(fields or {})
    for name, value in changes.items():
        setattr(handoff, name, value)
    handoff.status = target
    handoff.version += 1
    handoff.save(update_fields=[*changes, "status", "version", "updated_at"])
    escalation.clocks_follow(handoff)  # due-work clocks of the state entered (duework/)
    handoff_event(action, handoff=handoff, actor=staff.audit_actor(), **detail)
    return handoff


def _tell(event: str, handoff: Handoff, *, agency: Agency, staff: Staff, **extra: Any) -> None:
    """Queue the notification of a transition (ids and links only) to one side of the hop."""
    notify_agency(
        event,
        agency=agency,
        handoff=handoff,
        payload=handoff_payload(event, handoff, **extra),
        actor=staff.audit_actor(),
    )


def _open_hop_to(sheet: ReferralSheet, to_agency: Agency, sender: Agency) -> Handoff | None:
    """The open hop of the sheet the agency already has (sent, acknowledged or accepted, by
    any sender), or one this sender is still preparing for it (draft, awaiting approval).
    The caller holds the sheet's lock, so two sends cannot both miss each other."""
    return (
        Handoff.objects.filter(sheet=sheet, to_agency=to_agency)
        .filter(
            Q(status__in=list(OPEN_FOR_RECEIVER))
            | Q(status__in=list(NOT_YET_SENT), from_agency=sender)
        )
        .order_by("id")
        .first()
    )


def _create(
    *,
    staff: Staff,
    sheet_id: int,
    to_agency: Agency,
    sections: Iterable[str],
    purpose: str,
    message: str,
    parent_id: int | None,
    consent_id: int | None,
    deliberate: bool,
    service: Service | None = None,
    eligibility_override_reason: str = "",
) -> Handoff:
    """Draft a hop, inside the caller's transaction, with the sheet locked (step 1)."""
    staff.require_role(*SENDERS, api_scope="handoffs:write")
    readable_sheet = access.sheet_for(staff=staff, sheet_id=sheet_id, for_update=True)
    sheet = readable_sheet.sheet
    try:
        section_list = normalise_sections(sections)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="sections") from exc
    if not section_list:
        raise InvalidInput("共有する項目を1つ以上選んでください。", field="sections")
    # An agency can pass on only what it can itself see.
    readable = readable_sheet.sections
    if not set(section_list) <= readable:
        raise InvalidInput(field="sections", not_readable=sorted(set(section_list) - readable))
    if purpose not in Purpose.values:
        raise InvalidInput(field="purpose")
    requested = None
    if consent_id is not None:
        requested = ConsentRecord.objects.filter(pk=consent_id, sheet=sheet).first()
        if requested is None:
            raise InvalidInput(field="consent")
    if to_agency.pk == staff.agency.pk:
        raise InvalidInput("自分の機関には送付できません。", field="to_agency")
    if not to_agency.accepts_referrals:
        raise InvalidInput("この機関は引き継ぎを受け付けていません。", field="to_agency")
    if service is not None and (service.agency_id != to_agency.pk or not service.active):
        # Another agency's program (or one that takes nobody now) is not a target; the
        # wording does not say which, so an id probe learns nothing.
        raise InvalidInput(
            "送付先の機関の、受付中の支援メニューを選んでください。", field="service"
        )
    overridden = _eligibility_overridden(
        staff=staff,
        sheet=sheet,
        readable=readable,
        to_agency=to_agency,
        service=service,
        reason=eligibility_override_reason,
    )
    existing = _open_hop_to(sheet, to_agency, staff.agency)
    if existing is not None and not deliberate:
        # The existing hop's id only to an agency that takes part in it.
        visible = staff.agency.pk in (existing.from_agency_id, existing.to_agency_id)
        raise DuplicateHandoff(None, **({"handoff_id": existing.pk} if visible else {}))
    parent = None
    if parent_id is not None:
        parent = Handoff.objects.filter(pk=parent_id, sheet=sheet, to_agency=staff.agency).first()
        if parent is None:
            raise InvalidInput(field="parent")
    elif sheet.owner_agency_id != staff.agency.pk:
        # Relaying onward: link to the hop through which the sheet arrived.
        parent = (
            Handoff.objects.filter(
                sheet=sheet, to_agency=staff.agency, status__in=RECEIVER_CAN_READ
            )
            .order_by("-sent_at")
            .first()
        )
    handoff = Handoff.objects.create(
        sheet=sheet,
        from_agency=staff.agency,
        to_agency=to_agency,
        parent=parent,
        sections=section_list,
        purpose=purpose,
        message=message.strip(),
        urgent=sheet.urgency == Urgency.URGENT,
        created_by=staff.user,
        requested_consent=requested,
        deliberate_duplicate=existing is not None,
        service=service,
        eligibility_overridden=overridden,
    )
    access.grant_sender(handoff=handoff)
    note = _note(handoff, staff, kind=NoteKind.MESSAGE, transition="create", text=handoff.message)
    detail: dict[str, Any] = {**_note_detail(note)}
    if service is not None:
        detail["service_id"] = service.pk
    if overridden:
        # Sent although the person falls outside whom the receiver serves: which rules, and
        # the note that says why (its text stays out of the trail, like every note).
        reason_note = _note(
            handoff,
            staff,
            kind=NoteKind.ELIGIBILITY,
            transition="create",
            text=eligibility_override_reason,
        )
        detail["eligibility_overridden"] = overridden
        detail["eligibility_note_id"] = reason_note.pk if reason_note else None
    if parent:
        detail["parent_id"] = parent.pk
    if existing is not None:
        # Sent again on purpose while another hop to the same agency is open: on record.
        detail.update(deliberate=True, open_handoff_id=existing.pk)
    handoff_event(AuditAction.HANDOFF_CREATED, handoff=handoff, actor=staff.audit_actor(), **detail)
    return handoff


def _eligibility_overridden(
    *,
    staff: Staff,
    sheet: ReferralSheet,
    readable: set[str],
    to_agency: Agency,
    service: Service | None,
    reason: str,
) -> list[dict[str, str]]:
    """The eligibility rules the person falls outside of, which the sender overrides with
    `reason`; without a reason a mismatch refuses the send (EligibilityMismatch)."""
    found = eligibility.check(
        sheet=sheet,
        records=consent_records(sheet_id=sheet.pk),
        agency=to_agency,
        service=service,
        at=timezone.now(),
        readable=readable,
    )
    if not found:
        return []
    if not reason.strip():
        raise EligibilityMismatch(mismatches=[m.as_dict() for m in found])
    return [{"field": m.field, "code": m.code} for m in found]


@workflow_transaction
def handoff_create(
    *,
    staff: Staff,
    sheet_id: int,
    to_agency: Agency,
    sections: Iterable[str],
    purpose: str,
    message: str = "",
    parent_id: int | None = None,
    consent_id: int | None = None,
    deliberate: bool = False,
    service: Service | None = None,
    eligibility_override_reason: str = "",
) -> Handoff:
    """Draft a hop from the staff member's agency. A receiver relays onward the same way.

    A second open hop of the sheet to the same agency is refused (DuplicateHandoff, with the
    open hop's id for its parties) unless `deliberate`, which the audit event records.
    `service`: a program of `to_agency` the hop asks for. A person outside whom the program
    (or, without one, the agency) serves is refused (EligibilityMismatch) unless
    `eligibility_override_reason` says why; the reason is a note, and the audit event names
    the rules overridden."""
    return _create(
        staff=staff,
        sheet_id=sheet_id,
        to_agency=to_agency,
        sections=sections,
        purpose=purpose,
        message=message,
        parent_id=parent_id,
        consent_id=consent_id,
        deliberate=deliberate,
        service=service,
        eligibility_override_reason=eligibility_override_reason,
    )


def _snapshot(handoff: Handoff, staff: Staff, decision: PolicyDecision, at: Any) -> Provision:
    """Copy exactly the shared sections, as the sender holds them now, into the hop's next
    provision version (inside the send transaction, under the sheet's and hop's locks)."""
    previous = snapshots.latest_provision(handoff.pk)
    content = snapshots.content_to_send(
        agency=handoff.from_agency, sheet=handoff.sheet, sections=handoff.sections
    )
    return Provision.objects.create(
        handoff=handoff,
        version=previous.version + 1 if previous is not None else 1,
        sections=list(content),
        content=content,
        content_hash=content_hash(content),
        consent=decision.record,
        consent_agency_id=decision.record.agency_id if decision.record is not None else None,
        created_by=staff.user,
        created_at=at,
        changed_sections=snapshots.changed_sections(
            previous.content if previous is not None else None, content
        ),
        **snapshots.basic_columns(content),
    )


def _provision_detail(provision: Provision) -> dict[str, Any]:
    return {
        "provision_id": provision.pk,
        "provision_version": provision.version,
        "content_hash": provision.content_hash,
    }


def _gate(handoff: Handoff, *, lock: bool) -> PolicyDecision:
    """The consent policy, asked about this hop now (step 2 of the lock order with `lock`)."""
    now = timezone.now()
    return permits(
        sheet_id=handoff.sheet_id,
        sender=handoff.from_agency,
        recipient=handoff.to_agency,
        sections=handoff.sections,
        purpose=handoff.purpose,
        at=now,
        record_id=handoff.requested_consent_id,
        lock=lock,
        adult=eligibility.is_adult(handoff.sheet, now),
    )


def _refusal_event(handoff: Handoff, staff: Staff, decision: PolicyDecision, **extra: Any) -> None:
    handoff_event(
        AuditAction.HANDOFF_SEND_REFUSED,
        handoff=handoff,
        actor=staff.audit_actor(),
        reason=decision.reason,
        missing_sections=sorted(decision.missing_sections),
        **extra,
    )


def _send_locked(handoff: Handoff, staff: Staff, *, approved: bool) -> PolicyDecision:
    """Inside the transaction, with the sheet and hop locked: ask the policy, snapshot, send.
    A refusal changes nothing here (the caller records it)."""
    now = timezone.now()
    decision = _gate(handoff, lock=True)
    if not decision:
        return decision
    handoff.consent = decision.record
    fields: dict[str, Any] = {"consent": decision.record, "sent_at": now, "sent_by": staff.user}
    if approved:
        fields.update(approved_at=now, approved_by=staff.user)
        # The supervisor's sign-off (the seeds' 管理職署名) is an event of its own.
        handoff_event(AuditAction.HANDOFF_APPROVED, handoff=handoff, actor=staff.audit_actor())
    fields.update(escalation.start_clock(handoff=handoff, sent_at=now))
    provision = _snapshot(handoff, staff, decision, now)
    _move(
        handoff,
        Status.SENT,
        staff=staff,
        action=AuditAction.HANDOFF_SENT,
        fields=fields,
        **_provision_detail(provision),
    )
    if handoff.sheet.first_sent_at is None:
        handoff.sheet.first_sent_at = now
        handoff.sheet.save(update_fields=["first_sent_at"])
    access.grant_receiver(handoff=handoff, actor=staff.audit_actor())
    _tell("handoff.sent", handoff, agency=handoff.to_agency, staff=staff)
    return decision


# Refusal texts for an agency that does not own the sheet: they say why in general words and
# never name a consent record or an agency the consent speaks of.
_GENERIC_REFUSALS = {
    "refused": _("本人・保護者が、この提供先へのこれらの項目の提供を拒否しています。"),
    "recipient-not-covered": _("この提供先への提供には同意がありません。"),
    "adult-needs-own-consent": _(
        "本人は18歳以上のため、保護者の同意だけでは提供できません。本人の同意が必要です。"
    ),
    "kind-not-routable": _("この提供先は、窓口がつなぐことに同意された種別の機関ではありません。"),
}


def _refused(
    decision: PolicyDecision, handoff_id: int | None, *, staff: Staff, sheet: ReferralSheet
) -> ConsentDoesNotCover:
    error_class = ConsentWithdrawn if decision.reason == "withdrawn" else ConsentDoesNotCover
    message = decision.message
    if sheet.owner_agency_id != staff.agency.pk:
        message = str(_GENERIC_REFUSALS.get(decision.reason, decision.message))
    context: dict[str, Any] = {
        "reason": decision.reason,
        "missing_sections": sorted(decision.missing_sections),
    }
    if handoff_id is not None:
        context["handoff_id"] = handoff_id
    return error_class(message, **context)


def _submit(handoff: Handoff, staff: Staff, *, approving: bool) -> PolicyDecision:
    """Submit a draft (or approve a submitted hop) whose sheet and row the caller locked."""
    if approving:
        if handoff.status != Status.AWAITING_APPROVAL:
            raise IllegalTransition(current=handoff.status)
        return _send_locked(handoff, staff, approved=True)
    if handoff.status != Status.DRAFT:
        raise IllegalTransition(current=handoff.status)
    needs_approval = (
        handoff.from_agency.requires_supervisor_approval and staff.role != Role.SUPERVISOR
    )
    if not needs_approval:
        return _send_locked(handoff, staff, approved=staff.role == Role.SUPERVISOR)
    # Check now too, so nobody waits on a supervisor for a send that cannot happen.
    decision = _gate(handoff, lock=False)
    if decision:
        _move(
            handoff,
            Status.AWAITING_APPROVAL,
            staff=staff,
            action=AuditAction.HANDOFF_SUBMITTED,
            fields={"submitted_at": timezone.now()},
        )
    return decision


@workflow_transaction
def _submit_or_approve(
    staff: Staff, handoff_id: int, *, approving: bool
) -> tuple[Handoff, PolicyDecision]:
    # A refused send commits its audit event: the error is raised after the transaction.
    handoff = _take(staff, handoff_id, "approve" if approving else "submit")
    decision = _submit(handoff, staff, approving=approving)
    if not decision:
        _refusal_event(handoff, staff, decision)
    return handoff, decision


def handoff_submit(*, staff: Staff, handoff_id: int) -> Handoff:
    """Send a draft: straight out, or to the supervisor's approval queue if the agency asks."""
    _require(staff, "submit")
    handoff, decision = _submit_or_approve(staff, handoff_id, approving=False)
    if not decision:
        raise _refused(decision, handoff_id, staff=staff, sheet=handoff.sheet)
    return handoff


def handoff_approve(*, staff: Staff, handoff_id: int) -> Handoff:
    """A supervisor of the sending agency signs off, and the hop is sent (consent re-checked)."""
    _require(staff, "approve")
    handoff, decision = _submit_or_approve(staff, handoff_id, approving=True)
    if not decision:
        raise _refused(decision, handoff_id, staff=staff, sheet=handoff.sheet)
    return handoff


@workflow_transaction
def _relay_locked(
    *,
    staff: Staff,
    sheet_id: int,
    to_agency: Agency,
    sections: list[str],
    purpose: str,
    message: str,
    parent_id: int | None,
    consent_id: int | None,
    deliberate: bool,
    service: Service | None,
    eligibility_override_reason: str,
) -> tuple[Handoff | None, PolicyDecision, ReferralSheet]:
    lock_sheet(sheet_id)  # before the savepoint: the lock outlives a rolled-back draft
    savepoint = transaction.savepoint()
    handoff = _create(
        staff=staff,
        sheet_id=sheet_id,
        to_agency=to_agency,
        sections=sections,
        purpose=purpose,
        message=message,
        parent_id=parent_id,
        consent_id=consent_id,
        deliberate=deliberate,
        service=service,
        eligibility_override_reason=eligibility_override_reason,
    )
    sheet = handoff.sheet
    decision = _submit(handoff, staff, approving=False)
    if decision:
        transaction.savepoint_commit(savepoint)
        return handoff, decision, sheet
    # Refused: no draft, no hop id; the refusal itself is on record, against the sheet.
    transaction.savepoint_rollback(savepoint)
    audit_record(
        action=AuditAction.HANDOFF_SEND_REFUSED,
        actor=staff.audit_actor(),
        object_type="sheet",
        object_id=sheet_id,
        sheet_id=sheet_id,
        recipient_agency_id=to_agency.pk,
        sections=handoff.sections,
        detail={
            "from_agency_id": staff.agency.pk,
            "reason": decision.reason,
            "missing_sections": sorted(decision.missing_sections),
            "created": False,
        },
    )
    return None, decision, sheet


def handoff_relay(
    *,
    staff: Staff,
    sheet_id: int,
    to_agency: Agency,
    sections: Iterable[str],
    purpose: str,
    message: str = "",
    parent_id: int | None = None,
    consent_id: int | None = None,
    deliberate: bool = False,
    service: Service | None = None,
    eligibility_override_reason: str = "",
) -> Handoff:
    """Create and submit a hop in one transaction: sent (or awaiting approval), or refused
    with nothing left behind but the audited refusal (`handoff_create` says what `service`
    and `eligibility_override_reason` do)."""
    _require(staff, "submit")
    handoff, decision, sheet = _relay_locked(
        staff=staff,
        sheet_id=sheet_id,
        to_agency=to_agency,
        sections=list(sections),
        purpose=purpose,
        message=message,
        parent_id=parent_id,
        consent_id=consent_id,
        deliberate=deliberate,
        service=service,
        eligibility_override_reason=eligibility_override_reason,
    )
    if handoff is None or not decision:
        raise _refused(decision, None, staff=staff, sheet=sheet)
    return handoff


@workflow_transaction
def _update_locked(staff: Staff, handoff_id: int, note: str) -> tuple[Handoff, PolicyDecision]:
    handoff = _take(staff, handoff_id, "send_update")
    if handoff.status not in OPEN_FOR_RECEIVER:
        raise IllegalTransition(current=handoff.status)
    decision = _gate(handoff, lock=True)
    if not decision:
        _refusal_event(handoff, staff, decision, update=True)
        return handoff, decision
    now = timezone.now()
    actor = staff.audit_actor()
    if handoff.from_agency.requires_supervisor_approval and staff.role != Role.SUPERVISOR:
        # The same rule as a first send: a supervisor signs off before it leaves.
        handoff.update_requested_at = now
        handoff.update_requested_by = staff.user
        handoff.version += 1
        handoff.save(
            update_fields=["update_requested_at", "update_requested_by", "version", "updated_at"]
        )
        written = _note(handoff, staff, kind=NoteKind.UPDATE, transition="send_update", text=note)
        handoff_event(
            AuditAction.HANDOFF_UPDATE_SUBMITTED,
            handoff=handoff,
            actor=actor,
            **_note_detail(written),
        )
        return handoff, decision
    previous = snapshots.latest_provision(handoff.pk)
    provision = _snapshot(handoff, staff, decision, now)
    if previous is not None and provision.content_hash == previous.content_hash:
        raise InvalidInput(_("前回の送付から内容が変わっていません。"), field="content")
    approved_request = handoff.update_requested_at is not None
    handoff.consent = decision.record
    handoff.update_requested_at = None
    handoff.update_requested_by = None
    handoff.version += 1
    handoff.save(
        update_fields=[
            "consent",
            "update_requested_at",
            "update_requested_by",
            "version",
            "updated_at",
        ]
    )
    written = _note(handoff, staff, kind=NoteKind.UPDATE, transition="send_update", text=note)
    handoff_event(
        AuditAction.HANDOFF_UPDATED,
        handoff=handoff,
        actor=actor,
        changed_sections=provision.changed_sections,
        **({"approved_request": True} if approved_request else {}),
        **_provision_detail(provision),
        **_note_detail(written),
    )
    _tell(
        "handoff.updated",
        handoff,
        agency=handoff.to_agency,
        staff=staff,
        provision_version=provision.version,
    )
    return handoff, decision


def handoff_send_update(*, staff: Staff, handoff_id: int, note: str = "") -> Handoff:
    """Send the receiver a new version of what the hop shares (the sections' current content),
    through the same consent gate and approval rule as a first send. Refused: the receiver
    keeps the version it has, the sender is told why."""
    _require(staff, "send_update")
    handoff, decision = _update_locked(staff, handoff_id, note)
    if not decision:
        raise _refused(decision, handoff_id, staff=staff, sheet=handoff.sheet)
    return handoff


@workflow_transaction
def handoff_return_to_draft(*, staff: Staff, handoff_id: int, note: str) -> Handoff:
    """A supervisor sends a hop back to the counselor instead of approving it."""
    _require(staff, "return")
    if not note.strip():
        raise InvalidInput("差し戻しの理由を記入してください。", field="note")
    handoff = _take(staff, handoff_id, "return")
    if not can_transition(handoff.status, Status.DRAFT):
        raise IllegalTransition(current=handoff.status, target=str(Status.DRAFT))
    written = _note(handoff, staff, kind=NoteKind.RETURN, transition="return", text=note)
    return _move(
        handoff,
        Status.DRAFT,
        staff=staff,
        action=AuditAction.HANDOFF_RETURNED,
        fields={"submitted_at": None},
        **_note_detail(written),
    )


def _noted(
    handoff: Handoff, staff: Staff, target: Status, kind: NoteKind, note: str
) -> dict[str, Any]:
    """Check the move first (an illegal move writes no note), then append its note."""
    if not can_transition(handoff.status, target):
        raise IllegalTransition(current=handoff.status, target=str(target))
    return _note_detail(_note(handoff, staff, kind=kind, transition=str(kind), text=note))


@workflow_transaction
def handoff_acknowledge(*, staff: Staff, handoff_id: int, note: str = "") -> Handoff:
    """The receiving agency confirms it has seen the handoff; stops escalation."""
    _require(staff, "acknowledge")
    handoff = _take(staff, handoff_id, "acknowledge")
    noted = _noted(handoff, staff, Status.ACKNOWLEDGED, NoteKind.ACKNOWLEDGE, note)
    return _move(
        handoff,
        Status.ACKNOWLEDGED,
        staff=staff,
        action=AuditAction.HANDOFF_ACKNOWLEDGED,
        fields={
            "acknowledged_at": timezone.now(),
            "acknowledged_by": staff.user,
            **escalation.stop_clock(),
        },
        **noted,
    )


@workflow_transaction
def handoff_accept(*, staff: Staff, handoff_id: int, note: str = "") -> Handoff:
    """The receiving agency takes the person on (acknowledging it, if not yet done)."""
    _require(staff, "accept")
    handoff = _take(staff, handoff_id, "accept")
    noted = _noted(handoff, staff, Status.ACCEPTED, NoteKind.ACCEPT, note)
    now = timezone.now()
    fields: dict[str, Any] = {
        "accepted_at": now,
        "accepted_by": staff.user,
        **escalation.stop_clock(),
    }
    if handoff.acknowledged_at is None:
        fields.update(acknowledged_at=now, acknowledged_by=staff.user)
    fields.update(escalation.start_outcome_clock(handoff=handoff, accepted_at=now))
    return _move(
        handoff,
        Status.ACCEPTED,
        staff=staff,
        action=AuditAction.HANDOFF_ACCEPTED,
        fields=fields,
        **noted,
    )


@workflow_transaction
def handoff_decline(*, staff: Staff, handoff_id: int, reason: str, note: str = "") -> Handoff:
    """The receiving agency declines, with a structured reason; it loses access; sender told."""
    _require(staff, "decline")
    if reason not in DeclineReason.values:
        raise InvalidInput("辞退の理由を選んでください。", field="reason")
    if reason == DeclineReason.OTHER and not note.strip():
        raise InvalidInput("「その他」の場合は理由を記入してください。", field="note")
    handoff = _take(staff, handoff_id, "decline")
    noted = _noted(handoff, staff, Status.DECLINED, NoteKind.DECLINE, note)
    _move(
        handoff,
        Status.DECLINED,
        staff=staff,
        action=AuditAction.HANDOFF_DECLINED,
        fields={
            "declined_at": timezone.now(),
            "declined_by": staff.user,
            "decline_reason": reason,
            **escalation.stop_clock(),
        },
        reason=reason,
        **noted,
    )
    access.revoke_receiver(handoff=handoff, actor=staff.audit_actor())
    _tell("handoff.declined", handoff, agency=handoff.from_agency, staff=staff, reason=reason)
    return handoff


@workflow_transaction
def handoff_complete(*, staff: Staff, handoff_id: int, outcome: str, note: str = "") -> Handoff:
    """The receiver closes the loop with an outcome; the sender sees it."""
    _require(staff, "complete")
    if outcome not in Outcome.values:
        raise InvalidInput("結果を選んでください。", field="outcome")
    handoff = _take(staff, handoff_id, "complete")
    noted = _noted(handoff, staff, Status.COMPLETED, NoteKind.COMPLETE, note)
    _move(
        handoff,
        Status.COMPLETED,
        staff=staff,
        action=AuditAction.HANDOFF_COMPLETED,
        fields={
            "completed_at": timezone.now(),
            "completed_by": staff.user,
            "outcome": outcome,
            "outcome_reminder_at": None,
        },
        outcome=outcome,
        **noted,
    )
    _tell("handoff.completed", handoff, agency=handoff.from_agency, staff=staff, outcome=outcome)
    return handoff


@workflow_transaction
def handoff_cancel(*, staff: Staff, handoff_id: int, reason: str, note: str = "") -> Handoff:
    """The sender withdraws its hop before completion; the receiver loses access and is told."""
    _require(staff, "cancel")
    if reason not in CancelReason.values:
        raise InvalidInput("取り下げの理由を選んでください。", field="reason")
    handoff = _take(staff, handoff_id, "cancel")
    was_sent = handoff.sent_at is not None
    noted = _noted(handoff, staff, Status.CANCELLED, NoteKind.CANCEL, note)
    _move(
        handoff,
        Status.CANCELLED,
        staff=staff,
        action=AuditAction.HANDOFF_CANCELLED,
        fields={
            "cancelled_at": timezone.now(),
            "cancelled_by": staff.user,
            "cancel_reason": reason,
            **escalation.stop_clock(),
        },
        reason=reason,
        was_sent=was_sent,
        **noted,
    )
    if was_sent and access.revoke_receiver(handoff=handoff, actor=staff.audit_actor()):
        _tell("handoff.cancelled", handoff, agency=handoff.to_agency, staff=staff)
    return handoff


@dataclass(frozen=True)
class HandoffView:
    """A hop as its reader may see it: the content of one provision (the newest unless a
    version is asked for), the version history, and the notes of the hop's parties."""

    handoff: Handoff
    content: dict[str, dict[str, Any]]
    as_sender: bool
    provision: Provision | None = None
    versions: list[Provision] = field(default_factory=list)
    notes: list[HandoffNote] = field(default_factory=list)


def notes_for(*, handoff: Handoff, agency: Agency) -> list[HandoffNote]:
    """The hop's notes in order, for one of its parties: the receiver never sees the sending
    agency's internal ones (a supervisor's reason for returning a draft)."""
    notes = HandoffNote.objects.filter(handoff=handoff).select_related("agency")
    if handoff.from_agency_id != agency.pk:
        notes = notes.exclude(kind__in=list(SENDER_ONLY_NOTES))
    return list(notes.order_by("created_at", "id"))


@transaction.atomic
def handoff_view(*, staff: Staff, handoff_id: int, version: int | None = None) -> HandoffView:
    """Read a hop and what it gave (for the receiver only while it may); audited.

    Receivers read provisions only, never the live sheet. A sender reads what it sent, or,
    before the first send, what it would send now."""
    staff.require_role(*READERS, api_scope="handoffs:read")
    read = access.handoff_read(staff=staff, handoff_id=handoff_id)
    handoff, versions = read.handoff, read.provisions
    as_sender = handoff.from_agency_id == staff.agency.pk
    if version is not None:
        chosen = next((p for p in versions if p.version == version), None)
        if chosen is None:
            raise NotFound()
    else:
        chosen = versions[-1] if versions else None
    if as_sender and chosen is None:
        content = snapshots.content_to_send(
            agency=staff.agency, sheet=handoff.sheet, sections=handoff.sections
        )
    elif not as_sender and handoff.status not in RECEIVER_CAN_READ:
        # Declined, cancelled or withdrawn: the history, not the content.
        content = {}
    else:
        content = snapshots.hop_content(
            handoff=handoff,
            agency=staff.agency,
            provision=chosen,
            access_sections=read.access_sections,
        )
    if not access.sees_special_care(staff):
        # A viewer whose agency has not granted the 要配慮 sections reads the rest only.
        content = {s: c for s, c in content.items() if s not in SPECIAL_CARE_SECTIONS}
    handoff_event(
        AuditAction.HANDOFF_VIEWED,
        handoff=handoff,
        actor=staff.audit_actor(),
        sections_read=list(content),
        **({"provision_version": chosen.version} if chosen is not None else {}),
    )
    return HandoffView(
        handoff=handoff,
        content=content,
        as_sender=as_sender,
        provision=chosen,
        versions=versions,
        notes=notes_for(handoff=handoff, agency=staff.agency),
    )
