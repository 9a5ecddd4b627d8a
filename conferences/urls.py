"""URLs of the conferences screens (namespace "conferences")."""

from django.urls import path

from conferences.views import coordinator, meetings

app_name = "conferences"

urlpatterns = [
    path("meetings/", meetings.meeting_list, name="meeting-list"),
    path("sheets/<int:sheet_id>/meetings/new/", meetings.meeting_new, name="meeting-new"),
    path("meetings/<int:meeting_id>/", meetings.meeting_detail, name="meeting-detail"),
    path("meetings/<int:meeting_id>/record/", meetings.meeting_record, name="meeting-record"),
    path("meetings/<int:meeting_id>/report/", meetings.report_write, name="report-write"),
    path("meetings/<int:meeting_id>/actions/", meetings.action_add, name="action-add"),
    path("meetings/<int:meeting_id>/review/", meetings.review_new, name="review-new"),
    path("actions/<int:action_id>/progress/", meetings.action_progress, name="action-progress"),
    # The ward coordinator's view: escalation e-mails link here (TSUNAGU_COORDINATOR_PATH).
    path("coordinator/", coordinator.coordinator, name="coordinator"),
    path("settings/clocks/", coordinator.policies, name="policies"),
]
