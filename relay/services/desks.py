"""A routing desk's work (Komae's 福祉のつながりシート): the public intake, triage, routing.

A desk receives hops when the sender does not know where to send, and intake records from its
public form. It assigns each to a colleague, turns an intake into a sheet after talking to the
person, routes a hop onward to the agency it chooses (the consent policy decides whether the
person's consent covers that choice: consent.policy._routed), or returns a hop to its sender.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agencies.actors import RECEIVERS, SENDERS, Staff
from agencies.errors import IllegalTransition, InvalidInput, NotAllowed, NotFound
from agencies.models import Agency, Membership, RoutingDesk
from audit.context import Actor, ActorKind
from audit.models import AuditAction
from audit.services import audit_record
from relay import access
from relay.audit_events import handoff_event
from relay.models import (
    Asker,
    ContactMethod,
    DeskAssignment,
    Handoff,
    IntakeRecord,
    IntakeStatus,
    ReferralSheet,
)
from relay.models.intake import CONTACT_MAX_CHARS, SITUATION_MAX_CHARS
from relay.services.handoffs import (
    handoff_acknowledge,
    handoff_decline,
    handoff_relay,
)
from relay.services.sheets import sheet_create
from relay.services.transactions import workflow_transaction
from relay.states import RECEIVER_CAN_READ, DeclineReason, Status
from security.validators import ControlCharacterValidator

_no_controls = ControlCharacterValidator()

PUBLIC_ACTOR = Actor(kind=ActorKind.ANONYMOUS, label="public-intake-form")


def routing_desk_of(agency: Agency) -> RoutingDesk | None:
    """The agency's routing desk, if it is one."""
    return RoutingDesk.objects.filter(agency=agency).first()


def _require_desk(staff: Staff) -> RoutingDesk:
    desk = routing_desk_of(staff.agency)
    if desk is None:
        raise NotAllowed()
    return desk


def _intake_event(action: AuditAction, intake: IntakeRecord, actor: Actor, **detail: Any) -> None:
    """Ids and codes only: never the text or the contact."""
    audit_record(
        action=action,
        actor=actor,
        object_type="intake",
        object_id=intake.pk,
        sheet_id=intake.sheet_id,
        detail={"desk_id": intake.desk_id, "status": intake.status, **detail},
    )


# --- The public form --------------------------------------------------------------------------


@transaction.atomic
def intake_submit(
    *,
    desk: RoutingDesk,
    asker: str,
    contact_method: str,
    contact_detail: str,
    situation: str,
    consent_to_contact: bool,
) -> IntakeRecord:
    """Someone outside the network asks the desk for help. The same rules as the form, for
    any caller: bounded lengths, no control characters, a contact to reach them by."""
    if not desk.public_intake:
        raise NotFound()
    if asker not in Asker.values:
        raise InvalidInput(field="asker")
    if contact_method not in ContactMethod.values:
        raise InvalidInput(field="contact_method")
    contact_detail = contact_detail.strip()
    situation = situation.strip()
    if not contact_detail or len(contact_detail) > CONTACT_MAX_CHARS:
        raise InvalidInput(field="contact_detail")
    if not situation or len(situation) > SITUATION_MAX_CHARS:
        raise InvalidInput(field="situation")
    for name, value in (("contact_detail", contact_detail), ("situation", situation)):
        try:
            _no_controls(value)
        except ValidationError as exc:
            raise InvalidInput(field=name) from exc
    if not consent_to_contact:
        raise InvalidInput(field="consent_to_contact")
    intake = IntakeRecord.objects.create(
        desk=desk.agency,
        asker=asker,
        contact_method=contact_method,
        contact_detail=contact_detail,
        situation=situation,
        consent_to_contact=True,
        received_at=timezone.now(),
    )
    _intake_event(
        AuditAction.INTAKE_RECEIVED, intake, PUBLIC_ACTOR, asker=asker, method=contact_method
    )
    return intake


# --- Intake records at the desk ---------------------------------------------------------------


@transaction.atomic
def intake_view(*, staff: Staff, intake_id: int) -> IntakeRecord:
    """A desk worker opens an intake record (its text decrypted): audited. Not the viewer
    role: what a stranger writes may hold anything, 要配慮 information included."""
    staff.require_role(*RECEIVERS, api_scope="intake:read")
    intake = access.intake_for(staff=staff, intake_id=intake_id)
    _intake_event(AuditAction.INTAKE_VIEWED, intake, staff.audit_actor())
    return intake


def _colleague(staff: Staff, assignee_id: int) -> User:
    """A member of the staff member's own agency who can take the work (not a viewer)."""
    membership = (
        Membership.objects.select_related("user")
        .filter(user_id=assignee_id, agency=staff.agency, role__in=RECEIVERS)
        .first()
    )
    if membership is None:
        raise InvalidInput(field="assignee")
    return membership.user


@transaction.atomic
def intake_assign(*, staff: Staff, intake_id: int, assignee_id: int) -> IntakeRecord:
    """Give an intake record to a colleague at the desk."""
    staff.require_role(*RECEIVERS)
    intake = access.intake_for(staff=staff, intake_id=intake_id, for_update=True)
    if intake.status in (IntakeStatus.SHEET_CREATED, IntakeStatus.CLOSED):
        raise IllegalTransition(current=intake.status)
    intake.assignee = _colleague(staff, assignee_id)
    intake.status = IntakeStatus.ASSIGNED
    intake.save(update_fields=["assignee", "status", "updated_at"])
    _intake_event(AuditAction.INTAKE_ASSIGNED, intake, staff.audit_actor(), assignee_id=assignee_id)
    return intake


