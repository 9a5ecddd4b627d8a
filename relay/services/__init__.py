"""Every write of the relay workflow: one guarded function per transition or command.

The web UI, the partner API and the Celery tasks all call these; nothing else changes state.
"""

from relay.services.consents import (
    consent_mark_entered_in_error,
    consent_record,
    consent_view,
    consent_withdraw,
    lawful_basis_decide,
    lawful_basis_record,
)
from relay.services.exports import audit_log_export, provision_records_export
from relay.services.handoffs import (
    handoff_accept,
    handoff_acknowledge,
    handoff_approve,
    handoff_cancel,
    handoff_complete,
    handoff_create,
    handoff_decline,
    handoff_relay,
    handoff_return_to_draft,
    handoff_send_update,
    handoff_submit,
    handoff_view,
)
from relay.services.progress import handoff_progress_list, handoff_progress_post
from relay.services.sheets import (
    attachment_add,
    attachment_open,
    sheet_create,
    sheet_update,
    sheet_view,
)

__all__ = [
    "attachment_add",
    "attachment_open",
    "audit_log_export",
    "consent_mark_entered_in_error",
    "consent_record",
    "consent_view",
    "consent_withdraw",
    "handoff_accept",
    "handoff_acknowledge",
    "handoff_approve",
    "handoff_cancel",
    "handoff_complete",
    "handoff_create",
    "handoff_decline",
    "handoff_progress_list",
    "handoff_progress_post",
    "handoff_relay",
    "handoff_return_to_draft",
    "handoff_send_update",
    "handoff_submit",
    "handoff_view",
    "lawful_basis_decide",
    "lawful_basis_record",
    "provision_records_export",
    "sheet_create",
    "sheet_update",
    "sheet_view",
]
