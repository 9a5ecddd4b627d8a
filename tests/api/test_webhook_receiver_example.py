"""examples/webhook_receiver.py verifies Tsunagu's real deliveries with the Standard Webhooks
library: a delivery passes, a forged or altered one is 401, and both signatures of a rotation
verify."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from notifications import services as webhooks
from notifications.models import Channel, OutboxMessage, WebhookEndpoint
from notifications.signing import new_webhook_secret
from notifications.transport import webhook_request

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))
try:
    from webhook_receiver import make_app
finally:
    sys.path.remove(str(EXAMPLES))

pytestmark = pytest.mark.django_db


def _post(app: Any, headers: dict[str, str], body: bytes) -> tuple[str, None]:
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(
        REQUEST_METHOD="POST",
        CONTENT_LENGTH=str(len(body)),
        CONTENT_TYPE="application/json",
        **{"wsgi.input": io.BytesIO(body)},
    )
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    answer: list[str] = []
    app(environ, lambda status, _headers: answer.append(status))
    return answer[0], None


def _sent_with_webhook(net: Any) -> tuple[Any, WebhookEndpoint, OutboxMessage]:
    """The NPO's endpoint, then a hop sent to the NPO: Tsunagu queues a webhook for it."""
    endpoint = WebhookEndpoint.objects.create(
        agency=net.npo, url="https://partner.example.invalid/hook", secret=new_webhook_secret()
    )
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    message = OutboxMessage.objects.get(handoff=hop, channel=Channel.WEBHOOK)
    return hop, endpoint, message


def test_the_receiver_accepts_tsunagus_delivery_and_refuses_a_forgery(net) -> None:
    """GIVEN the NPO's endpoint and the webhook Tsunagu made for a sent hop WHEN the example
    receiver gets it THEN 204 and the event (ids only); altered, or under another secret, 401."""
    sent, endpoint, message = _sent_with_webhook(net)
    headers, body = webhook_request(message, endpoint)
    events: list[tuple[str, dict]] = []
    app = make_app(endpoint.secret, lambda wid, event: events.append((wid, event)))

    status, _ = _post(app, headers, body)
    assert status.startswith("204")
    assert events[0][0] == str(message.pk)
    assert events[0][1]["data"]["handoff_id"] == sent.pk
    assert "A.T" not in body.decode()  # no personal data in a webhook

    tampered = body.replace(b'"handoff_id"', b'"handoff_id" ')
    assert tampered != body
    assert _post(app, headers, tampered)[0].startswith("401")
    other = make_app(new_webhook_secret(), lambda *_: None)
    assert _post(other, headers, body)[0].startswith("401")
    assert len(events) == 1


def test_during_a_rotation_either_secret_verifies(net) -> None:
    _hop, endpoint, message = _sent_with_webhook(net)
    old = endpoint.secret
    new = webhooks.webhook_rotate_secret(staff=net.npo_supervisor).secret
    endpoint.refresh_from_db()
    headers, body = webhook_request(message, endpoint)
    for secret in (old, new):
        assert _post(make_app(secret, lambda *_: None), headers, body)[0].startswith("204")
