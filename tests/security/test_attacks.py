"""Issue 13's acceptance, tried as an attacker would: a stolen password without the phone,
a stolen session left idle, a lockout attempt from elsewhere, a viewer after 要配慮 sections,
a browser cache, the public API docs, a disguised upload."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from agencies import twofactor
from agencies.errors import InvalidInput
from api.keys import api_key_create
from api.scopes import ALL_SCOPES
from audit.models import AuditAction, AuditEvent
from consent.models import ConsentRecord
from tests.fixtures import SHEET_DATA, sign_in, totp_now

PASSWORD = "pw-for-tests-only"
SECRET = "こころの不調: 不眠(テスト)"
ABUSE = "虐待の記録(テスト)"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Per-IP counters live in the shared cache."""
    cache.clear()
    yield
    cache.clear()


def _key_for(agency, actor) -> str:
    return api_key_create(
        agency=agency,
        name="partner",
        scopes=tuple(ALL_SCOPES),
        expires_at=None,
        created_by=None,
        actor=actor,
    )[1]


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def _password_step(client: Client, username: str, ip: str = "127.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": PASSWORD}, REMOTE_ADDR=ip
    )


# --- the second factor ---------------------------------------------------------------------

PAGES = [
    "/",
    "/sheets/",
    "/handoffs/inbox/",
    "/supervisor/approvals/",
    "/supervisor/audit/",
    "/supervisor/audit/export.csv",
    "/supervisor/provision-records/?format=csv",
    "/account/",
    "/admin/",
]


def test_a_supervisor_reaches_no_page_with_the_password_alone(net) -> None:
    """GIVEN a supervisor's stolen password WHEN the attacker signs in with it THEN they are
    only asked for a code: every page, the admin and the API send them back."""
    twofactor.totp_enrol_directly(user=net.supervisor.user)
    client = Client()
    response = _password_step(client, "supervisor")
    assert response["Location"] == reverse("login-verify")
    assert "_auth_user_id" not in client.session
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 302, path
        assert "/login" in answer["Location"], path
    assert APIClient().get("/api/v1/whoami/").status_code in (401, 403)
    assert not _events(AuditAction.LOGIN)


def test_wrong_codes_are_refused_and_audited_and_the_right_one_signs_in(net, settings) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's growing delay, off for this test
    twofactor.totp_enrol_directly(user=net.supervisor.user)
    client = Client()
    _password_step(client, "supervisor")
    response = client.post(reverse("login-verify"), {"code": "000000"})
    assert response.status_code == 200 and "確認コードが正しくありません" in response.content.decode()
    failed = _events(AuditAction.SECOND_FACTOR_FAILED)
    assert len(failed) == 1 and failed[0].object_id == str(net.supervisor.user_id)
    assert client.get("/").status_code == 302
    response = client.post(reverse("login-verify"), {"code": totp_now(net.supervisor.user)})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert _events(AuditAction.LOGIN)[0].detail == {"second_factor": "totp"}


def test_a_required_role_without_a_factor_must_enrol_before_any_page(net) -> None:
    """GIVEN a supervisor with no authenticator yet WHEN they sign in THEN they enrol first
    (QR code and secret shown), get recovery codes, and only then reach the pages."""
    client = Client()
    response = _password_step(client, "supervisor")
    assert response["Location"] == reverse("login-enrol")
    assert client.get("/").status_code == 302
    page = client.get(reverse("login-enrol")).content.decode()
    assert "<svg" in page and 'data-testid="totp-secret"' in page
    device = twofactor.TOTPDevice.objects.get(user_id=net.supervisor.user_id, confirmed=False)
    code = twofactor.totp_code(device)
    response = client.post(reverse("login-enrol"), {"code": code})
    assert response["Location"] == reverse("account-recovery-codes")
    codes_page = client.get(reverse("account-recovery-codes")).content.decode()
    assert codes_page.count("<code>") == twofactor.RECOVERY_CODE_COUNT
    assert client.get("/").status_code == 200
    assert [e.action for e in AuditEvent.objects.order_by("id")][-3:] == [
        AuditAction.SECOND_FACTOR_ENROLLED,
        AuditAction.RECOVERY_CODES_ISSUED,
        AuditAction.LOGIN,
    ]


