"""The OpenAPI contract: what drf-spectacular cannot infer, and the rules that keep it exact.

- One schema whatever the request's language: it is generated with English active
  (SchemaGenerator below), so component names, enums and descriptions never change with
  Accept-Language; problem titles are translated at runtime, not in the schema.
- A response field is `required` unless its serializer lists it in `response_optional`: DRF
  writes out every readable field, so a client may rely on them (TsunaguAutoSchema).
- `nullable` always has a `type` beside it (postprocess_nullable_types), as OpenAPI 3.0 asks.
- Response headers (ETag, Location, Idempotent-Replayed, Retry-After) are declared where the
  server sends them; every problem status a client can get is declared per operation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.utils import translation
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from api.idempotency import KEY_PATTERN
from api.problems import PROBLEM_CONTENT_TYPE, problem_type_uri

NO_NUL_PATTERN = r"^[^\x00]*$"
# The language the schema is written in, whatever the request asks for.
SCHEMA_LANGUAGE = "en"


class TsunaguSchemaGenerator(SchemaGenerator):
    """Generates the schema with English active: the same bytes for every Accept-Language."""

    def get_schema(self, request: Any = None, public: bool = False) -> dict[str, Any]:
        with translation.override(SCHEMA_LANGUAGE):
            schema: dict[str, Any] = super().get_schema(request=request, public=public)
            # Lazy texts (model labels) become plain strings while English is still active.
            return _force_text(schema)


def _force_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _force_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_force_text(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _component_type(schema: dict[str, Any], components: dict[str, Any]) -> str | None:
    for key in ("allOf", "oneOf", "anyOf"):
        for member in schema.get(key, ()):
            ref = member.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                target = components.get(ref.rsplit("/", 1)[1], {})
                if "type" in target:
                    return str(target["type"])
            elif "type" in member:
                return str(member["type"])
    return None


def postprocess_query_text(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A free-text query parameter (the directory's filters) refuses NUL, as Django's form
    fields do: say so, so that a client knows it before the 400."""
    for item in result.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                if (
                    parameter.get("in") == "query"
                    and schema.get("type") == "string"
                    and not {"enum", "pattern", "format"} & set(schema)
                ):
                    schema["pattern"] = NO_NUL_PATTERN
    return result


