"""GET-only FHIR R4 endpoints: parse, call one read service, map, serialise.

Task/{id} and ServiceRequest/{id} read the hop through relay.services.handoff_view, the same
audited read as GET /handoffs/{id}/, so they show exactly the sections that detail shows (and
follow it when that read changes). Consent/{id} reads through relay.services.consent_view.
Organization and HealthcareService are the public directory.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotAcceptable, NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies.models import Agency, Category, Service
from api.directory import query_int
from api.fhir import mapping
from api.pagination import KeysetPagination
from api.permissions import HasScope
from api.principal import principal_staff
from api.schema import READ_PROBLEMS, problem_responses
from relay import selectors, services

FHIR_MEDIA_TYPE = "application/fhir+json"
MAX_COUNT = KeysetPagination.max_page_size


class FHIRJSONRenderer(JSONRenderer):
    """application/fhir+json."""

    media_type = FHIR_MEDIA_TYPE
    format = "fhir"


class FHIRContentNegotiation(DefaultContentNegotiation):
    """FHIR JSON for `Accept: application/fhir+json`, `application/json`, `*/*` or none
    (FHIR servers must accept plain JSON too); anything else is 406. No `?format=`."""

    accepted = frozenset({FHIR_MEDIA_TYPE, "application/json", "application/*", "*/*"})

    def select_renderer(
        self, request: Any, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        header = request.META.get("HTTP_ACCEPT", "*/*") or "*/*"
        offered = {part.split(";")[0].strip().lower() for part in header.split(",")}
        available = list(renderers)
        if offered & self.accepted:
            return available[0], FHIR_MEDIA_TYPE
        raise NotAcceptable(available_renderers=available)


def _resource_schema(resource_type: str, required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"A FHIR R4 {resource_type} "
        f"(https://hl7.org/fhir/R4/{resource_type.lower()}.html); see docs/fhir.md.",
        "required": ["resourceType", *required],
        "properties": {
            "resourceType": {"type": "string", "enum": [resource_type]},
            "id": {"type": "string"},
            **properties,
        },
        "additionalProperties": True,
    }


TASK_SCHEMA = _resource_schema(
    "Task",
    ["id", "status", "intent", "focus"],
    status={"type": "string", "enum": sorted(set(mapping.TASK_STATUS.values()))},
    intent={"type": "string", "enum": ["order"]},
    focus={"type": "object"},
)
SERVICE_REQUEST_SCHEMA = _resource_schema(
    "ServiceRequest",
    ["id", "status", "intent", "subject"],
    status={"type": "string", "enum": sorted(set(mapping.SERVICE_REQUEST_STATUS.values()))},
    intent={"type": "string", "enum": ["order"]},
    subject={"type": "object"},
)
CONSENT_SCHEMA = _resource_schema(
    "Consent",
    ["id", "status", "scope", "category"],
    status={"type": "string", "enum": sorted(set(mapping.CONSENT_STATUS.values()))},
    scope={"type": "object"},
    category={"type": "array", "items": {"type": "object"}},
)
ORGANIZATION_SCHEMA = _resource_schema("Organization", ["id", "name"], name={"type": "string"})
HEALTHCARE_SERVICE_SCHEMA = _resource_schema(
    "HealthcareService", ["id", "providedBy"], providedBy={"type": "object"}
)


def _bundle_schema(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "A FHIR R4 searchset Bundle.",
        "required": ["resourceType", "type", "total", "entry"],
        "properties": {
            "resourceType": {"type": "string", "enum": ["Bundle"]},
            "type": {"type": "string", "enum": ["searchset"]},
            "total": {"type": "integer", "minimum": 0},
            "entry": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["fullUrl", "resource"],
                    "properties": {
                        "fullUrl": {"type": "string", "format": "uri"},
                        "resource": entry,
                    },
                },
            },
        },
    }


def _ok(schema: dict[str, Any], description: str) -> dict[Any, Any]:
    return {
        (200, FHIR_MEDIA_TYPE): OpenApiResponse(schema, description=description),
        **problem_responses(*READ_PROBLEMS),
    }


class FHIRView(APIView):
    """Base of the FHIR endpoints: GET only, FHIR JSON, the API's keys and scopes."""

    permission_classes = [HasScope]
    renderer_classes = [FHIRJSONRenderer]
    content_negotiation_class = FHIRContentNegotiation

    def base(self, request: Request) -> str:
        return request.build_absolute_uri("/api/v1/fhir/")


