"""The handoff list: inbox and outbox, filters, keyset pages, and a constant query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from agencies.models import Category, Service
from relay import services
from relay.models import Handoff
from relay.states import Status
from tests.api.helpers import assert_problem, bearer
from tests.factories import AgencyFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/handoffs/"


def _send_hops(net, n: int) -> list[Handoff]:
    hops = []
    for _ in range(n):
        sheet = net.sheet()
        net.consent(sheet)
        hops.append(net.send(sheet))
    return hops


def _queries(client: APIClient, url: str, headers: dict) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **headers)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


@pytest.mark.parametrize(
    ("url", "owner"),
    [(LIST, "npo"), (LIST + "?box=outbox", "ward"), ("/api/v1/agencies/", "npo")],
    ids=["inbox", "outbox", "agencies"],
)
def test_a_page_of_1_and_of_50_rows_take_the_same_queries(net, key_for, url, owner) -> None:
    """GIVEN 1, then 50 rows WHEN a page is listed THEN the same number of queries: one for
    the key, one for the page (plus one prefetch of categories for the directory)."""
    client = APIClient()
    headers = bearer(key_for(getattr(net, owner)))
    _send_hops(net, 1)
    client.get(url, **headers)  # the key's first use writes last_used_at: not a list cost
    one, first = _queries(client, url, headers)

    _send_hops(net, 49)
    categories = list(Category.objects.all()[:3])
    for _ in range(50 - len(first["results"])):  # the directory starts with the 4 agencies
        AgencyFactory().categories.add(*categories)
    fifty, page = _queries(client, url, headers)

    assert len(page["results"]) == 50
    assert one == fifty == (3 if "agencies" in url else 2)


def test_pages_are_newest_first_without_gaps_or_repeats_even_on_equal_times(net, key_for) -> None:
    hops = _send_hops(net, 5)
    same = timezone.now() - timedelta(hours=1)
    Handoff.objects.filter(pk__in=[h.pk for h in hops[1:4]]).update(sent_at=same)
    client, headers = APIClient(), bearer(key_for(net.npo))

    seen, url = [], f"{LIST}?page_size=2"
    while url:
        body = client.get(url, **headers).json()
        seen += [h["id"] for h in body["results"]]
        url = body["next"]

    expected = list(
        Handoff.objects.filter(to_agency=net.npo)
        .order_by("-sent_at", "-id")
        .values_list("id", flat=True)
    )
    assert seen == expected and len(set(seen)) == 5


def test_status_and_updated_since_filter(net, key_for) -> None:
    hops = _send_hops(net, 3)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hops[0].pk)
    services.handoff_accept(staff=net.npo_intake, handoff_id=hops[1].pk)
    client, headers = APIClient(), bearer(key_for(net.npo))

    def ids(query: str) -> set[int]:
        return {h["id"] for h in client.get(LIST + query, **headers).json()["results"]}

    assert ids("?status=acknowledged") == {hops[0].pk}
    assert ids("?status=acknowledged,accepted") == ids("?status=acknowledged&status=accepted")
    assert ids("?status=acknowledged,accepted") == {hops[0].pk, hops[1].pk}
    later = Handoff.objects.get(pk=hops[1].pk).updated_at
    assert ids("?" + f"updated_since={later.isoformat()}".replace("+", "%2B")) == {hops[1].pk}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?box=elsewhere", "box"),
        ("?status=lost", "status.0"),
        ("?status=", "status.0"),  # empty is not a status (schemathesis found it accepted)
        ("?status=acknowledged,,accepted", "status.1"),
        ("?updated_since=yesterday", "updated_since"),
        ("?cursor=not-a-cursor", "cursor"),
        ("?cursor=WyJ4Il0", "cursor"),  # valid base64 JSON, wrong shape
        ("?page_size=0", "page_size"),
        ("?page_size=1000", "page_size"),
    ],
)
def test_bad_parameters_are_400_with_the_field(net, key_for, query, field) -> None:
    response = APIClient().get(LIST + query, **bearer(key_for(net.npo)))
    body = assert_problem(response, status=400, slug="validation-error")
    assert [e["field"] for e in body["errors"]] == [field]


def test_directory_search_filters(net, key_for) -> None:
    category, _ = Category.objects.get_or_create(
        code="hikikomori", defaults={"label_ja": "ひきこもり", "label_en": "Hikikomori"}
    )
    net.guidance.categories.add(category)
    net.welfare.accepts_referrals = False
    net.welfare.municipality = "明石市"
    net.welfare.save()
    client, headers = APIClient(), bearer(key_for(net.npo, "directory:read"))

    def slugs(query: str) -> list[str]:
        response = client.get("/api/v1/agencies/" + query, **headers)
        assert response.status_code == 200, response.content
        return sorted(a["slug"] for a in response.json()["results"])

    assert slugs("?category=hikikomori") == ["guidance"]
    assert slugs("?kind=npo_free_school") == ["npo"]
    assert slugs("?accepts_referrals=false") == ["welfare"]
    assert slugs("?municipality=明石市") == ["welfare"]
    assert slugs("?q=明石") == ["welfare"]
    detail = client.get("/api/v1/agencies/guidance/", **headers).json()
    assert detail["categories"] == ["hikikomori"] and detail["services"] == []
    assert_problem(client.get("/api/v1/agencies/nowhere/", **headers), status=404, slug="not-found")


def test_list_rows_are_exactly_what_drf_would_write(net, key_for) -> None:
    """The list's direct to_representation gives the document of DRF's field walk."""
    from api.handoff_serializers import HandoffSerializer

    hops = _send_hops(net, 3)
    services.handoff_decline(staff=net.npo_intake, handoff_id=hops[0].pk, reason="no_capacity")
    services.handoff_accept(staff=net.npo_intake, handoff_id=hops[1].pk)
    services.handoff_complete(staff=net.npo_intake, handoff_id=hops[1].pk, outcome="referred_on")
    for agency in (net.npo, net.ward):
        serializer = HandoffSerializer(context={"agency": agency})
        for hop in Handoff.objects.select_related("from_agency", "to_agency"):
            fast = serializer.to_representation(hop)
            assert fast == serializer.generic_representation(hop)
            assert list(fast) == HandoffSerializer.Meta.fields


def test_the_inbox_is_searched_by_what_the_provision_gave(net, key_for) -> None:
    """GIVEN a hop sent to the NPO and an edit of the live sheet after it WHEN the NPO's key
    lists its inbox with q or grade THEN it finds the hop by the values sent (full-width and
    kana variants alike), not by the edited ones; another agency's key never finds it."""
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    services.sheet_update(
        staff=net.counselor,
        sheet_id=sheet.pk,
        data={"school_name": "港区立ひみつ中学校", "grade": "j3"},
        reason="転校",
    )
    client = APIClient()
    npo = bearer(key_for(net.npo))

    def ids(query: str, headers: dict = npo) -> list[int]:
        response = client.get(f"{LIST}?{query}", **headers)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids("q=ａｔ") == [hop.pk]
    assert ids("q=ﾃｽﾄ&grade=j2") == [hop.pk]
    assert ids("q=ひみつ") == [] and ids("grade=j3") == []
    assert ids("q=A.T", bearer(key_for(net.welfare))) == []
    body = assert_problem(
        client.get(f"{LIST}?grade=j9", **npo), status=400, slug="validation-error"
    )
    assert [e["field"] for e in body["errors"]] == ["grade"]