def postprocess_nullable_types(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Give every `nullable: true` a `type` sibling: OpenAPI 3.0 ignores nullable without
    one (Redocly's nullable-type-sibling), and generated clients then reject the null."""
    components = result.get("components", {}).get("schemas", {})

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            refs = node.get("allOf")
            if (
                node.get("nullable") is True
                and isinstance(refs, list)
                and len(refs) == 1
                and "$ref" in refs[0]
            ):
                # A nullable nested object: drf-spectacular writes `allOf: [ref]` with
                # `nullable`, which generated clients read as never null. Say it as one of the
                # object or null, which they read as optional.
                node["oneOf"] = [refs[0], {"type": "object", "nullable": True, "enum": [None]}]
                for key in ("allOf", "nullable", "type"):
                    node.pop(key, None)
            if node.get("nullable") is True and "type" not in node:
                found = _component_type(node, components)
                if found is not None:
                    node["type"] = found
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result


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


def response_header(
    name: str, description: str, statuses: Iterable[int] | None = None, **schema: Any
) -> OpenApiParameter:
    """A response header, on `statuses` (every response when None)."""
    return OpenApiParameter(
        name,
        {"type": "string", **schema},
        OpenApiParameter.HEADER,
        description=description,
        response=True if statuses is None else list(statuses),
    )


ETAG_HEADER_DESCRIPTION = (
    "The version of what this response shows: send it in If-Match to act only on that "
    "version, or in If-None-Match to get 304 when nothing changed."
)


def etag_header(*statuses: int) -> OpenApiParameter:
    return response_header("ETag", ETAG_HEADER_DESCRIPTION, statuses)


def location_header(*statuses: int) -> OpenApiParameter:
    return response_header(
        "Location", "The URL of the resource just created.", statuses, format="uri"
    )


RETRY_AFTER = response_header(
    "Retry-After",
    "Seconds to wait before retrying (429 rate limited, 503 unavailable, 409 a request with "
    "the same Idempotency-Key still running).",
    (409, 429, 503),
    pattern=r"^[0-9]+$",
)
IDEMPOTENT_REPLAYED = response_header(
    "Idempotent-Replayed",
    "`true` when this is the stored answer to an earlier request with the same "
    "Idempotency-Key (the action was not done again).",
    enum=["true"],
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    # No maxLength: HTTP drops whitespace around a header value, so the pattern bounds the
    # key itself (1 to 255 characters) and allows what any stack may add around it.
    {"type": "string", "pattern": KEY_PATTERN},
    OpenApiParameter.HEADER,
    description=(
        "1 to 255 visible ASCII characters, unique per request you mean to make once (a UUID "
        "is a good key). A retry with the same key and body gets the first response (with "
        "Idempotent-Replayed: true) for 24 hours; another body gets 422."
    ),
)


class TsunaguAutoSchema(AutoSchema):
    """The project's schema rules: exact required fields in responses, documented headers
    (Idempotency-Key on the methods IdempotencyMixin handles, Idempotent-Replayed and
    Retry-After on their answers)."""

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        parameters.append(RETRY_AFTER)
        if self.method in getattr(self.view, "idempotent_methods", ()):
            parameters += [IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED]
        return parameters

    def _map_serializer_field(
        self, field: Any, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and "pattern" not in schema
            and "enum" not in schema
        ):
            # DRF refuses a NUL character in any text; say so.
            schema["pattern"] = NO_NUL_PATTERN
        return schema

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        for name, prop in list(schema.get("properties", {}).items()):
            schema["properties"][name] = _one_blank_branch(prop)
        if direction == "response":
            # DRF writes out every readable field, so a client can rely on each one, unless
            # the serializer says a field may be absent (a problem's extension members, a
            # section the reader may not see).
            optional = set(getattr(serializer, "response_optional", ()))
            required = [
                name
                for name, prop in schema.get("properties", {}).items()
                if name not in optional and not prop.get("writeOnly")
            ]
            if required:
                schema["required"] = required
            else:
                schema.pop("required", None)
        return schema


def _one_blank_branch(prop: dict[str, Any]) -> dict[str, Any]:
    """drf-spectacular writes a blank-allowed text with a pattern as `oneOf: [text, ""]`; when
    the text branch already takes "" (no minLength, a pattern "" matches), "" matches both and
    a validator must refuse it (`oneOf` means exactly one). Keep the one branch."""
    one_of = prop.get("oneOf")
    if not (isinstance(one_of, list) and len(one_of) == 2):
        return prop
    text, blank = one_of
    if blank != {"type": "string", "maxLength": 0} or text.get("type") != "string":
        return prop
    if "format" in text or text.get("minLength") or "pattern" not in text:
        return prop
    if re.fullmatch(str(text["pattern"]), "") is None:
        return prop
    merged = {k: v for k, v in prop.items() if k != "oneOf"}
    merged.update(text)
    return merged


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Dotted path, or null for the body.")
    message = serializers.CharField()
    code = serializers.CharField()


class EligibilityMismatchSerializer(serializers.Serializer):
    field = serializers.ChoiceField(
        choices=["age", "grade", "municipality", "child_wish"],
        help_text="The fact of the person that falls outside the rule.",
    )
    code = serializers.CharField(
        help_text="age-out-of-range, grade-not-served, municipality-not-served, "
        "child-wish-not-recorded, child-objected."
    )
    message = serializers.CharField(help_text="Japanese, for the counselor.")


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem document (application/problem+json)."""

    response_optional = (
        "errors",
        "reason",
        "missing_sections",
        "handoff_id",
        "current_status",
        "mismatches",
    )

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
        "sections-not-covered, refused, basis-not-approved, basis-rejected, not-in-force, "
        "not-council-member, adult-needs-own-consent).",
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
    mismatches = EligibilityMismatchSerializer(
        many=True,
        required=False,
        help_text="eligibility-mismatch: each rule of the receiving program (or agency) the "
        "person falls outside of.",
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
    406: [
        _problem_example(
            406,
            "not-acceptable",
            "Not acceptable",
            "Could not satisfy the request Accept header.",
        )
    ],
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
    413: [
        _problem_example(
            413, "request-too-large", "Request too large", "The request body is too large."
        )
    ],
    415: [
        _problem_example(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            'Unsupported media type "text/plain" in request.',
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
            "eligibility-mismatch",
            "Outside the receiver's eligibility",
            "The person falls outside whom the receiving program or agency serves (see "
            "mismatches); send `eligibility_override_reason` to send anyway.",
            mismatches=[
                {
                    "field": "age",
                    "code": "age-out-of-range",
                    "message": "送付先の機関の対象年齢(0〜18歳)に当てはまりません。",
                }
            ],
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
    503: [
        _problem_example(
            503,
            "service-unavailable",
            "Service unavailable",
            "The service is temporarily unavailable. Retry after Retry-After seconds.",
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
    406: "The Accept header asks for a type the API does not produce (`not-acceptable`).",
    409: "`illegal-transition` (the hop's status does not allow it), `sheet-locked`, "
    "`idempotency-key-in-progress`.",
    412: "`precondition-failed`: If-Match names an older version (ETag) of the hop.",
    422: "`consent-does-not-cover` or `consent-withdrawn` (with `reason` and "
    "`missing_sections`), `eligibility-mismatch` (with `mismatches`), "
    "`idempotency-key-reused`.",
    413: "The body is larger than the API accepts (`request-too-large`).",
    415: "The body is not `application/json` (`unsupported-media-type`).",
    429: "`rate-limited`; wait for Retry-After seconds.",
    503: "A dependency (database, cache, broker) is down: retry after Retry-After seconds.",
}


def problem_responses(*statuses: int) -> dict[Any, Any]:
    """extend_schema `responses` entries documenting problem+json answers for `statuses`."""
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            ProblemSerializer,
            description=PROBLEM_DESCRIPTIONS[status],
            examples=PROBLEM_EXAMPLES[status],
        )
        for status in sorted(statuses)
    }


# Every problem status each kind of operation can answer (schemathesis checks that nothing
# else comes back). 405 is not per operation: a method the path lacks has no operation.
BASE_PROBLEMS = (401, 406, 429, 503)
READ_PROBLEMS = (400, 401, 403, 404, 406, 429, 503)
WRITE_PROBLEMS = (400, 401, 403, 404, 406, 409, 413, 415, 422, 429, 503)
ACTION_PROBLEMS = (*WRITE_PROBLEMS, 412)