class TaskView(FHIRView):
    required_scopes = {"GET": "handoffs:read"}

    @extend_schema(
        operation_id="fhir_task_read",
        summary="A hop as a FHIR Task (audited read)",
        description="The hop's lifecycle as Task.status (docs/fhir.md), focus and basedOn "
        "the referral's ServiceRequest, requester and owner the two Organizations, the "
        "outcome in Task.output. Another agency's hop is 404.",
        responses=_ok(TASK_SCHEMA, "The Task."),
    )
    def get(self, request: Request, pk: int) -> Response:
        view = services.handoff_view(staff=principal_staff(request), handoff_id=pk)
        return Response(mapping.task(view.handoff))


class ServiceRequestView(FHIRView):
    required_scopes = {"GET": "handoffs:read"}

    @extend_schema(
        operation_id="fhir_service_request_read",
        summary="A hop's referral as a FHIR ServiceRequest (audited read)",
        description="The referral with the sections the caller may see (exactly those of "
        "GET /handoffs/{id}/) as a contained QuestionnaireResponse in supportingInfo, and "
        "the person as a contained Patient with only what the basic section shares.",
        responses=_ok(SERVICE_REQUEST_SCHEMA, "The ServiceRequest."),
    )
    def get(self, request: Request, pk: int) -> Response:
        view = services.handoff_view(staff=principal_staff(request), handoff_id=pk)
        return Response(mapping.service_request(view.handoff, view.content))


class TaskSearchView(FHIRView):
    required_scopes = {"GET": "handoffs:read"}

    @extend_schema(
        operation_id="fhir_task_search",
        summary="The caller's inbox as a Bundle of Tasks",
        description="Hops sent to the caller's agency, newest first (one page; `_count` "
        "1 to 100, default 50). Tasks carry no content of the sheet.",
        parameters=[
            OpenApiParameter(
                "_count",
                {"type": "integer", "minimum": 1, "maximum": KeysetPagination.max_page_size},
                description="Tasks in the Bundle.",
            )
        ],
        responses=_ok(_bundle_schema(TASK_SCHEMA), "A searchset Bundle of Tasks."),
    )
    def get(self, request: Request) -> Response:
        count = query_int(request, "_count", default=KeysetPagination.page_size, maximum=MAX_COUNT)
        agency = principal_staff(request).agency
        rows = selectors.handoffs_inbox_for(agency=agency, statuses=None, updated_since=None)
        hops = list(rows.select_related("from_agency", "to_agency")[:count])
        return Response(mapping.bundle([mapping.task(h) for h in hops], base=self.base(request)))


class ConsentView(FHIRView):
    required_scopes = {"GET": "sheets:read"}

    @extend_schema(
        operation_id="fhir_consent_read",
        summary="A consent record (or lawful basis) as a FHIR Consent (audited read)",
        description="Only the agency that recorded it: a receiver never reads the record "
        "(it names the other recipients). Scope patient-privacy; one provision with the "
        "recipients as actors, the purposes, and the sections as data classes; its period "
        "and status.",
        responses=_ok(CONSENT_SCHEMA, "The Consent."),
    )
    def get(self, request: Request, pk: int) -> Response:
        record = services.consent_view(staff=principal_staff(request), consent_id=pk)
        return Response(mapping.consent(record, record.recipient_agencies.all()))


_SERVICES = Prefetch(
    "services",
    queryset=Service.objects.prefetch_related(
        Prefetch("categories", queryset=Category.objects.order_by("code"))
    ).order_by("slug"),
)


class OrganizationView(FHIRView):
    required_scopes = {"GET": "directory:read"}

    @extend_schema(
        operation_id="fhir_organization_read",
        summary="An agency as a FHIR Organization",
        responses=_ok(ORGANIZATION_SCHEMA, "The Organization."),
    )
    def get(self, request: Request, slug: str) -> Response:
        agency = Agency.objects.filter(slug=slug).first()
        if agency is None:
            raise NotFound()
        return Response(mapping.organization(agency))


class HealthcareServiceView(FHIRView):
    required_scopes = {"GET": "directory:read"}

    @extend_schema(
        operation_id="fhir_healthcare_service_read",
        summary="A service (program) of an agency as a FHIR HealthcareService",
        description="The id is `<agency slug>.<service slug>`.",
        responses=_ok(HEALTHCARE_SERVICE_SCHEMA, "The HealthcareService."),
    )
    def get(self, request: Request, service_id: str) -> Response:
        agency_slug, _, service_slug = service_id.partition(".")
        agency = Agency.objects.filter(slug=agency_slug).prefetch_related(_SERVICES).first()
        service = None
        if agency is not None:
            service = next((s for s in agency.services.all() if s.slug == service_slug), None)
        if agency is None or service is None:
            raise NotFound()
        return Response(mapping.healthcare_service(agency, service))
