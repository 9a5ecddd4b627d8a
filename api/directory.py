"""The agency directory: search and one agency, for choosing where to relay a sheet."""

from __future__ import annotations

import math
from typing import Any

import django_filters
from django import forms
from django.db.models import Prefetch, Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies import hsds
from agencies.grades import Grade
from agencies.models import Agency, AgencyKind, Category, Service
from api.fields import OutputModelSerializer
from api.language import bilingual
from api.pagination import KeysetPagination
from api.permissions import HasScope
from api.schema import READ_PROBLEMS, problem_responses


class StrictBooleanField(forms.Field):
    """`true` or `false`, nothing else: an unknown or empty value is a 400, never ignored."""

    def to_python(self, value: Any) -> bool | None:
        if value is None:  # the parameter is absent
            return None
        if value in ("true", "false"):
            return value == "true"
        raise forms.ValidationError(
            bilingual("true か false を指定してください。", "Give true or false."),
            code="invalid",
        )


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class StrictChoiceField(forms.ChoiceField):
    """A choice; present but empty (`?kind=`) is a 400 like any value not in the list."""

    def to_python(self, value: Any) -> str:
        if value == "":
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": ""}
            )
        return super().to_python(value)


class StrictChoiceFilter(django_filters.ChoiceFilter):
    field_class = StrictChoiceField


class AgencyFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search", max_length=100, help_text="Words in the name, description or place."
    )
    kind = StrictChoiceFilter(choices=AgencyKind.choices)
    category = django_filters.CharFilter(
        field_name="categories__code", max_length=40, help_text="A category code."
    )
    municipality = django_filters.CharFilter(max_length=60)
    accepts_referrals = StrictBooleanFilter()

    class Meta:
        model = Agency
        fields = ["q", "kind", "category", "municipality", "accepts_referrals"]

    def search(self, queryset: QuerySet[Agency], name: str, value: str) -> QuerySet[Agency]:
        for word in value.split():
            queryset = queryset.filter(
                Q(name__icontains=word)
                | Q(name_en__icontains=word)
                | Q(description__icontains=word)
                | Q(municipality__icontains=word)
                | Q(prefecture__icontains=word)
            )
        return queryset


class CategoryCodesField(serializers.ListField):
    child = serializers.CharField()

    def to_representation(self, data: Any) -> list[str]:
        return [category.code for category in data.all()]


class AgencySerializer(OutputModelSerializer):
    """An agency as the directory lists it: what it is, where, whom it serves."""

    categories = CategoryCodesField(read_only=True, help_text="Category codes it serves.")

    class Meta:
        model = Agency
        fields = [
            "slug",
            "name",
            "name_en",
            "kind",
            "prefecture",
            "municipality",
            "categories",
            "age_min",
            "age_max",
            "grades",
            "accepts_referrals",
            "ack_sla_hours",
        ]
        read_only_fields = fields


class ServiceSerializer(OutputModelSerializer):
    """A program with whom it serves: ages, grades, places of residence (empty: any), whether
    the child's own wish is needed and whether one applies through the school."""

    categories = CategoryCodesField(read_only=True)
    grades = serializers.ListField(
        child=serializers.ChoiceField(choices=Grade.choices),
        read_only=True,
        help_text="Grades served; empty: any grade.",
    )
    municipalities = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Places of residence served (a designated city covers its wards); empty: "
        "anywhere.",
    )

    class Meta:
        model = Service
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "eligibility",
            "schedule",
            "categories",
            "age_min",
            "age_max",
            "grades",
            "municipalities",
            "requires_child_wish",
            "apply_through_school",
            "active",
        ]
        read_only_fields = fields
        extra_kwargs = {"eligibility": {"help_text": "Eligibility notes in words."}}


class AgencyServiceSerializer(ServiceSerializer):
    """A program in the directory-wide list, with the agency that runs it."""

    agency = serializers.CharField(
        source="agency.slug", read_only=True, help_text="The slug of the agency running it."
    )

    class Meta(ServiceSerializer.Meta):
        fields = ["agency", *ServiceSerializer.Meta.fields]
        read_only_fields = fields


class ServiceFilter(django_filters.FilterSet):
    agency = django_filters.CharFilter(
        field_name="agency__slug", max_length=80, help_text="The agency's slug."
    )
    category = django_filters.CharFilter(
        field_name="categories__code", max_length=40, help_text="A category code."
    )
    active = StrictBooleanFilter()

    class Meta:
        model = Service
        fields = ["agency", "category", "active"]


class AgencyDetailSerializer(AgencySerializer):
    """One agency with its contact details and the services it offers."""

    services = ServiceSerializer(many=True, read_only=True)

    class Meta(AgencySerializer.Meta):
        fields = [
            *AgencySerializer.Meta.fields,
            "address",
            "phone",
            "hours",
            "website",
            "description",
            "services",
        ]
        read_only_fields = fields


_CATEGORIES = Prefetch("categories", queryset=Category.objects.only("code"))


class AgencyListView(ListAPIView):
    """Directory search; one indexed query per page and one prefetch of the categories."""

    permission_classes = [HasScope]
    required_scopes = {"GET": "directory:read"}
    serializer_class = AgencySerializer
    pagination_class = KeysetPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = AgencyFilter

    def get_queryset(self) -> QuerySet[Agency]:
        return Agency.objects.prefetch_related(_CATEGORIES).order_by("municipality", "name", "id")

    @extend_schema(
        operation_id="agencies_list",
        summary="Search the agency directory",
        responses={200: AgencySerializer(many=True), **problem_responses(*READ_PROBLEMS)},
    )
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)


