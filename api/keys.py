"""Issuing, checking and revoking API keys.

A key reads `tsk_<prefix>_<secret>`: `prefix` is 8 random URL-safe characters, public (shown in
lists, used to find the row); `secret` is 32 random bytes (43 characters). Only the SHA-256 of
the whole key is stored, so the plaintext exists once, in the answer to `api_key_create`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agencies.models import Agency
from api.models import APIKey
from api.scopes import scopes_clean
from audit.context import Actor
from audit.models import AuditAction
from audit.services import audit_record

KEY_PREFIX = "tsk_"
PREFIX_LENGTH = 8
SECRET_BYTES = 32
# Writing last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_KEY_FORMAT = re.compile(r"^tsk_(?P<prefix>[A-Za-z0-9_-]{8})_(?P<secret>[A-Za-z0-9_-]{32,128})$")


class APIKeyError(Exception):
    """A presented key cannot be used; the subclasses say why."""


class APIKeyInvalid(APIKeyError):
    """Malformed, unknown, or the secret does not match."""


class APIKeyExpired(APIKeyError):
    """The key is past its expiry time."""


class APIKeyRevoked(APIKeyError):
    """The key was revoked."""


def api_key_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def _new_plaintext() -> tuple[str, str]:
    # token_urlsafe(6) is exactly 8 characters; a prefix may contain "_" or "-", which is why
    # keys are parsed by position, not by splitting on "_".
    prefix = secrets.token_urlsafe(6)
    return prefix, f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"


@transaction.atomic
def api_key_create(
    *,
    agency: Agency,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None,
    created_by: User | None,
    actor: Actor,
) -> tuple[APIKey, str]:
    """Issue a key for an agency's partner system; returns it with the plaintext (shown once)."""
    name = name.strip()
    if not name:
        raise ValueError("an API key needs a name")
    cleaned = scopes_clean(scopes)
    if not cleaned:
        raise ValueError("an API key needs at least one scope")
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise ValueError("expires_at must be in the future")
    prefix, plaintext = _new_plaintext()
    while APIKey.objects.filter(prefix=prefix).exists():  # 48 random bits: practically never
        prefix, plaintext = _new_plaintext()
    key = APIKey.objects.create(
        agency=agency,
        name=name,
        prefix=prefix,
        hashed_key=api_key_hash(plaintext),
        scopes=cleaned,
        expires_at=expires_at,
        created_by=created_by,
        created_at=now,
    )
    audit_record(
        action=AuditAction.API_KEY_CREATED,
        actor=actor,
        object_type="api_key",
        object_id=key.pk,
        detail={
            "agency_id": agency.pk,
            "prefix": prefix,
            "scopes": cleaned,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return key, plaintext


@transaction.atomic
def api_key_revoke(*, key: APIKey, actor: Actor) -> APIKey:
    """Revoke a key at once (every later request with it is refused); revoking twice is a no-op."""
    key = APIKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        return key
    key.revoked_at = timezone.now()
    key.revoked_by_id = actor.user_id
    key.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        action=AuditAction.API_KEY_REVOKED,
        actor=actor,
        object_type="api_key",
        object_id=key.pk,
        detail={"agency_id": key.agency_id, "prefix": key.prefix},
    )
    return key


def api_key_verify(*, plaintext: str, now: datetime | None = None) -> APIKey:
    """The key a request presents, if it may be used now; else an APIKeyError saying why."""
    match = _KEY_FORMAT.match(plaintext)
    if match is None:
        raise APIKeyInvalid("malformed API key")
    key = APIKey.objects.select_related("agency").filter(prefix=match["prefix"]).first()
    if key is None or not hmac.compare_digest(key.hashed_key, api_key_hash(plaintext)):
        raise APIKeyInvalid("unknown API key")
    now = now or timezone.now()
    if key.is_revoked:
        raise APIKeyRevoked("API key revoked")
    if key.is_expired(now):
        raise APIKeyExpired("API key expired")
    return key


def api_key_touch(*, key: APIKey, now: datetime | None = None) -> None:
    """Record use of the key, at most once per LAST_USED_RESOLUTION (one UPDATE, no lock)."""
    now = now or timezone.now()
    threshold = now - LAST_USED_RESOLUTION
    if key.last_used_at is not None and key.last_used_at > threshold:
        return
    # The condition in the UPDATE keeps concurrent requests from all writing.
    APIKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=threshold)
    ).update(last_used_at=now)
    key.last_used_at = now
