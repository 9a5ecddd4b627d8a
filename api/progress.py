"""Progress updates of a hop (`/handoffs/{id}/updates/`): parse, call one service, serialise.

relay.services.progress decides everything: who may post (the receiver of an accepted hop),
what the sender may read (the consent policy), the audit events and the notification.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from api.fields import StrictCharField, StrictIntegerField, StrictRegexField
from api.idempotency import IdempotencyMixin
from api.permissions import HasScope
from api.principal import principal_staff
from api.schema import READ_PROBLEMS, WRITE_PROBLEMS, location_header, problem_responses
from relay import services
from relay.models import ProgressStatus
from relay.models.progress import TEXT_MAX_LENGTH
from relay.services.progress import ProgressEntry

MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"


class AttendanceSerializer(serializers.Serializer):
    """Attendance days in one month (education support centers only)."""

    month = StrictRegexField(MONTH_PATTERN, help_text="The month, `YYYY-MM` (2000 to 2099).")
    days = StrictIntegerField(min_value=0, max_value=31)


class ProgressUpdateSerializer(serializers.Serializer):
    """One update as the caller may see it: without `readable`, only that it was posted."""

    id = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    readable = serializers.BooleanField(
        read_only=True,
        help_text="False: the sender's consent does not cover this update; status, text and "
        "attendance are null.",
    )
    shared_with_sender = serializers.BooleanField(
        read_only=True,
        help_text="Whether consent covered sending it to the hop's sender when it was posted.",
    )
    status = serializers.ChoiceField(
        choices=ProgressStatus.choices, read_only=True, allow_null=True
    )
    text = serializers.CharField(read_only=True, allow_null=True)
    attendance = AttendanceSerializer(read_only=True, allow_null=True)


class ProgressCreateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ProgressStatus.choices)
    # Not trimmed: the length a client sends is the length the schema bounds.
    text = StrictCharField(
        max_length=TEXT_MAX_LENGTH,
        required=False,
        default="",
        allow_blank=True,
        trim_whitespace=False,
    )
    attendance = AttendanceSerializer(required=False)


def _payload(entry: ProgressEntry) -> dict[str, Any]:
    u = entry.update
    shown = entry.readable
    return {
        "id": u.pk,
        "created_at": u.created_at,
        "readable": shown,
        "shared_with_sender": u.shared_with_sender,
        "status": u.status if shown else None,
        "text": u.text if shown else None,
        "attendance": (
            {"month": u.attendance_month.strftime("%Y-%m"), "days": u.attendance_days}
            if shown and u.attendance_month is not None
            else None
        ),
    }


def _month(value: str) -> date:
    year, month = value.split("-")
    return date(int(year), int(month), 1)


UPDATE_EXAMPLE = {
    "id": 3,
    "created_at": "2026-11-30T16:00:00+09:00",
    "readable": True,
    "shared_with_sender": True,
    "status": "continuing",
    "text": "週2回、午前中に通所しています。",
    "attendance": {"month": "2026-11", "days": 8},
}


class HandoffUpdatesView(IdempotencyMixin, APIView):
    """The progress updates of one hop: its receiver posts them, both parties read them."""

    permission_classes = [HasScope]
    required_scopes = {"GET": "updates:read", "POST": "updates:write"}

    @extend_schema(
        operation_id="handoffs_updates_list",
        summary="List the progress updates of a handoff (audited)",
        description="Oldest first. The receiving agency reads all of its updates. The "
        "sending agency reads an update only if the person's consent covered the section "
        "`progress` to it, for the hop's purpose, when it was posted, and still does (an "
        "expired record keeps what was given readable; a withdrawal or a later refusal hides "
        "it): otherwise the entry says only that an update was posted (`readable` false, "
        "content null). Another agency's hop is 404. A read that shows content is audited.",
        responses={
            200: OpenApiResponse(
                ProgressUpdateSerializer(many=True),
                examples=[OpenApiExample("updates", UPDATE_EXAMPLE, response_only=True)],
            ),
            **problem_responses(*READ_PROBLEMS),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        listed = services.handoff_progress_list(staff=principal_staff(request), handoff_id=pk)
        return Response([_payload(e) for e in listed.entries])

    @extend_schema(
        operation_id="handoffs_updates_create",
        summary="Post a progress update on an accepted handoff",
        description="Receiver only, while the hop is `accepted` (409 `illegal-transition` "
        "with `current_status` otherwise). A status, a short text and, for an education "
        "support center, the attendance days of a month that has come. It reaches the "
        "sending agency only if consent covers the section `progress` to it for the hop's "
        "purpose (`shared_with_sender`); the sender is notified either way, without "
        "content. Posting restarts the monthly reminder. Send an Idempotency-Key to make a "
        "retry safe.",
        request=ProgressCreateSerializer,
        parameters=[location_header(201)],
        responses={
            201: OpenApiResponse(
                ProgressUpdateSerializer,
                examples=[OpenApiExample("posted", UPDATE_EXAMPLE, response_only=True)],
            ),
            **problem_responses(*WRITE_PROBLEMS),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        serializer = ProgressCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        attendance = data.get("attendance")
        update = services.handoff_progress_post(
            staff=principal_staff(request),
            handoff_id=pk,
            status=data["status"],
            text=data["text"],
            attendance_month=_month(attendance["month"]) if attendance else None,
            attendance_days=attendance["days"] if attendance else None,
        )
        entry = ProgressEntry(update=update, readable=True, own=True)
        return Response(
            _payload(entry),
            status=status.HTTP_201_CREATED,
            headers={
                "Location": reverse("api:handoff-updates", args=[pk], request=request),
            },
        )
