"""Optimistic concurrency for updates: ETag from (pk, version), checked against If-Match.

    def get(self, request, pk):
        handoff = ...
        return Response(data, headers={"ETag": etag_for(handoff)})

    def post(self, request, pk):            # a transition
        handoff = ...
        check_if_match(request, handoff)    # 412 if the client saw an older version
        ...

The service must still lock the row and compare versions inside its transaction: this check
answers the common case early, it does not replace the guard.
"""

from __future__ import annotations

from typing import Any

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
    if "*" in tags or etag_for(obj) in tags:
        return
    raise PreconditionFailed()
