"""Who may call what: every endpoint x (own agency, other agency, no key, revoked key, missing
scope), in the manner of NetBox's APIViewTestCases. Another agency's object is a 404 (existence
is not leaked), a missing scope a 403, absent or unusable credentials a 401."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.keys import api_key_revoke
from api.models import APIKey
from api.scopes import ALL_SCOPES
from notifications import services as webhooks
from relay import services
from relay.models import Handoff
from tests.api.helpers import assert_problem, bearer
from tests.fixtures import Network

pytestmark = pytest.mark.django_db

IN_A_YEAR = (timezone.now() + timedelta(days=365)).isoformat()


def _accept(net: Network, hop: Handoff) -> None:
    services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)


def _accept_and_report(net: Network, hop: Handoff) -> None:
    services.handoff_accept(staff=net.npo_intake, handoff_id=hop.pk)
    services.handoff_progress_post(staff=net.npo_intake, handoff_id=hop.pk, status="started")


def _edit(net: Network, hop: Handoff) -> None:
    services.sheet_update(
        staff=net.counselor,
        sheet_id=hop.sheet_id,
        data={"consultation": "面談の結果を追記"},
        reason="面談の結果",
    )


# Loopback, and nothing listens there: no test ever sends a webhook off this machine.
HOOK_URL = "http://127.0.0.1:9/tsunagu-hook"


def _webhook(net: Network, hop: Handoff) -> None:
    webhooks.webhook_configure(staff=net.npo_supervisor, url=HOOK_URL)


@pytest.fixture(autouse=True)
def _local_webhooks_allowed(settings) -> None:
    settings.TSUNAGU = {
        **settings.TSUNAGU,
        "WEBHOOK_ALLOW_PRIVATE": True,
        "WEBHOOK_ALLOW_HTTP": True,
    }


@dataclass(frozen=True)
class Endpoint:
    """One endpoint: how to call it, the scope it needs and whose agency it belongs to."""

    name: str
    method: str
    path: str  # {hop}, {sheet} are filled in
    scope: str
    owner: str  # the agency attribute of the network whose key is "own"
    body: dict[str, Any] | None = None
    setup: Callable[[Network, Handoff], None] | None = None
    ok: int = 200
    other: int = 404  # another agency's key
    extra: dict[str, Any] = field(default_factory=dict)


ENDPOINTS = [
    Endpoint("handoffs-list", "get", "/api/v1/handoffs/", "handoffs:read", "npo", other=200),
    Endpoint("handoffs-retrieve", "get", "/api/v1/handoffs/{hop}/", "handoffs:read", "npo"),
    Endpoint(
        "handoffs-create",
        "post",
        "/api/v1/handoffs/",
        "handoffs:write",
        "ward",
        # The NPO already has the sent hop: a second one only deliberately (else 409).
        body={
            "sheet": "{sheet}",
            "to_agency": "npo",
            "sections": ["basic"],
            "purpose": "support",
            "deliberate": True,
        },
        ok=201,
    ),
    Endpoint(
        "handoffs-send-update",
        "post",
        "/api/v1/handoffs/{hop}/send-update/",
        "handoffs:write",
        "ward",
        setup=_edit,
    ),
    Endpoint(
        "handoffs-acknowledge",
        "post",
        "/api/v1/handoffs/{hop}/acknowledge/",
        "handoffs:write",
        "npo",
    ),
    Endpoint("handoffs-accept", "post", "/api/v1/handoffs/{hop}/accept/", "handoffs:write", "npo"),
    Endpoint(
        "handoffs-decline",
        "post",
        "/api/v1/handoffs/{hop}/decline/",
        "handoffs:write",
        "npo",
        body={"reason": "no_capacity"},
    ),
    Endpoint(
        "handoffs-complete",
        "post",
        "/api/v1/handoffs/{hop}/complete/",
        "handoffs:write",
        "npo",
        body={"outcome": "support_started"},
        setup=_accept,
    ),
    Endpoint(
        "handoffs-cancel",
        "post",
        "/api/v1/handoffs/{hop}/cancel/",
        "handoffs:write",
        "ward",
        body={"reason": "no_longer_needed"},
    ),
    # Progress updates: the receiver posts and reads them; the sender's rows are below
    # (test_the_sender_reads_updates_under_consent_only and tests/api/test_progress_api.py).
    Endpoint(
        "handoffs-updates-list",
        "get",
        "/api/v1/handoffs/{hop}/updates/",
        "updates:read",
        "npo",
        setup=_accept_and_report,
    ),
    Endpoint(
        "handoffs-updates-create",
        "post",
        "/api/v1/handoffs/{hop}/updates/",
        "updates:write",
        "npo",
        body={"status": "continuing", "text": "週2回通所"},
        setup=_accept,
        ok=201,
    ),
    Endpoint("sheets-retrieve", "get", "/api/v1/sheets/{sheet}/", "sheets:read", "npo"),
    # The directory is shared by all agencies: another agency's key sees it too.
    Endpoint("agencies-list", "get", "/api/v1/agencies/", "directory:read", "npo", other=200),
    Endpoint(
        "agencies-retrieve", "get", "/api/v1/agencies/npo/", "directory:read", "npo", other=200
    ),
    # Programs are part of the shared directory too.
    Endpoint("services-list", "get", "/api/v1/services/", "directory:read", "npo", other=200),
    # The webhook endpoint is always the caller's own: another agency has none (404), and
    # setting one creates its own.
    Endpoint(
        "webhook-retrieve", "get", "/api/v1/webhook/", "webhooks:manage", "npo", setup=_webhook
    ),
    Endpoint(
        "webhook-update",
        "put",
        "/api/v1/webhook/",
        "webhooks:manage",
        "npo",
        body={"url": HOOK_URL},
        ok=201,
        other=201,
    ),
    Endpoint(
        "webhook-test",
        "post",
        "/api/v1/webhook/test/",
        "webhooks:manage",
        "npo",
        setup=_webhook,
        ok=202,
    ),
    Endpoint(
        "webhook-rotate-secret",
        "post",
        "/api/v1/webhook/rotate-secret/",
        "webhooks:manage",
        "npo",
        setup=_webhook,
    ),
]

# The FHIR views read what the endpoints above read, with the same scopes.
ENDPOINTS += [
    Endpoint("fhir-task-search", "get", "/api/v1/fhir/Task/", "handoffs:read", "npo", other=200),
    Endpoint("fhir-task", "get", "/api/v1/fhir/Task/{hop}/", "handoffs:read", "npo"),
    Endpoint(
        "fhir-service-request", "get", "/api/v1/fhir/ServiceRequest/{hop}/", "handoffs:read", "npo"
    ),
    # A consent record is the recording agency's (the ward's) only.
    Endpoint("fhir-consent", "get", "/api/v1/fhir/Consent/{consent}/", "sheets:read", "ward"),
    Endpoint(
        "fhir-organization",
        "get",
        "/api/v1/fhir/Organization/npo/",
        "directory:read",
        "npo",
        other=200,
    ),
    Endpoint(
        "hsds-organizations",
        "get",
        "/api/v1/hsds/organizations/",
        "directory:read",
        "npo",
        other=200,
    ),
]

# Consent where the person is: the NPO, holding the sheet once it accepted the hop, records
# the consent it obtained; only the recording agency withdraws a record (here the ward's).
ENDPOINTS += [
    Endpoint(
        "sheets-consents-create",
        "post",
        "/api/v1/sheets/{sheet}/consents/",
        "consents:write",
        "npo",
        body={
            "grantors": ["person"],
            "method": "written",
            "recipients": ["guidance"],
            "sections": ["basic"],
            "purposes": ["support"],
            "valid_until": IN_A_YEAR,
            "obtained_by": "NPO staff 12",
        },
        setup=_accept,
        ok=201,
    ),
    Endpoint(
        "consents-withdraw",
        "post",
        "/api/v1/consents/{consent}/withdraw/",
        "consents:write",
        "ward",
        body={"via": "保護者から電話で"},
    ),
]

# (case, expected status for an endpoint, problem slug or None)
CASES: dict[str, Callable[[Endpoint], tuple[int, str | None]]] = {
    "own agency": lambda e: (e.ok, None),
    "other agency": lambda e: (e.other, None if e.other < 400 else "not-found"),
    "no key": lambda e: (401, "not-authenticated"),
    "revoked key": lambda e: (401, "authentication-failed"),
    "missing scope": lambda e: (403, "insufficient-scope"),
}


def _fill(value: Any, hop: Handoff) -> Any:
    if isinstance(value, str):
        filled = value.format(hop=hop.pk, sheet=hop.sheet_id, consent=hop.consent_id)
        return int(filled) if value == "{sheet}" else filled
    if isinstance(value, list):
        return [_fill(v, hop) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, hop) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_access_matrix(endpoint, case, net, sent, key_for, system_actor) -> None:
    """GIVEN a sent hop (ward desk -> NPO) WHEN `case` calls `endpoint` THEN the status."""
    if endpoint.setup:
        endpoint.setup(net, sent)
    own = getattr(net, endpoint.owner)
    headers: dict[str, Any] = {
        "own agency": lambda: bearer(key_for(own)),
        "other agency": lambda: bearer(key_for(net.welfare)),
        "no key": dict,
        "revoked key": lambda: bearer(key_for(own)),
        "missing scope": lambda: bearer(key_for(own, *sorted(ALL_SCOPES - {endpoint.scope}))),
    }[case]()
    if case == "revoked key":
        api_key_revoke(key=APIKey.objects.get(agency=own), actor=system_actor)

    call = getattr(APIClient(), endpoint.method)
    response = call(
        _fill(endpoint.path, sent), _fill(endpoint.body or {}, sent), format="json", **headers
    )

    status, slug = CASES[case](endpoint)
    if slug:
        assert_problem(response, status=status, slug=slug)
    else:
        assert response.status_code == status, response.content
    if endpoint.name == "handoffs-list" and case == "other agency":
        assert response.json()["results"] == []  # another agency's hops are not listed


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("acknowledge/", {}),
        ("accept/", {}),
        ("decline/", {"reason": "no_capacity"}),
    ],
)
def test_a_viewer_session_cannot_act(net, sent, path, body) -> None:
    """GIVEN a viewer of the sending agency (who may read) WHEN it POSTs an action
    THEN 403 not-allowed from the service, and the hop is unchanged."""
    client = APIClient()
    client.force_login(net.viewer.user)
    assert client.get(f"/api/v1/handoffs/{sent.pk}/").status_code == 200

    response = client.post(f"/api/v1/handoffs/{sent.pk}/{path}", body, format="json")

    assert_problem(response, status=403, slug="not-allowed")
    sent.refresh_from_db()
    assert sent.status == "sent"


def test_a_receiving_intake_session_can_act(net, sent) -> None:
    client = APIClient()
    client.force_login(net.npo_intake.user)
    response = client.post(f"/api/v1/handoffs/{sent.pk}/acknowledge/", {}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "acknowledged"


def test_the_receiver_cannot_cancel_and_the_sender_cannot_accept(net, sent, key_for) -> None:
    """Both agencies see the hop; each may act only in its own part: 403, not 404."""
    client = APIClient()
    cancel = client.post(
        f"/api/v1/handoffs/{sent.pk}/cancel/",
        {"reason": "sent_in_error"},
        format="json",
        **bearer(key_for(net.npo)),
    )
    assert_problem(cancel, status=403, slug="not-allowed")
    accept = client.post(
        f"/api/v1/handoffs/{sent.pk}/accept/", {}, format="json", **bearer(key_for(net.ward))
    )
    assert_problem(accept, status=403, slug="not-allowed")


def test_a_draft_is_invisible_to_its_receiver(net, key_for) -> None:
    sheet = net.sheet()
    draft = services.handoff_create(
        staff=net.counselor,
        sheet_id=sheet.pk,
        to_agency=net.npo,
        sections=["basic"],
        purpose="support",
    )
    client = APIClient()
    npo = bearer(key_for(net.npo))
    assert_problem(client.get(f"/api/v1/handoffs/{draft.pk}/", **npo), status=404, slug="not-found")
    acknowledge = client.post(f"/api/v1/handoffs/{draft.pk}/acknowledge/", {}, format="json", **npo)
    assert_problem(acknowledge, status=404, slug="not-found")
    assert client.get("/api/v1/handoffs/", **npo).json()["results"] == []


@pytest.mark.parametrize("consented", [True, False], ids=["with consent", "without consent"])
def test_the_sender_reads_updates_under_consent_only(net, key_for, consented) -> None:
    """The sending agency's key (updates:read) lists the hop's updates: with consent to
    report progress to it, the content; without, only that one was posted. It cannot post."""
    sheet = net.sheet()
    net.consent(sheet)
    if consented:
        net.consent(sheet, to=[net.ward], sections=["progress"])
    hop = net.send(sheet)
    _accept(net, hop)
    services.handoff_progress_post(
        staff=net.npo_intake, handoff_id=hop.pk, status="started", text="通所を始めた"
    )
    client = APIClient()
    ward = bearer(key_for(net.ward))
    response = client.get(f"/api/v1/handoffs/{hop.pk}/updates/", **ward)
    assert response.status_code == 200
    (entry,) = response.json()
    assert entry["readable"] is consented
    assert entry["text"] == ("通所を始めた" if consented else None)
    assert entry["status"] == ("started" if consented else None)
    post = client.post(
        f"/api/v1/handoffs/{hop.pk}/updates/", {"status": "started"}, format="json", **ward
    )
    assert_problem(post, status=403, slug="not-allowed")