def test_a_recovery_code_works_once(net) -> None:
    user = net.supervisor.user
    twofactor.totp_enrol_directly(user=user)
    codes = twofactor.recovery_codes_regenerate(user=user)
    client = Client()
    _password_step(client, "supervisor")
    assert client.post(reverse("login-verify"), {"code": codes[0]}).status_code == 302
    assert _events(AuditAction.RECOVERY_CODE_USED)[0].detail == {"left": len(codes) - 1}
    other = Client()
    _password_step(other, "supervisor")
    assert other.post(reverse("login-verify"), {"code": codes[0]}).status_code == 200


def test_an_admin_reset_removes_the_factors_and_is_audited(net, system_actor) -> None:
    user = net.supervisor.user
    twofactor.totp_enrol_directly(user=user)
    twofactor.recovery_codes_regenerate(user=user)
    removed = twofactor.second_factor_reset(user=user, actor=system_actor, reason="lost phone")
    assert removed == 2 and not twofactor.has_second_factor(user)
    reset = _events(AuditAction.SECOND_FACTOR_RESET)[0]
    assert reset.object_id == str(user.pk) and reset.detail["devices_removed"] == 2
    # The supervisor must enrol again at the next sign-in.
    assert _password_step(Client(), "supervisor")["Location"] == reverse("login-enrol")


def test_the_admin_reset_action_needs_a_fresh_password_and_is_audited(net) -> None:
    admin_user = get_user_model().objects.create_user(
        "ops", password=PASSWORD, is_staff=True, is_superuser=True
    )
    target = net.supervisor.user
    twofactor.totp_enrol_directly(user=target)
    client = sign_in(Client(), admin_user)
    url = reverse("admin:auth_user_changelist")
    client.post(url, {"action": "reset_second_factor", "_selected_action": [target.pk]})
    assert not twofactor.has_second_factor(target)
    assert _events(AuditAction.SECOND_FACTOR_RESET)[0].actor_user_id == admin_user.pk


def test_counselors_follow_the_agency_policy(net) -> None:
    """Optional by default (the password signs in); required once the supervisor says so."""
    assert _password_step(Client(), "counselor")["Location"] == "/"
    net.ward.two_factor_policy = "required"
    net.ward.save(update_fields=["two_factor_policy"])
    assert _password_step(Client(), "counselor")["Location"] == reverse("login-enrol")


def test_an_old_unverified_session_is_ended(net) -> None:
    """A session made before the supervisor needed a code (or by any path around the
    sign-in screens) is ended on its next request, audited."""
    client = Client()
    client.force_login(get_user_model().objects.get(pk=net.supervisor.user_id))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert "_auth_user_id" not in client.session
    assert _events(AuditAction.SESSION_EXPIRED)[0].detail == {"reason": "second_factor_missing"}


def test_api_keys_are_unaffected(net, system_actor) -> None:
    plaintext = _key_for(net.npo, system_actor)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert client.get("/api/v1/whoami/").status_code == 200


# --- sessions --------------------------------------------------------------------------------


def test_a_stolen_session_expires_after_the_idle_timeout(net, login) -> None:
    """GIVEN a signed-in session WHEN nobody uses it for 31 minutes THEN the next request,
    whoever sends it, is signed out (audited), and the page asks for the password."""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = login(net.counselor)
        assert client.get("/").status_code == 200
    with time_machine.travel(start + timedelta(minutes=29), tick=False):
        assert client.get("/").status_code == 200  # still in use: the clock restarts
    with time_machine.travel(start + timedelta(minutes=29 + 31), tick=False):
        response = client.get("/sheets/")
        assert response.status_code == 302 and response["Location"].startswith("/login/")
        assert client.get("/").status_code == 302
    assert _events(AuditAction.SESSION_EXPIRED)[0].detail == {"reason": "idle"}


