"""Every way into or out of a session is audited by agencies.sessions: our login page and the
admin's, with the same events; a form that checked no password audits nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from agencies import twofactor
from audit.models import AuditAction, AuditEvent
from tests.factories import MembershipFactory
from tests.fixtures import totp_now

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-only"


@pytest.fixture
def operator():
    """A staff member who may also use the admin site (is_staff)."""
    membership = MembershipFactory(user__username="ops", user__is_staff=True)
    membership.user.set_password(PASSWORD)
    membership.user.save(update_fields=["password"])
    twofactor.totp_enrol_directly(user=membership.user)
    return membership


def _actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_admin_login_and_logout_are_audited_like_ours(operator) -> None:
    client = Client()
    page = client.get("/admin/login/?next=/admin/")
    assert page.status_code == 200 and 'id="login-form"' in page.content.decode()
    response = client.post("/admin/login/?next=/admin/", {"username": "ops", "password": PASSWORD})
    # An administrator's password alone opens nothing: the code step comes first.
    assert response.status_code == 302 and response["Location"] == reverse("login-verify")
    assert client.get("/admin/").status_code == 302
    response = client.post(reverse("login-verify"), {"code": totp_now(operator.user)})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    login = AuditEvent.objects.get(action=AuditAction.LOGIN)
    assert (login.actor_user_id, login.actor_agency_id, login.actor_label) == (
        operator.user_id,
        operator.agency_id,
        "ops",
    )
    assert client.post(reverse("admin:logout")).status_code in (200, 302)
    assert "_auth_user_id" not in client.session
    assert _actions() == [AuditAction.LOGIN, AuditAction.LOGOUT]


def test_admin_login_failure_is_audited(operator) -> None:
    response = Client().post("/admin/login/", {"username": "ops", "password": "wrong"})
    assert response.status_code == 200
    failed = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert failed.detail == {"known_user": True, "user_id": operator.user_id}


def test_a_form_without_password_checks_nothing_and_audits_nothing(operator) -> None:
    response = Client().post(reverse("login"), {"username": "ops", "password": ""})
    assert response.status_code == 200
    assert _actions() == []


def test_signing_out_without_a_session_audits_nothing(db) -> None:
    assert Client().post(reverse("logout")).status_code == 302
    assert _actions() == []


def test_login_is_audited_once(operator) -> None:
    """The service writes the event; no signal receiver writes a second one."""
    client = Client()
    client.post(reverse("login"), {"username": "ops", "password": PASSWORD})
    assert _actions() == []  # the password alone signs no one in who needs a code
    client.post(reverse("login-verify"), {"code": totp_now(operator.user)})
    assert _actions() == [AuditAction.LOGIN]
