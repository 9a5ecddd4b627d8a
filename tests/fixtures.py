"""Fixtures shared by every test directory, defined once (a pytest plugin: tests/conftest.py
loads it with `pytest_plugins`).

- `net` / `net_tx`: a small network of agencies and staff for workflow tests (a ward desk that
  refers, and three receivers), as the Staff the services take; `build_network()`, `Network`
  and `SHEET_DATA` are importable for tests that build it themselves.
- `sent`: a hop from the ward desk to the NPO, sent under consent, sharing basic +
  consultation.
- `admin_client`: pytest-django's, signed in with a second factor.
- `sign_in(client, user)`: a test client signed in as a real session would be: with the
  second factor verified for whoever needs one (an authenticator is enrolled for them), and
  `totp_now(user)` the code their app would show.
- Autouse: the gettext catalogs are compiled once per session (the English UI is tested), and
  static files use the plain storage (pages render without collectstatic).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django.utils.translation import trans_real as translation
from django_otp import DEVICE_ID_SESSION_KEY

from agencies import sessions, twofactor
from agencies.actors import Staff
from agencies.models import Agency, AgencyKind, Role
from consent.vocabulary import Purpose
from relay import services
from relay.models import Handoff, ReferralSheet
from tests.factories import AgencyFactory, MembershipFactory

LOCALE = Path(django_settings.BASE_DIR) / "locale"

# --- the workflow network ------------------------------------------------------------------

SHEET_DATA: dict[str, Any] = {
    "subject_initials": "A.T",
    "grade": "j2",
    "school_name": "明石市立テスト中学校",
    "consulted_on": "2026-11-20",
    "consulter": "guardian",
    "consultation": "2学期から登校しぶり。朝起きられない日が続いている。",
    "categories": ["school_refusal"],
    "absence_days_month": 9,
    "absence_reason": "school_refusal",
    "home_situation": "母と二人暮らし",
    "mental_condition": "不眠の訴えあり",
    "wish_person": "少人数の場所なら行けるかもしれない",
}


@dataclass
class Network:
    """Agencies and their staff, each as the Staff the services take."""

    ward: Agency
    npo: Agency
    guidance: Agency
    welfare: Agency
    counselor: Staff
    supervisor: Staff
    viewer: Staff
    npo_intake: Staff
    npo_supervisor: Staff
    guidance_intake: Staff
    welfare_intake: Staff

    def sheet(self, **overrides: Any) -> ReferralSheet:
        return services.sheet_create(staff=self.counselor, data={**SHEET_DATA, **overrides})

    def consent(
        self,
        sheet: ReferralSheet,
        *,
        to: list[Agency] | None = None,
        kinds: list[str] | None = None,
        sections: list[str] | None = None,
        purposes: list[str] | None = None,
        days: int = 180,
        **kwargs: Any,
    ):
        return services.consent_record(
            staff=self.counselor,
            sheet_id=sheet.pk,
            grantors=kwargs.pop("grantors", ["guardian"]),
            method="written",
            recipients=to if to is not None else [self.npo],
            recipient_kinds=kinds or [],
            sections=sections or ["basic", "consultation", "attendance"],
            purposes=purposes or [Purpose.SUPPORT],
            valid_until=timezone.now() + timedelta(days=days),
            **kwargs,
        )

    def send(
        self,
        sheet: ReferralSheet,
        *,
        to: Agency | None = None,
        sections: list[str] | None = None,
        purpose: str = Purpose.SUPPORT,
        staff: Staff | None = None,
    ):
        staff = staff or self.counselor
        return services.handoff_relay(
            staff=staff,
            sheet_id=sheet.pk,
            to_agency=to or self.npo,
            sections=sections or ["basic", "consultation"],
            purpose=purpose,
        )


def _staff(agency: Agency, role: Role, username: str) -> Staff:
    membership = MembershipFactory(
        agency=agency, role=role, user__username=username, user__email=f"{username}@example.invalid"
    )
    return Staff.for_user(membership.user)


@pytest.fixture
def net(db) -> Network:
    """A ward desk (no supervisor sign-off, to keep most tests short) and three receivers."""
    return build_network()


@pytest.fixture
def net_tx(transactional_db) -> Network:
    """The same network, committed, for tests that use several connections or processes."""
    return build_network()


def build_network() -> Network:
    ward = AgencyFactory(slug="ward", kind=AgencyKind.WARD_DESK)
    npo = AgencyFactory(slug="npo", kind=AgencyKind.NPO_FREE_SCHOOL)
    guidance = AgencyFactory(slug="guidance", kind=AgencyKind.CHILD_GUIDANCE)
    welfare = AgencyFactory(slug="welfare", kind=AgencyKind.WELFARE_OFFICE)
    return Network(
        ward=ward,
        npo=npo,
        guidance=guidance,
        welfare=welfare,
        counselor=_staff(ward, Role.COUNSELOR, "counselor"),
        supervisor=_staff(ward, Role.SUPERVISOR, "supervisor"),
        viewer=_staff(ward, Role.VIEWER, "viewer"),
        npo_intake=_staff(npo, Role.INTAKE, "npo-intake"),
        npo_supervisor=_staff(npo, Role.SUPERVISOR, "npo-supervisor"),
        guidance_intake=_staff(guidance, Role.INTAKE, "guidance-intake"),
        welfare_intake=_staff(welfare, Role.INTAKE, "welfare-intake"),
    )


@pytest.fixture
def sent(net: Network) -> Handoff:
    """A hop from the ward desk to the NPO, sent under consent (basic, consultation and
    attendance for the NPO), sharing basic + consultation."""
    sheet = net.sheet()
    net.consent(sheet)
    return net.send(sheet)


# --- signing in --------------------------------------------------------------------------


def sign_in(client: Any, user: Any) -> Any:
    """Sign the test client in as `user` without the forms: a session like the sign-in
    service makes, verified by an authenticator for whoever needs a second factor."""
    user = get_user_model().objects.get(pk=user.pk)  # a saved password hash
    client.force_login(user)
    session = client.session
    now = time.time()
    session[sessions.SIGNED_IN_AT] = now
    session[sessions.LAST_SEEN] = now
    session[sessions.REAUTH_AT] = now
    if twofactor.second_step_needed(user):
        device = twofactor.confirmed_totp(user) or twofactor.totp_enrol_directly(user=user)
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def admin_client(db: None, admin_user: Any) -> Any:
    """pytest-django's superuser client, signed in as the site requires of administrators:
    with a second factor (a plain force_login session is ended on its first request)."""
    return sign_in(Client(), admin_user)


def totp_now(user: Any, *, ahead: int = 0) -> str:
    """The code the user's authenticator shows now (`ahead` steps of 30 s later)."""
    device = twofactor.confirmed_totp(user)
    assert device is not None, "no authenticator enrolled"
    return twofactor.totp_code(device, at=time.time() + ahead * device.step)


# --- rendering pages: catalogs and static files --------------------------------------------


def ensure_compiled_messages() -> None:
    """Compile the gettext catalogs if a .mo is missing or older than its .po (as `make
    messages` does), so running pytest directly tests the English UI too."""
    for po in LOCALE.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            call_command(
                "compilemessages", locale=["en"], ignore_patterns=[".venv", "var"], verbosity=0
            )
            translation._translations = {}  # type: ignore[attr-defined]
            return


@pytest.fixture(scope="session", autouse=True)
def _compiled_messages() -> None:
    ensure_compiled_messages()


def plain_static_storage(settings: Any) -> None:
    """Outside embedded mode static files use the manifest storage, which needs collectstatic;
    tests render pages without collecting (the live server serves static files from the apps)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _plain_static_storage(settings: Any) -> None:
    plain_static_storage(settings)