def test_a_session_ends_after_the_absolute_timeout_even_in_use(net, login) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = login(net.counselor)
    for minutes in range(20, 8 * 60, 20):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert client.get("/").status_code == 200
    with time_machine.travel(start + timedelta(hours=8, minutes=5), tick=False):
        assert client.get("/").status_code == 302
    assert _events(AuditAction.SESSION_EXPIRED)[0].detail == {"reason": "absolute"}


def test_an_attackers_lockout_does_not_lock_the_owner_out(net) -> None:
    """GIVEN five wrong passwords for the counselor from the attacker's address WHEN the
    counselor signs in from the office THEN they get in; the attacker's address stays locked."""
    attacker = Client()
    for _ in range(5):
        attacker.post(
            reverse("login"), {"username": "counselor", "password": "guess"}, REMOTE_ADDR="203.0.113.9"
        )
    assert _password_step(attacker, "counselor", ip="203.0.113.9").status_code == 429
    owner = Client()
    response = _password_step(owner, "counselor", ip="192.0.2.10")
    assert response.status_code == 302 and owner.get("/", REMOTE_ADDR="192.0.2.10").status_code == 200


def test_one_address_guessing_many_usernames_is_throttled(net, settings) -> None:
    settings.TSUNAGU_SECURITY = {**settings.TSUNAGU_SECURITY, "SIGNIN_IP_FAILURE_LIMIT": 6}
    attacker = Client()
    for name in ["counselor", "viewer", "supervisor", "npo-intake", "npo-supervisor", "x"]:
        attacker.post(
            reverse("login"), {"username": name, "password": "guess"}, REMOTE_ADDR="203.0.113.7"
        )
    # Even a right password from that address waits; others are not affected.
    assert _password_step(attacker, "counselor", ip="203.0.113.7").status_code == 429
    assert _password_step(Client(), "counselor", ip="192.0.2.10").status_code == 302


