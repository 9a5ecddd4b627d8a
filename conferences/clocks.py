"""The plan's clocks on the due-work engine: plan actions by their due date, meetings by
their next review date. Told agencies get a link to a screen they may open."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from conferences.models import ActionState, CaseMeeting, PlanAction
from duework import policy as clocks
from duework.generic import GenericKind
from duework.kinds import register
from duework.models import Clock


def _meeting_path(clock: Clock) -> str:
    meeting_id = clock.context.get("meeting_id") or clock.subject_id
    try:
        return reverse("conferences:meeting-detail", args=[meeting_id])
    except NoReverseMatch:  # the web UI is not installed
        return "/"


def _action_open(action: PlanAction) -> bool:
    return action.state == ActionState.OPEN


def _review_open(meeting: CaseMeeting) -> bool:
    return meeting.next_review_on is not None and not meeting.reviews.exists()


def register_kinds() -> None:
    """Make the plan's clocks known to the sweep (conferences' ready())."""
    register(
        GenericKind(
            kind=clocks.PLAN_ACTION,
            event="plan.action_due",
            still_open=_action_open,
            path=_meeting_path,
        )
    )
    register(
        GenericKind(
            kind=clocks.MEETING_REVIEW,
            event="meeting.review_due",
            still_open=_review_open,
            path=_meeting_path,
        )
    )
