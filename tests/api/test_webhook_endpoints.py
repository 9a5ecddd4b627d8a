"""The caller's webhook endpoint through the API: set, read, rotate, test; secrets shown once."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import AuditAction, AuditEvent
from notifications.models import OutboxMessage, WebhookEndpoint
from tests.api.helpers import assert_problem, bearer

pytestmark = pytest.mark.django_db

HOOK_URL = "http://127.0.0.1:9/tsunagu-hook"


@pytest.fixture(autouse=True)
def _local_webhooks_allowed(settings) -> None:
    settings.TSUNAGU = {
        **settings.TSUNAGU,
        "WEBHOOK_ALLOW_PRIVATE": True,
        "WEBHOOK_ALLOW_HTTP": True,
    }


def test_set_read_rotate_and_test_the_endpoint(net, key_for) -> None:
    client = APIClient()
    auth = bearer(key_for(net.npo, "webhooks:manage"))

    created = client.put("/api/v1/webhook/", {"url": HOOK_URL}, format="json", **auth)
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    assert WebhookEndpoint.objects.get(agency=net.npo).secret == secret

    read = client.get("/api/v1/webhook/", **auth).json()
    assert read["url"] == HOOK_URL and read["secret"] is None and read["state"] == "active"

    rotated = client.post("/api/v1/webhook/rotate-secret/", **auth).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret
    assert rotated["rotating"] is True
    endpoint = WebhookEndpoint.objects.get(agency=net.npo)
    assert endpoint.previous_secret == secret

    tested = client.post("/api/v1/webhook/test/", **auth)
    assert tested.status_code == 202
    message = OutboxMessage.objects.get(pk=tested.json()["webhook_id"])
    assert message.agency_id == net.npo.pk and message.channel == "webhook"

    dump = str(list(AuditEvent.objects.values_list("detail", flat=True)))
    assert secret not in dump and rotated["secret"] not in dump
    assert AuditEvent.objects.filter(action=AuditAction.WEBHOOK_SECRET_ROTATED).count() == 1


def test_an_endpoint_inside_our_network_is_refused(net, key_for, settings) -> None:
    settings.TSUNAGU = {
        **settings.TSUNAGU,
        "WEBHOOK_ALLOW_PRIVATE": False,
        "WEBHOOK_ALLOW_HTTP": False,
    }
    client = APIClient()
    auth = bearer(key_for(net.npo, "webhooks:manage"))
    for url in (
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest/meta-data",
    ):
        response = client.put("/api/v1/webhook/", {"url": url}, format="json", **auth)
        assert_problem(response, status=400, slug="invalid-input")
        assert response.json()["errors"][0]["field"] == "url"
    assert not WebhookEndpoint.objects.exists()
