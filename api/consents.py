"""Endpoints of consent: a partner system records the consent it obtained for a sheet its
agency owns or holds (with the scanned form), and records a withdrawal of its own record.

Parse, call one service (relay.services.consent_record / consent_withdraw), serialise. The
services decide who may record what (the sheet held, the sections held, the scope
`consents:write`) and audit it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from agencies.models import Agency, AgencyKind
from api.fields import StrictCharField
from api.handoff_serializers import AgencyRefField
from api.idempotency import IdempotencyMixin
from api.language import bilingual
from api.parsers import BoundedJSONParser
from api.permissions import HasScope
from api.principal import principal_staff
from api.schema import WRITE_PROBLEMS, location_header, problem_responses
from api.scopes import Scope
from api.serializers import AgencyRefSerializer
from consent.models import ChildAssent, ConsentRecord, Decision, Grantor, Method
from consent.vocabulary import Purpose, Section
from relay import services

TEXT_MAX_LENGTH = 2000


class ConsentCreateSerializer(serializers.Serializer):
    """A consent (or a refusal) the caller's agency obtained from the person or guardian."""

    grantors = serializers.ListField(
        child=serializers.ChoiceField(choices=Grantor.choices), min_length=1, max_length=3
    )
    method = serializers.ChoiceField(choices=Method.choices)
    decision = serializers.ChoiceField(
        choices=Decision.choices, required=False, default=Decision.PERMIT
    )
    child_assent = serializers.ChoiceField(
        choices=ChildAssent.choices, required=False, allow_blank=True, default=""
    )
    recipients = serializers.ListField(
        child=AgencyRefField(help_text="The agency's slug, or its id."),
        required=False,
        default=list,
        max_length=50,
        help_text="Named recipient agencies (slugs or ids); with `recipient_kinds`, one or more.",
    )
    recipient_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=AgencyKind.choices),
        required=False,
        default=list,
        max_length=len(AgencyKind.values),
    )
    routing_desk = AgencyRefField(
        required=False,
        allow_null=True,
        default=None,
        help_text="A routing desk (its slug or id) that receives the sheet and chooses the "
        "agency it goes on to, among `routing_kinds`, with no new consent.",
    )
    routing_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=AgencyKind.choices),
        required=False,
        default=list,
        max_length=len(AgencyKind.values),
        help_text="The kinds of agency the routing desk may choose among (with routing_desk).",
    )
    sections = serializers.ListField(
        child=serializers.ChoiceField(choices=Section.choices),
        min_length=1,
        max_length=20,
        help_text="Only sections the caller's agency holds of the sheet (all, for its owner).",
    )
    purposes = serializers.ListField(
        child=serializers.ChoiceField(choices=Purpose.choices), min_length=1, max_length=10
    )
    valid_until = serializers.DateTimeField(help_text="With a time zone; after now.")
    obtained_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    obtained_by = StrictCharField(
        min_length=1,
        max_length=150,
        help_text="The partner's staff member who obtained the consent (name or staff id).",
    )


class ConsentCreateFormSerializer(ConsentCreateSerializer):
    """The same, as multipart/form-data, with the signed form scanned (PDF, PNG or JPEG)."""

    scanned_form = serializers.FileField(required=False, allow_null=True, default=None)


class ConsentWithdrawSerializer(serializers.Serializer):
    via = StrictCharField(
        min_length=1,
        max_length=100,
        help_text="Who asked for the withdrawal (e.g. 本人から電話で).",
    )
    reason = StrictCharField(
        max_length=TEXT_MAX_LENGTH, required=False, default="", allow_blank=True
    )


class ConsentSerializer(serializers.ModelSerializer):
    """A consent record as its recording agency sees it (ids and codes; no sheet content)."""

    agency = AgencyRefSerializer(read_only=True, help_text="The agency that recorded it.")
    recipients = serializers.SerializerMethodField()
    routing_desk = serializers.SerializerMethodField()
    has_scanned_form = serializers.SerializerMethodField()
    stopped_handoffs = serializers.SerializerMethodField()

    class Meta:
        model = ConsentRecord
        fields = [
            "id",
            "sheet",
            "agency",
            "basis",
            "decision",
            "grantors",
            "method",
            "child_assent",
            "recipients",
            "recipient_kinds",
            "routing_desk",
            "routing_kinds",
            "sections",
            "purposes",
            "valid_from",
            "valid_until",
            "status",
            "obtained_at",
            "obtained_by_label",
            "has_scanned_form",
            "withdrawn_at",
            "stopped_handoffs",
        ]
        read_only_fields = fields

    def get_recipients(self, record: ConsentRecord) -> list[str]:
        return sorted(a.slug for a in record.recipient_agencies.all())

    def get_routing_desk(self, record: ConsentRecord) -> str | None:
        """The routing desk's slug, when the consent lets a desk choose the recipient."""
        return record.routing_desk.slug if record.routing_desk is not None else None

    def get_has_scanned_form(self, record: ConsentRecord) -> bool:
        return bool(record.scanned_form)

    def get_stopped_handoffs(self, record: ConsentRecord) -> list[int]:
        """The hops a withdrawal stopped (empty when recording)."""
        return list(self.context.get("stopped", []))


def _consent_response(record: ConsentRecord, **context: Any) -> dict[str, Any]:
    return dict(ConsentSerializer(record, context=context).data)


