"""Every API error as an RFC 9457 problem: `application/problem+json`, with a stable type URI.

    {"type": "https://tsunagu.invalid/problems/not-found", "title": "見つかりません",
     "status": 404, "detail": "...", "instance": "urn:tsunagu:request:3f2a..."}

`instance` names this occurrence: the request id, the same as the X-Request-ID response header,
the audit events the request wrote and its log lines, so one id finds all of them.

Validation errors add `errors`: [{"field": "sections.2", "message": "...", "code": "invalid"}].

Which exception becomes which problem is one registry, looked up along the exception's MRO:
DRF's exceptions are registered here; API-level errors subclass `DomainProblem` and register
themselves; the workflow's exceptions (relay/errors.py, which must not import the API) are
registered from the API side with `register_problem(...)`. Anything not registered is left to
Django, whose error pages under /api/ api/middleware.py turns into problems too (500, and 503
with Retry-After for a database, cache or broker that is down); the text of an unexpected
exception never reaches a client.

Titles come in Japanese and English, picked by the language LocaleMiddleware activated from
Accept-Language (Japanese by default).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import connections
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import translation
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings

from api.degraded import RETRY_AFTER_SECONDS, is_infrastructure_error, warn_degraded
from api.language import current_language
from api.language import pick as _pick
from api.principal import principal_actor
from notifications.refusals import refusal_record

PROBLEM_CONTENT_TYPE = "application/problem+json"
DEFAULT_PROBLEM_BASE_URI = "https://tsunagu.invalid/problems/"
INSTANCE_PREFIX = "urn:tsunagu:request:"


def problem_instance(request: Any) -> str:
    """The `instance` of a problem: this request's id (audit/middleware.py made it)."""
    request_id = getattr(request, "request_id", None) or getattr(
        getattr(request, "_request", None), "request_id", ""
    )
    return f"{INSTANCE_PREFIX}{request_id}" if request_id else ""




def problem_type_uri(slug: str) -> str:
    base = getattr(settings, "TSUNAGU_PROBLEM_BASE_URI", DEFAULT_PROBLEM_BASE_URI)
    return f"{base.rstrip('/')}/{slug}"


@dataclass(frozen=True)
class ProblemType:
    """What a kind of error is called in a problem document: type slug, status, titles."""

    slug: str
    status: int
    title_ja: str
    title_en: str

    @property
    def uri(self) -> str:
        return problem_type_uri(self.slug)

    def title(self, language: str) -> str:
        return self.title_en if language == "en" else self.title_ja


_registry: dict[type[BaseException], ProblemType] = {}


def register_problem(
    exc_class: type[BaseException], *, type_slug: str, status: int, title_ja: str, title_en: str
) -> type[BaseException]:
    """Render `exc_class` (and its subclasses, unless registered themselves) as this problem.

    For the workflow's errors, from the API side (relay must not import api), e.g. in a module
    imported by ApiConfig.ready():

        register_problem(agencies.errors.ConsentMissing, type_slug="consent-missing",
                         status=409, title_ja="同意の範囲外です", title_en="Not covered by consent")

    The detail is `exc.detail_for(language)` when the exception has it, else `str(exc)`.
    Registering the same class twice with the same values is harmless; with others, an error.
    """
    problem = ProblemType(slug=type_slug, status=status, title_ja=title_ja, title_en=title_en)
    existing = _registry.get(exc_class)
    if existing is not None and existing != problem:
        raise ImproperlyConfigured(f"{exc_class.__qualname__} is already registered as {existing}")
    _registry[exc_class] = problem
    return exc_class


# Extra members of a problem document for an exception class (RFC 9457 extension members, an
# English detail, field errors): a function of the exception and the language.
ProblemMembers = Callable[[BaseException, str], dict[str, Any]]
_members: dict[type[BaseException], ProblemMembers] = {}


def register_problem_members(exc_class: type[BaseException], members: ProblemMembers) -> None:
    """Add members to the problems of `exc_class` (and subclasses without their own).

    `members(exc, language)` returns a dict merged into the body: it may replace `detail`
    (for example with an English sentence for an exception whose text is Japanese) and add
    `errors` or extension members such as `reason`. It may not change type, title or status.
    """
    _members[exc_class] = members


def _extra_members(exc: BaseException, language: str) -> dict[str, Any]:
    for cls in type(exc).__mro__:
        members = _members.get(cls)
        if members is not None:
            extra = members(exc, language)
            return {k: v for k, v in extra.items() if k not in {"type", "title", "status"}}
    return {}


def problem_type_for(exc: BaseException) -> ProblemType | None:
    """The problem registered for the exception's class or its nearest registered ancestor."""
    for cls in type(exc).__mro__:
        problem = _registry.get(cls)
        if problem is not None:
            return problem
    return None


