"""Admin for operators: outbox messages with their delivery attempts, and webhook endpoints.

Read-only (the delivery machinery is the only writer); the two things an operator may do are
actions that call audited services: retry messages now, re-enable an endpoint. No payload,
recipient address or secret is shown.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.context import Actor, ActorKind
from notifications.models import DeliveryAttempt, OutboxMessage, WebhookEndpoint
from notifications.operator import outbox_retry_now, webhook_reenable


def operator_actor(request: HttpRequest) -> Actor:
    """The audit actor for an operator acting in the admin."""
    user: Any = request.user
    return Actor(kind=ActorKind.USER, user_id=user.pk, label=user.get_username())


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nothing is added, edited or deleted here; actions call services."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AgeFilter(admin.SimpleListFilter):
    title = _("経過時間")
    parameter_name = "age"
    BOUNDS = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("1h", _("1時間以上前")),
            ("1d", _("1日以上前")),
            ("7d", _("7日以上前")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        bound = self.BOUNDS.get(self.value() or "")
        if bound is None:
            return queryset
        return queryset.filter(created_at__lte=timezone.now() - bound)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("attempted_at", "succeeded", "status_code", "latency_ms", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-attempted_at",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "event_type",
        "channel",
        "agency",
        "handoff_id",
        "state",
        "attempts",
        "next_attempt_at",
        "created_at",
        "last_error",
    )
    list_filter = ("state", "channel", AgeFilter, "agency")
    list_select_related = ("agency",)
    search_fields = ("=id", "=handoff__id")
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    # Never the payload or the recipients' addresses: ids, states and times only.
    fields = (
        "id",
        "event_type",
        "channel",
        "agency",
        "handoff_id",
        "state",
        "attempts",
        "next_attempt_at",
        "locked_until",
        "delivered_at",
        "created_at",
        "last_error",
    )
    readonly_fields = fields
    inlines = (DeliveryAttemptInline,)
    actions = ("retry_now",)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.change_outboxmessage")

    @admin.action(description=_("選択した通知を今すぐ再送する"), permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        ids = [str(pk) for pk in queryset.values_list("pk", flat=True)]
        count = outbox_retry_now(message_ids=ids, actor=operator_actor(request))
        self.message_user(
            request,
            _("%(count)d 件の通知を再送の対象にしました(配信済み・不要のものは除外)。")
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ("agency", "host", "state", "state_reason", "updated_at")
    list_filter = ("state",)
    list_select_related = ("agency",)
    # Never the secret (nor the previous one).
    fields = ("agency", "url", "state", "state_reason", "updated_at")
    readonly_fields = fields
    actions = ("reenable",)

    @admin.display(description=_("ホスト"))
    def host(self, endpoint: WebhookEndpoint) -> str:
        return urlsplit(endpoint.url).hostname or ""

    def has_reenable_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.change_webhookendpoint")

    @admin.action(description=_("選択したWebhookを再開する"), permissions=["reenable"])
    def reenable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        actor = operator_actor(request)
        count = sum(
            webhook_reenable(endpoint_id=pk, actor=actor)
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(
            request, _("%(count)d 件のWebhookを再開しました。") % {"count": count}, messages.SUCCESS
        )
