"""The directory: search agencies and their services (staff only)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from agencies.models import Agency, AgencyKind, Category, Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def services_of(net):
    net.npo.name = "フリースペース トロッコ"
    net.npo.municipality = "明石市"
    net.npo.save()
    net.npo.categories.add(Category.objects.get(code="school_refusal"))
    Service.objects.create(
        agency=net.npo,
        slug="ibasho",
        name="居場所の日",
        description="ゆっくり過ごせる場所",
        schedule="毎週水曜",
    )
    return net


def test_directory_needs_a_signed_in_member(net) -> None:
    response = Client().get(reverse("agencies:directory"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_search_by_keyword_kind_category_and_municipality(services_of, login) -> None:
    net = services_of
    client = login(net.viewer)
    everything = client.get(reverse("agencies:directory")).content.decode()
    assert "フリースペース トロッコ" in everything and net.welfare.name in everything
    by_service = client.get(reverse("agencies:directory"), {"q": "居場所"}).content.decode()
    assert "フリースペース トロッコ" in by_service and net.welfare.name not in by_service
    by_kind = client.get(
        reverse("agencies:directory"), {"kind": AgencyKind.WELFARE_OFFICE}
    ).content.decode()
    assert net.welfare.name in by_kind and "トロッコ" not in by_kind
    by_category = client.get(
        reverse("agencies:directory"), {"category": "school_refusal"}
    ).content.decode()
    assert "トロッコ" in by_category and net.welfare.name not in by_category
    by_place = client.get(
        reverse("agencies:directory"), {"municipality": "明石市"}
    ).content.decode()
    assert "トロッコ" in by_place and net.welfare.name not in by_place


def test_agency_page_shows_services(services_of, login) -> None:
    net = services_of
    body = (
        login(net.npo_intake)
        .get(reverse("agencies:agency-detail", args=[net.npo.slug]))
        .content.decode()
    )
    assert "居場所の日" in body and "毎週水曜" in body and "不登校" in body
    assert (
        login(net.npo_intake).get(reverse("agencies:agency-detail", args=["nope"])).status_code
        == 404
    )
    assert Agency.objects.count() == 4
