"""An agency's webhook endpoint: configure it, rotate its secret, send it a test event.

Called by the partner API (GET|PUT /api/v1/webhook/, POST .../test/, POST .../rotate-secret/)
and the web UI. People need the supervisor role; API clients the `webhooks:manage` scope.
The secret is returned once, when it is made; audit events never contain it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agencies.actors import Staff
from agencies.errors import IllegalTransition, InvalidInput, NotFound
from agencies.models import Role
from audit.models import AuditAction
from audit.services import audit_record
from notifications import delivery, signing, ssrf
from notifications.models import Channel, EndpointState, OutboxMessage, WebhookEndpoint
from notifications.notify import notify_agency
from notifications.refusals import refusal_record
from security.validators import validate_web_url

API_SCOPE = "webhooks:manage"
MAX_URL_LENGTH = 500


@dataclass(frozen=True)
class WebhookSecret:
    """An endpoint and, when one was just made, its new secret (shown to the caller once)."""

    endpoint: WebhookEndpoint
    secret: str | None
    created: bool = False


def _require_manager(staff: Staff) -> None:
    staff.require_role(Role.SUPERVISOR, api_scope=API_SCOPE)


def _audit(action: AuditAction, staff: Staff, endpoint: WebhookEndpoint, **detail: object) -> None:
    audit_record(
        action=action,
        actor=staff.audit_actor(),
        object_type="webhook_endpoint",
        object_id=endpoint.pk,
        recipient_agency_id=endpoint.agency_id,
        detail={"host": urlsplit(endpoint.url).hostname or "", **detail},
    )


def webhook_get(*, staff: Staff) -> WebhookEndpoint | None:
    """The caller's agency's endpoint, or None if it has none."""
    _require_manager(staff)
    return WebhookEndpoint.objects.filter(agency=staff.agency).first()


def validate_webhook_url(url: str) -> str:
    """A well-formed URL that passes the SSRF guard (https only outside the embedded demo)."""
    url = (url or "").strip()
    if not url:
        raise InvalidInput("URLを入力してください。 / A URL is required.", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput("URLが長すぎます。 / The URL is too long.", field="url")
    try:
        validate_web_url(url)
    except ValidationError as exc:
        raise InvalidInput("URLの形式が正しくありません。 / Not a valid URL.", field="url") from exc
    try:
        ssrf.check_endpoint(url)
    except ssrf.UnsafeEndpoint as exc:
        raise InvalidInput(
            f"このURLには送信できません({exc})。 / This URL is not allowed ({exc}).",
            field="url",
            reason=str(exc),
        ) from exc
    return url


def webhook_configure(*, staff: Staff, url: str) -> WebhookSecret:
    """Set the agency's endpoint URL; a new endpoint gets a secret (returned once).

    Saving also re-enables an endpoint that was disabled (410) or marked failing: the agency
    says it is fixed. The secret of an existing endpoint is kept (see webhook_rotate_secret).
    A URL the SSRF guard refuses is recorded as a refusal (before the transaction, whose
    rollback would take the record with it).
    """
    _require_manager(staff)
    try:
        url = validate_webhook_url(url)
    except InvalidInput as exc:
        if exc.context.get("reason"):
            refusal_record(
                actor=staff.audit_actor(),
                reason="webhook_url_unsafe",
                object_type="webhook",
                object_id=staff.agency.pk,
                status=400,
            )
        raise
    return _webhook_save(staff=staff, url=url)


@transaction.atomic
def _webhook_save(*, staff: Staff, url: str) -> WebhookSecret:
    endpoint = WebhookEndpoint.objects.select_for_update().filter(agency=staff.agency).first()
    if endpoint is None:
        secret = signing.new_webhook_secret()
        endpoint = WebhookEndpoint.objects.create(agency=staff.agency, url=url, secret=secret)
        _audit(AuditAction.WEBHOOK_CONFIGURED, staff, endpoint, created=True)
        return WebhookSecret(endpoint=endpoint, secret=secret, created=True)
    previous_state = endpoint.state
    endpoint.url = url
    endpoint.state = EndpointState.ACTIVE
    endpoint.state_reason = ""
    endpoint.save(update_fields=["url", "state", "state_reason", "updated_at"])
    _audit(
        AuditAction.WEBHOOK_CONFIGURED,
        staff,
        endpoint,
        created=False,
        previous_state=previous_state,
    )
    return WebhookSecret(endpoint=endpoint, secret=None)


@transaction.atomic
def webhook_rotate_secret(*, staff: Staff) -> WebhookSecret:
    """Make a new secret; the previous one keeps signing (a second signature) for 24 h.

    A second rotation inside the overlap replaces the previous secret: only the two newest
    sign.
    """
    _require_manager(staff)
    endpoint = WebhookEndpoint.objects.select_for_update().filter(agency=staff.agency).first()
    if endpoint is None:
        raise NotFound()
    overlap = timedelta(hours=settings.TSUNAGU["WEBHOOK_SECRET_OVERLAP_HOURS"])
    secret = signing.new_webhook_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + overlap
    endpoint.secret = secret
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    _audit(
        AuditAction.WEBHOOK_SECRET_ROTATED,
        staff,
        endpoint,
        previous_valid_until=endpoint.previous_secret_expires_at.isoformat(),
    )
    return WebhookSecret(endpoint=endpoint, secret=secret)


@transaction.atomic
def webhook_send_test(*, staff: Staff) -> OutboxMessage:
    """Queue a signed `webhook.test` event to the agency's endpoint; tried once, logged.

    Its id is the webhook-id the receiver will see; its delivery log (DeliveryAttempt) says
    what the endpoint answered. It does not change the endpoint's state.
    """
    _require_manager(staff)
    endpoint = WebhookEndpoint.objects.filter(agency=staff.agency).first()
    if endpoint is None:
        raise NotFound()
    if endpoint.state == EndpointState.DISABLED:
        raise IllegalTransition(
            "送信先は停止中です。URLを保存し直してください。 / "
            "The endpoint is disabled; save its URL again to re-enable it.",
            current=endpoint.state,
        )
    event = delivery.TEST_EVENT
    (message,) = notify_agency(
        event,
        agency=staff.agency,
        handoff=None,
        payload={
            "type": event,
            "data": {"agency": staff.agency.slug, "sent_at": timezone.now().isoformat()},
        },
        actor=staff.audit_actor(),
        channels=[Channel.WEBHOOK],
        in_app=False,
    )
    return message
