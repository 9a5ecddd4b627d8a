"""Template helpers of the web UI: labels for codes, the unread count, navigation state."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

from consent.vocabulary import SPECIAL_CARE_SECTIONS
from relay.selectors import notifications_for
from relay.views.display import join_labels as _join_labels
from relay.views.display import section_label as _section_label

register = template.Library()


@register.filter
def section_label(code: str) -> str:
    return _section_label(code)


@register.filter
def join_labels(labels: list[str]) -> str:
    return _join_labels([str(label) for label in labels or []])


@register.filter
def special_care(code: str) -> bool:
    return code in SPECIAL_CARE_SECTIONS


@register.filter
def get_item(mapping: dict[Any, Any], key: Any) -> Any:
    return mapping.get(key) if mapping else None


SEEN_KEY = "notifications_seen_id"


@register.simple_tag(takes_context=True)
def unread_count(context: template.Context) -> int:
    """Notices of the agency newer than the last the user looked at (kept in the session).

    There is no service to mark an InAppNotification read, and views never change state, so
    "seen" is per session: the notifications page remembers the newest id it showed.
    """
    request: HttpRequest | None = context.get("request")
    membership = getattr(getattr(request, "user", None), "membership", None)
    if request is None or membership is None:
        return 0
    seen = request.session.get(SEEN_KEY, 0)
    return notifications_for(agency=membership.agency).filter(id__gt=seen).count()


@register.simple_tag(takes_context=True)
def current(context: template.Context, *names: str) -> SafeString | str:
    """aria-current="page" when the current URL's name is one of `names`."""
    request: HttpRequest | None = context.get("request")
    match = getattr(request, "resolver_match", None)
    if match is not None and match.url_name in names:
        return mark_safe('aria-current="page"')
    return ""
