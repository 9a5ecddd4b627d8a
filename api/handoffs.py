"""Endpoints of hops and sheets: parse, call one workflow service, serialise.

The services decide everything (roles, scopes, visibility, transitions, consent) and audit it;
these views translate HTTP to keyword arguments and back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from agencies.actors import Staff
from agencies.errors import ConsentDoesNotCover
from agencies.models import Agency, Service
from api import handoff_page
from api.etag import check_if_match, detail_etag_for, etag_for, not_modified
from api.handoff_serializers import (
    HANDOFF_COLUMNS,
    CancelSerializer,
    CompleteSerializer,
    DeclineSerializer,
    HandoffCreateSerializer,
    HandoffDetailSerializer,
    HandoffListParamsSerializer,
    HandoffSerializer,
    NoteSerializer,
    SheetSerializer,
    VersionParamSerializer,
    handoff_documents,
)
from api.idempotency import IdempotencyMixin
from api.language import bilingual
from api.pagination import CURSOR_PATTERN, MAX_CURSOR_LENGTH, KeysetPagination
from api.permissions import HasScope
from api.principal import principal_agency, principal_agency_required, principal_staff
from api.schema import (
    ACTION_PROBLEMS,
    READ_PROBLEMS,
    WRITE_PROBLEMS,
    etag_header,
    location_header,
    problem_responses,
)
from relay import access, selectors, services
from relay.choices import Grade
from relay.models import Handoff
from relay.services.transactions import immediate_checks, lock_sheet, retry_on_conflict
from relay.states import Status

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="The ETag of the last response you hold: 304 (no body) if it is unchanged.",
)
NOT_MODIFIED = OpenApiResponse(
    description="Not modified: the ETag in If-None-Match is still current (the read is "
    "audited all the same)."
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description="The ETag of the hop as last fetched; another version answers 412.",
)
PAGINATION_PARAMETERS = [
    OpenApiParameter(
        "cursor",
        {"type": "string", "maxLength": MAX_CURSOR_LENGTH, "pattern": CURSOR_PATTERN},
        description="Opaque cursor from `next` of the previous page.",
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": KeysetPagination.max_page_size},
        description=f"Rows per page, 1 to {KeysetPagination.max_page_size} "
        f"(default {KeysetPagination.page_size}).",
    ),
]


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _list_params(request: Request) -> dict[str, Any]:
    # An empty value ("status=" or "a,,b") is not a status: the serializer refuses it.
    statuses = [s for v in request.query_params.getlist("status") for s in v.split(",")]
    data: dict[str, Any] = {"box": request.query_params.get("box", "inbox"), "status": statuses}
    for name in ("updated_since", "q", "grade"):
        if name in request.query_params:
            data[name] = request.query_params[name]
    return _valid(HandoffListParamsSerializer, data)


def _to_agency(value: str) -> Agency:
    by_id = value.isascii() and value.isdigit() and len(value) <= 18  # fits a bigint
    agency = Agency.objects.filter(
        Q(slug=value) | Q(pk=int(value)) if by_id else Q(slug=value)
    ).first()
    if agency is None:
        raise ValidationError(
            {"to_agency": [bilingual("該当する機関がありません。", "No such agency.")]},
            code="unknown_agency",
        )
    return agency


def _to_service(value: str | None, agency: Agency) -> Service | None:
    """The recipient's program by slug or id; another agency's program is no program."""
    if value is None:
        return None
    by_id = value.isascii() and value.isdigit() and len(value) <= 18
    service = Service.objects.filter(
        Q(slug=value) | Q(pk=int(value)) if by_id else Q(slug=value), agency=agency
    ).first()
    if service is None:
        raise ValidationError(
            {
                "service": [
                    bilingual(
                        "送付先の機関に、該当する支援メニューがありません。",
                        "The receiving agency has no such program.",
                    )
                ]
            },
            code="unknown_service",
        )
    return service


def _list_rows(rows: QuerySet[Handoff]) -> QuerySet[Handoff, dict[str, Any]]:
    """The selector's query (its filters, its order, its index), selecting exactly the columns
    the list's document reads (HANDOFF_LAYOUT), as dicts: no model instance, no sheet row, no
    annotation the page does not show. The ordering's columns come along: the next page's
    cursor is made of them."""
    ordering = [f.lstrip("-") for f in rows.query.order_by if isinstance(f, str)]
    return rows.select_related(None).values(*dict.fromkeys([*HANDOFF_COLUMNS, *ordering]))


@contextmanager
def _locked_if_match(request: Request, staff: Staff, handoff_id: int) -> Iterator[None]:
    """If-Match against the hop's current version, held locked until the service has acted.

    The services take no expected version, so the check and the transition share one
    transaction here: the row lock makes "still the version the client saw" hold until the
    service (which locks the same row again, in the same transaction) has changed it. The
    sheet is locked before the hop, the workflow's one lock order (relay.services.
    transactions). The hop is fetched through relay.access, so a stale ETag on someone else's
    hop is still a 404, not a 412. A consent refusal (an update the gate refuses) commits its
    audit event before the error goes out, as the service alone would.
    """
    refused: ConsentDoesNotCover | None = None
    with transaction.atomic():
        immediate_checks()
        sheet_id = Handoff.objects.filter(pk=handoff_id).values_list("sheet_id", flat=True)
        if sheet_id:
            lock_sheet(sheet_id[0])
        handoff = access.handoff_for(staff=staff, handoff_id=handoff_id, for_update=True)
        check_if_match(request, handoff)
        try:
            yield
        except ConsentDoesNotCover as exc:
            refused = exc
    if refused is not None:
        raise refused


def _detail_response(request: Request, obj: Any, data: Any) -> Response:
    """200 with a representation ETag, or 304 when If-None-Match names it."""
    etag = detail_etag_for(obj, data)
    if not_modified(request, etag):
        return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    return Response(data, headers={"ETag": etag})


def _handoff_response(
    request: Request, handoff: Handoff, code: int = status.HTTP_200_OK
) -> Response:
    data = HandoffSerializer(handoff, context={"agency": principal_agency(request)}).data
    return Response(data, status=code, headers={"ETag": etag_for(handoff)})


HANDOFF_EXAMPLE = {
    "id": 12,
    "sheet": 7,
    "parent": None,
    "direction": "received",
    "from_agency": {"slug": "adachi-fukushi-marugoto-soudan", "name": "足立区福祉まるごと相談課"},
    "to_agency": {"slug": "adachi-safety-net-adachi", "name": "NPO法人セーフティネットあだち"},
    "service": None,
    "status": "acknowledged",
    "sections": ["basic", "consultation"],
    "purpose": "support",
    "urgent": False,
    "escalation_level": 0,
    "ack_due_at": "2026-11-26T17:00:00+09:00",
    "created_at": "2026-11-24T10:00:00+09:00",
    "sent_at": "2026-11-24T10:05:00+09:00",
    "acknowledged_at": "2026-11-24T11:00:00+09:00",
    "accepted_at": None,
    "declined_at": None,
    "decline_reason": None,
    "completed_at": None,
    "outcome": None,
    "cancelled_at": None,
    "cancel_reason": None,
    "withdrawn_at": None,
    "updated_at": "2026-11-24T11:00:00+09:00",
    "version": 3,
    "etag": '"12-3"',
}


class HandoffListCreateView(IdempotencyMixin, GenericAPIView):
    """The caller's hops (inbox or outbox), and relaying a held sheet onward."""

    permission_classes = [HasScope]
    required_scopes = {"GET": "handoffs:read", "POST": "handoffs:write"}
    pagination_class = KeysetPagination
    serializer_class = HandoffSerializer

    @extend_schema(
        operation_id="handoffs_list",
        summary="List the caller's handoffs, newest first",
        description="`box=inbox` (default): hops sent to the caller's agency, newest sent "
        "first. `box=outbox`: hops the agency created, newest first. One indexed query per "
        "page; follow `next` for older hops.",
        parameters=[
            OpenApiParameter("box", str, enum=["inbox", "outbox"], default="inbox"),
            OpenApiParameter(
                "status",
                str,
                enum=Status.values,
                many=True,
                explode=True,
                description="Only hops in these states (repeat it, or separate by commas).",
            ),
            OpenApiParameter("updated_since", OpenApiTypes.DATETIME),
            OpenApiParameter(
                "q",
                str,
                description="Initials or school name, matched Japanese-aware (full-/half-width, "
                "hiragana/katakana, punctuation ignored). In the inbox, against what each hop's "
                "newest provision gave the caller (its basic section), never the live sheet.",
            ),
            OpenApiParameter(
                "grade",
                str,
                enum=Grade.values,
                description="Grade, read as `q` is.",
            ),
            *PAGINATION_PARAMETERS,
        ],
        responses={200: HandoffSerializer(many=True), **problem_responses(*READ_PROBLEMS)},
    )
    def get(self, request: Request) -> Response:
        params = _list_params(request)
        selector = (
            selectors.handoffs_inbox_for
            if params["box"] == "inbox"
            else selectors.handoffs_outbox_for
        )
        agency = principal_agency_required(request)
        if handoff_page.applies(filters=params.get("q") or params.get("grade")):
            return self._prepared_page(request, params, agency)
        rows = selector(
            agency=agency,
            statuses=params.get("status"),
            updated_since=params.get("updated_since"),
            filters={k: params[k] for k in ("q", "grade") if params.get(k)},
            annotated=False,  # the page selects HANDOFF_COLUMNS: no subquery it leaves out
        )
        page = self.paginate_queryset(_list_rows(rows)) or []
        return self.get_paginated_response(handoff_documents(page, reader=agency.pk))

    def _prepared_page(self, request: Request, params: dict[str, Any], agency: Agency) -> Response:
        """The same page from the statement prepared once per shape (api.handoff_page)."""
        box, order_by = params["box"], handoff_page.page_order(params["box"])

        def fetch(after: list[Any] | None, limit: int) -> list[dict[str, Any]]:
            return handoff_page.handoff_page_rows(
                box=box,
                agency_id=agency.pk,
                statuses=params.get("status"),
                updated_since=params.get("updated_since"),
                after=after,
                limit=limit,
            )

        paginator = self.paginator
        assert isinstance(paginator, KeysetPagination)  # noqa: S101  # pagination_class
        page = paginator.paginate_fetched(
            request,
            model=Handoff,
            order_by=order_by,
            fetch=fetch,
            key=lambda row: handoff_page.cursor_values(row, order_by),
        )
        return self.get_paginated_response(handoff_documents(page, reader=agency.pk))

    @extend_schema(
        operation_id="handoffs_create",
        summary="Relay a sheet onward to another agency",
        description="Creates a hop from the caller's agency for a sheet it holds (owns, or "
        "received with the sections it wants to pass on) and sends it, in one transaction: "
        "the consent gate applies as in the web UI, and what is sent is a snapshot of the "
        "sections as the caller holds them. An agency that requires a supervisor's sign-off "
        "gets the hop in `awaiting_approval`. A refusal by the consent gate answers 422 and "
        "leaves nothing behind (no draft, no hop id); the refusal is audited. An agency that "
        "already has an open hop of the sheet answers 409 `duplicate-handoff` (with that "
        "hop's id if the caller takes part in it) unless `deliberate` is true. `service` "
        "names a program of the receiving agency. If the person falls outside whom the "
        "program (or the agency) serves — age, grade, place of residence, the child's own "
        "wish — the answer is 422 `eligibility-mismatch` with the `mismatches`, and nothing "
        "is created, unless `eligibility_override_reason` says why (then the hop is created "
        "and the override audited). A consent given by a guardian alone does not cover a "
        "person aged 18 or over (422 `consent-does-not-cover`, reason "
        "`adult-needs-own-consent`).",
        request=HandoffCreateSerializer,
        parameters=[etag_header(201), location_header(201)],
        responses={
            201: OpenApiResponse(HandoffSerializer),
            **problem_responses(*WRITE_PROBLEMS),
        },
        examples=[
            OpenApiExample(
                "relay onward",
                value={
                    "sheet": 7,
                    "to_agency": "shinjuku-hikikomori-consultation",
                    "sections": ["basic", "consultation"],
                    "purpose": "support",
                    "message": "ご本人の希望により、居場所の利用についてご相談します。",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = _valid(HandoffCreateSerializer, request.data)
        staff = principal_staff(request)
        to_agency = _to_agency(data["to_agency"])
        handoff = services.handoff_relay(
            staff=staff,
            sheet_id=data["sheet"],
            to_agency=to_agency,
            sections=data["sections"],
            purpose=data["purpose"],
            message=data["message"],
            consent_id=data["consent"],
            deliberate=data["deliberate"],
            service=_to_service(data["service"], to_agency),
            eligibility_override_reason=data["eligibility_override_reason"],
        )
        response = _handoff_response(request, handoff, status.HTTP_201_CREATED)
        response["Location"] = reverse("api:handoff-detail", args=[handoff.pk], request=request)
        return response


class HandoffDetailView(APIView):
    """One hop, with the content of the sections it shares; the read is audited."""

    permission_classes = [HasScope]
    required_scopes = {"GET": "handoffs:read"}

    @extend_schema(
        operation_id="handoffs_retrieve",
        summary="Read one handoff and the sections it shares (audited)",
        description="A receiver sees what was sent to it (a snapshot taken at each send, "
        "never the live sheet) while the hop is open (sent, acknowledged, accepted, "
        "completed); after a decline, cancellation or consent withdrawal it sees the hop "
        "without content, and a section the person later refused is absent from every "
        "version. `versions` lists every send (an update is a new version); `?version=` reads "
        "an earlier one. `notes` holds every note of the hop's transitions. Another agency's "
        "hop is 404. Every read writes an audit event. The ETag names the hop's version and "
        "what this reader was shown: If-Match on an action accepts it, If-None-Match with it "
        "answers 304 while nothing changed.",
        parameters=[
            OpenApiParameter(
                "version",
                {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                description="Read this version of what was sent (default: the newest).",
            ),
            IF_NONE_MATCH,
            etag_header(200, 304),
        ],
        responses={
            200: HandoffDetailSerializer,
            304: NOT_MODIFIED,
            **problem_responses(*READ_PROBLEMS),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        version = _valid(VersionParamSerializer, request.query_params).get("version")
        view = services.handoff_view(staff=principal_staff(request), handoff_id=pk, version=version)
        context = {
            "agency": principal_agency(request),
            "content": view.content,
            "notes": view.notes,
            "provision": view.provision,
            "versions": view.versions,
        }
        data = HandoffDetailSerializer(view.handoff, context=context).data
        return _detail_response(request, view.handoff, data)


class HandoffActionView(IdempotencyMixin, APIView):
    """Base of the transitions: validate the body, check If-Match, call the service."""

    permission_classes = [HasScope]
    required_scopes = {"POST": "handoffs:write"}
    body: type[serializers.Serializer] = NoteSerializer
    act: Callable[..., Handoff]

    def post(self, request: Request, pk: int) -> Response:
        data = _valid(self.body, request.data)
        staff = principal_staff(request)
        handoff = retry_on_conflict(self._act)(request, staff, pk, data)
        return _handoff_response(request, handoff)

    def _act(self, request: Request, staff: Staff, pk: int, data: dict[str, Any]) -> Handoff:
        """One attempt: the If-Match check and the transition, in one transaction (retried
        as a whole on a deadlock or serialization failure)."""
        with _locked_if_match(request, staff, pk):
            return type(self).act(staff=staff, handoff_id=pk, **data)


def _action_schema(name: str, summary: str, description: str, body: Any) -> Any:
    return extend_schema_view(
        post=extend_schema(
            operation_id=f"handoffs_{name}",
            summary=summary,
            description=description
            + " Send the ETag you fetched in If-Match to act only on that version (412 "
            "otherwise); send an Idempotency-Key to make a retry safe.",
            parameters=[IF_MATCH, etag_header(200)],
            request=body,
            responses={
                200: OpenApiResponse(
                    HandoffSerializer,
                    examples=[OpenApiExample(name, HANDOFF_EXAMPLE, response_only=True)],
                ),
                **problem_responses(*ACTION_PROBLEMS),
            },
        )
    )


@_action_schema(
    "acknowledge",
    "Acknowledge a received handoff",
    "The receiving agency confirms it has seen the hop; escalation stops.",
    NoteSerializer,
)
class HandoffAcknowledgeView(HandoffActionView):
    act = staticmethod(services.handoff_acknowledge)


@_action_schema(
    "accept",
    "Accept a received handoff",
    "The receiving agency takes the person on (acknowledging it too, if not yet done).",
    NoteSerializer,
)
class HandoffAcceptView(HandoffActionView):
    act = staticmethod(services.handoff_accept)


@_action_schema(
    "decline",
    "Decline a received handoff",
    "With a structured reason (and a note, required for 'other'); the receiving agency "
    "loses access to the content and the sender is notified.",
    DeclineSerializer,
)
class HandoffDeclineView(HandoffActionView):
    body = DeclineSerializer
    act = staticmethod(services.handoff_decline)


@_action_schema(
    "complete",
    "Record the outcome of an accepted handoff",
    "Closes the loop: the sender sees the outcome.",
    CompleteSerializer,
)
class HandoffCompleteView(HandoffActionView):
    body = CompleteSerializer
    act = staticmethod(services.handoff_complete)


@_action_schema(
    "send_update",
    "Send the receiver an update of a handoff",
    "Sender only, while the hop is open: a new version of what the hop shares, with the "
    "sections' current content as the caller holds them, through the same consent gate (422 "
    "if it no longer covers them: the receiver keeps the version it has) and the same "
    "supervisor sign-off rule as a first send (a counselor's update then waits for a "
    "supervisor). The receiver is notified and sees the version history.",
    NoteSerializer,
)
class HandoffSendUpdateView(HandoffActionView):
    act = staticmethod(services.handoff_send_update)


@_action_schema(
    "cancel",
    "Cancel a handoff the caller's agency sent",
    "Sender only, before completion; the receiving agency loses access and is notified.",
    CancelSerializer,
)
class HandoffCancelView(HandoffActionView):
    body = CancelSerializer
    act = staticmethod(services.handoff_cancel)


class SheetDetailView(APIView):
    """The sections of a sheet the caller's agency may see; the read is audited."""

    permission_classes = [HasScope]
    required_scopes = {"GET": "sheets:read"}

    @extend_schema(
        operation_id="sheets_retrieve",
        summary="Read the visible sections of a sheet (audited)",
        description="The owner sees every section; a receiving agency the union of what "
        "its open hops share. A sheet the agency cannot see is 404. If-None-Match with the "
        "ETag answers 304 while what the agency may see is unchanged.",
        parameters=[IF_NONE_MATCH, etag_header(200, 304)],
        responses={
            200: SheetSerializer,
            304: NOT_MODIFIED,
            **problem_responses(*READ_PROBLEMS),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        view = services.sheet_view(staff=principal_staff(request), sheet_id=pk)
        return _detail_response(request, view.sheet, SheetSerializer(view).data)
