"""The escalation policies: one ladder for a hop waiting on its receiver (acknowledgment and
decision alike), layered per agency kind and per agency without one changing another."""

from __future__ import annotations

import pytest

from agencies.models import AgencyKind
from duework import policy
from tests.factories import AgencyFactory

pytestmark = pytest.mark.django_db


def test_acknowledgment_and_decision_climb_the_same_ladder() -> None:
    npo = AgencyFactory(kind=AgencyKind.NPO_FREE_SCHOOL)
    ack = policy.policy_for(policy.HANDOFF_ACK, agency=npo)["levels"]
    decision = policy.policy_for(policy.HANDOFF_DECISION, agency=npo)["levels"]
    assert ack == decision == policy.RECEIVER_LADDER
    assert [level["notify"] for level in ack] == [
        "receiver_intake",
        "receiver_supervisors_and_sender",
        "coordinator",
    ]


def test_an_agencys_own_ladder_changes_only_its_own_clock_kind() -> None:
    """GIVEN an agency that tells the coordinator at level 2 of the acknowledgment clock WHEN
    its policies are resolved THEN its decision clock and every other agency keep the shared
    ladder (a resolved policy is a copy, never the default itself)."""
    own = [{"level": 1, "after_hours": 0, "notify": "receiver_intake"}]
    strict = AgencyFactory(escalation_policy={"clocks": {policy.HANDOFF_ACK: {"levels": own}}})
    other = AgencyFactory()
    resolved = policy.policy_for(policy.HANDOFF_ACK, agency=strict)
    resolved["levels"].append({"level": 9})
    assert resolved["levels"][:1] == own
    assert policy.policy_for(policy.HANDOFF_DECISION, agency=strict)["levels"] == (
        policy.RECEIVER_LADDER
    )
    assert policy.policy_for(policy.HANDOFF_ACK, agency=other)["levels"] == policy.RECEIVER_LADDER
    assert len(policy.RECEIVER_LADDER) == 3


def test_a_school_gets_a_weeks_notice_of_a_plan_action() -> None:
    school = AgencyFactory(kind=AgencyKind.SCHOOL)
    npo = AgencyFactory(kind=AgencyKind.NPO_FREE_SCHOOL)
    assert policy.policy_for(policy.PLAN_ACTION, agency=school)["levels"][0]["before_days"] == 7
    assert policy.policy_for(policy.PLAN_ACTION, agency=npo)["levels"][0]["before_days"] == 3
