#!/usr/bin/env python3
"""A partner's webhook endpoint for Tsunagu, verified with the Standard Webhooks library.

    pip install standardwebhooks
    TSUNAGU_WEBHOOK_SECRET=whsec_... python webhook_receiver.py --port 8080

Tsunagu signs every delivery the Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
`webhook-signature`); during a secret rotation it signs with both secrets, and the library
accepts either. A delivery that does not verify (forged, altered, or older than five minutes)
is answered 401 and dropped. A verified one is answered 204 at once and handed to `on_event`:
a webhook says only what happened and where (ids, links), never the person's data, which the
receiver fetches through the API (examples/generated_client.py). Tsunagu redelivers until it
gets a 2xx, with the same `webhook-id`: `on_event` must treat a repeated id as done.

Run behind TLS (Tsunagu delivers to https URLs only, outside the embedded demo).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import make_server

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

MAX_BODY_BYTES = 64 * 1024
Event = dict[str, Any]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_app(secret: str, on_event: Callable[[str, Event], None]) -> WSGIApp:
    """A WSGI app that verifies each POST and passes (webhook-id, event) to `on_event`."""
    webhook = Webhook(secret)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            start_response("405 Method Not Allowed", [("Allow", "POST")])
            return [b""]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY_BYTES:
            start_response("413 Content Too Large", [])
            return [b""]
        body = environ["wsgi.input"].read(length)
        headers = {
            name[5:].replace("_", "-").lower(): value
            for name, value in environ.items()
            if name.startswith("HTTP_")
        }
        try:
            event = webhook.verify(body, headers)
        except WebhookVerificationError:
            start_response("401 Unauthorized", [])
            return [b""]
        on_event(headers["webhook-id"], event)
        start_response("204 No Content", [])
        return [b""]

    return app


def print_event(webhook_id: str, event: Event) -> None:
    """The default handler: one line per event (ids only; fetch the data through the API)."""
    data = event.get("data", {})
    print(f"{webhook_id}: {event.get('type')} handoff {data.get('handoff_id')}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description="Receive Tsunagu webhooks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    secret = os.environ.get("TSUNAGU_WEBHOOK_SECRET", "")
    if not secret.startswith("whsec_"):
        print("set TSUNAGU_WEBHOOK_SECRET to the whsec_... secret Tsunagu gave", file=sys.stderr)
        return 2
    with make_server(args.host, args.port, make_app(secret, print_event)) as server:
        print(json.dumps({"listening": f"http://{args.host}:{args.port}/"}), flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
