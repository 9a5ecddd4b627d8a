"""`manage.py load_demo` loads the real agencies of the seeds and demo staff, idempotently."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from agencies.models import Agency, Membership, Role, Service

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _demo_allowed(settings) -> None:
    """The PostgreSQL run is not embedded mode; these tests are about what demo mode loads."""
    settings.TSUNAGU = {**settings.TSUNAGU, "DEMO_ALLOWED": True}


def _counts() -> tuple[int, int, int, int]:
    return (
        Agency.objects.count(),
        Service.objects.count(),
        get_user_model().objects.count(),
        Membership.objects.count(),
    )


def test_load_demo_twice_gives_the_same_network(capsys) -> None:
    call_command("load_demo")
    first = _counts()
    call_command("load_demo")
    assert _counts() == first
    agencies, services, _users, _memberships = first
    assert agencies >= 25 and services >= agencies
    out = capsys.readouterr().out
    assert "adachi-counselor" in out and "tsunagu-demo" in out


def test_demo_agencies_carry_real_directory_data() -> None:
    call_command("load_demo")
    kodomo = Agency.objects.get(slug="akashi-kodomo-center")
    assert "こどもセンター" in kodomo.name
    assert kodomo.municipality == "明石市" and kodomo.phone
    assert kodomo.intake_email.endswith(".invalid")  # never mails a real agency
    names = set(Agency.objects.values_list("name", flat=True))
    for expected in ("すみ家", "エールしながわ", "セーフティネットあだち", "トロッコ", "もくせい"):
        assert any(expected in name for name in names), expected
    assert Agency.objects.filter(slug__startswith="akashi-mokusei").count() == 3


def test_every_role_has_a_demo_user() -> None:
    call_command("load_demo")
    assert set(Membership.objects.values_list("role", flat=True)) == set(Role.values)


@override_settings(TSUNAGU={"DEMO_ALLOWED": False})
def test_load_demo_refuses_outside_demo_mode() -> None:
    with pytest.raises(CommandError, match="embedded mode"):
        call_command("load_demo")
    assert not get_user_model().objects.exists()


def test_demo_network_has_handoffs_in_every_state_and_an_escalation() -> None:
    from audit.services import audit_verify
    from relay.models import Handoff
    from relay.states import Status

    call_command("load_demo")
    assert set(Handoff.objects.values_list("status", flat=True)) == set(Status.values)
    assert Handoff.objects.filter(escalation_level__gte=1, status=Status.SENT).exists()
    assert Handoff.objects.exclude(parent=None).exists()  # relayed onward
    assert audit_verify()[1] is None


def test_demo_has_the_komae_routing_desk_with_intake_records() -> None:
    """The Komae desk routes for 狛江市; its inbox has requests from the public form, and one
    person it routed under consent naming the desk (no named recipient)."""
    from agencies.models import RoutingDesk
    from relay.models import Handoff, IntakeRecord, IntakeStatus

    call_command("load_demo")
    call_command("load_demo")  # idempotent: the same records, not twice as many
    desk = RoutingDesk.objects.get(agency__slug="komae-fukushi-tsunagari-sheet")
    assert desk.municipality == "狛江市" and desk.public_intake
    assert IntakeRecord.objects.filter(desk=desk.agency).count() == 3
    made = IntakeRecord.objects.get(desk=desk.agency, status=IntakeStatus.SHEET_CREATED)
    routed = Handoff.objects.get(sheet=made.sheet)
    assert routed.to_agency.slug == "komae-youth-consultation"
    assert routed.consent.routing_desk_id == desk.agency_id
    assert not routed.consent.recipient_agencies.exists()
    # And a hop waiting in the desk's triage, from a CSW who did not know where to send.
    waiting = Handoff.objects.get(to_agency=desk.agency)
    assert waiting.from_agency.slug == "komae-flat-nanbu" and waiting.status == "sent"
