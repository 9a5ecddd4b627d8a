"""Django admin for the directory (Japanese first, like the rest of the UI)."""

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from agencies import sessions, twofactor
from agencies.grades import Grade
from agencies.models import Agency, Category, Membership, RoutingDesk, Service
from agencies.services import membership_remove, membership_set
from audit.context import Actor, ActorKind


def _actor(request: HttpRequest) -> Actor:
    membership = getattr(request.user, "membership", None)
    return Actor(
        kind=ActorKind.USER,
        user_id=request.user.pk,
        agency_id=membership.agency_id if membership else None,
        label=request.user.get_username(),
    )


class ServiceAdminForm(forms.ModelForm):
    """Grades as checkboxes and places as one line, stored as the model's lists."""

    grades = forms.MultipleChoiceField(
        label=gettext_lazy("対象学年"),
        choices=Grade.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("選ばなければ学年を問いません。"),
    )
    municipalities = forms.CharField(
        label=gettext_lazy("対象の居住地"),
        required=False,
        help_text=gettext_lazy("市区町村名を「、」で区切って(例: 横浜市)。空欄ならどこでも。"),
    )

    class Meta:
        model = Service
        fields = (
            "name", "slug", "active", "description", "schedule", "categories", "age_min",
            "age_max", "grades", "municipalities", "requires_child_wish",
            "apply_through_school", "eligibility",
        )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["municipalities"] = "、".join(self.instance.municipalities)

    def clean_municipalities(self) -> list[str]:
        raw = self.cleaned_data.get("municipalities") or ""
        return [part.strip() for part in re.split(r"[、,，\s]+", raw) if part.strip()]


class ServiceInline(admin.StackedInline):
    model = Service
    form = ServiceAdminForm
    extra = 0
    filter_horizontal = ("categories",)
    fields = (
        ("name", "slug", "active"),
        "description",
        "schedule",
        "categories",
        ("age_min", "age_max"),
        "grades",
        "municipalities",
        ("requires_child_wish", "apply_through_school"),
        "eligibility",
    )


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "municipality", "phone", "accepts_referrals")
    list_filter = ("kind", "prefecture", "accepts_referrals", "categories")
    search_fields = ("name", "name_en", "municipality", "slug")
    prepopulated_fields = {"slug": ("name_en",)}
    filter_horizontal = ("categories",)
    inlines = [ServiceInline]
    # Set by the agency's supervisor on /supervisor/security/ (audited, re-authenticated).
    readonly_fields = ("two_factor_policy", "viewers_see_special_care")


@admin.register(RoutingDesk)
class RoutingDeskAdmin(admin.ModelAdmin):
    """A routing desk: its municipality and the kinds of agency it may route to (checked by
    the model's clean, as every write path)."""

    list_display = ("agency", "municipality", "public_intake")
    raw_id_fields = ("agency",)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "label_ja", "label_en")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Memberships change through the audited services, never by a bare save."""

    list_display = ("user", "agency", "role", "phone")
    list_filter = ("role", "agency__kind")
    fields = ("user", "agency", "role", "phone")
    search_fields = ("user__username", "agency__name")
    autocomplete_fields = ("agency",)

    actions = ["reset_second_factor"]

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Changing who has which role is a sensitive action: the password again first.
        if not sessions.reauth_fresh(request):
            return sessions.reauth_redirect(request)
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.action(description=gettext_lazy("2段階認証をリセット(スマートフォン紛失など)"))
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        _reset_factors(request, [m.user for m in queryset.select_related("user")])

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        saved = membership_set(
            user=obj.user, agency=obj.agency, role=obj.role, actor=_actor(request), phone=obj.phone
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_remove(membership=obj, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset:
            membership_remove(membership=membership, actor=_actor(request))


def _reset_factors(request: HttpRequest, users: list[Any]) -> None:
    if not sessions.reauth_fresh(request):
        messages.error(request, _("リセットの前に、パスワードをもう一度入力してください。"))
        return
    for user in users:
        twofactor.second_factor_reset(user=user, actor=_actor(request), reason="admin")
    messages.success(
        request,
        _("%(n)d 人の2段階認証をリセットしました。次のログインで設定し直します。")
        % {"n": len(users)},
    )


# Factors change only through agencies.twofactor (audited): django-otp's own device admins,
# which would also show the secrets, are removed; users get the audited reset action.
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)

User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    """Django's user admin, plus the audited second-factor reset."""

    actions = ["reset_second_factor"]

    @admin.action(description=gettext_lazy("2段階認証をリセット(スマートフォン紛失など)"))
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        _reset_factors(request, list(queryset))
