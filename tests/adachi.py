"""The Adachi story's network (seeds/004: 足立区「つなぐシート」, recorded where the person
consults, consent obtained, relayed hop by hop), for the service, HTTP and browser tests.

The ward desk (福祉まるごと相談課) records the consultation and the guardian's consent to the
education support center; the center meets the family, who consent there to a free school;
the center relays onward under its own consent. `outsider` holds nothing of the sheet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from agencies.actors import Staff
from agencies.models import Agency, AgencyKind, Role
from consent.models import ConsentRecord
from consent.vocabulary import Purpose
from relay import services
from relay.models import Handoff, ReferralSheet
from tests.factories import AgencyFactory, MembershipFactory

STORY_SHEET: dict[str, Any] = {
    "subject_initials": "S.K",
    "grade": "j1",
    "school_name": "足立区立テスト中学校",
    "consulted_on": "2026-11-20",
    "consulter": "guardian",
    "consultation": "中学1年の秋から登校できていない。昼夜逆転ぎみ。",
    "categories": ["school_refusal"],
    "absence_days_month": 14,
    "absence_reason": "school_refusal",
    "home_situation": "父母と弟の4人家族",
    "mental_condition": "腹痛の訴えが続く",
    "wish_person": "勉強は家でならできる",
}


def _staff(agency: Agency, role: Role, username: str) -> Staff:
    membership = MembershipFactory(
        agency=agency, role=role, user__username=username, user__email=f"{username}@example.invalid"
    )
    return Staff.for_user(membership.user)


@dataclass
class Adachi:
    """The three agencies of the story, one that holds nothing, and their staff."""

    ward: Agency
    center: Agency
    free_school: Agency
    outsider: Agency
    ward_counselor: Staff
    ward_supervisor: Staff
    center_intake: Staff
    center_counselor: Staff
    center_supervisor: Staff
    center_viewer: Staff
    school_intake: Staff
    outsider_counselor: Staff

    def sheet(self) -> ReferralSheet:
        return services.sheet_create(staff=self.ward_counselor, data=dict(STORY_SHEET))

    def ward_consent(self, sheet: ReferralSheet, **overrides: Any) -> ConsentRecord:
        """The guardian's written consent at the ward desk: to the center only."""
        scope: dict[str, Any] = {
            "recipients": [self.center],
            "sections": ["basic", "consultation", "attendance"],
            "purposes": [Purpose.SUPPORT],
            **overrides,
        }
        return services.consent_record(
            staff=self.ward_counselor,
            sheet_id=sheet.pk,
            grantors=["guardian"],
            method="written",
            valid_until=timezone.now() + timedelta(days=180),
            **scope,
        )

    def first_hop(self, sheet: ReferralSheet) -> Handoff:
        """Ward desk → center, accepted by the center's intake."""
        hop = services.handoff_relay(
            staff=self.ward_counselor,
            sheet_id=sheet.pk,
            to_agency=self.center,
            sections=["basic", "consultation", "attendance"],
            purpose=Purpose.SUPPORT,
        )
        return services.handoff_accept(staff=self.center_intake, handoff_id=hop.pk)

    def center_consent(self, sheet: ReferralSheet, staff: Staff | None = None, **overrides: Any):
        """The family consents at the center to the free school (basic and attendance)."""
        scope: dict[str, Any] = {
            "recipients": [self.free_school],
            "sections": ["basic", "attendance"],
            "purposes": [Purpose.SUPPORT],
            **overrides,
        }
        return services.consent_record(
            staff=staff or self.center_counselor,
            sheet_id=sheet.pk,
            grantors=["person", "guardian"],
            method="written",
            child_assent="assented",
            valid_until=timezone.now() + timedelta(days=120),
            **scope,
        )

    def onward_hop(self, sheet: ReferralSheet, staff: Staff | None = None) -> Handoff:
        """Center → free school, in one transaction (the policy picks the covering record)."""
        return services.handoff_relay(
            staff=staff or self.center_counselor,
            sheet_id=sheet.pk,
            to_agency=self.free_school,
            sections=["basic", "attendance"],
            purpose=Purpose.SUPPORT,
        )


def build_adachi() -> Adachi:
    ward = AgencyFactory(
        slug="adachi-ward", name="足立区福祉まるごと相談課", kind=AgencyKind.WARD_DESK
    )
    center = AgencyFactory(
        slug="adachi-center", name="足立区教育支援センター", kind=AgencyKind.EDUCATION_SUPPORT
    )
    free_school = AgencyFactory(
        slug="adachi-free-school", name="フリースクールあだち", kind=AgencyKind.NPO_FREE_SCHOOL
    )
    outsider = AgencyFactory(
        slug="adachi-outsider", name="足立区保健センター", kind=AgencyKind.HEALTH_CENTER
    )
    return Adachi(
        ward=ward,
        center=center,
        free_school=free_school,
        outsider=outsider,
        ward_counselor=_staff(ward, Role.COUNSELOR, "ward-counselor"),
        ward_supervisor=_staff(ward, Role.SUPERVISOR, "ward-supervisor"),
        center_intake=_staff(center, Role.INTAKE, "center-intake"),
        center_counselor=_staff(center, Role.COUNSELOR, "center-counselor"),
        center_supervisor=_staff(center, Role.SUPERVISOR, "center-supervisor"),
        center_viewer=_staff(center, Role.VIEWER, "center-viewer"),
        school_intake=_staff(free_school, Role.INTAKE, "school-intake"),
        outsider_counselor=_staff(outsider, Role.COUNSELOR, "outsider-counselor"),
    )
