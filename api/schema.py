"""OpenAPI descriptions drf-spectacular cannot infer: API key security, Idempotency-Key."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from api.problems import PROBLEM_CONTENT_TYPE, problem_type_uri


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.APIKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "tsk_<prefix>_<secret>",
            "description": "An API key of your agency, issued by a Tsunagu administrator.",
        }


class TsunaguAutoSchema(AutoSchema):
    """Documents the Idempotency-Key header on the methods IdempotencyMixin handles."""

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.method in getattr(self.view, "idempotent_methods", ()):
            parameters.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    str,
                    OpenApiParameter.HEADER,
                    description=(
                        "Up to 255 characters, unique per request you mean to make once. A retry "
                        "with the same key and body gets the first response (with "
                        "Idempotent-Replayed: true) for 24 hours; another body gets 422."
                    ),
                )
            )
        return parameters


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Dotted path, or null for the body.")
    message = serializers.CharField()
    code = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem document (application/problem+json)."""

    type = serializers.URLField(help_text="Stable URI of the problem type; never translated.")
    title = serializers.CharField(help_text="Japanese, or English with Accept-Language: en.")
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField(
        help_text="This occurrence: urn:tsunagu:request:<id>, the X-Request-ID of the response."
    )
    # DRF's serializer metaclass moves declared fields into _declared_fields, so this field
    # does not shadow Serializer.errors at run time; the stubs only see the class attribute.
    errors = FieldErrorSerializer(  # type: ignore[assignment]
        many=True, required=False, help_text="Field errors (400)."
    )
    reason = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="consent-does-not-cover / consent-withdrawn: the policy's reason code "
        "(no-consent, withdrawn, expired, recipient-not-covered, purpose-not-covered, "
        "sections-not-covered, refused, basis-not-approved, basis-rejected, not-in-force).",
    )
    missing_sections = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="consent-does-not-cover: the sections no consent covers.",
    )
    handoff_id = serializers.IntegerField(
        required=False, help_text="A refused send: the hop, kept as a draft of the sender."
    )
    current_status = serializers.CharField(
        required=False, help_text="illegal-transition: the status the hop is in."
    )


def _problem_example(status: int, slug: str, title: str, detail: str, **extra: Any) -> Any:
    return OpenApiExample(
        slug,
        value={
            "type": problem_type_uri(slug),
            "title": title,
            "status": status,
            "detail": detail,
            "instance": "urn:tsunagu:request:3f2a9c0e5b7d4e1f8a6b2c4d9e0f1a2b",
            **extra,
        },
        response_only=True,
        status_codes=[str(status)],
    )


# Which problem types each status may carry, with one example each.
PROBLEM_EXAMPLES: dict[int, list[Any]] = {
    400: [
        _problem_example(
            400,
            "validation-error",
            "Validation failed",
            "Some fields are invalid; see errors.",
            errors=[
                {
                    "field": "reason",
                    "message": '"x" is not a valid choice.',
                    "code": "invalid_choice",
                }
            ],
        ),
        _problem_example(
            400,
            "invalid-input",
            "Invalid input",
            "Choose a reason from the list.",
            errors=[
                {"field": "reason", "message": "Choose a reason from the list.", "code": "invalid"}
            ],
        ),
        _problem_example(400, "malformed-request", "Malformed request", "JSON parse error."),
        _problem_example(
            400,
            "idempotency-key-invalid",
            "Invalid Idempotency-Key",
            "An Idempotency-Key must be 1 to 255 characters long.",
        ),
    ],
    401: [
        _problem_example(
            401,
            "not-authenticated",
            "Authentication required",
            "Authentication credentials were not provided.",
        ),
        _problem_example(
            401, "authentication-failed", "Authentication failed", "The API key has been revoked."
        ),
    ],
    403: [
        _problem_example(
            403,
            "insufficient-scope",
            "Insufficient scope",
            "This operation needs the scope handoffs:write.",
        ),
        _problem_example(403, "not-allowed", "Not allowed", "Your role or agency may not do this."),
        _problem_example(403, "forbidden", "Forbidden", "CSRF Failed: CSRF token missing."),
    ],
    404: [_problem_example(404, "not-found", "Not found", "Not found.")],
    409: [
        _problem_example(
            409,
            "illegal-transition",
            "Illegal transition",
            "The handoff's current status does not allow this action.",
            current_status="declined",
        ),
        _problem_example(
            409,
            "idempotency-key-in-progress",
            "Idempotency-Key in progress",
            "The first request with this key has not finished yet. Retry shortly.",
        ),
    ],
    412: [
        _problem_example(
            412,
            "precondition-failed",
            "Precondition failed",
            "It was changed by someone else. Fetch the current version and try again.",
        )
    ],
    422: [
        _problem_example(
            422,
            "consent-does-not-cover",
            "Not covered by consent",
            "No consent covers sharing these sections: see missing_sections.",
            reason="sections-not-covered",
            missing_sections=["health"],
            handoff_id=12,
        ),
        _problem_example(
            422,
            "consent-withdrawn",
            "Consent withdrawn",
            "The consent has been withdrawn.",
            reason="withdrawn",
            missing_sections=[],
            handoff_id=12,
        ),
        _problem_example(
            422,
            "idempotency-key-reused",
            "Idempotency-Key reused",
            "This key was used for a different request. Use a new key.",
        ),
    ],
    429: [
        _problem_example(
            429,
            "rate-limited",
            "Too many requests",
            "Request was throttled. Expected available in 30 seconds.",
        )
    ],
}

PROBLEM_DESCRIPTIONS = {
    400: "Invalid input: `validation-error` (serializer), `invalid-input` (the workflow), "
    "`malformed-request`, `idempotency-key-invalid`; `errors` lists the fields.",
    401: "No credentials (`not-authenticated`), or a bad, expired or revoked key "
    "(`authentication-failed`).",
    403: "The key lacks the scope (`insufficient-scope`), or the role may not do this "
    "(`not-allowed`, `forbidden`).",
    404: "Missing, or another agency's: the two are answered the same (`not-found`).",
    409: "`illegal-transition` (the hop's status does not allow it), `sheet-locked`, "
    "`idempotency-key-in-progress`.",
    412: "`precondition-failed`: If-Match names an older version (ETag) of the hop.",
    422: "`consent-does-not-cover` or `consent-withdrawn` (with `reason` and "
    "`missing_sections`), `idempotency-key-reused`.",
    429: "`rate-limited`; wait for Retry-After seconds.",
}


def problem_responses(*statuses: int) -> dict[Any, Any]:
    """extend_schema `responses` entries documenting problem+json answers for `statuses`."""
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            ProblemSerializer,
            description=PROBLEM_DESCRIPTIONS[status],
            examples=PROBLEM_EXAMPLES[status],
        )
        for status in statuses
    }


READ_PROBLEMS = (400, 401, 403, 404, 429)
ACTION_PROBLEMS = (400, 401, 403, 404, 409, 412, 422, 429)
