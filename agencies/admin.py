"""Django admin for the directory (Japanese first, like the rest of the UI)."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from agencies.models import Agency, Category, Membership, Service
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


class ServiceInline(admin.StackedInline):
    model = Service
    extra = 0
    filter_horizontal = ("categories",)


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "municipality", "phone", "accepts_referrals")
    list_filter = ("kind", "prefecture", "accepts_referrals", "categories")
    search_fields = ("name", "name_en", "municipality", "slug")
    prepopulated_fields = {"slug": ("name_en",)}
    filter_horizontal = ("categories",)
    inlines = [ServiceInline]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "label_ja", "label_en")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Memberships change through the audited services, never by a bare save."""

    list_display = ("user", "agency", "role")
    list_filter = ("role", "agency__kind")
    search_fields = ("user__username", "agency__name")
    autocomplete_fields = ("agency",)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        saved = membership_set(
            user=obj.user, agency=obj.agency, role=obj.role, actor=_actor(request)
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_remove(membership=obj, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset:
            membership_remove(membership=membership, actor=_actor(request))