class ServiceListView(ListAPIView):
    """Every program of the directory with its eligibility; shared by all agencies."""

    permission_classes = [HasScope]
    required_scopes = {"GET": "directory:read"}
    serializer_class = AgencyServiceSerializer
    pagination_class = KeysetPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = ServiceFilter

    def get_queryset(self) -> QuerySet[Service]:
        return (
            Service.objects.select_related("agency")
            .prefetch_related(_CATEGORIES)
            .order_by("agency_id", "id")
            .distinct()
        )

    @extend_schema(
        operation_id="services_list",
        summary="The programs of the directory, with their eligibility",
        description="Programs (services) of every agency: whom each serves (ages, grades, "
        "places of residence, the child's own wish), whether one applies through the school, "
        "and whether it takes people now (`active`). A handoff names one by id or slug in "
        "`service`.",
        responses={200: AgencyServiceSerializer(many=True), **problem_responses(*READ_PROBLEMS)},
    )
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)


class AgencyDetailView(RetrieveAPIView):
    permission_classes = [HasScope]
    required_scopes = {"GET": "directory:read"}
    serializer_class = AgencyDetailSerializer
    lookup_field = "slug"
    queryset = Agency.objects.prefetch_related(
        _CATEGORIES, Prefetch("services", queryset=Service.objects.prefetch_related(_CATEGORIES))
    )

    @extend_schema(
        operation_id="agencies_retrieve",
        summary="One agency of the directory",
        description="Contact details and the services (programs) it offers, by slug.",
        responses={200: AgencyDetailSerializer, **problem_responses(*READ_PROBLEMS)},
    )
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)


HSDS_ORGANIZATION_SCHEMA = {
    "type": "object",
    "description": "An Open Referral HSDS 3.0 organization with its services, locations, "
    "phones and schedules (https://docs.openreferral.org/en/latest/hsds/schema_reference.html"
    "#organization).",
    "required": ["id", "name", "description", "services", "locations", "phones"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "services": {"type": "array", "items": {"type": "object"}},
        "locations": {"type": "array", "items": {"type": "object"}},
        "phones": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": True,
}
HSDS_PAGE_SCHEMA = {
    "type": "object",
    "description": "An HSDS 3.0 API page of organizations.",
    "required": [
        "total_items",
        "total_pages",
        "page_number",
        "size",
        "first_page",
        "last_page",
        "empty",
        "contents",
    ],
    "properties": {
        "total_items": {"type": "integer", "minimum": 0},
        "total_pages": {"type": "integer", "minimum": 0},
        "page_number": {"type": "integer", "minimum": 1},
        "size": {"type": "integer", "minimum": 0},
        "first_page": {"type": "boolean"},
        "last_page": {"type": "boolean"},
        "empty": {"type": "boolean"},
        "contents": {"type": "array", "items": HSDS_ORGANIZATION_SCHEMA},
    },
}
HSDS_MAX_PER_PAGE = 100


def query_int(request: Request, name: str, *, default: int, maximum: int) -> int:
    """A positive integer query parameter, digits only (no sign, point or spaces)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ValidationError(
            {
                name: [
                    bilingual(
                        f"1〜{maximum}の整数を指定してください。",
                        f"Give an integer from 1 to {maximum}.",
                    )
                ]
            }
        )
    return int(raw)


class HSDSOrganizationsView(APIView):
    """The directory in Open Referral HSDS 3.0 shape, as the HSDS API pages it."""

    permission_classes = [HasScope]
    required_scopes = {"GET": "directory:read"}

    @extend_schema(
        operation_id="hsds_organizations_list",
        summary="The directory as Open Referral HSDS 3.0 organizations",
        description="Organizations in slug order with their services, location (address "
        "and hours as a schedule), phones and the services' schedules; Tsunagu's agency "
        "kind and categories as HSDS attributes. What only this installation uses (intake "
        "e-mail, sign-off rule) is left out; `manage.py export_directory --format hsds` "
        "exports all of it for a round trip.",
        parameters=[
            OpenApiParameter(
                "page", {"type": "integer", "minimum": 1, "maximum": 1_000_000}, default=1
            ),
            OpenApiParameter(
                "per_page",
                {"type": "integer", "minimum": 1, "maximum": HSDS_MAX_PER_PAGE},
                default=50,
            ),
        ],
        responses={200: OpenApiResponse(HSDS_PAGE_SCHEMA), **problem_responses(*READ_PROBLEMS)},
    )
    def get(self, request: Request) -> Response:
        page = query_int(request, "page", default=1, maximum=1_000_000)
        size = query_int(request, "per_page", default=50, maximum=HSDS_MAX_PER_PAGE)
        agencies = hsds.directory_queryset()
        total = agencies.count()
        rows = list(agencies[(page - 1) * size : page * size])
        pages = math.ceil(total / size)
        return Response(
            {
                "total_items": total,
                "total_pages": pages,
                "page_number": page,
                "size": len(rows),
                "first_page": page == 1,
                "last_page": page >= pages,
                "empty": not rows,
                "contents": hsds.export_organizations(rows, include_internal=False),
            }
        )
