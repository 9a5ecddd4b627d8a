"""Admin for API keys: issue (the plaintext is shown once), list, revoke; never edit or delete."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from api.keys import api_key_create, api_key_revoke
from api.models import APIKey
from api.principal import user_actor
from api.scopes import Scope

_DETAIL_FIELDS = (
    "agency",
    "name",
    "masked_key",
    "scopes",
    "expires_at",
    "created_at",
    "created_by",
    "last_used_at",
    "revoked_at",
    "revoked_by",
)


class APIKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("スコープ"), choices=Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = APIKey
        fields = ["agency", "name", "scopes", "expires_at"]

    def clean_expires_at(self) -> Any:
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError(_("有効期限は未来の日時にしてください。"))
        return expires_at


class StatusFilter(admin.SimpleListFilter):
    title = _("状態")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("active", _("有効")), ("expired", _("期限切れ")), ("revoked", _("失効"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> QuerySet[APIKey]:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True).filter(
                Q(expires_at__isnull=True) | Q(expires_at__gt=now)
            )
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    """Keys change only through the audited services: issue here, revoke with the action."""

    list_display = (
        "name",
        "agency",
        "masked_key",
        "scope_list",
        "status",
        "expires_at",
        "last_used_at",
        "created_at",
    )
    list_filter = (StatusFilter,)
    list_select_related = ("agency",)
    search_fields = ("name", "prefix", "agency__name", "agency__slug")
    autocomplete_fields = ("agency",)
    actions = ["revoke_selected"]

    @admin.display(description=_("キー"))
    def masked_key(self, obj: APIKey) -> str:
        return f"tsk_{obj.prefix}_…"

    @admin.display(description=_("スコープ"))
    def scope_list(self, obj: APIKey) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description=_("状態"))
    def status(self, obj: APIKey) -> str:
        if obj.is_revoked:
            return str(_("失効"))
        if obj.is_expired(timezone.now()):
            return str(_("期限切れ"))
        return str(_("有効"))

    def get_fields(self, request: HttpRequest, obj: APIKey | None = None) -> Any:
        return APIKeyCreateForm.Meta.fields if obj is None else _DETAIL_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: APIKey | None = None) -> Any:
        return () if obj is None else _DETAIL_FIELDS

    def get_form(
        self, request: HttpRequest, obj: APIKey | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = APIKeyCreateForm
        return super().get_form(request, obj, change, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the detail page is read-only; revocation is the action

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # kept for the audit trail; revoke instead

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("api.change_apikey")

    def save_model(self, request: HttpRequest, obj: APIKey, form: Any, change: bool) -> None:
        key, plaintext = api_key_create(
            agency=obj.agency,
            name=obj.name,
            scopes=obj.scopes,
            expires_at=obj.expires_at,
            # The admin site only lets staff users in: never the anonymous user.
            created_by=request.user if isinstance(request.user, User) else None,
            actor=user_actor(request.user),
        )
        # The admin's own redirect and log entry use `obj`: make it the saved key.
        obj.pk, obj.prefix, obj.created_at = key.pk, key.prefix, key.created_at
        obj._state.adding = False
        messages.warning(
            request,
            format_html(
                "{} <code>{}</code>",
                _(
                    "APIキーを発行しました。この画面を離れると二度と表示されません。今すぐ控えてください:"
                ),
                plaintext,
            ),
        )

    @admin.action(description=_("選択したAPIキーを失効させる"), permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> None:
        actor = user_actor(request.user)
        count = 0
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(key=key, actor=actor)
            count += 1
        self.message_user(
            request,
            _("%(count)d件のAPIキーを失効させました。") % {"count": count},
            messages.SUCCESS,
        )
