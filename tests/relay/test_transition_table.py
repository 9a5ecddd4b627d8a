"""The transition table in relay.states is the one answer to "which move, by whom": the
services check it and the hop page lists what it allows."""

from __future__ import annotations

import pytest

from agencies.models import Role
from relay.states import (
    ACTIONS,
    ALLOWED_TRANSITIONS,
    OPEN_FOR_RECEIVER,
    Side,
    Status,
    actions_for,
    can_relay_onward,
)
from relay.views.handoffs import ACTIONS as PAGE_ACTIONS

S = Status


def test_the_lifecycle_is_unchanged() -> None:
    lifecycle = {
        S.DRAFT: {S.AWAITING_APPROVAL, S.SENT, S.CANCELLED},
        S.AWAITING_APPROVAL: {S.SENT, S.DRAFT, S.CANCELLED, S.WITHDRAWN},
        S.SENT: {S.ACKNOWLEDGED, S.ACCEPTED, S.DECLINED, S.CANCELLED, S.WITHDRAWN},
        S.ACKNOWLEDGED: {S.ACCEPTED, S.DECLINED, S.CANCELLED, S.WITHDRAWN},
        S.ACCEPTED: {S.COMPLETED, S.CANCELLED, S.WITHDRAWN},
        S.COMPLETED: set(),
        S.DECLINED: set(),
        S.CANCELLED: set(),
        S.WITHDRAWN: set(),
    }
    assert lifecycle == ALLOWED_TRANSITIONS


def _expected(status: Status, side: Side | None, role: Role) -> list[str]:
    """What the hop page offered before the table said it (the behaviour to keep)."""
    senders = (Role.COUNSELOR, Role.SUPERVISOR)
    receivers = (Role.INTAKE, Role.COUNSELOR, Role.SUPERVISOR)
    names: list[str] = []
    if side == Side.SENDER and role in senders:
        if status == S.DRAFT:
            names.append("submit")
        if status == S.AWAITING_APPROVAL and role == Role.SUPERVISOR:
            names += ["approve", "return"]
        if status in (S.DRAFT, S.AWAITING_APPROVAL, *OPEN_FOR_RECEIVER):
            names.append("cancel")
        # Added with provisions (issue 10): an open hop's sender may send an update.
        if status in OPEN_FOR_RECEIVER:
            names.append("send_update")
    elif side == Side.RECEIVER and role in receivers:
        if status == S.SENT:
            names += ["acknowledge", "accept", "decline"]
        elif status == S.ACKNOWLEDGED:
            names += ["accept", "decline"]
        elif status == S.ACCEPTED:
            names.append("complete")
            # Added with progress updates (issue 17): the receiver reports back.
            names.append("post_progress")
    return names


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("side", [Side.SENDER, Side.RECEIVER, None])
@pytest.mark.parametrize("role", list(Role))
def test_the_page_offers_what_it_offered(status: Status, side: Side | None, role: Role) -> None:
    assert actions_for(status=status, side=side, role=role) == _expected(status, side, role)


def test_every_action_of_the_page_has_a_rule_and_every_rule_with_a_side_a_button() -> None:
    with_side = {name for name, who in ACTIONS.items() if who.side is not None}
    assert set(PAGE_ACTIONS) == with_side


def test_relay_onward_once_acknowledged_by_a_receiver_who_may_send() -> None:
    assert can_relay_onward(status=S.ACKNOWLEDGED, side=Side.RECEIVER, role=Role.COUNSELOR)
    assert can_relay_onward(status=S.COMPLETED, side=Side.RECEIVER, role=Role.SUPERVISOR)
    assert not can_relay_onward(status=S.SENT, side=Side.RECEIVER, role=Role.COUNSELOR)
    assert not can_relay_onward(status=S.ACCEPTED, side=Side.RECEIVER, role=Role.INTAKE)
    assert not can_relay_onward(status=S.ACCEPTED, side=Side.SENDER, role=Role.COUNSELOR)


def test_api_keys_may_not_approve_or_return() -> None:
    assert ACTIONS["approve"].api_scope is None and ACTIONS["return"].api_scope is None
    assert ACTIONS["acknowledge"].api_scope == "handoffs:write"
