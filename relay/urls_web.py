"""URLs of the web UI for people (namespace "relay")."""

from django.urls import path

from relay.views import (
    approvals,
    consents,
    desk,
    filters,
    handoffs,
    home,
    notifications,
    public,
    security,
    send,
    sheets,
    supervisor,
)

app_name = "relay"

urlpatterns = [
    path("", home.home, name="home"),
    # Sheets
    path("sheets/", sheets.sheet_list, name="sheet-list"),
    path("sheets/new/", sheets.sheet_new, name="sheet-new"),
    path("sheets/<int:sheet_id>/", sheets.sheet_detail, name="sheet-detail"),
    path("sheets/<int:sheet_id>/edit/", sheets.sheet_edit, name="sheet-edit"),
    path("sheets/<int:sheet_id>/print/", sheets.sheet_print, name="sheet-print"),
    path("sheets/<int:sheet_id>/attachments/", sheets.attachment_new, name="attachment-new"),
    path(
        "attachments/<int:attachment_id>/download/",
        sheets.attachment_download,
        name="attachment-download",
    ),
    # Consent
    path("sheets/<int:sheet_id>/consent/", consents.consent_new, name="consent-new"),
    path(
        "sheets/<int:sheet_id>/consent/print/",
        consents.consent_print_draft,
        name="consent-print-draft",
    ),
    path("consents/<int:record_id>/print/", consents.consent_print, name="consent-print"),
    path("consents/<int:record_id>/withdraw/", consents.consent_withdraw, name="consent-withdraw"),
    path(
        "consents/<int:record_id>/entered-in-error/",
        consents.consent_entered_in_error,
        name="consent-entered-in-error",
    ),
    # Send
    path("sheets/<int:sheet_id>/send/", send.send, name="send"),
    path("sheets/<int:sheet_id>/send/check/", send.send_check, name="send-check"),
    # Handoffs
    path("handoffs/inbox/", handoffs.inbox, name="inbox"),
    path("handoffs/outbox/", handoffs.outbox, name="outbox"),
    path("handoffs/<int:handoff_id>/", handoffs.handoff_detail, name="handoff-detail"),
    path(
        "handoffs/<int:handoff_id>/<slug:name>/",
        handoffs.handoff_action,
        name="handoff-action",
    ),
    # A routing desk: triage, and its public intake form (no sign-in)
    path("desk/", desk.desk_inbox, name="desk"),
    path("desk/handoffs/<int:handoff_id>/assign/", desk.desk_assign, name="desk-assign"),
    path("desk/handoffs/<int:handoff_id>/route/", desk.desk_route, name="desk-route"),
    path("desk/handoffs/<int:handoff_id>/return/", desk.desk_return, name="desk-return"),
    path("desk/intake/<int:intake_id>/", desk.intake_detail, name="intake-detail"),
    path("desk/intake/<int:intake_id>/assign/", desk.intake_assign, name="intake-assign"),
    path("desk/intake/<int:intake_id>/close/", desk.intake_close, name="intake-close"),
    path("soudan/<slug:slug>/", public.intake_form, name="public-intake"),
    path("soudan/<slug:slug>/thanks/", public.intake_thanks, name="public-intake-thanks"),
    # Supervisor
    path("supervisor/approvals/", approvals.approvals, name="approvals"),
    path("supervisor/approvals/approve/", approvals.approve_many, name="approve-many"),
    path(
        "supervisor/lawful-bases/<int:record_id>/decide/",
        supervisor.basis_decide,
        name="basis-decide",
    ),
    path("supervisor/audit/", supervisor.audit_log, name="audit-log"),
    path("supervisor/audit/export.csv", supervisor.audit_export, name="audit-export"),
    path(
        "supervisor/provision-records/",
        supervisor.provision_report,
        name="provision-records",
    ),
    path("supervisor/metrics/", supervisor.metrics_page, name="metrics"),
    path("supervisor/security/", security.security_policy, name="security-policy"),
    # Saved searches of the list screens
    path("filters/save/", filters.filter_save, name="filter-save"),
    path("filters/<int:filter_id>/delete/", filters.filter_delete, name="filter-delete"),
    # Notifications
    path("notifications/", notifications.notification_list, name="notifications"),
]