def _drf_page_bytes(agency, ids: list[int], next_url: str | None) -> bytes:
    """The page as DRF's serializer field walk and renderer write it, for the same rows."""
    from rest_framework.renderers import JSONRenderer

    from api.handoff_serializers import HandoffSerializer

    serializer = HandoffSerializer(context={"agency": agency})
    hops = Handoff.objects.select_related("from_agency", "to_agency").in_bulk(ids)
    results = [serializer.generic_representation(hops[i]) for i in ids]
    return JSONRenderer().render({"next": next_url, "results": results})


def test_the_list_is_byte_for_byte_drfs_document(net, key_for) -> None:
    """GIVEN hops in every state, with empty and filled optional fields, Japanese agency
    names and one hop naming a program WHEN the inbox and outbox are walked page by page (cursors), and an empty page is
    asked for THEN every body is, byte for byte, what DRF's serializer and renderer write for
    the same rows (the fast path selects plain rows and writes them without DRF's fields)."""
    net.ward.name = "足立区福祉まるごと相談課「つなぐ」"
    net.ward.save()
    net.npo.name = "NPO法人セーフティネットあだち\u2028改行"  # a separator JSON escapes
    net.npo.save()
    hops = _send_hops(net, 3 + len(Status.values))
    services.handoff_decline(staff=net.npo_intake, handoff_id=hops[0].pk, reason="no_capacity")
    services.handoff_accept(staff=net.npo_intake, handoff_id=hops[1].pk)
    services.handoff_complete(staff=net.npo_intake, handoff_id=hops[1].pk, outcome="referred_on")
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hops[2].pk)
    # The rest in every other state as stored rows, the document does not judge the workflow.
    for hop, state in zip(hops[3:], Status.values, strict=False):
        Handoff.objects.filter(pk=hop.pk).update(
            status=state, urgent=True, escalation_level=2, cancel_reason="other"
        )
    Handoff.objects.filter(pk=hops[4].pk).update(parent=hops[3], ack_due_at=None)
    # Whole seconds: isoformat writes no fraction (PostgreSQL's text must not either).
    whole = timezone.now().replace(microsecond=0)
    Handoff.objects.filter(pk=hops[5].pk).update(sent_at=whole, acknowledged_at=whole)
    # One hop asks for a program of its receiver (the rest name none: null).
    program = Service.objects.create(agency=net.npo, slug="kayoiba", name="居場所「かよいば」")
    Handoff.objects.filter(pk=hops[2].pk).update(service=program)
    assert set(Handoff.objects.values_list("status", flat=True)) == set(Status.values)
    client = APIClient()
    for agency, url in ((net.npo, LIST), (net.ward, LIST + "?box=outbox")):
        headers = bearer(key_for(agency))
        pages, next_url = 0, url + ("&" if "?" in url else "?") + "page_size=4"
        while next_url:
            response = client.get(next_url, **headers)
            assert response.status_code == 200
            body = response.json()
            ids = [row["id"] for row in body["results"]]
            assert response.content == _drf_page_bytes(agency, ids, body["next"])
            pages, next_url = pages + 1, body["next"]
        assert pages >= 2
    empty = client.get(LIST + "?status=withdrawn&box=inbox", **bearer(key_for(net.guidance)))
    assert empty.content == b'{"next":null,"results":[]}'


def test_every_field_of_the_document_is_in_the_list_layout() -> None:
    """A field added to HandoffSerializer needs its entry in HANDOFF_LAYOUT (and back)."""
    from api.handoff_serializers import HANDOFF_LAYOUT, HandoffSerializer

    assert [field.name for field in HANDOFF_LAYOUT] == HandoffSerializer.Meta.fields
