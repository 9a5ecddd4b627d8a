"""`Idempotency-Key` for POST: a retried request gets the first answer instead of acting twice.

Use the mixin before the DRF base class, on every view that accepts POST:

    class HandoffAcknowledgeView(IdempotencyMixin, APIView): ...

How a POST carrying `Idempotency-Key: <up to 255 characters>` is handled, after
authentication, permissions and throttling (so the key is scoped to the caller: an API key,
or a staff member's session):

1. The key is claimed by inserting an IdempotencyRecord (unique per principal and key),
   committed at once, so a concurrent duplicate sees it.
2. If it was already there: another request body (fingerprint = SHA-256 of method, path and
   body) -> 422 `idempotency-key-reused`; still in flight -> 409
   `idempotency-key-in-progress`; finished -> its stored response, with
   `Idempotent-Replayed: true`, without calling the view.
3. Otherwise the view runs inside one transaction that also stores its response (status < 500)
   on the record: the view's writes and the stored answer commit together or not at all.
   A 5xx, or an exception, rolls the view back and releases the key, so a retry runs afresh.

Records expire after 24 hours (`idempotency_records_purge` deletes them); a claim whose request
died without finishing (a killed worker) is taken over after the lease
(TSUNAGU["IDEMPOTENCY_LEASE_SECONDS"], 60 s by default: keep it above gunicorn's --timeout), and
until then the 409 carries `Retry-After` with the seconds left. A request that outlives its
lease cannot commit twice: its final update of the record finds the row gone and rolls back.
Requests without the header are not affected. Bodies are read whole to fingerprint them
(API_MAX_BODY_BYTES applies, api/middleware.py).
The claim must commit before the view runs, so this relies on ATOMIC_REQUESTS being off (the
project default): with it on, a concurrent duplicate would wait instead of getting a 409.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.http.request import RawPostDataException
from django.utils import timezone

from api.models import IdempotencyRecord
from api.principal import principal_id
from api.problems import DomainProblem

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# 1 to 255 visible ASCII characters, spaces inside only (a structured-field string without
# quotes), so that a key survives every HTTP stack unchanged. Whitespace around it is allowed
# because HTTP servers drop it before the application sees the value (which characters count
# is spelled out: regex engines disagree on \s). The schema publishes the same pattern.
_AROUND = r"[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0]*"
KEY_PATTERN = rf"^{_AROUND}[\x21-\x7e]([\x20-\x7e]{{0,253}}[\x21-\x7e])?{_AROUND}$"
_KEY_RE = re.compile(KEY_PATTERN)
IDEMPOTENCY_TTL = timedelta(hours=24)
# Longer than any request may run (gunicorn's --timeout, 30 s in our units, is shorter); after
# it, a claim whose request died is considered abandoned. Overridden by settings (below).
IDEMPOTENCY_LEASE = timedelta(seconds=60)


def idempotency_lease() -> timedelta:
    """The lease of an unfinished claim, from TSUNAGU["IDEMPOTENCY_LEASE_SECONDS"]."""
    seconds = getattr(settings, "TSUNAGU", {}).get("IDEMPOTENCY_LEASE_SECONDS")
    return IDEMPOTENCY_LEASE if seconds is None else timedelta(seconds=seconds)


# Response headers worth replaying; others (Date, Vary, X-Request-ID, ...) belong to the replay.
STORED_HEADERS = ("Content-Type", "Location", "ETag", "Last-Modified")


class IdempotencyKeyInvalid(DomainProblem):
    type_slug = "idempotency-key-invalid"
    status = 400
    title_ja = "Idempotency-Key が正しくありません"
    title_en = "Invalid Idempotency-Key"
    detail_ja = f"Idempotency-Key は1〜{MAX_KEY_LENGTH}文字の半角英数記号で指定してください。"
    detail_en = (
        f"An Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters long."
    )


class IdempotencyKeyReused(DomainProblem):
    type_slug = "idempotency-key-reused"
    status = 422
    title_ja = "Idempotency-Key が別のリクエストに使われています"
    title_en = "Idempotency-Key reused"
    detail_ja = "このキーは内容の異なるリクエストで使用済みです。新しいキーを使ってください。"
    detail_en = "This key was used for a different request. Use a new key."


class IdempotencyKeyInProgress(DomainProblem):
    type_slug = "idempotency-key-in-progress"
    status = 409
    title_ja = "同じ Idempotency-Key のリクエストを処理中です"
    title_en = "Idempotency-Key in progress"
    detail_ja = "同じキーの最初のリクエストがまだ終わっていません。少し待ってから再送してください。"
    detail_en = "The first request with this key has not finished yet. Retry shortly."

    def __init__(self, detail: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        # Seconds until the first request's lease ends (api/problems.py sends it as Retry-After).
        self.retry_after = max(1, retry_after)


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """SHA-256 over method, full path and body, unambiguously separated."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: ours to run (`replay` False), or a finished record."""

    record: IdempotencyRecord
    replay: bool


