"""Template helpers of the web UI: labels for codes, the unread count, navigation state."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django import template
from django.http import HttpRequest
from django.utils import formats, timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, pgettext_lazy

from consent.vocabulary import SPECIAL_CARE_SECTIONS
from relay.choices import Grade
from relay.selectors import notifications_for
from relay.views.display import join_labels as _join_labels
from relay.views.display import person_name as _person_name
from relay.views.display import section_label as _section_label

register = template.Library()


@register.filter
def section_label(code: str) -> str:
    return _section_label(code)


@register.filter
def grade_label(code: str) -> str:
    """A grade code (relay.choices.Grade) in words; an unknown code shows nothing."""
    return str(dict(Grade.choices).get(code, "")) if code else ""


@register.filter
def phrase_breaks(text: str) -> SafeString:
    """A short label that may wrap only between its phrases (after 「・」): with
    `word-break: keep-all`, a narrow column shows 「出欠・」 over 「学校生活」 instead of
    cutting a word in two."""
    return mark_safe(str(escape(str(text))).replace("・", "・<wbr>"))  # noqa: S308


@register.filter
def staff_name(user: Any) -> str:
    """The staff member's name (family name first), or the login name if none is registered."""
    return _person_name(user) or (user.get_username() if user is not None else "")


@register.filter
def join_labels(labels: list[str]) -> str:
    return _join_labels([str(label) for label in labels or []])


@register.filter
def special_care(code: str) -> bool:
    return code in SPECIAL_CARE_SECTIONS


def last_day(value: date | datetime | None) -> date | None:
    """The last day a period includes, given its exclusive end.

    Periods are stored half-open ([from, until)): a consent "until 1 December" ends at the
    midnight that starts 2 December. People read and sign the inclusive last day.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return timezone.localtime(value - timedelta(microseconds=1)).date()
    return value


@register.filter(name="last_day")
def last_day_filter(value: date | datetime | None) -> date | None:
    return last_day(value)


@register.filter
def day(value: date | datetime | None) -> str:
    """A day as people write it in the current language (2027年12月1日 / Dec. 1, 2027)."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value).date()
    return formats.date_format(value, "DATE_FORMAT")


@register.filter
def until(value: date | datetime | None) -> str:
    """An exclusive end shown as its inclusive last day: 「2027年12月1日まで」."""
    last = last_day(value)
    return gettext("%(day)sまで") % {"day": day(last)} if last else ""


@register.simple_tag
def period(start: date | datetime, end: date | datetime) -> str:
    """A half-open period [start, end) as people say it: 「2026年11月4日から2026年12月3日まで」."""
    return gettext("%(start)sから%(end)sまで") % {"start": day(start), "end": day(last_day(end))}


OBJECT_TYPES = {
    "sheet": pgettext_lazy("audit object", "シート"),
    "handoff": pgettext_lazy("audit object", "引き継ぎ"),
    "consent": pgettext_lazy("audit object", "同意記録"),
    "agency": pgettext_lazy("audit object", "機関"),
    "api_key": pgettext_lazy("audit object", "APIキー"),
    "membership": pgettext_lazy("audit object", "職員の所属"),
    "user": pgettext_lazy("audit object", "職員"),
    "webhook_endpoint": pgettext_lazy("audit object", "Webhook送信先"),
    "outbox": pgettext_lazy("audit object", "通知"),
    "report": pgettext_lazy("audit object", "出力"),
    "audit": pgettext_lazy("audit object", "監査ログ"),
    # Refusals name the object by the URL's id ("record_id" -> record) or the screen's name.
    "record": pgettext_lazy("audit object", "同意記録"),
    "attachment": pgettext_lazy("audit object", "添付資料"),
    "filter": pgettext_lazy("audit object", "保存した検索条件"),
    "outbox_message": pgettext_lazy("audit object", "通知"),
    "webhook": pgettext_lazy("audit object", "Webhook送信先"),
}
# Anything else (a screen's or an API view's name) is code, not words: say "other" instead.
OTHER_OBJECT = pgettext_lazy("audit object", "その他")


@register.simple_tag
def object_label(object_type: str, object_id: str | int | None) -> str:
    """What an audit event is about, as people name it: 「引き継ぎ #12」, not handoff:12."""
    if not object_type:
        return ""
    label = str(OBJECT_TYPES.get(object_type, OTHER_OBJECT))
    return f"{label} #{object_id}" if object_id not in (None, "") else label


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
    """aria-current="page" when the current URL's name is one of `names` ("name" matches
    in any namespace, "namespace:name" only in that one)."""
    request: HttpRequest | None = context.get("request")
    match = getattr(request, "resolver_match", None)
    if match is not None and (match.url_name in names or match.view_name in names):
        return mark_safe('aria-current="page"')
    return ""
