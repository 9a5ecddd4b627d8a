"""In-app notifications: what arrived and where; never the person's data."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from agencies.actors import READERS, Staff
from relay.selectors import notifications_for
from relay.views.base import paginate, staff_view
from relay.views.templatetags.tsunagu import SEEN_KEY

EVENT_TEXT = {
    "handoff.sent": _("新しい引き継ぎが届きました"),
    "handoff.updated": _("引き継ぎの更新(新しい版)が届きました"),
    "handoff.declined": _("引き継ぎが辞退されました"),
    "handoff.completed": _("引き継ぎの結果が記録されました"),
    "handoff.cancelled": _("引き継ぎが取り下げられました"),
    "handoff.withdrawn": _("同意の撤回により引き継ぎが停止されました"),
    "handoff.escalated": _("受領確認の期限を過ぎた引き継ぎがあります"),
    "handoff.outcome_reminder": _("結果が未記録の引き継ぎがあります"),
    "handoff.progress_posted": _("受け入れ後の経過が報告されました"),
    "handoff.progress_due": _("受け入れ後の経過の報告をお願いします(毎月)"),
    "digest.overdue": _("期限を過ぎた引き継ぎのまとめ"),
    "webhook.disabled": _("Webhook送信先を停止しました"),
    "webhook.failing": _("Webhookの配信に失敗しています"),
}


@staff_view(*READERS)
def notification_list(request: HttpRequest, staff: Staff) -> HttpResponse:
    page = paginate(request, notifications_for(agency=staff.agency))
    seen = request.session.get(SEEN_KEY, 0)
    items = [
        {"n": n, "text": EVENT_TEXT.get(n.event_type, n.event_type), "new": n.pk > seen}
        for n in page
    ]
    newest = max((n.pk for n in page), default=0)
    if page.number == 1 and newest > seen:
        # Per-session "seen" mark (there is no service to mark a notification read).
        request.session[SEEN_KEY] = newest
    return render(request, "relay/notifications.html", {"page": page, "items": items})
