"""Every write of councils, case meetings and support plans: one guarded service each,
audited in its transaction, starting and stopping the plan's clocks (duework/)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from agencies.actors import READERS, RECEIVERS, SENDERS, Staff
from agencies.errors import IllegalTransition, InvalidInput, NotAllowed, NotFound
from agencies.models import Agency, Role
from audit.context import Actor, ActorKind
from audit.models import AuditAction
from audit.services import audit_record
from conferences import access
from conferences.models import (
    ActionProgress,
    ActionState,
    AgencyReport,
    CaseMeeting,
    ForWhom,
    Participant,
    PlanAction,
    RecordVersion,
)
from conferences.record import empty_record, record_clean
from consent.models import COUNCIL_PURPOSES, ConsentRecord, Council, CouncilKind, CouncilMember
from consent.policy import consent_records, decide
from consent.vocabulary import Purpose
from duework import policy as clocks
from duework.business_time import TOKYO
from duework.services import clock_start, clock_stop

# --- councils -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CouncilEditor:
    """Who manages a council: a supervisor of its coordinating agency (調整機関), or an
    administrator (a Django superuser, who may act for any coordinating agency). Members read
    the council; nobody else sees it. API keys never manage councils."""

    actor: Actor
    agency: Agency | None
    is_admin: bool

    @classmethod
    def of(cls, *, staff: Staff | None = None, admin: Any = None) -> CouncilEditor:
        if admin is not None:
            if not getattr(admin, "is_superuser", False):
                raise NotAllowed()
            membership = getattr(admin, "membership", None)
            return cls(
                actor=Actor(
                    kind=ActorKind.USER,
                    user_id=admin.pk,
                    agency_id=membership.agency_id if membership else None,
                    label=admin.get_username(),
                ),
                agency=None,
                is_admin=True,
            )
        if staff is None:
            raise NotAllowed()
        staff.require_role(Role.SUPERVISOR)
        return cls(actor=staff.audit_actor(), agency=staff.agency, is_admin=False)

    def may_manage(self, council: Council) -> bool:
        return self.is_admin or (
            self.agency is not None and council.coordinating_agency_id == self.agency.pk
        )


def _council_event(council: Council, editor: CouncilEditor, change: str, **detail: Any) -> None:
    audit_record(
        action=AuditAction.COUNCIL_SAVED,
        actor=editor.actor,
        object_type="council",
        object_id=council.pk,
        recipient_agency_id=council.coordinating_agency_id,
        detail={"kind": council.kind, "change": change, "by_admin": editor.is_admin, **detail},
    )


def _period(valid_from: datetime, valid_until: datetime | None) -> None:
    if valid_until is not None and valid_until <= valid_from:
        raise InvalidInput(_("終了日は開始日より後にしてください。"), field="valid_until")


def _managed_council(editor: CouncilEditor, council_id: int) -> Council:
    """The council, locked, if the editor manages it; anyone else: NotFound (a member who
    reads it is answered NotAllowed by the screen, never here)."""
    council = Council.objects.select_for_update().filter(pk=council_id).first()
    if council is None or not editor.may_manage(council):
        raise NotFound()
    return council


@transaction.atomic
def council_create(
    *,
    kind: str,
    name: str,
    members: Iterable[Agency],
    staff: Staff | None = None,
    admin: Any = None,
    coordinating_agency: Agency | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    purposes: Iterable[str] = (),
) -> Council:
    """A supervisor of the coordinating agency (調整機関) records its council and members; an
    administrator may record it for a named coordinating agency."""
    editor = CouncilEditor.of(staff=staff, admin=admin)
    coordinator = editor.agency if not editor.is_admin else coordinating_agency
    if coordinator is None:
        raise InvalidInput(_("調整機関を選んでください。"), field="coordinating_agency")
    if kind not in CouncilKind.values:
        raise InvalidInput(field="kind")
    if not name.strip():
        raise InvalidInput(_("名称を入力してください。"), field="name")
    purpose_list = sorted(set(purposes) or COUNCIL_PURPOSES)
    if not set(purpose_list) <= COUNCIL_PURPOSES:
        raise InvalidInput(field="purposes")
    start = valid_from or timezone.now()
    _period(start, valid_until)
    council = Council.objects.create(
        kind=kind,
        name=name.strip()[:200],
        municipality=coordinator.municipality,
        coordinating_agency=coordinator,
        purposes=purpose_list,
        valid_from=start,
        valid_until=valid_until,
    )
    member_ids = sorted({a.pk for a in members} - {coordinator.pk})
    CouncilMember.objects.bulk_create(
        [CouncilMember(council=council, agency_id=pk, valid_from=start) for pk in member_ids]
    )
    _council_event(council, editor, "created", member_ids=member_ids)
    return council


@transaction.atomic
def council_member_add(
    *,
    council_id: int,
    agency_id: int,
    staff: Staff | None = None,
    admin: Any = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> CouncilMember:
    """Add a member agency for a period (a former member joins again with a new period;
    the earlier one stays in the audit trail)."""
    editor = CouncilEditor.of(staff=staff, admin=admin)
    council = _managed_council(editor, council_id)
    agency = Agency.objects.filter(pk=agency_id).first()
    if agency is None:
        raise InvalidInput(_("機関を選んでください。"), field="agency")
    if agency.pk == council.coordinating_agency_id:
        raise InvalidInput(_("調整機関はいつも構成機関です。"), field="agency")
    start = valid_from or timezone.now()
    _period(start, valid_until)
    member = CouncilMember.objects.select_for_update().filter(council=council, agency=agency)
    existing = member.first()
    if existing is not None and existing.in_force_at(timezone.now()):
        raise InvalidInput(_("この機関はすでに構成機関です。"), field="agency")
    previous = (
        [existing.valid_from.isoformat(), existing.valid_until and existing.valid_until.isoformat()]
        if existing
        else None
    )
    seat, _created = CouncilMember.objects.update_or_create(
        council=council, agency=agency, defaults={"valid_from": start, "valid_until": valid_until}
    )
    _council_event(
        council,
        editor,
        "member_added",
        agency_id=agency.pk,
        valid_from=start.isoformat(),
        valid_until=valid_until.isoformat() if valid_until else None,
        previous_period=previous,
    )
    return seat


@transaction.atomic
def council_member_end(
    *,
    council_id: int,
    agency_id: int,
    staff: Staff | None = None,
    admin: Any = None,
    at: datetime | None = None,
) -> CouncilMember:
    """The coordinating agency (or an administrator) records that a member left the council
    (from `at`): from then a basis naming the council no longer covers it."""
    editor = CouncilEditor.of(staff=staff, admin=admin)
    council = _managed_council(editor, council_id)
    member = CouncilMember.objects.select_for_update().filter(council=council, agency_id=agency_id)
    seat = member.first()
    if seat is None:
        raise NotFound()
    end = at or timezone.now()
    if end <= seat.valid_from:
        raise InvalidInput(_("終了日は開始日より後にしてください。"), field="valid_until")
    seat.valid_until = end
    seat.save(update_fields=["valid_until"])
    _council_event(council, editor, "member_ended", agency_id=agency_id, at=end.isoformat())
    return seat


@transaction.atomic
def council_end(
    *, council_id: int, staff: Staff | None = None, admin: Any = None, at: datetime | None = None
) -> Council:
    """The council stops (from `at`): no basis naming it covers anyone after that."""
    editor = CouncilEditor.of(staff=staff, admin=admin)
    council = _managed_council(editor, council_id)
    end = at or timezone.now()
    _period(council.valid_from, end)
    council.valid_until = end
    council.save(update_fields=["valid_until"])
    _council_event(council, editor, "ended", at=end.isoformat())
    return council


# --- meetings -------------------------------------------------------------------------------


def _meeting_event(action: AuditAction, meeting: CaseMeeting, staff: Staff, **detail: Any) -> None:
    audit_record(
        action=action,
        actor=staff.audit_actor(),
        object_type="case_meeting",
        object_id=meeting.pk,
        sheet_id=meeting.sheet_id,
        lawful_basis=meeting.basis.basis,
        detail={"basis_id": meeting.basis_id, "version": meeting.version, **detail},
    )


def _covered(record: ConsentRecord, agencies: Iterable[Agency], at: datetime) -> list[Agency]:
    """The agencies the record does NOT cover for a case conference."""
    records = consent_records(sheet_id=record.sheet_id)
    adult = access.person_is_adult(record.sheet, at)
    return [
        agency
        for agency in agencies
        if agency.pk != record.sheet.owner_agency_id
        and not decide(
            records=records,
            sender=None,  # a meeting's named basis, not a send
            recipient=agency,
            sections=access.MEETING_SECTIONS,
            purpose=Purpose.CASE_CONFERENCE,
            at=at,
            record_id=record.pk,
            adult=adult,
        )
    ]


@transaction.atomic
def meeting_create(
    *,
    staff: Staff,
    basis_id: int,
    held_on: date,
    participants: Mapping[Agency, str],
    place: str = "",
    person_attended: bool = False,
    guardian_attended: bool = False,
    follows: CaseMeeting | None = None,
) -> CaseMeeting:
    """The agency that holds the sheet convenes a case meeting about it, under a basis that
    covers every participating agency for a case conference (refused naming who is not)."""
    staff.require_role(*SENDERS)
    record = (
        ConsentRecord.objects.select_related("sheet", "council")
        .filter(pk=basis_id, sheet__owner_agency=staff.agency)
        .first()
    )
    if record is None:
        raise InvalidInput(field="basis")
    now = timezone.now()
    others = [a for a in participants if a.pk != staff.agency.pk]
    if not others:
        raise InvalidInput("参加機関を1つ以上選んでください。", field="participants")
    outside = _covered(record, others, now)
    if outside:
        raise InvalidInput(
            "次の機関は、この根拠ではケース会議に参加できません: "
            + "、".join(a.name for a in outside),
            field="participants",
            not_covered=[a.pk for a in outside],
        )
    meeting = CaseMeeting.objects.create(
        sheet_id=record.sheet_id,
        organizer=staff.agency,
        council=record.council,
        basis=record,
        follows=follows,
        held_on=held_on,
        place=place.strip()[:200],
        person_attended=person_attended,
        guardian_attended=guardian_attended,
        created_by=staff.person,
    )
    seats = {staff.agency: participants.get(staff.agency, ""), **dict(participants)}
    Participant.objects.bulk_create(
        [
            Participant(meeting=meeting, agency=agency, attendees=str(names)[:200])
            for agency, names in seats.items()
        ]
    )
    _meeting_event(
        AuditAction.MEETING_CREATED,
        meeting,
        staff,
        participant_agency_ids=sorted(a.pk for a in seats),
        **({"follows_id": follows.pk} if follows else {}),
    )
    return meeting


def _require_organizer(staff: Staff, meeting: CaseMeeting) -> None:
    if meeting.organizer_id != staff.agency.pk:
        raise NotAllowed("会議の記録は主催機関が保存します。")


def _review_clock(meeting: CaseMeeting) -> None:
    if meeting.next_review_on is None:
        clock_stop(kinds=(clocks.MEETING_REVIEW,), subject=meeting, reason="no-review", done=False)
        return
    policy = clocks.policy_for(clocks.MEETING_REVIEW, agency=meeting.organizer)
    due = datetime.combine(meeting.next_review_on, time(9, 0), tzinfo=TOKYO)
    clock_start(
        kind=clocks.MEETING_REVIEW,
        subject=meeting,
        owner_agency=meeting.organizer,
        owner_role=Role.SUPERVISOR,
        due_at=due,
        policy=policy,
        sheet_id=meeting.sheet_id,
        context={"coordinator_agency_id": _coordinator_id(meeting)},
    )


def _coordinator_id(meeting: CaseMeeting) -> int | None:
    return meeting.council.coordinating_agency_id if meeting.council else meeting.organizer_id


@transaction.atomic
def meeting_record(
    *,
    staff: Staff,
    meeting_id: int,
    content: dict[str, Any],
    next_review_on: date | None = None,
) -> RecordVersion:
    """Save the record as a new version (a snapshot: the form, each agency's report and the
    plan as they stand now); sets the next review date and its clock."""
    staff.require_role(*SENDERS)
    meeting = access.meeting_for(staff=staff, meeting_id=meeting_id, for_update=True)
    _require_organizer(staff, meeting)
    cleaned = record_clean(content)
    if next_review_on is not None and next_review_on < meeting.held_on:
        raise InvalidInput("見直し日は開催日より後にしてください。", field="next_review_on")
    meeting.version += 1
    meeting.next_review_on = next_review_on
    meeting.save(update_fields=["version", "next_review_on", "updated_at"])
    snapshot = {
        **cleaned,
        "next_review_on": next_review_on.isoformat() if next_review_on else None,
        "reports": _reports(meeting),
        "plan": [_action_row(a) for a in _actions(meeting)],
    }
    version = RecordVersion.objects.create(
        meeting=meeting, version=meeting.version, content=snapshot, saved_by=staff.person
    )
    _review_clock(meeting)
    _meeting_event(AuditAction.MEETING_RECORDED, meeting, staff)
    return version


@transaction.atomic
def agency_report_write(*, staff: Staff, meeting_id: int, text: str) -> AgencyReport:
    """関係機関からの情報: a participating agency writes its own report (only its own)."""
    staff.require_role(*RECEIVERS)
    meeting = access.meeting_for(staff=staff, meeting_id=meeting_id)
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput("内容を入力してください。", field="text")
    report, _created = AgencyReport.objects.update_or_create(
        meeting=meeting,
        agency=staff.agency,
        defaults={"text": cleaned[:4000], "written_by": staff.person},
    )
    _meeting_event(AuditAction.AGENCY_REPORT_WRITTEN, meeting, staff, agency_id=staff.agency.pk)
    return report


# --- plan actions ---------------------------------------------------------------------------


def _action_clock(action: PlanAction) -> None:
    owner = action.owner_agency
    meeting = action.meeting
    clock_start(
        kind=clocks.PLAN_ACTION,
        subject=action,
        owner_agency=owner,
        due_at=datetime.combine(action.due_on, time(17, 0), tzinfo=TOKYO),
        policy=clocks.policy_for(clocks.PLAN_ACTION, agency=owner),
        sheet_id=meeting.sheet_id,
        context={"coordinator_agency_id": _coordinator_id(meeting), "meeting_id": meeting.pk},
    )


def _action_event(action: AuditAction, plan: PlanAction, staff: Staff, **detail: Any) -> None:
    audit_record(
        action=action,
        actor=staff.audit_actor(),
        object_type="plan_action",
        object_id=plan.pk,
        sheet_id=plan.meeting.sheet_id,
        recipient_agency_id=plan.owner_agency_id,
        detail={"meeting_id": plan.meeting_id, "state": plan.state, **detail},
    )


@transaction.atomic
def plan_action_add(
    *,
    staff: Staff,
    meeting_id: int,
    what: str,
    owner_agency: Agency,
    due_on: date,
    for_whom: str,
    owner_role: str = "",
    where: str = "",
    short_term_goal: str = "",
) -> PlanAction:
    """A plan line (具体的な支援策) with an owner agency among the participants and a due
    date; its clock starts."""
    staff.require_role(*SENDERS)
    meeting = access.meeting_for(staff=staff, meeting_id=meeting_id, for_update=True)
    _require_organizer(staff, meeting)
    if not what.strip():
        raise InvalidInput("支援策を入力してください。", field="what")
    if for_whom not in ForWhom.values:
        raise InvalidInput(field="for_whom")
    if not meeting.participants.filter(agency=owner_agency).exists():
        raise InvalidInput("担当機関は参加機関から選んでください。", field="owner_agency")
    if due_on < meeting.held_on:
        raise InvalidInput("期限は開催日より後にしてください。", field="due_on")
    action = PlanAction.objects.create(
        meeting=meeting,
        what=what.strip()[:4000],
        owner_agency=owner_agency,
        owner_role=owner_role.strip()[:100],
        due_on=due_on,
        where=where.strip()[:200],
        for_whom=for_whom,
        short_term_goal=short_term_goal.strip()[:4000],
    )
    _action_clock(action)
    _action_event(AuditAction.PLAN_ACTION_CHANGED, action, staff, created=True)
    return action


@transaction.atomic
def action_progress_add(*, staff: Staff, action_id: int, text: str) -> ActionProgress:
    """経過・評価: the owner agency appends a progress entry (never edited)."""
    staff.require_role(*RECEIVERS)
    action = access.action_for(staff=staff, action_id=action_id, for_update=True)
    if action.owner_agency_id != staff.agency.pk:
        raise NotAllowed("経過は担当機関が記録します。")
    if action.state != ActionState.OPEN:
        raise IllegalTransition(current=action.state)
    if not text.strip():
        raise InvalidInput("経過・評価を入力してください。", field="text")
    entry = ActionProgress.objects.create(
        action=action, agency=staff.agency, text=text.strip()[:4000], written_by=staff.person
    )
    _action_event(AuditAction.PLAN_ACTION_PROGRESS, action, staff, progress_id=entry.pk)
    return entry


@transaction.atomic
def action_set_state(*, staff: Staff, action_id: int, state: str) -> PlanAction:
    """The owner agency (or the organiser) marks an action done or dropped: its clock stops."""
    staff.require_role(*RECEIVERS)
    action = access.action_for(staff=staff, action_id=action_id, for_update=True)
    if staff.agency.pk not in (action.owner_agency_id, action.meeting.organizer_id):
        raise NotAllowed()
    if state not in (ActionState.DONE, ActionState.DROPPED):
        raise InvalidInput(field="state")
    if action.state != ActionState.OPEN:
        raise IllegalTransition(current=action.state)
    action.state = state
    action.save(update_fields=["state", "updated_at"])
    clock_stop(kinds=(clocks.PLAN_ACTION,), subject=action, reason=state)
    _action_event(AuditAction.PLAN_ACTION_CHANGED, action, staff)
    return action


def action_meeting_id(*, staff: Staff, action_id: int) -> int:
    """The meeting of an action the staff member may see (NotFound otherwise)."""
    return access.action_for(staff=staff, action_id=action_id).meeting_id


REVIEW_DECISIONS = ("done", "continue", "changed", "dropped")


@transaction.atomic
def review_meeting_create(
    *,
    staff: Staff,
    meeting_id: int,
    held_on: date,
    decisions: Mapping[int, str],
    new_due_on: Mapping[int, date] | None = None,
    place: str = "",
) -> CaseMeeting:
    """A review meeting follows the earlier one under the same basis and participants, and
    carries its plan forward: each open action is done, dropped, continued or changed (a new
    due date); continued and changed actions become actions of the review."""
    staff.require_role(*SENDERS)
    previous = access.meeting_for(staff=staff, meeting_id=meeting_id, for_update=True)
    _require_organizer(staff, previous)
    open_actions = list(_actions(previous).filter(state=ActionState.OPEN))
    for action in open_actions:
        if decisions.get(action.pk) not in REVIEW_DECISIONS:
            raise InvalidInput(field=f"decisions.{action.pk}")
    seats = {p.agency: p.attendees for p in previous.participants.select_related("agency")}
    review = meeting_create(
        staff=staff,
        basis_id=previous.basis_id,
        held_on=held_on,
        participants=seats,
        place=place or previous.place,
        follows=previous,
    )
    for action in open_actions:
        decision = decisions[action.pk]
        if decision in ("continue", "changed"):
            carried = PlanAction.objects.create(
                meeting=review,
                carried_from=action,
                what=action.what,
                owner_agency=action.owner_agency,
                owner_role=action.owner_role,
                due_on=(new_due_on or {}).get(action.pk, action.due_on),
                where=action.where,
                for_whom=action.for_whom,
                short_term_goal=action.short_term_goal,
            )
            _action_clock(carried)
            action.state = ActionState.CARRIED if decision == "continue" else ActionState.CHANGED
        else:
            action.state = ActionState.DONE if decision == "done" else ActionState.DROPPED
        action.save(update_fields=["state", "updated_at"])
        clock_stop(kinds=(clocks.PLAN_ACTION,), subject=action, reason=f"review:{decision}")
        _action_event(AuditAction.PLAN_ACTION_CHANGED, action, staff, review_id=review.pk)
    clock_stop(kinds=(clocks.MEETING_REVIEW,), subject=previous, reason="reviewed")
    return review


# --- reading --------------------------------------------------------------------------------


def _actions(meeting: CaseMeeting) -> Any:
    return PlanAction.objects.filter(meeting=meeting).select_related("owner_agency").order_by("id")


def _action_row(action: PlanAction) -> dict[str, Any]:
    return {
        "id": action.pk,
        "what": action.what,
        "owner_agency_id": action.owner_agency_id,
        "owner_role": action.owner_role,
        "due_on": action.due_on.isoformat(),
        "where": action.where,
        "for_whom": action.for_whom,
        "short_term_goal": action.short_term_goal,
        "state": action.state,
    }


def _reports(meeting: CaseMeeting) -> list[dict[str, Any]]:
    return [
        {"agency_id": r.agency_id, "text": r.text}
        for r in AgencyReport.objects.filter(meeting=meeting).order_by("agency_id")
    ]


@dataclass(frozen=True)
class MeetingView:
    """A meeting as a participant reads it: the version asked for (latest by default), each
    agency's report, the plan with its progress, and the versions there are."""

    meeting: CaseMeeting
    version: int
    record: dict[str, Any]
    reports: list[AgencyReport]
    actions: list[PlanAction]
    versions: list[int]
    participants: list[Participant]


