"""API keys: issued once in plaintext, stored as a hash, revoked and audited by services."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from api.keys import (
    APIKeyExpired,
    APIKeyInvalid,
    APIKeyRevoked,
    api_key_revoke,
    api_key_touch,
    api_key_verify,
)
from api.models import APIKey
from api.principal import user_actor
from api.scopes import UnknownScope
from audit.context import ActorKind
from audit.models import AuditAction, AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

KEY_FORMAT = re.compile(r"^tsk_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{43}$")


def test_creation_returns_the_plaintext_once_and_stores_only_its_hash(issue_key) -> None:
    """GIVEN an agency WHEN a key is issued THEN the row holds the prefix and a SHA-256, no secret."""
    key, plaintext = issue_key(scopes=("handoffs:write", "handoffs:read", "handoffs:read"))

    assert KEY_FORMAT.match(plaintext)
    assert plaintext[4:12] == key.prefix
    key.refresh_from_db()
    assert key.hashed_key == hashlib.sha256(plaintext.encode()).hexdigest()
    stored = [str(value) for value in APIKey.objects.filter(pk=key.pk).values().get().values()]
    assert not any(plaintext[13:] in value for value in stored)
    assert key.scopes == ["handoffs:read", "handoffs:write"]  # sorted, deduplicated
    assert api_key_verify(plaintext=plaintext) == key


def test_two_keys_never_share_prefix_or_secret(issue_key) -> None:
    (first, first_text), (second, second_text) = issue_key(), issue_key()
    assert first.prefix != second.prefix and first_text != second_text


def test_creation_and_revocation_are_audited_without_the_secret(issue_key, agency) -> None:
    """GIVEN a key WHEN it is revoked twice THEN one created and one revoked event, by the actor."""
    admin = UserFactory()
    key, plaintext = issue_key(scopes=("sheets:read",))
    api_key_revoke(key=key, actor=user_actor(admin))
    api_key_revoke(key=key, actor=user_actor(admin))  # no-op

    events = list(AuditEvent.objects.filter(object_type="api_key", object_id=str(key.pk)))
    assert [e.action for e in events] == [AuditAction.API_KEY_CREATED, AuditAction.API_KEY_REVOKED]
    created, revoked = events
    assert created.actor_kind == ActorKind.SYSTEM
    assert created.detail == {
        "agency_id": agency.pk,
        "prefix": key.prefix,
        "scopes": ["sheets:read"],
        "expires_at": None,
    }
    assert revoked.actor_user_id == admin.pk
    assert plaintext not in str(created.detail) and key.hashed_key not in str(created.detail)
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == admin


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"scopes": ("handoffs:delete",)}, UnknownScope),
        ({"scopes": ()}, ValueError),
        ({"name": "  "}, ValueError),
        ({"expires_at": "past"}, ValueError),
    ],
)
def test_invalid_requests_issue_nothing(issue_key, kwargs, error) -> None:
    if kwargs.get("expires_at") == "past":
        kwargs["expires_at"] = timezone.now() - timedelta(seconds=1)
    with pytest.raises(error):
        issue_key(**kwargs)
    assert not APIKey.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.API_KEY_CREATED).exists()


def test_verify_tells_invalid_expired_and_revoked_apart(issue_key, system_actor) -> None:
    key, plaintext = issue_key(expires_at=timezone.now() + timedelta(days=1))
    for wrong in ("", "tsk_short", plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")):
        with pytest.raises(APIKeyInvalid):
            api_key_verify(plaintext=wrong)
    with pytest.raises(APIKeyExpired):
        api_key_verify(plaintext=plaintext, now=timezone.now() + timedelta(days=2))
    api_key_revoke(key=key, actor=system_actor)
    with pytest.raises(APIKeyRevoked):
        api_key_verify(plaintext=plaintext)


def test_last_used_at_is_written_at_most_once_a_minute(issue_key) -> None:
    """GIVEN a key used repeatedly WHEN within a minute THEN last_used_at keeps the first time."""
    key, _plaintext = issue_key()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        api_key_touch(key=APIKey.objects.get(pk=key.pk))
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        api_key_touch(key=APIKey.objects.get(pk=key.pk))
    assert APIKey.objects.get(pk=key.pk).last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        api_key_touch(key=APIKey.objects.get(pk=key.pk))
    assert APIKey.objects.get(pk=key.pk).last_used_at == start + timedelta(seconds=61)


def test_create_api_key_command_prints_the_key_once(agency) -> None:
    """GIVEN an agency slug WHEN the command runs THEN stdout is the key alone, which works."""
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_api_key",
        agency.slug,
        "--name",
        "hikari intake system",
        "--scopes",
        "handoffs:read,handoffs:write",
        "--expires-days",
        "365",
        stdout=out,
        stderr=err,
    )
    plaintext = out.getvalue().strip()
    assert KEY_FORMAT.match(plaintext)
    key = api_key_verify(plaintext=plaintext)
    assert key.agency == agency and key.name == "hikari intake system"
    assert key.scopes == ["handoffs:read", "handoffs:write"]
    assert timedelta(days=364) < key.expires_at - timezone.now() <= timedelta(days=365)
    assert key.prefix in err.getvalue() and plaintext not in err.getvalue()
    event = AuditEvent.objects.get(action=AuditAction.API_KEY_CREATED)
    assert event.actor_label == "manage.py create_api_key"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-agency", "--name", "x", "--scopes", "handoffs:read"], "no agency"),
        (["free-school-hikari", "--name", "x", "--scopes", "handoffs:rw"], "unknown scope"),
        (
            ["free-school-hikari", "--name", "x", "--scopes", "sheets:read", "--expires-days", "0"],
            "at least 1",
        ),
    ],
)
def test_create_api_key_command_refuses_bad_input(agency, args, message) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert not APIKey.objects.exists()
