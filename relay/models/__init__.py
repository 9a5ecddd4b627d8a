"""Relay models: sheets, handoffs, the indexed access path."""

from relay.models.access import (
    HandoffGroupObjectPermission,
    HandoffUserObjectPermission,
    SheetAccess,
    SheetGroupObjectPermission,
    SheetUserObjectPermission,
)
from relay.models.filters import ListScreen, SavedFilter
from relay.models.handoffs import Handoff
from relay.models.intake import Asker, ContactMethod, DeskAssignment, IntakeRecord, IntakeStatus
from relay.models.progress import ProgressStatus, ProgressUpdate
from relay.models.provisions import HandoffNote, NoteKind, Provision
from relay.models.sheets import Attachment, ReferralSheet, SheetVersion

__all__ = [
    "Asker",
    "Attachment",
    "ContactMethod",
    "DeskAssignment",
    "Handoff",
    "HandoffGroupObjectPermission",
    "HandoffNote",
    "HandoffUserObjectPermission",
    "IntakeRecord",
    "IntakeStatus",
    "ListScreen",
    "NoteKind",
    "ProgressStatus",
    "ProgressUpdate",
    "Provision",
    "ReferralSheet",
    "SavedFilter",
    "SheetAccess",
    "SheetGroupObjectPermission",
    "SheetUserObjectPermission",
    "SheetVersion",
]
