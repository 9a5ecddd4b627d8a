"""A routing desk's partner API: its intake records, and routing a received hop onward.

Routing is the desk's onward send (relay.services.desks.handoff_route): the consent policy
decides it like any send, and a kind the person did not agree to is a 422 problem
(`kind-not-routable`)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from api.fields import StrictCharField
from api.handoff_serializers import (
    NOTE_MAX_LENGTH,
    AgencyRefField,
    HandoffSerializer,
)
from api.handoffs import _handoff_response, _to_agency, _valid
from api.idempotency import IdempotencyMixin
from api.pagination import KeysetPagination
from api.permissions import HasScope
from api.principal import principal_agency_required, principal_staff
from api.schema import READ_PROBLEMS, WRITE_PROBLEMS, problem_responses
from consent.vocabulary import Section
from relay.models import IntakeRecord
from relay.services import desks
from relay.services.transactions import retry_on_conflict


class IntakeRecordSerializer(serializers.ModelSerializer):
    """An intake record in a list: what kind of request, not what it says."""

    class Meta:
        model = IntakeRecord
        fields = ["id", "asker", "contact_method", "status", "sheet", "received_at"]
        read_only_fields = fields


class IntakeRecordDetailSerializer(serializers.ModelSerializer):
    """One intake record with the person's words and contact (the read is audited)."""

    class Meta:
        model = IntakeRecord
        fields = [
            "id",
            "asker",
            "contact_method",
            "contact_detail",
            "situation",
            "consent_to_contact",
            "status",
            "sheet",
            "received_at",
        ]
        read_only_fields = fields


class IntakeRecordListView(ListAPIView):
    """The caller's desk's intake records, newest first (none for an agency that is not a
    routing desk)."""

    permission_classes = [HasScope]
    required_scopes = {"GET": "intake:read"}
    serializer_class = IntakeRecordSerializer
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[IntakeRecord]:
        agency = principal_agency_required(self.request)
        return IntakeRecord.objects.filter(desk=agency).order_by("-id")

    @extend_schema(
        operation_id="intake_records_list",
        summary="List the intake records of the caller's routing desk",
        description="Requests people sent through the desk's public intake form, newest "
        "first, without their text or contact (read one record for those; that read is "
        "audited). An agency that is not a routing desk has none.",
        responses={200: IntakeRecordSerializer(many=True), **problem_responses(*READ_PROBLEMS)},
    )
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)


class IntakeRecordDetailView(APIView):
    permission_classes = [HasScope]
    required_scopes = {"GET": "intake:read"}

    @extend_schema(
        operation_id="intake_records_retrieve",
        summary="Read one intake record (audited)",
        description="The person's words and contact, for the desk that received them; any "
        "other agency's record is 404. Every read writes an audit event.",
        responses={200: IntakeRecordDetailSerializer, **problem_responses(*READ_PROBLEMS)},
    )
    def get(self, request: Request, pk: int) -> Response:
        intake = desks.intake_view(staff=principal_staff(request), intake_id=pk)
        return Response(IntakeRecordDetailSerializer(intake).data)


class RouteSerializer(serializers.Serializer):
    """Where the desk sends the hop it received, and (optionally) fewer sections."""

    to_agency = AgencyRefField(help_text="The agency's slug, or its id.")
    sections = serializers.ListField(
        child=serializers.ChoiceField(choices=Section.choices),
        min_length=1,
        max_length=20,
        required=False,
        help_text="Default: the sections of the hop the desk received.",
    )
    # Not trimmed: the length a client sends is the length the schema bounds.
    message = StrictCharField(
        max_length=NOTE_MAX_LENGTH,
        required=False,
        default="",
        allow_blank=True,
        trim_whitespace=False,
    )


class HandoffRouteView(IdempotencyMixin, APIView):
    """A routing desk sends a hop it received onward to the agency it chose."""

    permission_classes = [HasScope]
    required_scopes = {"POST": "handoffs:write"}

    @extend_schema(
        operation_id="handoffs_route",
        summary="Route a received handoff onward (routing desks)",
        description="For an agency that is a routing desk: send the hop it received on to an "
        "agency it chose, with no new consent when the person's consent names this desk and "
        "the recipient's kind. The new hop is the received hop's child (the first sender sees "
        "where it went); the received hop is acknowledged. A kind the consent does not allow "
        "answers 422 with reason `kind-not-routable` and leaves nothing behind; an agency "
        "that is not a routing desk answers 403. Send an Idempotency-Key to make a retry "
        "safe.",
        request=RouteSerializer,
        responses={
            201: OpenApiResponse(HandoffSerializer),
            **problem_responses(*WRITE_PROBLEMS),
        },
        examples=[
            OpenApiExample(
                "route",
                value={"to_agency": "komae-free-space", "message": "本人の希望で居場所へ"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        data = _valid(RouteSerializer, request.data)
        staff = principal_staff(request)
        handoff = retry_on_conflict(desks.handoff_route)(
            staff=staff,
            handoff_id=pk,
            to_agency=_to_agency(data["to_agency"]),
            sections=data.get("sections"),
            message=data["message"],
        )
        response = _handoff_response(request, handoff, status.HTTP_201_CREATED)
        response["Location"] = reverse("api:handoff-detail", args=[handoff.pk], request=request)
        return response
