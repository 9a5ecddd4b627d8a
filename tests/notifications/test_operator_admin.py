"""The operators' admin: outbox messages and attempts, webhook endpoints, hops' escalation.
Read-only; "retry now" and "re-enable" are audited services; nothing personal is shown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from notifications.models import (
    DeliveryAttempt,
    DeliveryState,
    EndpointState,
    OutboxMessage,
    WebhookEndpoint,
)
from notifications.signing import new_webhook_secret
from relay.models import Handoff
from tests.fixtures import sign_in
from tests.notifications.conftest import PERSONAL

pytestmark = pytest.mark.django_db

OUTBOX = "/admin/notifications/outboxmessage/"
ENDPOINTS = "/admin/notifications/webhookendpoint/"
HOPS = "/admin/relay/handoff/"


@pytest.fixture(autouse=True)
def _plain_static_files(settings) -> None:
    """Outside embedded mode static files use a manifest that only collectstatic writes; the
    admin renders {% static %}, so these tests use the plain storage."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def hop(net) -> Handoff:
    """A sent hop: its e-mail notification pending in the outbox."""
    sheet = net.sheet()
    net.consent(sheet)
    return net.send(sheet)


def test_the_outbox_list_filters_and_shows_attempts_but_no_payload(admin_client, hop) -> None:
    message = OutboxMessage.objects.filter(handoff=hop).first()
    DeliveryAttempt.objects.create(message=message, succeeded=False, status_code=503, error="503")
    OutboxMessage.objects.filter(pk=message.pk).update(
        state=DeliveryState.FAILED, created_at=timezone.now() - timedelta(days=2)
    )

    page = admin_client.get(OUTBOX, {"state__exact": "failed", "age": "1d"})
    assert page.status_code == 200
    assert str(message.pk) in page.content.decode()
    assert admin_client.get(OUTBOX, {"age": "7d"}).content.decode().count(str(message.pk)) == 0

    detail = admin_client.get(f"{OUTBOX}{message.pk}/change/").content.decode()
    assert "503" in detail  # the attempt
    for recipient in message.recipients:
        assert recipient not in detail
    for personal in PERSONAL:
        assert personal not in detail


def test_retry_now_is_an_audited_service_and_leaves_delivered_messages(
    admin_client, admin_user, hop, django_capture_on_commit_callbacks
) -> None:
    """GIVEN a failed and a delivered message WHEN an operator retries both THEN only the
    failed one is due again, with one audit event naming the operator."""
    failed, *others = OutboxMessage.objects.filter(handoff=hop)
    OutboxMessage.objects.filter(pk=failed.pk).update(
        state=DeliveryState.FAILED, next_attempt_at=timezone.now() + timedelta(days=9)
    )
    delivered = others[0] if others else None
    if delivered is not None:
        OutboxMessage.objects.filter(pk=delivered.pk).update(state=DeliveryState.DELIVERED)
    chosen = [str(failed.pk)] + ([str(delivered.pk)] if delivered else [])

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            OUTBOX, {"action": "retry_now", "_selected_action": chosen}, follow=True
        )

    assert response.status_code == 200
    failed.refresh_from_db()
    assert failed.state == DeliveryState.PENDING
    assert failed.next_attempt_at <= timezone.now()
    assert len(callbacks) == 1  # handed to the broker after commit
    (event,) = AuditEvent.objects.filter(action=AuditAction.NOTIFICATION_RETRIED)
    assert event.object_id == str(failed.pk) and event.actor_user_id == admin_user.pk
    assert event.detail["previous_state"] == "failed"
    if delivered is not None:
        delivered.refresh_from_db()
        assert delivered.state == DeliveryState.DELIVERED


def test_an_endpoint_is_re_enabled_by_an_audited_action_and_its_secret_never_shown(
    admin_client, admin_user, net
) -> None:
    secret = new_webhook_secret()
    endpoint = WebhookEndpoint.objects.create(
        agency=net.npo,
        url="https://partner.example.invalid/hook",
        secret=secret,
        state=EndpointState.DISABLED,
        state_reason="410 Gone",
    )
    listing = admin_client.get(ENDPOINTS, {"state__exact": "disabled"}).content.decode()
    assert "partner.example.invalid" in listing and "410 Gone" in listing
    assert secret not in admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()

    admin_client.post(ENDPOINTS, {"action": "reenable", "_selected_action": [endpoint.pk]})

    endpoint.refresh_from_db()
    assert endpoint.state == EndpointState.ACTIVE and endpoint.state_reason == ""
    (event,) = AuditEvent.objects.filter(action=AuditAction.WEBHOOK_REENABLED)
    assert event.actor_user_id == admin_user.pk
    assert event.detail["previous_state"] == "disabled"
    assert secret not in str(event.detail)


def test_hops_show_their_escalation_state_and_nothing_of_the_sheet(admin_client, hop) -> None:
    Handoff.objects.filter(pk=hop.pk).update(escalation_level=2)
    listing = admin_client.get(HOPS, {"escalation_level": "2"}).content.decode()
    assert f">{hop.pk}<" in listing or f"/{hop.pk}/change/" in listing
    detail = admin_client.get(f"{HOPS}{hop.pk}/change/").content.decode()
    for personal in PERSONAL:
        assert personal not in listing and personal not in detail
    # Read-only: a posted change is refused and changes nothing.
    admin_client.post(f"{HOPS}{hop.pk}/change/", {"status": "completed"})
    hop.refresh_from_db()
    assert hop.status == "sent"


@pytest.mark.parametrize("who", ["anonymous", "agency staff", "staff without permission"])
def test_only_operators_reach_these_pages(net, hop, who) -> None:
    client = Client()
    if who == "agency staff":
        sign_in(client, net.supervisor.user)
    elif who == "staff without permission":
        user = get_user_model().objects.create_user("ops-trainee", is_staff=True)
        sign_in(client, user)
    for url in (OUTBOX, ENDPOINTS, HOPS):
        response = client.get(url)
        assert response.status_code in (302, 403), (who, url)
        assert "result_list" not in response.content.decode()  # no changelist rendered


def test_an_operator_with_view_permission_cannot_retry_without_change_permission(hop) -> None:
    user = get_user_model().objects.create_user("ops-viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_outboxmessage"))
    client = Client()
    sign_in(client, user)
    message = OutboxMessage.objects.filter(handoff=hop).first()
    OutboxMessage.objects.filter(pk=message.pk).update(state=DeliveryState.FAILED)
    assert client.get(OUTBOX).status_code == 200
    client.post(OUTBOX, {"action": "retry_now", "_selected_action": [str(message.pk)]})
    message.refresh_from_db()
    assert message.state == DeliveryState.FAILED
    assert not AuditEvent.objects.filter(action=AuditAction.NOTIFICATION_RETRIED).exists()
