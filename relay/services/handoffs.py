"""Handoffs: draft, submit, approve, send (under the consent gate), and the receiver's answers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from agencies.actors import READERS, SENDERS, Staff
from agencies.errors import (
    ConsentDoesNotCover,
    ConsentWithdrawn,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from agencies.models import Agency, Role
from audit.models import AuditAction
from consent.models import ConsentRecord
from consent.policy import PolicyDecision, permits
from consent.vocabulary import Purpose
from notifications.notify import handoff_payload, notify_agency
from relay import access, escalation
from relay.audit_events import handoff_event
from relay.choices import Urgency
from relay.models import Handoff, ReferralSheet
from relay.sections import normalise_sections, sheet_content
from relay.states import (
    ACTIONS,
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
    """Lock the hop for `action`, acting from the side the transition table names."""
    return access.handoff_for(
        staff=staff, handoff_id=handoff_id, for_update=True, side=ACTIONS[action].side
    )


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


@transaction.atomic
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
) -> Handoff:
    """Draft a hop from the staff member's agency. A receiver relays onward the same way."""
    staff.require_role(*SENDERS, api_scope="handoffs:write")
    readable_sheet = access.sheet_for(staff=staff, sheet_id=sheet_id)
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
    )
    access.grant_sender(handoff=handoff)
    handoff_event(
        AuditAction.HANDOFF_CREATED,
        handoff=handoff,
        actor=staff.audit_actor(),
        **({"parent_id": parent.pk} if parent else {}),
    )
    return handoff


@dataclass(frozen=True)
class SendResult:
    handoff: Handoff
    decision: PolicyDecision


def _send_locked(handoff: Handoff, staff: Staff, *, approved: bool) -> PolicyDecision:
    """Inside the transaction, with the sheet and hop locked: ask the policy, then send."""
    now = timezone.now()
    decision = permits(
        sheet_id=handoff.sheet_id,
        recipient=handoff.to_agency,
        sections=handoff.sections,
        purpose=handoff.purpose,
        at=now,
        record_id=handoff.requested_consent_id,
        lock=True,
    )
    if not decision:
        handoff_event(
            AuditAction.HANDOFF_SEND_REFUSED,
            handoff=handoff,
            actor=staff.audit_actor(),
            reason=decision.reason,
            missing_sections=sorted(decision.missing_sections),
        )
        return decision
    handoff.consent = decision.record
    fields: dict[str, Any] = {"consent": decision.record, "sent_at": now, "sent_by": staff.user}
    if approved:
        fields.update(approved_at=now, approved_by=staff.user)
        # The supervisor's sign-off (the seeds' 管理職署名) is an event of its own.
        handoff_event(AuditAction.HANDOFF_APPROVED, handoff=handoff, actor=staff.audit_actor())
    fields.update(escalation.start_clock(handoff=handoff, sent_at=now))
    _move(handoff, Status.SENT, staff=staff, action=AuditAction.HANDOFF_SENT, fields=fields)
    if handoff.sheet.first_sent_at is None:
        handoff.sheet.first_sent_at = now
        handoff.sheet.save(update_fields=["first_sent_at"])
    access.grant_receiver(handoff=handoff, actor=staff.audit_actor())
    _tell("handoff.sent", handoff, agency=handoff.to_agency, staff=staff)
    return decision


def _refused(decision: PolicyDecision, handoff_id: int) -> ConsentDoesNotCover:
    error_class = ConsentWithdrawn if decision.reason == "withdrawn" else ConsentDoesNotCover
    return error_class(
        decision.message,
        reason=decision.reason,
        handoff_id=handoff_id,
        missing_sections=sorted(decision.missing_sections),
    )


