"""HTTP semantics of the partner API: no-store, ETag revalidation (304), 405 with Allow,
Location on 201, and an empty value written out as null rather than ""."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import AuditAction, AuditEvent
from relay import services
from tests.api.helpers import assert_problem, bearer

pytestmark = pytest.mark.django_db


def test_every_api_answer_is_no_store_errors_included(net, sent, key_for) -> None:
    """GIVEN a hop with a person's data WHEN it, a list, a problem or an unknown path is
    fetched THEN none of the answers may be stored by a cache."""
    client = APIClient()
    auth = bearer(key_for(net.npo))
    answers = [
        client.get(f"/api/v1/handoffs/{sent.pk}/", **auth),
        client.get("/api/v1/handoffs/", **auth),
        client.get(f"/api/v1/sheets/{sent.sheet_id}/", **auth),
        client.get("/api/v1/handoffs/999999/", **auth),
        client.get("/api/v1/handoffs/"),
        client.get("/api/v1/no-such-thing/", **auth),
    ]
    for response in answers:
        directives = {d.strip() for d in response["Cache-Control"].split(",")}
        assert "no-store" in directives, (response.status_code, response["Cache-Control"])


@pytest.mark.parametrize("path", ["handoffs/{hop}/", "sheets/{sheet}/"])
def test_if_none_match_answers_304_until_what_the_reader_sees_changes(
    net, sent, key_for, path
) -> None:
    """GIVEN a detail fetched with its ETag WHEN fetched again with If-None-Match THEN 304
    with no body (still audited); once the receiver's view changes (the hop is declined:
    no content any more) the old ETag no longer matches."""
    client = APIClient()
    auth = bearer(key_for(net.npo))
    url = "/api/v1/" + path.format(hop=sent.pk, sheet=sent.sheet_id)
    first = client.get(url, **auth)
    etag = first["ETag"]
    assert first.status_code == 200 and etag.startswith('"')
    views_before = AuditEvent.objects.filter(
        action__in=[AuditAction.HANDOFF_VIEWED, AuditAction.SHEET_VIEWED]
    ).count()

    again = client.get(url, HTTP_IF_NONE_MATCH=etag, **auth)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert "no-store" in again["Cache-Control"]
    assert (
        AuditEvent.objects.filter(
            action__in=[AuditAction.HANDOFF_VIEWED, AuditAction.SHEET_VIEWED]
        ).count()
        == views_before + 1
    )
    assert client.get(url, HTTP_IF_NONE_MATCH=f"W/{etag}", **auth).status_code == 304
    assert client.get(url, HTTP_IF_NONE_MATCH='"other"', **auth).status_code == 200

    services.handoff_decline(staff=net.npo_intake, handoff_id=sent.pk, reason="no_capacity")
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag, **auth)
    if path.startswith("sheets"):
        assert_problem(changed, status=404, slug="not-found")  # nothing left to see
    else:
        assert changed.status_code == 200
        assert changed["ETag"] != etag and changed.json()["content"] == {}


def test_the_detail_etag_is_accepted_by_if_match_on_an_action(net, sent, key_for) -> None:
    client = APIClient()
    auth = bearer(key_for(net.npo))
    etag = client.get(f"/api/v1/handoffs/{sent.pk}/", **auth)["ETag"]

    acknowledged = client.post(
        f"/api/v1/handoffs/{sent.pk}/acknowledge/", {}, format="json", HTTP_IF_MATCH=etag, **auth
    )
    assert acknowledged.status_code == 200
    stale = client.post(
        f"/api/v1/handoffs/{sent.pk}/accept/", {}, format="json", HTTP_IF_MATCH=etag, **auth
    )
    assert_problem(stale, status=412, slug="precondition-failed")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "handoffs/{hop}/", {"GET"}),
        ("put", "handoffs/{hop}/", {"GET"}),
        ("delete", "handoffs/", {"GET", "POST"}),
        ("get", "handoffs/{hop}/accept/", {"POST"}),
        ("delete", "webhook/", {"GET", "PUT"}),
        ("post", "agencies/", {"GET"}),
    ],
)
def test_an_unsupported_method_is_405_with_allow(net, sent, key_for, method, path, allowed):
    """GIVEN a key with every scope WHEN a method the endpoint lacks is used THEN 405 (not a
    scope error) naming the methods it has, and nothing changes."""
    client = APIClient()
    url = "/api/v1/" + path.format(hop=sent.pk)
    response = getattr(client, method)(url, **bearer(key_for(net.npo)))

    assert_problem(response, status=405, slug="method-not-allowed")
    assert allowed <= {m.strip() for m in response["Allow"].split(",")}
    sent.refresh_from_db()
    assert sent.status == "sent"


def test_without_credentials_an_unsupported_method_is_still_401(net, sent) -> None:
    response = APIClient().delete(f"/api/v1/handoffs/{sent.pk}/")
    assert_problem(response, status=401, slug="not-authenticated")


def test_creating_the_webhook_endpoint_answers_201_with_location(net, key_for, settings):
    settings.TSUNAGU = {**settings.TSUNAGU, "WEBHOOK_ALLOW_PRIVATE": True, "WEBHOOK_ALLOW_HTTP": True}
    client = APIClient()
    auth = bearer(key_for(net.npo, "webhooks:manage"))
    created = client.put("/api/v1/webhook/", {"url": "http://127.0.0.1:9/h"}, format="json", **auth)
    assert created.status_code == 201
    assert created["Location"] == "http://testserver/api/v1/webhook/"
    changed = client.put("/api/v1/webhook/", {"url": "http://127.0.0.1:9/i"}, format="json", **auth)
    assert changed.status_code == 200 and not changed.has_header("Location")


def test_relaying_onward_answers_201_with_location_and_etag(net, key_for) -> None:
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance])
    hop = net.send(sheet)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk)
    services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)

    created = APIClient().post(
        "/api/v1/handoffs/",
        {"sheet": sheet.pk, "to_agency": net.guidance.slug, "sections": ["basic"],
         "purpose": "support"},
        format="json",
        **bearer(key_for(net.npo)),
    )

    assert created.status_code == 201, created.content
    body = created.json()
    assert created["Location"] == f"http://testserver/api/v1/handoffs/{body['id']}/"
    assert created["ETag"] == body["etag"]


def test_empty_reasons_and_outcomes_are_null_not_empty_strings(net, sent, key_for) -> None:
    client = APIClient()
    body = client.get(f"/api/v1/handoffs/{sent.pk}/", **bearer(key_for(net.npo))).json()
    assert body["decline_reason"] is None
    assert body["outcome"] is None
    assert body["cancel_reason"] is None
    # A blank choice of the sheet (no gender recorded) is null too, never "".
    assert body["content"]["basic"]["gender"] is None
    listed = client.get("/api/v1/handoffs/", **bearer(key_for(net.npo))).json()["results"][0]
    assert listed["decline_reason"] is None and listed["outcome"] is None


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("handoffs/{hop}/acknowledge/", {"note": 8}),
        ("handoffs/{hop}/acknowledge/", {"note": True}),
        ("handoffs/", {"sheet": "1", "to_agency": "x", "sections": ["basic"], "purpose": "support"}),
        ("handoffs/", {"sheet": 1, "to_agency": True, "sections": ["basic"], "purpose": "support"}),
        ("handoffs/", {"sheet": 1.0, "to_agency": "x", "sections": ["basic"], "purpose": "support"}),
        ("handoffs/{hop}/decline/", {"reason": "other", "note": "   "}),
    ],
)
def test_a_value_of_the_wrong_json_type_is_400_not_coerced(net, sent, key_for, path, body):
    """GIVEN the schema's types WHEN a number is sent for text, text for a number, or a
    decline for "other" without a note THEN 400 naming the field, and the hop is unchanged."""
    url = "/api/v1/" + path.format(hop=sent.pk)
    response = APIClient().post(url, body, format="json", **bearer(key_for(net.npo)))
    assert response.status_code == 400, response.content
    sent.refresh_from_db()
    assert sent.status == "sent"


@pytest.mark.parametrize(
    "query", ["accepts_referrals=null", "accepts_referrals=", "kind=", "kind=castle"]
)
def test_an_unknown_or_empty_filter_value_is_400_not_ignored(net, key_for, query) -> None:
    response = APIClient().get(f"/api/v1/agencies/?{query}", **bearer(key_for(net.npo)))
    body = assert_problem(response, status=400, slug="validation-error")
    assert body["errors"][0]["field"] == query.split("=")[0]


@pytest.mark.parametrize(
    ("key", "expected"),
    [("", 400), ("   ", 400), ("a" * 256, 400), ("é-key", 400), ("a\tb", 400), ("k-1 2", 200),
     ("a" * 255, 200)],
)
def test_the_idempotency_key_is_what_the_schema_publishes(net, sent, key_for, key, expected):
    response = APIClient().post(
        f"/api/v1/handoffs/{sent.pk}/acknowledge/",
        {},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
        **bearer(key_for(net.npo)),
    )
    assert response.status_code == expected, response.content