class DomainProblem(Exception):
    """Base of errors the API raises itself; a subclass that sets `type_slug` registers itself.

    class PreconditionFailed(DomainProblem):
        type_slug, status = "precondition-failed", 412
        title_ja, title_en = "...", "..."
        detail_ja, detail_en = "...", "..."     # defaults when raised without a message
    """

    type_slug: ClassVar[str]
    status: ClassVar[int]
    title_ja: ClassVar[str]
    title_en: ClassVar[str]
    detail_ja: ClassVar[str] = ""
    detail_en: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type_slug" in cls.__dict__:
            register_problem(
                cls,
                type_slug=cls.type_slug,
                status=cls.status,
                title_ja=cls.title_ja,
                title_en=cls.title_en,
            )

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(*(() if detail is None else (detail,)))
        self.detail = detail

    def detail_for(self, language: str) -> str:
        if self.detail is not None:
            return str(self.detail)
        return self.detail_en if language == "en" else self.detail_ja


class InsufficientScope(exceptions.PermissionDenied):
    """The API key lacks the scope the endpoint needs for this method."""

    default_code = "insufficient_scope"


class ServiceUnavailable(DomainProblem):
    """A dependency (database, cache, broker) is unreachable: retry later, nothing is wrong
    with the request. Never carries the underlying error's text (it may name hosts)."""

    type_slug = "service-unavailable"
    status = 503
    title_ja = "一時的に利用できません"
    title_en = "Service unavailable"
    detail_ja = "システムの一部が一時的に利用できません。Retry-After の秒数の後に再送してください。"
    detail_en = "Part of the system is temporarily unavailable. Retry after Retry-After seconds."
    retry_after = RETRY_AFTER_SECONDS


class RequestTooLarge(DomainProblem):
    """The body is larger than the API accepts (api/parsers.py, api/middleware.py)."""

    type_slug = "request-too-large"
    status = 413
    title_ja = "リクエストが大きすぎます"
    title_en = "Request too large"
    detail_ja = "リクエストの本文が大きすぎます。"
    detail_en = "The request body is too large."


class ServerError(DomainProblem):
    """An unexpected error: logged with the request id, never described to the client."""

    type_slug = "server-error"
    status = 500
    title_ja = "サーバーでエラーが発生しました"
    title_en = "Internal server error"
    detail_ja = "予期しないエラーが発生しました。instance の値を添えて運用者に連絡してください。"
    detail_en = "An unexpected error occurred. Quote the instance value to the operator."


# DRF's own exceptions; the status of an APIException instance wins over the one here.
register_problem(
    exceptions.APIException,
    type_slug="error",
    status=500,
    title_ja="エラーが発生しました",
    title_en="Request failed",
)
register_problem(
    exceptions.ValidationError,
    type_slug="validation-error",
    status=400,
    title_ja="入力内容に誤りがあります",
    title_en="Validation failed",
)
register_problem(
    exceptions.ParseError,
    type_slug="malformed-request",
    status=400,
    title_ja="リクエストを解釈できません",
    title_en="Malformed request",
)
register_problem(
    exceptions.AuthenticationFailed,
    type_slug="authentication-failed",
    status=401,
    title_ja="認証に失敗しました",
    title_en="Authentication failed",
)
register_problem(
    exceptions.NotAuthenticated,
    type_slug="not-authenticated",
    status=401,
    title_ja="認証が必要です",
    title_en="Authentication required",
)
register_problem(
    exceptions.PermissionDenied,
    type_slug="forbidden",
    status=403,
    title_ja="この操作は許可されていません",
    title_en="Forbidden",
)
register_problem(
    InsufficientScope,
    type_slug="insufficient-scope",
    status=403,
    title_ja="APIキーのスコープが足りません",
    title_en="Insufficient scope",
)
register_problem(
    exceptions.NotFound,
    type_slug="not-found",
    status=404,
    title_ja="見つかりません",
    title_en="Not found",
)
register_problem(
    exceptions.MethodNotAllowed,
    type_slug="method-not-allowed",
    status=405,
    title_ja="このメソッドは使えません",
    title_en="Method not allowed",
)
register_problem(
    exceptions.NotAcceptable,
    type_slug="not-acceptable",
    status=406,
    title_ja="応答の形式に対応していません",
    title_en="Not acceptable",
)
register_problem(
    exceptions.UnsupportedMediaType,
    type_slug="unsupported-media-type",
    status=415,
    title_ja="リクエストの形式に対応していません",
    title_en="Unsupported media type",
)
register_problem(
    exceptions.Throttled,
    type_slug="rate-limited",
    status=429,
    title_ja="リクエストが多すぎます",
    title_en="Too many requests",
)


