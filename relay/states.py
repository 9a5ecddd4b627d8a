"""Handoff states and the one table of allowed transitions, with who may take each.

The services check their moves against it, and the hop page lists the actions it allows;
neither re-encodes it.

Names follow FHIR Task statuses used for closed-loop referrals, so an export is a mapping.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _

from agencies.actors import RECEIVERS, SENDERS
from agencies.models import Role


class Status(models.TextChoices):
    DRAFT = "draft", _("下書き")
    AWAITING_APPROVAL = "awaiting_approval", _("承認待ち")
    SENT = "sent", _("送付済み")
    ACKNOWLEDGED = "acknowledged", _("受領確認済み")
    ACCEPTED = "accepted", _("受け入れ")
    COMPLETED = "completed", _("完了")
    DECLINED = "declined", _("辞退")
    CANCELLED = "cancelled", _("取り下げ")
    WITHDRAWN = "withdrawn", _("同意撤回")


class Side(StrEnum):
    """The side of a hop an action is taken from."""

    SENDER = "sender"
    RECEIVER = "receiver"


@dataclass(frozen=True)
class Transition:
    """One edge of a hop's lifecycle: the action that takes it, and who may take it.

    `side` None: nobody takes it from the hop page; the workflow does (consent withdrawal).
    `api_scope` None: a person only, never an API key.
    """

    action: str
    source: Status
    target: Status
    side: Side | None
    roles: tuple[Role, ...]
    api_scope: str | None = "handoffs:write"


def _edges(
    action: str,
    sources: Iterable[Status],
    target: Status,
    side: Side | None,
    roles: tuple[Role, ...],
    api_scope: str | None = "handoffs:write",
) -> list[Transition]:
    return [Transition(action, source, target, side, roles, api_scope) for source in sources]


_OPEN = (Status.SENT, Status.ACKNOWLEDGED, Status.ACCEPTED)
_SUPERVISOR = (Role.SUPERVISOR,)

# The one table: every allowed move of a hop, in the order a hop page lists the actions.
TRANSITIONS: tuple[Transition, ...] = (
    *_edges("submit", [Status.DRAFT], Status.AWAITING_APPROVAL, Side.SENDER, SENDERS),
    *_edges("submit", [Status.DRAFT], Status.SENT, Side.SENDER, SENDERS),
    *_edges("approve", [Status.AWAITING_APPROVAL], Status.SENT, Side.SENDER, _SUPERVISOR, None),
    *_edges("return", [Status.AWAITING_APPROVAL], Status.DRAFT, Side.SENDER, _SUPERVISOR, None),
    *_edges(
        "cancel",
        [Status.DRAFT, Status.AWAITING_APPROVAL, *_OPEN],
        Status.CANCELLED,
        Side.SENDER,
        SENDERS,
    ),
    *_edges("acknowledge", [Status.SENT], Status.ACKNOWLEDGED, Side.RECEIVER, RECEIVERS),
    *_edges(
        "accept", [Status.SENT, Status.ACKNOWLEDGED], Status.ACCEPTED, Side.RECEIVER, RECEIVERS
    ),
    *_edges(
        "decline", [Status.SENT, Status.ACKNOWLEDGED], Status.DECLINED, Side.RECEIVER, RECEIVERS
    ),
    *_edges("complete", [Status.ACCEPTED], Status.COMPLETED, Side.RECEIVER, RECEIVERS),
    # Consent withdrawn or voided: the workflow stops the hop (relay.services.consents).
    *_edges("withdraw", [Status.AWAITING_APPROVAL, *_OPEN], Status.WITHDRAWN, None, SENDERS),
)

ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    status: frozenset(t.target for t in TRANSITIONS if t.source == status) for status in Status
}

# Commands that keep the hop's status: the sender sends an update (a new provision version)
# while the receiver still works on the hop; the receiver posts progress once it accepted.
# Same shape as a transition (source == target).
COMMANDS: tuple[Transition, ...] = (
    *(Transition("send_update", source, source, Side.SENDER, SENDERS) for source in _OPEN),
    # The receiver of an accepted hop reports progress back (relay.services.progress).
    Transition(
        "post_progress",
        Status.ACCEPTED,
        Status.ACCEPTED,
        Side.RECEIVER,
        RECEIVERS,
        "updates:write",
    ),
)


@dataclass(frozen=True)
class Who:
    """Who may take an action: from which side, in which roles, with which API scope."""

    side: Side | None
    roles: tuple[Role, ...]
    api_scope: str | None


def _who_of(action: str) -> Who:
    first = next(t for t in (*TRANSITIONS, *COMMANDS) if t.action == action)
    return Who(side=first.side, roles=first.roles, api_scope=first.api_scope)


ACTIONS: dict[str, Who] = {t.action: _who_of(t.action) for t in (*TRANSITIONS, *COMMANDS)}


def actions_for(*, status: str, side: Side | None, role: Role | None) -> list[str]:
    """The actions someone on `side` of a hop, in `role`, may take in its current `status`."""
    names: list[str] = []
    for t in (*TRANSITIONS, *COMMANDS):
        if (
            t.source == status
            and t.side is not None
            and t.side == side
            and role in t.roles
            and t.action not in names
        ):
            names.append(t.action)
    return names


# States in which the receiving agency can read the shared sections.
RECEIVER_CAN_READ = frozenset({Status.SENT, Status.ACKNOWLEDGED, Status.ACCEPTED, Status.COMPLETED})
# States the receiver still has to act on; escalation applies to SENT only.
OPEN_FOR_RECEIVER = frozenset({Status.SENT, Status.ACKNOWLEDGED, Status.ACCEPTED})
NOT_YET_SENT = frozenset({Status.DRAFT, Status.AWAITING_APPROVAL})
TERMINAL = frozenset({Status.COMPLETED, Status.DECLINED, Status.CANCELLED, Status.WITHDRAWN})


class DeclineReason(models.TextChoices):
    OUT_OF_SCOPE = "out_of_scope", _("支援の対象外")
    NO_CAPACITY = "no_capacity", _("受け入れ枠がない")
    UNREACHABLE = "unreachable", _("本人と連絡が取れない")
    REFERRED_ELSEWHERE = "referred_elsewhere", _("他機関を紹介した")
    RETURNED_BY_DESK = "returned_by_desk", _("振り分け窓口から送付元へ戻した")
    OTHER = "other", _("その他")


class Outcome(models.TextChoices):
    SUPPORT_STARTED = "support_started", _("支援を開始した")
    REFERRED_ON = "referred_on", _("他機関へつないだ")
    PERSON_DECLINED = "person_declined", _("本人・保護者が希望しなかった")
    UNREACHABLE = "unreachable", _("連絡が取れなかった")


class CancelReason(models.TextChoices):
    SENT_IN_ERROR = "sent_in_error", _("誤って送付した")
    NO_LONGER_NEEDED = "no_longer_needed", _("支援が不要になった")
    OTHER_AGENCY = "other_agency", _("別の機関が対応する")
    OTHER = "other", _("その他")


def can_transition(current: str, target: Status) -> bool:
    return target in ALLOWED_TRANSITIONS[Status(current)]


# A receiver that has acknowledged a hop may pass the sheet on (a new hop from it).
RELAY_ONWARD_FROM = frozenset({Status.ACKNOWLEDGED, Status.ACCEPTED, Status.COMPLETED})


def can_relay_onward(*, status: str, side: Side | None, role: Role | None) -> bool:
    return side == Side.RECEIVER and role in SENDERS and status in RELAY_ONWARD_FROM
