#!/usr/bin/env python3
"""A partner system's side of Tsunagu, in one file: verify a webhook, poll the inbox,
acknowledge and accept what arrived.

    TSUNAGU_URL=https://tsunagu.example.jp TSUNAGU_API_KEY=tsk_... \\
    TSUNAGU_WEBHOOK_SECRET=whsec_... python partner_client.py --webhook webhook.json --once

Needs only httpx. The API key needs the scopes handoffs:read and handoffs:write.

- A webhook from Tsunagu says only that something happened and where (ids, links): it is
  verified (Standard Webhooks: `webhook-signature` is `v1,` + base64 HMAC-SHA256 of
  `id.timestamp.body` under the `whsec_` secret) and then the data is fetched from the API.
  `--webhook FILE` takes a received webhook saved as {"headers": {...}, "body": "..."}; a
  real receiver would call `verify_webhook` in its HTTP handler.
- Each read of a handoff is audited by Tsunagu: fetch what you need, once.
- Every POST carries an Idempotency-Key derived from what it does, so a retry after a network
  error cannot act twice, and If-Match with the ETag last seen, so a hop that someone else
  changed meanwhile is not acted on blindly (412).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

WEBHOOK_TOLERANCE_SECONDS = 5 * 60


def verify_webhook(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> bool:
    """True if one of the `webhook-signature` entries signs this id, timestamp and body with
    `secret`, and the timestamp is within five minutes (a replayed old message is refused)."""
    headers = {name.lower(): value for name, value in headers.items()}
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    if not msg_id or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > WEBHOOK_TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in headers.get("webhook-signature", "").split():
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


class TsunaguError(Exception):
    """An RFC 9457 problem answered by the API."""

    def __init__(self, response: httpx.Response) -> None:
        try:
            self.problem: dict[str, Any] = response.json()
        except ValueError:
            self.problem = {"status": response.status_code, "detail": response.text[:200]}
        super().__init__(
            f"{response.status_code} {self.problem.get('type', '')}: {self.problem.get('detail')}"
        )


class Tsunagu:
    """The few calls a receiving partner needs."""

    def __init__(self, base_url: str, api_key: str, *, language: str = "en") -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1/",
            headers={"Authorization": f"Bearer {api_key}", "Accept-Language": language},
            timeout=10.0,
        )

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            raise TsunaguError(response)
        return response

    def inbox(self, *, status: str = "sent") -> Iterator[dict[str, Any]]:
        """Every hop in the inbox in `status`, following the cursor pages."""
        url: str | None = "handoffs/"
        params: dict[str, str] | None = {"box": "inbox", "status": status}
        while url:
            page = self._check(self.http.get(url, params=params)).json()
            yield from page["results"]
            url, params = page["next"], None  # `next` carries the query

    def handoff(self, handoff_id: int) -> tuple[dict[str, Any], str]:
        """The hop with the shared sections (an audited read), and its ETag."""
        response = self._check(self.http.get(f"handoffs/{handoff_id}/"))
        return response.json(), response.headers["ETag"]

    def act(self, handoff_id: int, action: str, etag: str, **body: str) -> tuple[dict, str]:
        """acknowledge / accept / decline / complete, once, on the version `etag` names."""
        response = self.http.post(
            f"handoffs/{handoff_id}/{action}/",
            json=body,
            headers={"If-Match": etag, "Idempotency-Key": f"{action}-{handoff_id}-{etag}"},
        )
        self._check(response)
        return response.json(), response.headers["ETag"]


def take_on(client: Tsunagu, hop: dict[str, Any]) -> dict[str, Any]:
    """Read what was shared, acknowledge, then accept."""
    detail, etag = client.handoff(hop["id"])
    sections = ", ".join(detail["content"]) or "none"
    print(f"handoff {hop['id']} from {hop['from_agency']['slug']}: sections {sections}")
    _state, etag = client.act(hop["id"], "acknowledge", etag, note="received by partner system")
    accepted, _etag = client.act(hop["id"], "accept", etag)
    print(f"handoff {hop['id']}: {accepted['status']}")
    return accepted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("TSUNAGU_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--webhook", type=Path, help="a received webhook, to verify first")
    parser.add_argument("--once", action="store_true", help="poll once instead of every minute")
    parser.add_argument("--interval", type=float, default=60.0)
    args = parser.parse_args(argv)
    api_key = os.environ.get("TSUNAGU_API_KEY", "")
    if not api_key:
        parser.error("set TSUNAGU_API_KEY")

    if args.webhook:
        received = json.loads(args.webhook.read_text(encoding="utf-8"))
        body = received["body"].encode()
        secret = os.environ.get("TSUNAGU_WEBHOOK_SECRET", "")
        if not secret or not verify_webhook(secret, received["headers"], body):
            print("webhook signature invalid: ignored", file=sys.stderr)
            return 2
        event = json.loads(body)
        print(f"webhook {event['type']}: handoff {event['data']['handoff_id']}")

    client = Tsunagu(args.url, api_key)
    while True:
        for hop in list(client.inbox(status="sent")):
            try:
                take_on(client, hop)
            except TsunaguError as error:  # e.g. 412: someone at the agency acted first
                print(f"handoff {hop['id']}: {error}", file=sys.stderr)
        if args.once:
            return 0
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
