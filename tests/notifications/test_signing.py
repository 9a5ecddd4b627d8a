"""Standard Webhooks signatures: the published test vector, rotation, and the receiver's checks."""

from __future__ import annotations

import base64

from notifications.signing import SECRET_PREFIX, new_webhook_secret, sign, verify_signature
from tests.notifications.support import independent_verify

# The test vector used by the Standard Webhooks reference libraries (and Svix's): secret,
# id, timestamp and body, and the signature every conforming implementation must produce.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _headers(signature: str, *, msg_id: str = VECTOR_ID, stamp: int = VECTOR_TIMESTAMP) -> dict:
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}


def test_sign_reproduces_the_published_test_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_verify_accepts_the_vector_and_rejects_any_change() -> None:
    now = VECTOR_TIMESTAMP + 10
    good = _headers(VECTOR_SIGNATURE)
    assert verify_signature(VECTOR_SECRET, good, VECTOR_BODY, now=now)
    assert independent_verify(VECTOR_SECRET, good, VECTOR_BODY)
    assert not verify_signature(VECTOR_SECRET, good, VECTOR_BODY + b" ", now=now)
    assert not verify_signature(
        VECTOR_SECRET, _headers(VECTOR_SIGNATURE, msg_id="msg_x"), VECTOR_BODY, now=now
    )
    assert not verify_signature(new_webhook_secret(), good, VECTOR_BODY, now=now)
    assert not verify_signature(VECTOR_SECRET, _headers("v1,bm9wZQ=="), VECTOR_BODY, now=now)


def test_verify_rejects_stale_or_future_timestamps() -> None:
    headers = _headers(VECTOR_SIGNATURE)
    assert not verify_signature(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP + 301)
    assert not verify_signature(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP - 301)
    assert not verify_signature(
        VECTOR_SECRET, _headers(VECTOR_SIGNATURE, stamp=0) | {"webhook-timestamp": "x"}, VECTOR_BODY
    )


def test_header_names_are_case_insensitive_and_any_of_several_signatures_may_match() -> None:
    """During a secret rotation two signatures are sent, space-separated; either verifies."""
    other = sign(new_webhook_secret(), VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    headers = {
        "Webhook-Id": VECTOR_ID,
        "Webhook-Timestamp": str(VECTOR_TIMESTAMP),
        "Webhook-Signature": f"{other} {VECTOR_SIGNATURE}",
    }
    assert verify_signature(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_new_secrets_are_whsec_and_32_random_bytes() -> None:
    first, second = new_webhook_secret(), new_webhook_secret()
    assert first != second
    for secret in (first, second):
        assert secret.startswith(SECRET_PREFIX)
        assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX))) == 32
