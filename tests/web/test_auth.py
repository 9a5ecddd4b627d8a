"""Login, lockout and logout: audited, with no password ever guessed past the lockout."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-only"


@pytest.fixture
def member():
    membership = MembershipFactory(user__username="ward-counselor")
    membership.user.set_password(PASSWORD)
    membership.user.save(update_fields=["password"])
    return membership


def _events(action: str):
    return AuditEvent.objects.filter(action=action).order_by("id")


def test_login_page_is_japanese_by_default() -> None:
    response = Client().get(reverse("login"))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="ja">' in body
    assert "ユーザー名" in body and "パスワード" in body


def test_anonymous_is_sent_to_login() -> None:
    response = Client().get(reverse("relay:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_successful_login_and_logout_are_audited(member) -> None:
    """GIVEN a staff member WHEN they sign in and out THEN both are audited with their agency."""
    client = Client()
    response = client.post(reverse("login"), {"username": "ward-counselor", "password": PASSWORD})
    assert response.status_code == 302
    login = _events(AuditAction.LOGIN).get()
    assert login.actor_label == "ward-counselor"
    assert login.actor_agency_id == member.agency_id
    assert login.actor_user_id == member.user_id

    assert client.get(reverse("logout")).status_code == 405  # a link cannot sign out
    client.post(reverse("logout"))
    logout = _events(AuditAction.LOGOUT).get()
    assert logout.actor_user_id == member.user_id


def test_failed_login_is_audited_without_the_typed_text_of_unknown_users(member) -> None:
    Client().post(reverse("login"), {"username": "ward-counselor", "password": "wrong"})
    Client().post(reverse("login"), {"username": "my-secret-password", "password": "x"})
    known, unknown = _events(AuditAction.LOGIN_FAILED)
    assert known.actor_label == "ward-counselor" and known.detail["known_user"] is True
    assert known.actor_agency_id == member.agency_id
    assert unknown.actor_label == "" and unknown.detail == {"known_user": False}
    assert "my-secret-password" not in str(unknown.detail)


def test_five_failures_lock_the_username_even_for_the_right_password(member) -> None:
    """GIVEN 5 failed logins WHEN the right password is tried THEN it is refused (locked out),
    the lockout page is shown, and every attempt is audited."""
    client = Client()
    for _ in range(5):
        response = client.post(reverse("login"), {"username": "ward-counselor", "password": "no"})
    assert response.status_code == 429
    response = client.post(reverse("login"), {"username": "ward-counselor", "password": PASSWORD})
    assert response.status_code == 429
    assert "一時的にログインできません" in response.content.decode()
    assert "_auth_user_id" not in client.session
    failures = list(_events(AuditAction.LOGIN_FAILED))
    assert len(failures) == 6
    assert failures[-1].detail.get("locked_out") is True
    assert not _events(AuditAction.LOGIN).exists()


def test_login_form_requires_csrf(member) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "ward-counselor", "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_user_without_agency_is_refused(db) -> None:
    user = UserFactory(username="loose")
    user.save()
    client = Client()
    client.force_login(user)
    assert client.get(reverse("relay:home")).status_code == 403
