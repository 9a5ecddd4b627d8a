"""The partner API, version 1 (mounted at /api/v1/ by relay/urls.py)."""

from django.urls import path, re_path

from api import consents, desks, directory, handoffs, meetings, progress, views, webhooks
from api.fhir import views as fhir

app_name = "api"

urlpatterns = [
    path("whoami/", views.WhoAmIView.as_view(), name="whoami"),
    path("handoffs/", handoffs.HandoffListCreateView.as_view(), name="handoff-list"),
    path("handoffs/<int:pk>/", handoffs.HandoffDetailView.as_view(), name="handoff-detail"),
    path(
        "handoffs/<int:pk>/acknowledge/",
        handoffs.HandoffAcknowledgeView.as_view(),
        name="handoff-acknowledge",
    ),
    path("handoffs/<int:pk>/accept/", handoffs.HandoffAcceptView.as_view(), name="handoff-accept"),
    path(
        "handoffs/<int:pk>/decline/", handoffs.HandoffDeclineView.as_view(), name="handoff-decline"
    ),
    path(
        "handoffs/<int:pk>/complete/",
        handoffs.HandoffCompleteView.as_view(),
        name="handoff-complete",
    ),
    path("handoffs/<int:pk>/cancel/", handoffs.HandoffCancelView.as_view(), name="handoff-cancel"),
    path(
        "handoffs/<int:pk>/send-update/",
        handoffs.HandoffSendUpdateView.as_view(),
        name="handoff-send-update",
    ),
    path(
        "handoffs/<int:pk>/updates/",
        progress.HandoffUpdatesView.as_view(),
        name="handoff-updates",
    ),
    path("handoffs/<int:pk>/route/", desks.HandoffRouteView.as_view(), name="handoff-route"),
    path("intake-records/", desks.IntakeRecordListView.as_view(), name="intake-record-list"),
    path(
        "intake-records/<int:pk>/",
        desks.IntakeRecordDetailView.as_view(),
        name="intake-record-detail",
    ),
    path("sheets/<int:pk>/", handoffs.SheetDetailView.as_view(), name="sheet-detail"),
    path("meetings/", meetings.MeetingListView.as_view(), name="meeting-list"),
    path("meetings/<int:pk>/", meetings.MeetingDetailView.as_view(), name="meeting-detail"),
    path(
        "sheets/<int:pk>/consents/",
        consents.SheetConsentCreateView.as_view(),
        name="sheet-consent-create",
    ),
    path(
        "consents/<int:pk>/withdraw/",
        consents.ConsentWithdrawView.as_view(),
        name="consent-withdraw",
    ),
    path("agencies/", directory.AgencyListView.as_view(), name="agency-list"),
    path("agencies/<slug:slug>/", directory.AgencyDetailView.as_view(), name="agency-detail"),
    path("services/", directory.ServiceListView.as_view(), name="service-list"),
    path(
        "hsds/organizations/",
        directory.HSDSOrganizationsView.as_view(),
        name="hsds-organizations",
    ),
    path("webhook/", webhooks.WebhookView.as_view(), name="webhook"),
    path("webhook/test/", webhooks.WebhookTestView.as_view(), name="webhook-test"),
    path(
        "webhook/rotate-secret/",
        webhooks.WebhookRotateSecretView.as_view(),
        name="webhook-rotate-secret",
    ),
    path("fhir/Task/", fhir.TaskSearchView.as_view(), name="fhir-task-search"),
    path("fhir/Task/<int:pk>/", fhir.TaskView.as_view(), name="fhir-task"),
    path(
        "fhir/ServiceRequest/<int:pk>/",
        fhir.ServiceRequestView.as_view(),
        name="fhir-service-request",
    ),
    path("fhir/Consent/<int:pk>/", fhir.ConsentView.as_view(), name="fhir-consent"),
    path(
        "fhir/Organization/<slug:slug>/", fhir.OrganizationView.as_view(), name="fhir-organization"
    ),
    path(
        "fhir/HealthcareService/<str:service_id>/",
        fhir.HealthcareServiceView.as_view(),
        name="fhir-healthcare-service",
    ),
    # Keep last: anything else under /api/v1/ is a not-found problem.
    re_path(r"^[\s\S]*$", views.NotFoundView.as_view(), name="not-found"),
]
