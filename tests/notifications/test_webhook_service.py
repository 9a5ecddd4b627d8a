"""notifications.services: configure an endpoint, rotate its secret, send a test event."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from agencies.actors import Staff
from agencies.errors import IllegalTransition, InvalidInput, NotAllowed, NotFound
from audit.models import AuditAction, AuditEvent
from notifications import services as webhooks
from notifications import signing
from notifications.models import DeliveryAttempt, EndpointState, WebhookEndpoint
from tests.notifications.support import independent_verify

pytestmark = pytest.mark.django_db


def test_configuring_makes_a_secret_once_and_audits_without_it(net, local_webhooks) -> None:
    """GIVEN no endpoint WHEN a supervisor saves a URL THEN an endpoint with a fresh whsec_
    secret exists, the secret is returned, and the audit event names the host, not the
    secret; saving again keeps the secret and returns none."""
    first = webhooks.webhook_configure(staff=net.npo_supervisor, url="http://127.0.0.1:9/a")
    assert first.created and first.secret and first.secret.startswith("whsec_")
    assert first.endpoint.secret == first.secret and first.endpoint.state == "active"
    again = webhooks.webhook_configure(staff=net.npo_supervisor, url=" http://127.0.0.1:9/b ")
    assert not again.created and again.secret is None
    assert again.endpoint.url == "http://127.0.0.1:9/b" and again.endpoint.secret == first.secret
    events = AuditEvent.objects.filter(action=AuditAction.WEBHOOK_CONFIGURED).order_by("id")
    assert [e.detail["created"] for e in events] == [True, False]
    assert all(e.detail["host"] == "127.0.0.1" for e in events)
    assert all(first.secret not in json.dumps(e.detail) for e in events)
    assert webhooks.webhook_get(staff=net.npo_supervisor) == again.endpoint


def test_saving_again_re_enables_a_disabled_endpoint(net, local_webhooks) -> None:
    configured = webhooks.webhook_configure(staff=net.npo_supervisor, url="http://127.0.0.1:9/")
    WebhookEndpoint.objects.filter(pk=configured.endpoint.pk).update(
        state=EndpointState.DISABLED, state_reason="HTTP 410"
    )
    with pytest.raises(IllegalTransition):
        webhooks.webhook_send_test(staff=net.npo_supervisor)
    endpoint = webhooks.webhook_configure(staff=net.npo_supervisor, url="http://127.0.0.1:9/")
    assert endpoint.endpoint.state == "active" and endpoint.endpoint.state_reason == ""
    last = AuditEvent.objects.filter(action=AuditAction.WEBHOOK_CONFIGURED).last()
    assert last.detail["previous_state"] == "disabled"


@pytest.mark.parametrize(
    "url",
    ["", "not a url", "http://partner.example/hook", "https://127.0.0.1/hook", "https://10.0.0.1/"],
)
def test_unsafe_or_invalid_urls_are_refused(net, settings, url: str) -> None:
    settings.TSUNAGU = {
        **settings.TSUNAGU,
        "WEBHOOK_ALLOW_PRIVATE": False,
        "WEBHOOK_ALLOW_HTTP": False,
    }
    with pytest.raises(InvalidInput) as refused:
        webhooks.webhook_configure(staff=net.npo_supervisor, url=url)
    assert refused.value.field == "url"
    assert not WebhookEndpoint.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.WEBHOOK_CONFIGURED).exists()


def test_only_supervisors_or_keys_with_the_scope_manage_webhooks(net, local_webhooks) -> None:
    for staff in (net.npo_intake, net.viewer):
        with pytest.raises(NotAllowed):
            webhooks.webhook_configure(staff=staff, url="http://127.0.0.1:9/")
        with pytest.raises(NotAllowed):
            webhooks.webhook_get(staff=staff)
    unscoped = Staff.for_api_key(
        agency=net.npo, api_key_id=7, scopes=frozenset({"handoffs:read"}), label="k"
    )
    with pytest.raises(NotAllowed):
        webhooks.webhook_rotate_secret(staff=unscoped)
    key = Staff.for_api_key(
        agency=net.npo, api_key_id=8, scopes=frozenset({"webhooks:manage"}), label="k"
    )
    with pytest.raises(NotFound):
        webhooks.webhook_rotate_secret(staff=key)
    made = webhooks.webhook_configure(staff=key, url="http://127.0.0.1:9/")
    assert made.endpoint.agency == net.npo
    event = AuditEvent.objects.get(action=AuditAction.WEBHOOK_CONFIGURED)
    assert event.actor_api_key_id == 8 and event.actor_agency_id == net.npo.pk


def test_rotation_signs_with_both_secrets_for_24_hours(
    net, endpoint, receiver, deliver_all
) -> None:
    """GIVEN a configured endpoint WHEN its secret is rotated THEN webhooks carry two
    signatures (new and previous) for 24 h, then only the new one."""
    old = endpoint.secret
    rotated = webhooks.webhook_rotate_secret(staff=net.npo_supervisor)
    new = rotated.secret
    assert new and new != old and rotated.endpoint.previous_secret == old
    event = AuditEvent.objects.get(action=AuditAction.WEBHOOK_SECRET_ROTATED)
    assert old not in json.dumps(event.detail) and new not in json.dumps(event.detail)

    webhooks.webhook_send_test(staff=net.npo_supervisor)
    deliver_all()
    with time_machine.travel(timezone.now() + timedelta(hours=24, seconds=1), tick=False):
        webhooks.webhook_send_test(staff=net.npo_supervisor)
        deliver_all()
    during, after = receiver.webhooks()
    assert len(during.headers["webhook-signature"].split()) == 2
    for secret in (old, new):
        assert independent_verify(secret, during.headers, during.body)
        assert signing.verify_signature(secret, during.headers, during.body)
    assert len(after.headers["webhook-signature"].split()) == 1
    assert independent_verify(new, after.headers, after.body)
    assert not independent_verify(old, after.headers, after.body)


def test_a_test_event_is_signed_tried_once_and_leaves_the_endpoint_alone(
    net, endpoint, receiver, deliver_all
) -> None:
    receiver.plan = [500]
    message = webhooks.webhook_send_test(staff=net.npo_supervisor)
    assert deliver_all() == ["failed"]
    (request,) = receiver.webhooks()
    assert request.headers["webhook-id"] == str(message.pk)
    assert json.loads(request.body)["type"] == "webhook.test"
    assert DeliveryAttempt.objects.get(message=message).status_code == 500
    endpoint.endpoint.refresh_from_db()
    assert endpoint.endpoint.state == "active"
    assert deliver_all() == []  # no retry
