"""Optimistic concurrency for updates (If-Match) and revalidation of reads (If-None-Match).

    def get(self, request, pk):
        handoff = ...
        return Response(data, headers={"ETag": etag_for(handoff)})

    def post(self, request, pk):            # a transition
        handoff = ...
        check_if_match(request, handoff)    # 412 if the client saw an older version
        ...

The service must still lock the row and compare versions inside its transaction: this check
answers the common case early, it does not replace the guard.

A detail that shows more than the row (a hop with the content it shares, a sheet's visible
sections) carries a representation ETag, `"<pk>-<version>.<digest>"` or `"<kind>.<digest>"`,
the digest taken over the body: what a reader may see changes with consent and access rows,
not only with the row's version. `If-None-Match` with it answers 304; for a hop, If-Match
accepts it as naming the version it starts with.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.http import parse_etags

from api.problems import DomainProblem


class PreconditionFailed(DomainProblem):
    """If-Match names another version than the current one (someone else changed it)."""

    type_slug = "precondition-failed"
    status = 412
    title_ja = "前提条件が一致しません"
    title_en = "Precondition failed"
    detail_ja = "他の操作で更新されています。最新の内容を取得してからやり直してください。"
    detail_en = "It was changed by someone else. Fetch the current version and try again."


class PreconditionRequired(DomainProblem):
    """The endpoint needs If-Match and the request has none."""

    type_slug = "precondition-required"
    status = 428
    title_ja = "If-Match ヘッダーが必要です"
    title_en = "Precondition required"
    detail_ja = "取得したときの ETag を If-Match ヘッダーで送ってください。"
    detail_en = "Send the ETag you fetched in an If-Match header."


def etag_for(obj: Any) -> str:
    """A strong ETag, `"<pk>-<version>"`, for a model with an integer `version` field."""
    return f'"{obj.pk}-{obj.version}"'


def check_if_match(request: Any, obj: Any, *, required: bool = False) -> None:
    """Raise PreconditionFailed (412) if If-Match is present and does not name `obj`'s version.

    With `required=True` a missing If-Match raises PreconditionRequired (428). "*" matches any
    existing object. Weak tags (W/"...") never match: If-Match uses strong comparison.
    """
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise PreconditionRequired()
        return
    tags = parse_etags(header)
    current = etag_for(obj)
    detail_prefix = current[:-1] + "."
    if "*" in tags or any(tag == current or tag.startswith(detail_prefix) for tag in tags):
        return
    raise PreconditionFailed()


def body_digest(data: Any) -> str:
    """A short SHA-256 of a response body as the API renders it (keys in order)."""
    raw = json.dumps(data, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def detail_etag_for(obj: Any, data: Any) -> str:
    """`"<pk>-<version>.<digest>"`: the row's version and what this reader was shown."""
    return f'"{obj.pk}-{obj.version}.{body_digest(data)}"'


def not_modified(request: Any, etag: str) -> bool:
    """True when If-None-Match names `etag` (weak comparison, RFC 9110 13.1.2) or is "*"."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = {tag.removeprefix("W/") for tag in parse_etags(header)}
    return "*" in tags or etag in tags
