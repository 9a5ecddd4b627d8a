"""The only rule for who reads a case meeting: a participating agency whose basis still
holds. Everything else — another agency, a former participant after the basis ended, a
member of a different council, an API key without the scope — is NotFound (404), the same as
a meeting that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from agencies.actors import Staff
from agencies.eligibility import certainly_adult
from agencies.errors import NotFound
from agencies.models import Agency
from conferences.models import CaseMeeting, PlanAction
from consent.policy import consent_records, decide
from consent.vocabulary import Purpose, Section

SCOPE_READ = "meetings:read"
# What a meeting's basis must cover for each participant: the person's basic data, for the
# purpose of a case conference.
MEETING_SECTIONS = frozenset({Section.BASIC})


def basis_holds(meeting: CaseMeeting, agency: Agency) -> bool:
    """The sheet's own agency always; any other participant while the meeting's basis (the
    consent record or council basis it names) covers it for a case conference, now."""
    if meeting.sheet.owner_agency_id == agency.pk:
        return True
    now = timezone.now()
    return bool(
        decide(
            records=consent_records(sheet_id=meeting.sheet_id),
            sender=None,  # a meeting's named basis, not a send
            recipient=agency,
            sections=MEETING_SECTIONS,
            purpose=Purpose.CASE_CONFERENCE,
            at=now,
            record_id=meeting.basis_id,
            adult=person_is_adult(meeting.sheet, now),
        )
    )


def person_is_adult(sheet: Any, at: datetime) -> bool:
    """The consent policy's adult rule, for the sheet a meeting is about."""
    return certainly_adult(
        birth_year=sheet.birth_year, grade=sheet.grade, on=timezone.localdate(at)
    )


def meeting_for(*, staff: Staff, meeting_id: int, for_update: bool = False) -> CaseMeeting:
    """The meeting, if the staff member's agency takes part in it and its basis holds."""
    if staff.is_api and SCOPE_READ not in staff.scopes:
        raise NotFound()
    query = CaseMeeting.objects.select_related("sheet", "organizer", "council", "basis")
    if for_update:
        query = query.select_for_update(of=("self",))
    meeting = query.filter(pk=meeting_id, participants__agency=staff.agency).first()
    if meeting is None or not basis_holds(meeting, staff.agency):
        raise NotFound()
    return meeting


def action_for(*, staff: Staff, action_id: int, for_update: bool = False) -> PlanAction:
    """A plan action, through its meeting's rule."""
    meeting_id = PlanAction.objects.filter(pk=action_id).values_list("meeting_id", flat=True)
    found = meeting_id.first()
    if found is None:
        raise NotFound()
    meeting_for(staff=staff, meeting_id=found)
    query = PlanAction.objects.select_related("owner_agency", "meeting")
    if for_update:
        query = query.select_for_update(of=("self",))
    return query.get(pk=action_id)