def _routing_desk(ref: str | None) -> Agency | None:
    """The named desk, by slug or id; an unknown agency is a 400 naming `routing_desk` (whether
    it is a routing desk, and for which kinds, the service checks)."""
    if ref is None:
        return None
    by_id = ref.isascii() and ref.isdigit() and len(ref) <= 18
    desk = Agency.objects.filter(Q(slug=ref) | Q(pk=int(ref)) if by_id else Q(slug=ref)).first()
    if desk is None:
        raise ValidationError(
            {"routing_desk": [bilingual("該当する機関がありません。", "No such agency.")]},
            code="unknown_agency",
        )
    return desk


def _recipients(refs: list[str]) -> list[Agency]:
    """The named agencies, by slug or id; an unknown one is a 400 naming `recipients`."""
    ids = [int(r) for r in refs if r.isascii() and r.isdigit() and len(r) <= 18]
    found = list(Agency.objects.filter(Q(slug__in=refs) | Q(pk__in=ids)))
    known = {a.slug for a in found} | {str(a.pk) for a in found}
    if set(refs) - known:
        raise ValidationError(
            {"recipients": [bilingual("該当する機関がありません。", "No such agency.")]},
            code="unknown_agency",
        )
    return found


CONSENT_EXAMPLE = {
    "grantors": ["guardian"],
    "method": "written",
    "child_assent": "assented",
    "recipients": ["adachi-free-school-example"],
    "sections": ["basic", "consultation"],
    "purposes": ["support"],
    "valid_until": "2027-06-30T23:59:59+09:00",
    "obtained_by": "教育支援センター 相談員A",
}


class SheetConsentCreateView(IdempotencyMixin, APIView):
    """Record a consent obtained by the caller's agency, for a sheet it owns or holds."""

    permission_classes = [HasScope]
    required_scopes = {"POST": Scope.CONSENTS_WRITE.value}
    parser_classes = [BoundedJSONParser, MultiPartParser]

    @extend_schema(
        operation_id="sheets_consents_create",
        summary="Record a consent the caller's agency obtained (optionally with the scan)",
        description="For a sheet the caller's agency owns, or holds through a handoff it "
        "acknowledged or accepted (then only for the sections it holds: others are 400 "
        "`invalid-input` on `sections`). The record names the caller's agency: it covers that "
        "agency's own onward sends (and a record of the sheet's owner covers any holder's), "
        "it is shown read-only to the sheet's owner, and only the caller's agency may withdraw "
        "it. Send JSON, or multipart/form-data with `scanned_form` (PDF, PNG or JPEG up to "
        "10 MB, checked by content) and lists as repeated fields. A sheet the agency neither "
        "owns nor holds (or a hop since withdrawn, declined or cancelled) is 404. Audited.",
        request={
            "application/json": ConsentCreateSerializer,
            "multipart/form-data": ConsentCreateFormSerializer,
        },
        parameters=[location_header(201)],
        responses={
            201: OpenApiResponse(ConsentSerializer),
            **problem_responses(*WRITE_PROBLEMS),
        },
        examples=[
            OpenApiExample("consent at the second agency", CONSENT_EXAMPLE, request_only=True)
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        serializer = ConsentCreateFormSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        record = services.consent_record(
            staff=principal_staff(request),
            sheet_id=pk,
            grantors=data["grantors"],
            method=data["method"],
            decision=data["decision"],
            child_assent=data["child_assent"],
            recipients=_recipients(data["recipients"]),
            recipient_kinds=data["recipient_kinds"],
            routing_desk=_routing_desk(data["routing_desk"]),
            routing_kinds=data["routing_kinds"],
            sections=data["sections"],
            purposes=data["purposes"],
            valid_until=data["valid_until"],
            obtained_at=data["obtained_at"],
            obtained_by_label=data["obtained_by"],
            scanned_form=data.get("scanned_form"),
        )
        response = Response(_consent_response(record), status=status.HTTP_201_CREATED)
        response["Location"] = reverse("api:fhir-consent", args=[record.pk], request=request)
        return response


class ConsentWithdrawView(IdempotencyMixin, APIView):
    """Record the person's withdrawal of a consent the caller's agency recorded."""

    permission_classes = [HasScope]
    required_scopes = {"POST": Scope.CONSENTS_WRITE.value}

    @extend_schema(
        operation_id="consents_withdraw",
        summary="Record a withdrawal of a consent the caller's agency recorded",
        description="Only the agency that recorded the consent may record its withdrawal "
        "(another agency's record is 404, as a record that does not exist). Every hop sent "
        "under this record is stopped and its receiver loses what it was given; hops sent "
        "under another record (the sheet owner's, or another holder's) go on. "
        "`stopped_handoffs` lists the hops stopped. A record already withdrawn is 409.",
        request=ConsentWithdrawSerializer,
        responses={
            200: OpenApiResponse(ConsentSerializer),
            **problem_responses(*WRITE_PROBLEMS),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        serializer = ConsentWithdrawSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        staff = principal_staff(request)
        stopped = services.consent_withdraw(
            staff=staff,
            record_id=pk,
            via=serializer.validated_data["via"],
            reason=serializer.validated_data["reason"],
        )
        record = ConsentRecord.objects.prefetch_related("recipient_agencies").get(pk=pk)
        return Response(_consent_response(record, stopped=sorted(h.pk for h in stopped)))