@transaction.atomic
def meeting_view(*, staff: Staff, meeting_id: int, version: int | None = None) -> MeetingView:
    """Read a meeting's record (a snapshot version), reports and plan; audited like any read."""
    # A key without the scope is NotFound (access), like anyone the meeting is closed to.
    meeting = access.meeting_for(staff=staff, meeting_id=meeting_id)
    staff.require_role(*READERS, api_scope=access.SCOPE_READ)
    versions = list(
        RecordVersion.objects.filter(meeting=meeting)
        .order_by("version")
        .values_list("version", flat=True)
    )
    wanted = version if version is not None else (versions[-1] if versions else 0)
    if wanted and wanted not in versions:
        raise NotFound()
    record = (
        RecordVersion.objects.get(meeting=meeting, version=wanted).content
        if wanted
        else empty_record()
    )
    actions = list(_actions(meeting).prefetch_related("progress"))
    _meeting_event(AuditAction.MEETING_VIEWED, meeting, staff, version_read=wanted)
    return MeetingView(
        meeting=meeting,
        version=wanted,
        record=record,
        reports=list(AgencyReport.objects.filter(meeting=meeting).select_related("agency")),
        actions=actions,
        versions=versions,
        participants=list(meeting.participants.select_related("agency").order_by("id")),
    )
