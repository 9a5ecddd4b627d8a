"""URLs of the conferences screens (namespace "conferences")."""

from django.urls import path

from conferences.views import coordinator, councils, meetings

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
    path("councils/", councils.council_list, name="council-list"),
    path("councils/<int:council_id>/", councils.council_detail, name="council-detail"),
    path(
        "councils/<int:council_id>/members/",
        councils.council_member_add,
        name="council-member-add",
    ),
    path(
        "councils/<int:council_id>/members/<int:agency_id>/end/",
        councils.council_member_end,
        name="council-member-end",
    ),
    path("councils/<int:council_id>/end/", councils.council_end, name="council-end"),
    # The ward coordinator's view: escalation e-mails link here (TSUNAGU_COORDINATOR_PATH).
    path("coordinator/", coordinator.coordinator, name="coordinator"),
    path("settings/clocks/", coordinator.policies, name="policies"),
]
