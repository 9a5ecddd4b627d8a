"""Handoff states and the one table of allowed transitions.

Names follow FHIR Task statuses used for closed-loop referrals, so an export is a mapping.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


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


ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.AWAITING_APPROVAL, Status.SENT, Status.CANCELLED}),
    Status.AWAITING_APPROVAL: frozenset(
        {Status.SENT, Status.DRAFT, Status.CANCELLED, Status.WITHDRAWN}
    ),
    Status.SENT: frozenset(
        {Status.ACKNOWLEDGED, Status.ACCEPTED, Status.DECLINED, Status.CANCELLED, Status.WITHDRAWN}
    ),
    Status.ACKNOWLEDGED: frozenset(
        {Status.ACCEPTED, Status.DECLINED, Status.CANCELLED, Status.WITHDRAWN}
    ),
    Status.ACCEPTED: frozenset({Status.COMPLETED, Status.CANCELLED, Status.WITHDRAWN}),
    Status.COMPLETED: frozenset(),
    Status.DECLINED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.WITHDRAWN: frozenset(),
}

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
