"""The directory for staff: search agencies and see what each offers."""

from __future__ import annotations

from functools import wraps
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from agencies import eligibility
from agencies.categories import CATEGORIES
from agencies.models import Agency, AgencyKind

if TYPE_CHECKING:  # django-stubs is a development dependency
    from django_stubs_ext import StrOrPromise


def _member_required(view: Any) -> Any:
    """Staff of an agency only (the directory is internal: it carries intake contacts)."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request.user, "membership", None) is None:
            raise PermissionDenied(_("所属する機関が登録されていません。"))
        return view(request, *args, **kwargs)

    return wrapper


def _category_choices() -> list[tuple[str, str]]:
    english = (get_language() or "ja").startswith("en")
    return [(code, en if english else ja) for code, ja, en in CATEGORIES]


class DirectorySearchForm(forms.Form):
    q = forms.CharField(label=_("キーワード"), required=False, max_length=100)
    kind = forms.ChoiceField(label=_("種別"), required=False)
    category = forms.ChoiceField(label=_("支援分野"), required=False)
    municipality = forms.ChoiceField(label=_("市区町村"), required=False)
    referrals = forms.BooleanField(label=_("引き継ぎを受け付ける機関のみ"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        everything: list[tuple[str, StrOrPromise]] = [("", _("すべて"))]
        self._choice_field("kind").choices = everything + list(AgencyKind.choices)
        self._choice_field("category").choices = everything + _category_choices()
        municipalities = (
            Agency.objects.order_by("municipality")
            .values_list("municipality", flat=True)
            .distinct()
        )
        self._choice_field("municipality").choices = everything + [
            (m, m) for m in municipalities if m
        ]

    def _choice_field(self, name: str) -> forms.ChoiceField:
        """This form's copy of a declared ChoiceField (BaseForm.fields holds plain Fields)."""
        field = self.fields[name]
        if not isinstance(field, forms.ChoiceField):
            raise TypeError(f"DirectorySearchForm.{name} is not a ChoiceField")
        return field


@_member_required
def directory(request: HttpRequest) -> HttpResponse:
    form = DirectorySearchForm(request.GET or None)
    agencies = Agency.objects.prefetch_related("categories").order_by("municipality", "name")
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            words = data["q"].split()
            for word in words:
                agencies = agencies.filter(
                    Q(name__icontains=word)
                    | Q(name_en__icontains=word)
                    | Q(description__icontains=word)
                    | Q(municipality__icontains=word)
                    | Q(services__name__icontains=word)
                    | Q(services__description__icontains=word)
                )
        if data["kind"]:
            agencies = agencies.filter(kind=data["kind"])
        if data["category"]:
            agencies = agencies.filter(categories__code=data["category"])
        if data["municipality"]:
            agencies = agencies.filter(municipality=data["municipality"])
        if data["referrals"]:
            agencies = agencies.filter(accepts_referrals=True)
        agencies = agencies.distinct()
    page = Paginator(agencies, 20).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    labels = dict(_category_choices())
    return render(
        request,
        "agencies/directory.html",
        {
            "form": form,
            "page": page,
            "qs": params.urlencode(),
            "category_labels": labels,
            "total": page.paginator.count,
        },
    )


@_member_required
def agency_detail(request: HttpRequest, slug: str) -> HttpResponse:
    agency = get_object_or_404(Agency.objects.prefetch_related("categories"), slug=slug)
    labels = dict(_category_choices())
    services = [
        {
            "s": s,
            "categories": [labels.get(c.code, c.code) for c in s.categories.all()],
            "eligibility": eligibility.describe(s),
        }
        for s in agency.services.prefetch_related("categories").order_by("name")
    ]
    return render(
        request,
        "agencies/detail.html",
        {
            "agency": agency,
            "categories": [labels.get(c.code, c.code) for c in agency.categories.all()],
            "services": services,
        },
    )
