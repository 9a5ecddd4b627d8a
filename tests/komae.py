"""The Komae routing desk for tests: its agency, RoutingDesk, staff, and helpers to record a
routing consent and send a hop to the desk (a pytest plugin: tests/conftest.py loads it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from agencies.actors import Staff
from agencies.models import Agency, AgencyKind, Role, RoutingDesk
from consent.vocabulary import Purpose
from relay import services
from relay.models import Handoff
from tests.factories import AgencyFactory
from tests.fixtures import Network, _staff

ROUTING_SECTIONS = ["basic", "consultation"]


@dataclass
class Komae:
    """The Komae desk with its staff, and an agency of a kind nobody consented to."""

    desk: Agency
    routing: RoutingDesk
    counselor: Staff
    intake: Staff
    colleague: Staff
    hikikomori: Agency


@pytest.fixture
def komae(net: Network) -> Komae:
    """Komae's desk (routes to NPOs and hikikomori support; not to child guidance)."""
    desk = AgencyFactory(slug="komae-desk", kind=AgencyKind.WARD_DESK, municipality="狛江市")
    routing = RoutingDesk.objects.create(
        agency=desk,
        prefecture="東京都",
        municipality="狛江市",
        routable_kinds=[
            AgencyKind.NPO_FREE_SCHOOL,
            AgencyKind.HIKIKOMORI_SUPPORT,
            AgencyKind.CHILD_GUIDANCE,
        ],
    )
    return Komae(
        desk=desk,
        routing=routing,
        counselor=_staff(desk, Role.COUNSELOR, "komae-counselor"),
        intake=_staff(desk, Role.INTAKE, "komae-intake"),
        colleague=_staff(desk, Role.COUNSELOR, "komae-colleague"),
        hikikomori=AgencyFactory(slug="hiki", kind=AgencyKind.HIKIKOMORI_SUPPORT),
    )


def _routing_consent(net: Network, sheet, komae: Komae, *, staff: Staff | None = None, kinds=None):
    return services.consent_record(
        staff=staff or net.counselor,
        sheet_id=sheet.pk,
        grantors=["guardian"],
        method="written",
        routing_desk=komae.desk,
        routing_kinds=kinds or [AgencyKind.NPO_FREE_SCHOOL, AgencyKind.HIKIKOMORI_SUPPORT],
        sections=ROUTING_SECTIONS,
        purposes=[Purpose.SUPPORT],
        valid_until=timezone.now() + timedelta(days=180),
    )


def _to_desk(net: Network, komae: Komae) -> Handoff:
    """The ward, not knowing where to send, sends to the desk under the routing consent."""
    sheet = net.sheet()
    _routing_consent(net, sheet, komae)
    return net.send(sheet, to=komae.desk, sections=ROUTING_SECTIONS)
