"""A Python client generated from the live schema (openapi-python-client) runs the partner
story end to end (examples/generated_client.py): list, detail, acknowledge with If-Match and
Idempotency-Key, accept, complete, decline, relay, sheet, directory, webhook set/test/rotate,
and whoami with a bad key answered by a typed 401 problem. raise_on_unexpected_status is on:
any status the schema does not declare fails the story."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from agencies.models import Agency
from notifications.models import WebhookEndpoint
from relay import services
from relay.models import Handoff
from tests.api.live import _staff, load_live_data

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
RELAY_TO = "shinjuku-hikikomori-consultation"


def _generate(live_server: Any, where: Path) -> Path:
    schema = where / "schema.json"
    with urllib.request.urlopen(f"{live_server.url}/api/schema/?format=json") as answer:  # noqa: S310
        schema.write_bytes(answer.read())
    done = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(schema),
            "--meta",
            "none",
            "--output-path",
            str(where / "tsunagu_client"),
            "--config",
            str(ROOT / "tools" / "openapi" / "client-config.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    return where


def test_a_generated_client_runs_the_partner_story(
    transactional_db: None, live_server: Any, settings: Any, tmp_path: Path
) -> None:
    """GIVEN two hops waiting for the NPO, consent to relay basic onward, and a client
    generated from the schema WHEN the story runs THEN every step gets the declared answer,
    and the hops end completed and declined, the relay exists and the webhook is set."""
    settings.TSUNAGU = {**settings.TSUNAGU, "WEBHOOK_ALLOW_PRIVATE": True, "WEBHOOK_ALLOW_HTTP": True}
    data = load_live_data(settings, hops=2)
    target = Agency.objects.get(slug=RELAY_TO)
    waiting = Handoff.objects.filter(to_agency=data.npo, status="sent")
    for sheet_id in {hop.sheet_id for hop in waiting if hop.from_agency_id == data.ward.pk}:
        services.consent_record(
            staff=_staff("adachi-supervisor"),
            sheet_id=sheet_id,
            grantors=["guardian"],
            method="written",
            recipients=[data.npo, target],
            sections=["basic", "consultation"],
            purposes=["support"],
            valid_until=timezone.now() + timedelta(days=90),
        )
    where = _generate(live_server, tmp_path)

    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "generated_client.py"),
            "--relay-to",
            RELAY_TO,
            "--webhook-url",
            "http://127.0.0.1:9/tsunagu-hook",
        ],
        env={
            **os.environ,
            "PYTHONPATH": str(where),
            "TSUNAGU_URL": live_server.url,
            "TSUNAGU_API_KEY": data.npo_key,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "whoami with a bad key: 401 https://tsunagu.invalid/problems/authentication-failed" in out
    assert "replayed=true" in out
    completed = int(re.search(r"^complete (\d+): completed", out, re.M).group(1))
    declined = int(re.search(r"^decline (\d+): declined", out, re.M).group(1))
    assert Handoff.objects.get(pk=completed).status == "completed"
    assert Handoff.objects.get(pk=declined).status == "declined"
    relayed = int(re.search(rf"^relay \d+ -> {RELAY_TO}: hop (\d+)", out, re.M).group(1))
    child = Handoff.objects.get(pk=relayed)
    assert (child.from_agency, child.to_agency) == (data.npo, target)
    assert child.parent_id == completed and child.sections == ["basic"]
    endpoint = WebhookEndpoint.objects.get(agency=data.npo)
    assert endpoint.url == "http://127.0.0.1:9/tsunagu-hook" and endpoint.previous_secret
