"""A small network for workflow tests: a ward desk that refers, and three receivers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from agencies.actors import Staff
from agencies.models import Agency, AgencyKind, Role
from consent.vocabulary import Purpose
from relay import services
from relay.models import ReferralSheet
from tests.factories import AgencyFactory, MembershipFactory

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
            grantors=["guardian"],
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
        hop = services.handoff_create(
            staff=staff,
            sheet_id=sheet.pk,
            to_agency=to or self.npo,
            sections=sections or ["basic", "consultation"],
            purpose=purpose,
        )
        return services.handoff_submit(staff=staff, handoff_id=hop.pk)


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
