"""Small helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

from django.conf import settings

PROBLEM_BASE = "https://tsunagu.invalid/problems/"


def bearer(plaintext: str) -> dict[str, Any]:
    """Request kwargs carrying an API key."""
    return {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}


def assert_problem(response: Any, *, status: int, slug: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of this type; returns its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == PROBLEM_BASE + slug
    assert body["status"] == status
    assert body["title"] and body["detail"]
    # instance names the occurrence: the request id, as in X-Request-ID, audit and logs.
    assert body["instance"] == f"urn:tsunagu:request:{response['X-Request-ID']}"
    return body


def csrf_pair() -> tuple[str, str]:
    """A CSRF cookie name and a token valid as both cookie and header (an unmasked secret)."""
    return settings.CSRF_COOKIE_NAME, "a" * 32
