"""Standard Webhooks signing: secrets, the v1 HMAC-SHA256 signature, and verification.

https://www.standardwebhooks.com/: a receiver recomputes the signature over
`webhook-id.webhook-timestamp.body` with the shared secret and compares in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"  # noqa: S105  (the Standard Webhooks prefix, not a secret)


def new_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: v1, base64 HMAC-SHA256 of `id.timestamp.body`."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify_signature(
    secret: str,
    headers: dict[str, str],
    body: bytes,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> bool:
    """What a receiver does: recompute, compare in constant time, reject stale timestamps.

    `headers` may use any case (HTTP header names are case-insensitive); the signature header
    may hold several space-separated signatures (during a secret rotation).
    """
    headers = {name.lower(): value for name, value in headers.items()}
    msg_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        return False
    expected = sign(secret, msg_id, int(stamp), body)
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in headers.get("webhook-signature", "").split()
    )