def _submit_or_approve(staff: Staff, handoff_id: int, *, approving: bool) -> Handoff:
    # Not @atomic: a refused send must still leave its audit event, so the transaction
    # commits the refusal and the error is raised after it.
    with transaction.atomic():
        peek = Handoff.objects.filter(pk=handoff_id).values("sheet_id").first()
        if peek is None:
            raise NotFound()
        # Lock order: sheet, then hop, then consent records (see consent_withdraw).
        ReferralSheet.objects.select_for_update().filter(pk=peek["sheet_id"]).first()
        handoff = _take(staff, handoff_id, "approve" if approving else "submit")
        if approving:
            if handoff.status != Status.AWAITING_APPROVAL:
                raise IllegalTransition(current=handoff.status)
            decision = _send_locked(handoff, staff, approved=True)
        else:
            if handoff.status != Status.DRAFT:
                raise IllegalTransition(current=handoff.status)
            needs_approval = (
                handoff.from_agency.requires_supervisor_approval and staff.role != Role.SUPERVISOR
            )
            if needs_approval:
                # Check now too, so nobody waits on a supervisor for a send that cannot happen.
                decision = permits(
                    sheet_id=handoff.sheet_id,
                    recipient=handoff.to_agency,
                    sections=handoff.sections,
                    purpose=handoff.purpose,
                    at=timezone.now(),
                    record_id=handoff.requested_consent_id,
                )
                if decision:
                    _move(
                        handoff,
                        Status.AWAITING_APPROVAL,
                        staff=staff,
                        action=AuditAction.HANDOFF_SUBMITTED,
                        fields={"submitted_at": timezone.now()},
                    )
                else:
                    handoff_event(
                        AuditAction.HANDOFF_SEND_REFUSED,
                        handoff=handoff,
                        actor=staff.audit_actor(),
                        reason=decision.reason,
                        missing_sections=sorted(decision.missing_sections),
                    )
            else:
                decision = _send_locked(handoff, staff, approved=staff.role == Role.SUPERVISOR)
    if not decision:
        raise _refused(decision, handoff_id)
    return handoff


def handoff_submit(*, staff: Staff, handoff_id: int) -> Handoff:
    """Send a draft: straight out, or to the supervisor's approval queue if the agency asks."""
    _require(staff, "submit")
    return _submit_or_approve(staff, handoff_id, approving=False)


def handoff_approve(*, staff: Staff, handoff_id: int) -> Handoff:
    """A supervisor of the sending agency signs off, and the hop is sent (consent re-checked)."""
    _require(staff, "approve")
    return _submit_or_approve(staff, handoff_id, approving=True)


@transaction.atomic
def handoff_return_to_draft(*, staff: Staff, handoff_id: int, note: str) -> Handoff:
    """A supervisor sends a hop back to the counselor instead of approving it."""
    _require(staff, "return")
    handoff = _take(staff, handoff_id, "return")
    if not note.strip():
        raise InvalidInput("差し戻しの理由を記入してください。", field="note")
    return _move(
        handoff,
        Status.DRAFT,
        staff=staff,
        action=AuditAction.HANDOFF_RETURNED,
        fields={"note": note.strip(), "submitted_at": None},
    )


@transaction.atomic
def handoff_acknowledge(*, staff: Staff, handoff_id: int, note: str = "") -> Handoff:
    """The receiving agency confirms it has seen the handoff; stops escalation."""
    _require(staff, "acknowledge")
    handoff = _take(staff, handoff_id, "acknowledge")
    return _move(
        handoff,
        Status.ACKNOWLEDGED,
        staff=staff,
        action=AuditAction.HANDOFF_ACKNOWLEDGED,
        fields={
            "acknowledged_at": timezone.now(),
            "acknowledged_by": staff.user,
            "note": note.strip(),
            **escalation.stop_clock(),
        },
    )


@transaction.atomic
def handoff_accept(*, staff: Staff, handoff_id: int, note: str = "") -> Handoff:
    """The receiving agency takes the person on (acknowledging it, if not yet done)."""
    _require(staff, "accept")
    handoff = _take(staff, handoff_id, "accept")
    now = timezone.now()
    fields: dict[str, Any] = {
        "accepted_at": now,
        "accepted_by": staff.user,
        "note": note.strip(),
        **escalation.stop_clock(),
    }
    if handoff.acknowledged_at is None:
        fields.update(acknowledged_at=now, acknowledged_by=staff.user)
    fields.update(escalation.start_outcome_clock(handoff=handoff, accepted_at=now))
    return _move(
        handoff, Status.ACCEPTED, staff=staff, action=AuditAction.HANDOFF_ACCEPTED, fields=fields
    )


