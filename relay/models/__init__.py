"""Relay models: sheets, handoffs, the indexed access path, and the notification outbox."""

from relay.models.access import (
    HandoffGroupObjectPermission,
    HandoffUserObjectPermission,
    SheetAccess,
    SheetGroupObjectPermission,
    SheetUserObjectPermission,
)
from relay.models.handoffs import Handoff
from relay.models.outbox import DeliveryAttempt, InAppNotification, OutboxMessage
from relay.models.sheets import Attachment, ReferralSheet, SheetVersion

__all__ = [
    "Attachment",
    "DeliveryAttempt",
    "Handoff",
    "HandoffGroupObjectPermission",
    "HandoffUserObjectPermission",
    "InAppNotification",
    "OutboxMessage",
    "ReferralSheet",
    "SheetAccess",
    "SheetGroupObjectPermission",
    "SheetUserObjectPermission",
    "SheetVersion",
]
