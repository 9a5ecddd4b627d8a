"""Fixtures for councils and case meetings: a ward desk holding the sheet, convening a
case meeting with the NPO and child guidance under the guardian's consent (or under the
ward's 要保護児童対策地域協議会); the welfare office is outside both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.utils import timezone

from agencies.models import Agency
from conferences import services as conferences
from conferences.models import CaseMeeting
from consent.models import ConsentRecord, Council, CouncilKind
from consent.vocabulary import Basis, Purpose
from relay import services
from relay.models import ReferralSheet
from tests.fixtures import Network
from tests.web.conftest import login  # noqa: F401  (the signed-in client fixture)


@dataclass
class Case:
    net: Network
    sheet: ReferralSheet
    consent: ConsentRecord
    meeting: CaseMeeting


@pytest.fixture
def same_ward(net: Network) -> Network:
    """Every agency of the network in one municipality (足立区)."""
    Agency.objects.filter(pk__in=[net.ward.pk, net.npo.pk, net.guidance.pk, net.welfare.pk]).update(
        municipality="足立区"
    )
    for agency in (net.ward, net.npo, net.guidance, net.welfare):
        agency.refresh_from_db()
    return net


@pytest.fixture
def case(same_ward: Network) -> Case:
    """A meeting about a sheet under the guardian's consent to the NPO and child guidance
    for a case conference."""
    net = same_ward
    sheet = net.sheet()
    consent = net.consent(
        sheet,
        to=[net.npo, net.guidance],
        sections=["basic", "consultation"],
        purposes=[Purpose.CASE_CONFERENCE, Purpose.SUPPORT],
    )
    meeting = conferences.meeting_create(
        staff=net.counselor,
        basis_id=consent.pk,
        held_on=date(2026, 11, 20),
        place="区役所 会議室",
        participants={net.npo: "相談員", net.guidance: "児童福祉司"},
    )
    return Case(net=net, sheet=sheet, consent=consent, meeting=meeting)


@pytest.fixture
def council(same_ward: Network) -> Council:
    """The ward's 要保護児童対策地域協議会: the ward desk coordinates, child guidance and the
    NPO are members; the welfare office is not."""
    net = same_ward
    return conferences.council_create(
        staff=net.supervisor,
        kind=CouncilKind.YOTAIKYO,
        name="足立区要保護児童対策地域協議会",
        members=[net.guidance, net.npo],
        valid_from=timezone.now() - timedelta(days=1),
    )


def council_basis(net: Network, sheet: ReferralSheet, council: Council, **kw) -> ConsentRecord:
    """A 要対協 basis naming the council, approved by a second supervisor."""
    basis = services.lawful_basis_record(
        staff=net.counselor,
        sheet_id=sheet.pk,
        basis=Basis.YOTAIKYO,
        reason="要対協の個別ケース検討会議",
        recipients=kw.pop("recipients", [net.guidance, net.npo]),
        sections=["basic", "consultation"],
        purposes=[Purpose.CASE_CONFERENCE],
        valid_until=timezone.now() + timedelta(days=90),
        council=council,
        **kw,
    )
    return services.lawful_basis_decide(staff=net.supervisor, record_id=basis.pk, approve=True)