@transaction.atomic
def handoff_decline(*, staff: Staff, handoff_id: int, reason: str, note: str = "") -> Handoff:
    """The receiving agency declines, with a structured reason; it loses access; sender told."""
    _require(staff, "decline")
    if reason not in DeclineReason.values:
        raise InvalidInput("辞退の理由を選んでください。", field="reason")
    if reason == DeclineReason.OTHER and not note.strip():
        raise InvalidInput("「その他」の場合は理由を記入してください。", field="note")
    handoff = _take(staff, handoff_id, "decline")
    _move(
        handoff,
        Status.DECLINED,
        staff=staff,
        action=AuditAction.HANDOFF_DECLINED,
        fields={
            "declined_at": timezone.now(),
            "declined_by": staff.user,
            "decline_reason": reason,
            "note": note.strip(),
            **escalation.stop_clock(),
        },
        reason=reason,
    )
    access.revoke_receiver(handoff=handoff, actor=staff.audit_actor())
    _tell("handoff.declined", handoff, agency=handoff.from_agency, staff=staff, reason=reason)
    return handoff


@transaction.atomic
def handoff_complete(*, staff: Staff, handoff_id: int, outcome: str, note: str = "") -> Handoff:
    """The receiver closes the loop with an outcome; the sender sees it."""
    _require(staff, "complete")
    if outcome not in Outcome.values:
        raise InvalidInput("結果を選んでください。", field="outcome")
    handoff = _take(staff, handoff_id, "complete")
    _move(
        handoff,
        Status.COMPLETED,
        staff=staff,
        action=AuditAction.HANDOFF_COMPLETED,
        fields={
            "completed_at": timezone.now(),
            "completed_by": staff.user,
            "outcome": outcome,
            "note": note.strip(),
            "outcome_reminder_at": None,
        },
        outcome=outcome,
    )
    _tell("handoff.completed", handoff, agency=handoff.from_agency, staff=staff, outcome=outcome)
    return handoff


@transaction.atomic
def handoff_cancel(*, staff: Staff, handoff_id: int, reason: str, note: str = "") -> Handoff:
    """The sender withdraws its hop before completion; the receiver loses access and is told."""
    _require(staff, "cancel")
    if reason not in CancelReason.values:
        raise InvalidInput("取り下げの理由を選んでください。", field="reason")
    handoff = _take(staff, handoff_id, "cancel")
    was_sent = handoff.sent_at is not None
    _move(
        handoff,
        Status.CANCELLED,
        staff=staff,
        action=AuditAction.HANDOFF_CANCELLED,
        fields={
            "cancelled_at": timezone.now(),
            "cancelled_by": staff.user,
            "cancel_reason": reason,
            "note": note.strip(),
            **escalation.stop_clock(),
        },
        reason=reason,
    )
    if was_sent and access.revoke_receiver(handoff=handoff, actor=staff.audit_actor()):
        _tell("handoff.cancelled", handoff, agency=handoff.to_agency, staff=staff)
    return handoff


@dataclass(frozen=True)
class HandoffView:
    """A hop as its reader may see it: the shared content only for the receiver while open."""

    handoff: Handoff
    content: dict[str, dict[str, Any]]
    as_sender: bool


@transaction.atomic
def handoff_view(*, staff: Staff, handoff_id: int) -> HandoffView:
    """Read a hop and the sections it shares (for the receiver only while it may); audited."""
    staff.require_role(*READERS, api_scope="handoffs:read")
    handoff = access.handoff_for(staff=staff, handoff_id=handoff_id)
    as_sender = handoff.from_agency_id == staff.agency.pk
    # What the hop shares, narrowed to what the agency's access rows still allow: a receiver
    # whose hop was declined, cancelled or withdrawn sees the hop's history, not the content.
    readable = access.readable_sections_for(staff=staff, sheet_id=handoff.sheet_id)
    sections = [s for s in handoff.sections if s in readable]
    if not as_sender and handoff.status not in RECEIVER_CAN_READ:
        sections = []
    content = sheet_content(handoff.sheet, sections)
    handoff_event(
        AuditAction.HANDOFF_VIEWED,
        handoff=handoff,
        actor=staff.audit_actor(),
        sections_read=sections,
    )
    return HandoffView(handoff=handoff, content=content, as_sender=as_sender)