@transaction.atomic
def intake_close(*, staff: Staff, intake_id: int) -> IntakeRecord:
    """Nothing more to do for this intake (a wrong number, help given by phone)."""
    staff.require_role(*SENDERS)
    intake = access.intake_for(staff=staff, intake_id=intake_id, for_update=True)
    if intake.status in (IntakeStatus.SHEET_CREATED, IntakeStatus.CLOSED):
        raise IllegalTransition(current=intake.status)
    intake.status = IntakeStatus.CLOSED
    intake.save(update_fields=["status", "updated_at"])
    _intake_event(AuditAction.INTAKE_CLOSED, intake, staff.audit_actor())
    return intake


def intake_sheet_initial(intake: IntakeRecord, desk: RoutingDesk) -> dict[str, Any]:
    """What the new-sheet form starts with, after the worker has talked to the person."""
    consulter = {
        Asker.PERSON: "person",
        Asker.FAMILY: "relative",
        Asker.SCHOOL: "school",
        Asker.NEIGHBOUR: "other",
    }[Asker(intake.asker)]
    return {
        "consulted_on": timezone.localdate(),
        "consulter": consulter,
        "consultation": intake.situation,
        "municipality": desk.municipality,
    }


@workflow_transaction
def sheet_create_from_intake(
    *, staff: Staff, intake_id: int, data: dict[str, Any]
) -> ReferralSheet:
    """The desk's sheet for an intake, linked to it, in one transaction."""
    staff.require_role(*SENDERS)
    intake = access.intake_for(staff=staff, intake_id=intake_id, for_update=True)
    if intake.sheet_id is not None or intake.status == IntakeStatus.CLOSED:
        raise IllegalTransition(current=intake.status)
    sheet = sheet_create(staff=staff, data=data)
    intake.sheet = sheet
    intake.status = IntakeStatus.SHEET_CREATED
    intake.save(update_fields=["sheet", "status", "updated_at"])
    _intake_event(AuditAction.INTAKE_SHEET_CREATED, intake, staff.audit_actor())
    return sheet


# --- Hops received by the desk ----------------------------------------------------------------


def _received(staff: Staff, handoff_id: int) -> Handoff:
    handoff = access.handoff_for(
        staff=staff, handoff_id=handoff_id, for_update=True, side=access.Side.RECEIVER
    )
    if handoff.status not in RECEIVER_CAN_READ:
        raise IllegalTransition(current=handoff.status)
    return handoff


@transaction.atomic
def handoff_assign(*, staff: Staff, handoff_id: int, assignee_id: int) -> DeskAssignment:
    """Give a hop the desk received to a colleague (replacing an earlier assignment)."""
    staff.require_role(*RECEIVERS)
    handoff = _received(staff, handoff_id)
    _require_desk(staff)
    assignee = _colleague(staff, assignee_id)
    assignment, _created = DeskAssignment.objects.update_or_create(
        handoff=handoff,
        defaults={
            "assignee": assignee,
            "assigned_by": staff.person,
            "assigned_at": timezone.now(),
        },
    )
    handoff_event(
        AuditAction.HANDOFF_ASSIGNED,
        handoff=handoff,
        actor=staff.audit_actor(),
        assignee_id=assignee.pk,
    )
    return assignment


def handoff_route(
    *,
    staff: Staff,
    handoff_id: int,
    to_agency: Agency,
    sections: Iterable[str] | None = None,
    message: str = "",
) -> Handoff:
    """The desk sends a hop it received onward to the agency it chose. No new consent: the
    policy lets the person's consent naming this desk and the recipient's kind cover it, and
    refuses a kind the consent does not allow (reason "kind-not-routable")."""
    staff.require_role(*SENDERS, api_scope="handoffs:write")
    # The hop first: another agency's hop is a 404 whether or not the caller is a desk.
    received = access.handoff_for(staff=staff, handoff_id=handoff_id, side=access.Side.RECEIVER)
    _require_desk(staff)
    if received.status == Status.SENT:
        # Choosing where it goes is taking it in: the clock of the first hop stops.
        received = handoff_acknowledge(staff=staff, handoff_id=handoff_id)
    if received.status not in (Status.ACKNOWLEDGED, Status.ACCEPTED):
        raise IllegalTransition(current=received.status)
    return handoff_relay(
        staff=staff,
        sheet_id=received.sheet_id,
        to_agency=to_agency,
        sections=list(sections) if sections is not None else list(received.sections),
        purpose=received.purpose,
        message=message,
        parent_id=received.pk,
    )


def handoff_return(*, staff: Staff, handoff_id: int, note: str) -> Handoff:
    """The desk gives a hop back to its sender (not ours to route, or more is needed): a
    decline with its own reason, so the sender is told and the desk loses the content."""
    _require_desk(staff)
    if not note.strip():
        raise InvalidInput("戻す理由を記入してください。", field="note")
    return handoff_decline(
        staff=staff, handoff_id=handoff_id, reason=DeclineReason.RETURNED_BY_DESK, note=note
    )


def desk_colleagues(*, agency: Agency) -> list[tuple[int, str]]:
    """The people at the desk an item can be given to."""
    return [
        (user_id, username)
        for user_id, username in Membership.objects.filter(agency=agency, role__in=RECEIVERS)
        .order_by("user__username")
        .values_list("user_id", "user__username")
    ]
