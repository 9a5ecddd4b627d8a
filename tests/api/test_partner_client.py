"""examples/partner_client.py, run as a partner would run it, against a live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from notifications.models import Channel, OutboxMessage
from notifications.transport import webhook_request
from relay.models import Handoff
from tests.api.live import load_live_data

CLIENT = Path(__file__).resolve().parents[2] / "examples" / "partner_client.py"


def _run(live_server: Any, key: str, secret: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "TSUNAGU_URL": live_server.url,
        "TSUNAGU_API_KEY": key,
        "TSUNAGU_WEBHOOK_SECRET": secret,
    }
    return subprocess.run(
        [sys.executable, str(CLIENT), "--once", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def received_webhook(tmp_path: Path) -> Any:
    """Save the webhook Tsunagu would deliver for a hop, as the client's --webhook file."""

    def save(hop: Handoff, *, tamper: bool = False) -> Path:
        message = OutboxMessage.objects.get(handoff=hop, channel=Channel.WEBHOOK)
        headers, body = webhook_request(message, hop.to_agency.webhook)
        text = body.decode()
        if tamper:
            text = text.replace(f'"handoff_id":{hop.pk}', f'"handoff_id":{hop.pk + 1000}')
        path = tmp_path / "webhook.json"
        path.write_text(json.dumps({"headers": headers, "body": text}), encoding="utf-8")
        return path

    return save


def test_the_partner_client_verifies_the_webhook_acknowledges_and_accepts(
    transactional_db, live_server, settings, received_webhook
) -> None:
    """GIVEN a hop sent to the NPO and the signed webhook Tsunagu made for it WHEN the
    example client runs once THEN it verifies the webhook, reads the hop, acknowledges and
    accepts it: the hop ends accepted."""
    data = load_live_data(settings, hops=2)
    waiting = set(
        Handoff.objects.filter(to_agency=data.npo, status="sent").values_list("pk", flat=True)
    )
    assert data.hop.pk in waiting

    done = _run(
        live_server, data.npo_key, data.webhook_secret, "--webhook", str(received_webhook(data.hop))
    )

    assert done.returncode == 0, done.stderr
    assert f"webhook handoff.sent: handoff {data.hop.pk}" in done.stdout
    statuses = set(Handoff.objects.filter(pk__in=waiting).values_list("status", flat=True))
    assert statuses == {"accepted"}
    assert done.stdout.count(": accepted") == len(waiting)


def test_the_partner_client_ignores_a_forged_webhook(
    transactional_db, live_server, settings, received_webhook
) -> None:
    data = load_live_data(settings)
    forged = received_webhook(data.hop, tamper=True)

    done = _run(live_server, data.npo_key, data.webhook_secret, "--webhook", str(forged))

    assert done.returncode == 2 and "signature invalid" in done.stderr
    assert Handoff.objects.get(pk=data.hop.pk).status == "sent"


def test_verify_webhook_matches_tsunagus_signer() -> None:
    sys.path.insert(0, str(CLIENT.parent))
    try:
        from partner_client import verify_webhook
    finally:
        sys.path.remove(str(CLIENT.parent))
    from notifications.signing import new_webhook_secret, sign

    secret, body = new_webhook_secret(), b'{"type":"handoff.sent"}'
    headers = {"webhook-id": "m1", "webhook-timestamp": "1700000000"}
    good = {**headers, "webhook-signature": "v1,bm90IGl0 " + sign(secret, "m1", 1700000000, body)}
    assert verify_webhook(secret, good, body, now=1700000100)
    assert not verify_webhook(secret, good, body + b" ", now=1700000100)
    assert not verify_webhook(secret, good, body, now=1700000000 + 301)  # stale
    assert not verify_webhook(new_webhook_secret(), good, body, now=1700000100)