def idempotency_claim(
    *, principal: str, key: str, fingerprint: str, now: datetime | None = None
) -> Claim:
    """Claim `key` for `principal`, or find its finished twin; raise if it cannot be either."""
    now = now or timezone.now()
    for _attempt in range(3):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    principal=principal,
                    key=key,
                    fingerprint=fingerprint,
                    created_at=now,
                    expires_at=now + IDEMPOTENCY_TTL,
                )
            return Claim(record=record, replay=False)
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(principal=principal, key=key).first()
        if existing is None:
            continue  # released or purged in between: claim again
        lease = idempotency_lease()
        abandoned = not existing.is_complete and existing.created_at <= now - lease
        if existing.expires_at <= now or abandoned:
            # Conditional on created_at: of two takers, only one deletes the stale row.
            IdempotencyRecord.objects.filter(
                pk=existing.pk, created_at=existing.created_at
            ).delete()
            continue
        if not hmac.compare_digest(existing.fingerprint, fingerprint):
            raise IdempotencyKeyReused()
        if not existing.is_complete:
            left = (existing.created_at + lease - now).total_seconds()
            raise IdempotencyKeyInProgress(retry_after=math.ceil(left))
        return Claim(record=existing, replay=True)
    raise IdempotencyKeyInProgress()


def idempotency_complete(*, record: IdempotencyRecord, response: HttpResponse) -> None:
    """Store a rendered (not streaming) response on the claimed record."""
    record.status_code = response.status_code
    record.response_body = response.content
    record.response_headers = {
        name: response[name] for name in STORED_HEADERS if response.has_header(name)
    }
    record.save(update_fields=["status_code", "response_body", "response_headers"])


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Give the key back (the request failed with a 5xx): a retry will run the view."""
    IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).delete()


def idempotency_replay(record: IdempotencyRecord) -> HttpResponse:
    """The stored response, marked as a replay."""
    response = HttpResponse(bytes(record.response_body), status=record.status_code)
    for name, value in record.response_headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def idempotency_records_purge(*, now: datetime | None = None) -> int:
    """Delete records past their 24 hours; returns how many."""
    deleted, _by_model = IdempotencyRecord.objects.filter(
        expires_at__lte=now or timezone.now()
    ).delete()
    return deleted


def _request_body(request: Any) -> bytes:
    try:
        return request._request.body
    except RawPostDataException:
        # A multipart body already parsed (the CSRF check reads request.POST): use its parts.
        django_request = request._request
        parts = sorted(django_request.POST.lists()) + sorted(
            (name, [(f.name, f.size) for f in files])
            for name, files in django_request.FILES.lists()
        )
        return repr(parts).encode()


if TYPE_CHECKING:  # what the mixin is mixed into, for the types of its super() calls
    from rest_framework.views import APIView as _ViewBase
else:
    _ViewBase = object


class _Replay(Exception):
    """Carries a stored response from `initial()` past the view to `handle_exception()`."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__()
        self.response = response


class IdempotencyMixin(_ViewBase):
    """Adds Idempotency-Key handling to a DRF APIView (or viewset) for `idempotent_methods`."""

    idempotent_methods: frozenset[str] = frozenset({"POST"})
    _idempotency_record: IdempotencyRecord | None = None
    _idempotency_atomic: Any = None

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        key = request.headers.get(HEADER)
        if request.method not in self.idempotent_methods or key is None:
            return
        principal = principal_id(request)
        if principal is None:
            return  # anonymous callers have no key space of their own
        if not _KEY_RE.fullmatch(key):
            raise IdempotencyKeyInvalid()
        fingerprint = request_fingerprint(
            method=request.method, path=request.get_full_path(), body=_request_body(request)
        )
        claim = idempotency_claim(principal=principal, key=key, fingerprint=fingerprint)
        if claim.replay:
            raise _Replay(idempotency_replay(claim.record))
        self._idempotency_record = claim.record
        # Entered here and left in finalize_response (or dispatch, on an unhandled exception),
        # so the handler runs inside it; DRF's dispatch offers no hook around the handler alone.
        self._idempotency_atomic = transaction.atomic()
        self._idempotency_atomic.__enter__()

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, _Replay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        atomic, record = self._idempotency_atomic, self._idempotency_record
        if atomic is None:
            return response
        self._idempotency_atomic = self._idempotency_record = None
        # initial() stores the claimed record before it opens the transaction.
        assert record is not None  # noqa: S101
        keep = response.status_code < 500 and not response.streaming
        try:
            try:
                if keep:
                    if hasattr(response, "render"):
                        response.render()
                    idempotency_complete(record=record, response=response)
                else:
                    transaction.set_rollback(True)
            except BaseException as error:
                atomic.__exit__(type(error), error, error.__traceback__)
                raise
            atomic.__exit__(None, None, None)  # commits the view's writes with the record
        except BaseException:
            idempotency_release(record=record)
            raise
        if not keep:
            idempotency_release(record=record)
        return response

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().dispatch(request, *args, **kwargs)
        except BaseException as error:
            # The handler raised past the exception handler (a 500): undo it, free the key.
            if self._idempotency_atomic is not None:
                atomic, self._idempotency_atomic = self._idempotency_atomic, None
                atomic.__exit__(type(error), error, error.__traceback__)
            if self._idempotency_record is not None:
                record, self._idempotency_record = self._idempotency_record, None
                idempotency_release(record=record)
            raise