def validation_errors(detail: Any, path: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """DRF's nested error detail as a flat list; nested fields and list items as dotted paths.

    Errors that belong to an object rather than one of its fields (non_field_errors) carry the
    object's path, or null at the top level.
    """
    if isinstance(detail, dict):
        found: list[dict[str, Any]] = []
        for key, value in detail.items():
            sub = path if key == api_settings.NON_FIELD_ERRORS_KEY else (*path, str(key))
            found += validation_errors(value, sub)
        return found
    if isinstance(detail, list):
        found = []
        for index, item in enumerate(detail):
            # A list of messages belongs to `path`; a list of objects is indexed.
            sub = (*path, str(index)) if isinstance(item, dict | list) else path
            found += validation_errors(item, sub)
        return found
    return [
        {
            "field": ".".join(path) or None,
            "message": str(detail),
            "code": getattr(detail, "code", None) or "invalid",
        }
    ]


def _detail(exc: BaseException, problem: ProblemType, language: str) -> str:
    detail_for = getattr(exc, "detail_for", None)
    if callable(detail_for):
        text = str(detail_for(language))
    elif isinstance(exc, exceptions.APIException):
        text = exc.detail if isinstance(exc.detail, str) else ""
    else:
        text = str(exc)
    return text or problem.title(language)


def _roll_back_atomic_requests() -> None:
    """What DRF's exception handler does through rest_framework.views.set_rollback: a request
    answered with an error does not commit under ATOMIC_REQUESTS. Written out here because
    importing rest_framework.views loads the authentication classes named in the settings,
    which import this module (a cycle)."""
    for db in connections.all(initialized_only=True):
        if db.settings_dict["ATOMIC_REQUESTS"] and db.in_atomic_block:
            db.set_rollback(True)


REFUSAL_STATUSES = frozenset({401, 403, 404})


def _record_refusal(request: Any, context: dict[str, Any], slug: str, status: int) -> None:
    """Every 401/403/404 of the API is a refusal on record (aggregated per actor and minute):
    the object asked for is the view's and its URL id."""
    view = context.get("view")
    kwargs = context.get("kwargs") or {}
    object_id = next((str(v) for k, v in kwargs.items() if k in {"pk", "id"}), None)
    object_id = object_id or next((str(v) for v in kwargs.values()), None)
    object_type = getattr(view, "audit_object_type", "") or (
        type(view).__name__.removesuffix("ViewSet").removesuffix("View").lower() if view else ""
    )
    refusal_record(
        actor=principal_actor(request),
        reason=f"api.{slug}",
        object_type=object_type[:64],
        object_id=object_id,
        status=status,
    )


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every known error as a problem, the unknown ones to Django."""
    if isinstance(exc, Http404):
        # Django's message names the model ("No Sheet matches..."): never echo it.
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif is_infrastructure_error(exc):
        warn_degraded("api dependency", exc)
        exc = ServiceUnavailable()
    problem = problem_type_for(exc)
    if problem is None:
        return None
    language = current_language()
    status = exc.status_code if isinstance(exc, exceptions.APIException) else problem.status
    request = context.get("request")
    if status in REFUSAL_STATUSES and request is not None:
        _record_refusal(request, context, problem.slug, status)
    body: dict[str, Any] = {
        "type": problem.uri,
        "title": problem.title(language),
        "status": status,
        "detail": _detail(exc, problem, language),
        "instance": problem_instance(request),
    }
    if isinstance(exc, exceptions.ValidationError):
        body["detail"] = _pick(
            "入力内容に誤りがあります。errors の各項目を確認してください。",
            "Some fields are invalid; see errors.",
        )
        body["errors"] = validation_errors(exc.detail)
    body.update(_extra_members(exc, language))
    headers: dict[str, str] = {}
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        if isinstance(exc, exceptions.AuthenticationFailed):
            auth_header += ', error="invalid_token"'  # RFC 6750: credentials were sent and refused
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled):
        headers["Retry-After"] = str(max(1, math.ceil(wait or 1)))
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int):
        headers["Retry-After"] = str(max(1, retry_after))
    _roll_back_atomic_requests()
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problem_response(
    request: HttpRequest,
    exc: BaseException,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    """A problem document outside DRF (middleware, Django's own errors), in the client's
    language, for a registered exception (a DomainProblem or a DRF exception instance)."""
    problem = problem_type_for(exc) or problem_type_for(ServerError())
    assert problem is not None  # noqa: S101  (ServerError registers itself)
    language = (
        "en" if translation.get_language_from_request(request).lower().startswith("en") else "ja"
    )
    with translation.override(language):
        body = {
            "type": problem.uri,
            "title": problem.title(language),
            "status": status or problem.status,
            "detail": _detail(exc, problem, language),
            "instance": problem_instance(request),
        }
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False),
        status=body["status"],
        content_type=PROBLEM_CONTENT_TYPE,
    )
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int):
        response["Retry-After"] = str(max(1, retry_after))
    for name, value in (headers or {}).items():
        response[name] = value
    return response