def test_passwords_must_be_long_and_not_common(net, login) -> None:
    client = login(net.counselor)
    url = reverse("account-password")
    for weak in ("short-pw", "password1234", "123456789012"):
        response = client.post(
            url, {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak}
        )
        assert response.status_code == 200, weak
    strong = "Kuro-neko 4 tsunagu"
    response = client.post(
        url, {"old_password": PASSWORD, "new_password1": strong, "new_password2": strong}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # this session survives the change
    assert _events(AuditAction.PASSWORD_CHANGED)[0].actor_user_id == net.counselor.user_id


def test_sensitive_actions_need_the_password_again(net, login) -> None:
    """GIVEN a supervisor signed in an hour ago WHEN they export the audit log THEN they are
    asked for the password (and code) first; afterwards the export runs, audited."""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = login(net.supervisor)
    with time_machine.travel(start + timedelta(minutes=25), tick=False):
        client.get("/")
    with time_machine.travel(start + timedelta(minutes=45), tick=False):
        response = client.get(reverse("relay:audit-export"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("reauth"))
        assert not _events(AuditAction.AUDIT_EXPORTED)
        wrong = client.post(reverse("reauth"), {"password": "nope", "next": "/"})
        assert wrong.status_code == 200
        confirmed = client.post(
            reverse("reauth"),
            {
                "password": PASSWORD,
                "code": totp_now(net.supervisor.user, ahead=1),
                "next": reverse("relay:audit-export"),
            },
        )
        assert confirmed["Location"] == reverse("relay:audit-export")
        assert client.get(reverse("relay:audit-export")).status_code == 200
    assert _events(AuditAction.REAUTHENTICATED)
    assert _events(AuditAction.AUDIT_EXPORTED)


def test_role_changes_in_the_admin_need_the_password_again(net) -> None:
    admin_user = get_user_model().objects.create_user(
        "ops", password=PASSWORD, is_staff=True, is_superuser=True
    )
    client = sign_in(Client(), admin_user)
    session = client.session
    session["tsunagu_reauth_at"] = 0
    session.save()
    membership = net.viewer.user.membership
    url = reverse("admin:agencies_membership_change", args=[membership.pk])
    response = client.post(
        url, {"user": membership.user_id, "agency": membership.agency_id, "role": "supervisor"}
    )
    assert response.status_code == 302 and response["Location"].startswith(reverse("reauth"))
    membership.refresh_from_db()
    assert membership.role == "viewer"


# --- least privilege: viewers and 要配慮 sections ----------------------------------------------


def test_a_viewer_cannot_read_special_care_sections_unless_granted(net, login) -> None:
    sheet = net.sheet(mental_condition=SECRET, safeguarding_note=ABUSE)
    url = reverse("relay:sheet-detail", args=[sheet.pk])
    page = login(net.viewer).get(url).content.decode()
    assert SECRET not in page and ABUSE not in page
    assert "閲覧のみの役割のため、要配慮情報は表示していません" in page
    printed = login(net.viewer).get(reverse("relay:sheet-print", args=[sheet.pk])).content.decode()
    assert SECRET not in printed and ABUSE not in printed
    view = AuditEvent.objects.filter(action=AuditAction.SHEET_VIEWED).last()
    assert "health" not in view.sections and "safeguarding" not in view.sections
    # The counselor sees them, and the sheet page says who can.
    page = login(net.counselor).get(url).content.decode()
    assert SECRET in page and 'data-testid="special-care-readers"' in page
    assert "counselor" in page and "閲覧のみの職員には表示していません" in page
    # Granted explicitly by the agency: the viewer reads them (and now needs a second factor).
    net.ward.viewers_see_special_care = True
    net.ward.save(update_fields=["viewers_see_special_care"])
    assert twofactor.two_factor_required(get_user_model().objects.get(pk=net.viewer.user_id))
    assert SECRET in login(net.viewer).get(url).content.decode()


def test_the_supervisor_sets_the_policy_and_it_is_audited(net, login) -> None:
    client = login(net.supervisor)
    response = client.post(
        reverse("relay:security-policy"),
        {"two_factor_policy": "required", "viewers_see_special_care": "on"},
    )
    assert response.status_code == 302
    net.ward.refresh_from_db()
    assert net.ward.two_factor_policy == "required" and net.ward.viewers_see_special_care
    event = _events(AuditAction.SECURITY_POLICY_CHANGED)[0]
    assert event.detail["after"] == {"two_factor_policy": "required", "viewers_see_special_care": True}
    assert login(net.counselor).get(reverse("relay:security-policy")).status_code == 403


# --- headers ---------------------------------------------------------------------------------


def _csp(response) -> str:
    return response.headers.get("Content-Security-Policy", "")


def test_every_html_page_has_a_strict_csp(net, login, sent) -> None:
    sheet, hop = sent
    pages = {
        "anonymous": (Client(), ["/login/"]),
        "counselor": (
            login(net.counselor),
            [
                "/",
                "/sheets/",
                f"/sheets/{sheet.pk}/",
                f"/sheets/{sheet.pk}/print/",
                f"/sheets/{sheet.pk}/consent/",
                f"/sheets/{sheet.pk}/send/",
                "/handoffs/outbox/",
                f"/handoffs/{hop.pk}/",
                "/directory/",
                "/notifications/",
                "/account/",
                "/account/password/",
                "/no-such-page/",
            ],
        ),
        "supervisor": (
            login(net.supervisor),
            ["/supervisor/approvals/", "/supervisor/audit/", "/supervisor/metrics/"],
        ),
    }
    for who, (client, paths) in pages.items():
        for path in paths:
            response = client.get(path)
            assert response["Content-Type"].startswith("text/html"), (who, path)
            policy = _csp(response)
            assert "default-src 'none'" in policy, (who, path)
            assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy
            assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
            body = response.content.decode()
            assert ' style="' not in body, (who, path)
            assert response["Referrer-Policy"] == "same-origin"
            assert "camera=()" in response["Permissions-Policy"]


def test_inline_scripts_carry_the_nonce_of_their_response(net, login, sent) -> None:
    """Scripts are files of ours; an inline one would need its response's nonce."""
    sheet, _hop = sent
    for path in ["/", f"/sheets/{sheet.pk}/", f"/sheets/{sheet.pk}/send/", "/supervisor/metrics/"]:
        response = login(net.supervisor).get(path)
        policy = _csp(response)
        body = response.content.decode()
        for chunk in body.split("<script")[1:]:
            tag = chunk.split(">", 1)[0]
            if "src=" in tag:
                continue
            nonce = policy.split("'nonce-")[1].split("'")[0]
            assert f'nonce="{nonce}"' in tag, path
        assert " on" + "click=" not in body and "javascript:" not in body


def test_sheet_content_is_never_cached(net, login, sent, system_actor) -> None:
    sheet, hop = sent
    client = login(net.counselor)
    for path in [f"/sheets/{sheet.pk}/", f"/sheets/{sheet.pk}/print/", "/sheets/", f"/handoffs/{hop.pk}/"]:
        assert "no-store" in client.get(path)["Cache-Control"], path
    plaintext = _key_for(net.npo, system_actor)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    answer = api.get(f"/api/v1/sheets/{sheet.pk}/")
    assert answer.status_code == 200 and "no-store" in answer["Cache-Control"]


def test_api_docs_need_credentials_in_production(net, settings, system_actor) -> None:
    settings.API_DOCS_PUBLIC = False
    for path in ("/api/schema/", "/api/docs/"):
        assert Client().get(path).status_code in (401, 403), path
    plaintext = _key_for(net.npo, system_actor)
    assert Client().get("/api/schema/", HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 200
    staff = sign_in(Client(), net.counselor.user)
    docs = staff.get("/api/docs/")
    assert docs.status_code == 200 and "<script>" not in docs.content.decode()
    assert "unsafe-inline" not in _csp(docs)
    settings.API_DOCS_PUBLIC = True
    assert Client().get("/api/schema/").status_code == 200


# --- uploads ---------------------------------------------------------------------------------


def _consent_post(net, upload) -> dict:
    return {
        "basis": "consent",
        "decision": "permit",
        "grantors": ["guardian"],
        "method": "written",
        "child_assent": "assented",
        "obtained_on": timezone.localdate().isoformat(),
        "recipients": [str(net.npo.pk)],
        "sections": ["basic"],
        "purposes": ["support"],
        "valid_until": (timezone.localdate() + timedelta(days=30)).isoformat(),
        "scanned_form": upload,
    }


def test_a_scanned_form_is_checked_by_content_and_its_upload_audited(net, login) -> None:
    sheet = net.sheet()
    client = login(net.counselor)
    url = reverse("relay:consent-new", args=[sheet.pk])
    html = SimpleUploadedFile("form.pdf", b"<html><script>alert(1)</script>", "application/pdf")
    response = client.post(url, _consent_post(net, html))
    assert response.status_code in (200, 400)
    assert not ConsentRecord.objects.exists()
    pdf = SimpleUploadedFile("山田太郎の同意書.pdf", b"%PDF-1.4\n%test\n", "application/pdf")
    response = client.post(url, _consent_post(net, pdf))
    assert response.status_code == 302, response.content.decode()[:2000]
    record = ConsentRecord.objects.get()
    event = _events(AuditAction.CONSENT_FORM_UPLOADED)[0]
    assert event.object_id == str(record.pk) and event.detail["content_type"] == "application/pdf"
    assert len(event.detail["sha256"]) == 64 and "山田" not in str(event.detail)


def test_the_service_refuses_a_disguised_form_whatever_the_caller(net) -> None:
    sheet = net.sheet()
    fake = SimpleUploadedFile("x.png", b"GIF89a....", "image/png")
    with pytest.raises(InvalidInput) as refused:
        net.consent(sheet, scanned_form=fake)
    assert refused.value.field == "scanned_form"
    assert not ConsentRecord.objects.exists()


def test_sheet_data_fixture_is_untouched() -> None:
    assert "mental_condition" in SHEET_DATA
