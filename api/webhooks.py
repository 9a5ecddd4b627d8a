"""The caller's webhook endpoint: read or set it, send a test event, rotate its secret.

Each view parses, calls one service of notifications.services (which checks the role or the
`webhooks:manage` scope and audits), and serialises. A secret is in a response only when it
was just made: on creating the endpoint and on rotation.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from agencies.errors import NotFound
from api.fields import StrictCharField
from api.idempotency import IdempotencyMixin
from api.permissions import HasScope
from api.principal import principal_staff
from api.schema import READ_PROBLEMS, WRITE_PROBLEMS, location_header, problem_responses
from notifications import services as webhooks
from notifications.models import EndpointState, WebhookEndpoint

SCOPE = webhooks.API_SCOPE


class WebhookEndpointSerializer(serializers.Serializer):
    """The endpoint as its agency sees it (never the secret, except when just made)."""

    url = serializers.URLField()
    state = serializers.ChoiceField(choices=EndpointState.choices, read_only=True)
    state_reason = serializers.CharField(read_only=True)
    rotating = serializers.BooleanField(
        read_only=True, help_text="A previous secret still signs too (24 h after a rotation)."
    )
    previous_secret_expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    updated_at = serializers.DateTimeField(read_only=True)
    secret = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="`whsec_...`: present only in the response that made it. Keep it safe.",
    )


@extend_schema_field(
    {
        "type": "string",
        "format": "uri",
        "maxLength": webhooks.MAX_URL_LENGTH,
        "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
    }
)
class WebhookUrlField(StrictCharField):
    """An http(s) URL; whether it may be delivered to (https, a public address that
    resolves) is the service's check, at the time of the call."""


class WebhookUrlSerializer(serializers.Serializer):
    url = WebhookUrlField(
        max_length=webhooks.MAX_URL_LENGTH,
        help_text="https (http only in the embedded demo); must resolve to a public address.",
    )


class WebhookTestSerializer(serializers.Serializer):
    webhook_id = serializers.CharField(help_text="The `webhook-id` your endpoint will receive.")
    state = serializers.CharField()


def _render(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "state": endpoint.state,
        "state_reason": endpoint.state_reason,
        "rotating": bool(endpoint.previous_secret),
        "previous_secret_expires_at": endpoint.previous_secret_expires_at,
        "updated_at": endpoint.updated_at,
        "secret": secret,
    }


class WebhookView(IdempotencyMixin, APIView):
    """GET: the agency's endpoint. PUT: set its URL (a new endpoint gets its secret)."""

    permission_classes = [HasScope]
    required_scopes = {"GET": SCOPE, "PUT": SCOPE}

    @extend_schema(
        operation_id="webhook_retrieve",
        summary="Read the agency's webhook endpoint",
        responses={200: WebhookEndpointSerializer, **problem_responses(*READ_PROBLEMS)},
    )
    def get(self, request: Request) -> Response:
        endpoint = webhooks.webhook_get(staff=principal_staff(request))
        if endpoint is None:
            raise NotFound()
        return Response(WebhookEndpointSerializer(_render(endpoint)).data)

    @extend_schema(
        operation_id="webhook_update",
        summary="Set the agency's webhook endpoint URL",
        description="https only (outside the embedded demo); a URL resolving to a loopback, "
        "private or link-local address is refused. Creating the endpoint returns its secret "
        "once; changing the URL keeps the secret and re-enables a disabled endpoint.",
        request=WebhookUrlSerializer,
        examples=[
            OpenApiExample(
                "set", value={"url": "https://npo.example.jp/tsunagu/webhook"}, request_only=True
            )
        ],
        parameters=[location_header(201)],
        responses={
            200: WebhookEndpointSerializer,
            201: WebhookEndpointSerializer,
            **problem_responses(*WRITE_PROBLEMS),
        },
    )
    def put(self, request: Request) -> Response:
        body = WebhookUrlSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = webhooks.webhook_configure(
            staff=principal_staff(request), url=body.validated_data["url"]
        )
        response = Response(
            WebhookEndpointSerializer(_render(result.endpoint, result.secret)).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
        if result.created:
            response["Location"] = reverse("api:webhook", request=request)
        return response


class WebhookTestView(IdempotencyMixin, APIView):
    """Queue a signed `webhook.test` event to the endpoint."""

    permission_classes = [HasScope]
    required_scopes = {"POST": SCOPE}

    @extend_schema(
        operation_id="webhook_test",
        summary="Send a signed test event to the endpoint",
        request=None,
        responses={202: WebhookTestSerializer, **problem_responses(*WRITE_PROBLEMS)},
    )
    def post(self, request: Request) -> Response:
        message = webhooks.webhook_send_test(staff=principal_staff(request))
        return Response(
            {"webhook_id": str(message.pk), "state": message.state},
            status=status.HTTP_202_ACCEPTED,
        )


class WebhookRotateSecretView(IdempotencyMixin, APIView):
    """Make a new secret; the previous one keeps signing for 24 hours."""

    permission_classes = [HasScope]
    required_scopes = {"POST": SCOPE}

    @extend_schema(
        operation_id="webhook_rotate_secret",
        summary="Rotate the endpoint's signing secret",
        description="The response carries the new secret, once. For 24 hours every delivery "
        "is signed with both the new and the previous secret (two `v1,` signatures), so the "
        "receiver can switch without losing a message.",
        request=None,
        responses={200: WebhookEndpointSerializer, **problem_responses(*WRITE_PROBLEMS)},
    )
    def post(self, request: Request) -> Response:
        result = webhooks.webhook_rotate_secret(staff=principal_staff(request))
        return Response(WebhookEndpointSerializer(_render(result.endpoint, result.secret)).data)
