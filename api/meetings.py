"""Case meetings for partner systems (scope meetings:read): the meetings the caller's agency
takes part in, and one meeting's record as a snapshot of one version, with the agencies'
reports and the plan. The services decide who sees what (conferences.access) and audit
every read of a record; these views translate HTTP to them and back."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.pagination import KeysetPagination
from api.permissions import HasScope
from api.principal import principal_staff
from api.schema import READ_PROBLEMS, problem_responses
from api.serializers import AgencyRefSerializer
from conferences import services
from conferences.access import SCOPE_READ, basis_holds
from conferences.models import ActionState, Area, CaseMeeting, ForWhom, GridColumn
from conferences.record import TEXT_FIELDS
from consent.models import CouncilKind


class CouncilRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=CouncilKind.choices)


class MeetingSerializer(serializers.Serializer):
    """A meeting as a list shows it: when, who organised it, under which council; no record."""

    id = serializers.IntegerField()
    sheet = serializers.IntegerField(source="sheet_id")
    organizer = AgencyRefSerializer()
    council = CouncilRefSerializer(allow_null=True)
    held_on = serializers.DateField()
    next_review_on = serializers.DateField(allow_null=True)
    version = serializers.IntegerField(help_text="The newest saved version of the record.")


class MeetingParticipantSerializer(serializers.Serializer):
    agency = AgencyRefSerializer()
    attendees = serializers.CharField(help_text="Who attended, by title.")


class MeetingGridSerializer(serializers.Serializer):
    """The five-area grid: each area (学習面 …) × problem, background, self-help and support
    resources."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            area: MeetingGridRowSerializer(help_text=str(label)) for area, label in Area.choices
        }


class MeetingGridRowSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            column: serializers.CharField(allow_blank=True, help_text=str(label))
            for column, label in GridColumn.choices
        }


class MeetingRecordSerializer(serializers.Serializer):
    """The ケース会議記録シート of one version: wishes, goal, agreements and the grid."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields: dict[str, serializers.Field] = {
            name: serializers.CharField(allow_blank=True) for name in TEXT_FIELDS
        }
        fields["grid"] = MeetingGridSerializer()
        return fields


class MeetingReportSerializer(serializers.Serializer):
    agency = AgencyRefSerializer()
    text = serializers.CharField(help_text="関係機関からの情報, written by that agency.")
    written_at = serializers.DateTimeField()


class PlanActionProgressSerializer(serializers.Serializer):
    agency = AgencyRefSerializer()
    text = serializers.CharField(help_text="経過・評価 (append-only).")
    written_at = serializers.DateTimeField()


class PlanActionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    what = serializers.CharField()
    owner_agency = AgencyRefSerializer()
    owner_role = serializers.CharField(allow_blank=True)
    due_on = serializers.DateField()
    where = serializers.CharField(allow_blank=True)
    for_whom = serializers.ChoiceField(choices=ForWhom.choices)
    short_term_goal = serializers.CharField(allow_blank=True)
    state = serializers.ChoiceField(choices=ActionState.choices)
    progress = PlanActionProgressSerializer(many=True, source="progress.all")


class MeetingDetailSerializer(MeetingSerializer):
    """One meeting: the record of one version (a snapshot), the participants, the agencies'
    reports and the plan's actions with their progress."""

    place = serializers.CharField(allow_blank=True)
    person_attended = serializers.BooleanField()
    guardian_attended = serializers.BooleanField()
    version_read = serializers.IntegerField(help_text="The version of the record shown (0: none)")
    versions = serializers.ListField(child=serializers.IntegerField())
    participants = MeetingParticipantSerializer(many=True)
    record = MeetingRecordSerializer()
    reports = MeetingReportSerializer(many=True)
    actions = PlanActionSerializer(many=True)


class MeetingVersionParams(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)


class MeetingListView(ListAPIView[CaseMeeting]):
    """The meetings the caller's agency takes part in, newest first."""

    permission_classes = [HasScope]
    required_scopes = {"GET": SCOPE_READ}
    pagination_class = KeysetPagination
    serializer_class = MeetingSerializer

    def get_queryset(self) -> QuerySet[CaseMeeting]:
        staff = principal_staff(self.request)
        return (
            CaseMeeting.objects.filter(participants__agency=staff.agency)
            .select_related("sheet", "organizer", "council")
            .order_by("-held_on", "-id")
        )

    @extend_schema(
        operation_id="meetings_list",
        summary="List the case meetings the agency takes part in",
        description="Meetings whose participants include the caller's agency and whose basis "
        "(the consent or council basis the meeting names) still covers it for a case "
        "conference; a page may hold fewer rows than asked where a basis has lapsed. No "
        "record content: read one meeting for that (audited).",
        responses={200: MeetingSerializer(many=True), **problem_responses(*READ_PROBLEMS)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        staff = principal_staff(request)
        page = self.paginate_queryset(self.get_queryset()) or []
        visible = [m for m in page if basis_holds(m, staff.agency)]
        return self.get_paginated_response(MeetingSerializer(visible, many=True).data)


class MeetingDetailView(APIView):
    """One meeting's record (one version) with reports and plan; the read is audited."""

    permission_classes = [HasScope]
    required_scopes = {"GET": SCOPE_READ}

    @extend_schema(
        operation_id="meetings_retrieve",
        summary="Read one case meeting's record and plan (audited)",
        description="The record is a snapshot: each save is a new version, `?version=` reads "
        "an earlier one. Only a participating agency whose basis still holds reads it; any "
        "other agency, a former participant whose basis ended, or a meeting that does not "
        "exist is 404. Every read writes an audit event.",
        parameters=[
            OpenApiParameter(
                "version",
                {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                description="Read this version of the record (default: the newest).",
            )
        ],
        responses={200: MeetingDetailSerializer, **problem_responses(*READ_PROBLEMS)},
    )
    def get(self, request: Request, pk: int) -> Response:
        params = MeetingVersionParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        view = services.meeting_view(
            staff=principal_staff(request),
            meeting_id=pk,
            version=params.validated_data.get("version"),
        )
        meeting = view.meeting
        data = {
            "id": meeting.pk,
            "sheet_id": meeting.sheet_id,
            "organizer": meeting.organizer,
            "council": meeting.council,
            "held_on": meeting.held_on,
            "next_review_on": meeting.next_review_on,
            "version": meeting.version,
            "place": meeting.place,
            "person_attended": meeting.person_attended,
            "guardian_attended": meeting.guardian_attended,
            "version_read": view.version,
            "versions": view.versions,
            "participants": view.participants,
            "record": view.record,
            "reports": view.reports,
            "actions": view.actions,
        }
        return Response(MeetingDetailSerializer(data).data)
