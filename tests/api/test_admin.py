"""The admin issues keys through the service (plaintext shown once) and revokes them."""

from __future__ import annotations

import re

import pytest

from api.keys import api_key_hash
from api.models import APIKey
from audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def test_admin_issues_a_key_and_shows_the_plaintext_only_once(admin_client, admin_user, agency):
    """GIVEN an administrator WHEN they add a key THEN the key is shown in one message, hashed."""
    response = admin_client.post(
        "/admin/api/apikey/add/",
        {"agency": agency.pk, "name": "hikari intake", "scopes": ["handoffs:read", "sheets:read"]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    key = APIKey.objects.get()
    assert key.created_by == admin_user and key.scopes == ["handoffs:read", "sheets:read"]
    event = AuditEvent.objects.get(action=AuditAction.API_KEY_CREATED)
    assert event.actor_user_id == admin_user.pk

    # The page after the redirect shows the key, once; no later page shows it again.
    first_page = admin_client.get(response["Location"]).content.decode()
    shown = re.findall(r"tsk_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{43}", first_page)
    assert len(shown) == 1
    assert key.hashed_key == api_key_hash(shown[0])
    later = admin_client.get("/admin/api/apikey/").content.decode()
    later += admin_client.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()
    assert key.prefix in later and shown[0] not in later


def test_admin_refuses_an_expiry_in_the_past(admin_client, agency) -> None:
    response = admin_client.post(
        "/admin/api/apikey/add/",
        {
            "agency": agency.pk,
            "name": "x",
            "scopes": ["handoffs:read"],
            "expires_at_0": "2000-01-01",
            "expires_at_1": "00:00:00",
        },
    )
    assert response.status_code == 200
    assert not APIKey.objects.exists()


def test_admin_revoke_action_calls_the_service(admin_client, admin_user, issue_key) -> None:
    (first, _), (second, _) = issue_key(), issue_key()
    response = admin_client.post(
        "/admin/api/apikey/",
        {"action": "revoke_selected", "_selected_action": [first.pk, second.pk]},
    )
    assert response.status_code == 302
    assert APIKey.objects.filter(revoked_at__isnull=False, revoked_by=admin_user).count() == 2
    revoked = AuditEvent.objects.filter(action=AuditAction.API_KEY_REVOKED)
    assert sorted(int(e.object_id) for e in revoked) == sorted([first.pk, second.pk])


def test_admin_offers_no_edit_and_no_delete(admin_client, issue_key) -> None:
    key, _ = issue_key()
    page = admin_client.get(f"/admin/api/apikey/{key.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.post(f"/admin/api/apikey/{key.pk}/delete/").status_code == 403
    assert APIKey.objects.filter(pk=key.pk).exists()
