"""The Komae story at the service level: a routing desk routes under consent naming it.

Komae's 福祉のつながりシート: when the sender does not know where to send, the desk receives the
sheet and chooses the agency. The person's consent names "the desk, and the agency it chooses
among kinds K"; the policy lets the desk's onward send go without new consent, to kinds in K
only, and the routed agency reads only the sections consented for routing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from agencies.errors import (
    ConsentDoesNotCover,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NotFound,
)
from agencies.models import AgencyKind
from audit.models import AuditAction, AuditEvent
from consent.vocabulary import Purpose
from notifications.models import OutboxMessage
from relay import access, services
from relay.models import Handoff, IntakeRecord, IntakeStatus
from relay.selectors import hop_chains_for
from relay.services import desks
from relay.states import DeclineReason, Status
from tests.fixtures import SHEET_DATA, Network
from tests.komae import ROUTING_SECTIONS, Komae, _routing_consent, _to_desk


def test_desk_routes_to_an_allowed_kind_without_new_consent(net: Network, komae: Komae) -> None:
    """GIVEN consent naming the Komae desk and kinds {NPO, hikikomori support}, and a hop to
    the desk; WHEN the desk routes it to the NPO; THEN it is sent under that same record, the
    NPO reads only the routing sections, and the first sender sees where it went."""
    first = _to_desk(net, komae)
    assert access.readable_sections(agency=komae.desk, sheet_id=first.sheet_id) == set(
        ROUTING_SECTIONS
    )

    routed = desks.handoff_route(staff=komae.counselor, handoff_id=first.pk, to_agency=net.npo)

    assert routed.status == Status.SENT
    assert routed.parent_id == first.pk
    assert routed.consent_id == first.consent_id
    assert access.readable_sections(agency=net.npo, sheet_id=first.sheet_id) == set(
        ROUTING_SECTIONS
    )
    chain = hop_chains_for(agency=net.ward, sheets=[first.sheet])[first.sheet_id]
    assert [(h.to_agency_id, h.depth) for h in chain] == [(komae.desk.pk, 0), (net.npo.pk, 1)]
    first.refresh_from_db()
    assert first.status == Status.ACKNOWLEDGED


def test_routing_to_a_kind_not_consented_is_refused(net: Network, komae: Komae) -> None:
    """GIVEN the same consent; WHEN the desk routes to child guidance (a kind the desk may
    route to, but not one the person agreed to); THEN refused with kind-not-routable, no hop,
    and the refusal audited."""
    first = _to_desk(net, komae)
    hops_before = Handoff.objects.count()

    with pytest.raises(ConsentDoesNotCover) as refused:
        desks.handoff_route(staff=komae.counselor, handoff_id=first.pk, to_agency=net.guidance)

    assert refused.value.context["reason"] == "kind-not-routable"
    assert "種別" in str(refused.value)
    assert Handoff.objects.count() == hops_before
    assert not access.readable_sections(agency=net.guidance, sheet_id=first.sheet_id)
    event = AuditEvent.objects.filter(action=AuditAction.HANDOFF_SEND_REFUSED).latest("id")
    assert event.detail["reason"] == "kind-not-routable"


def test_desk_cannot_route_more_than_the_routing_sections(net: Network, komae: Komae) -> None:
    """The desk passes on only what it holds: a section outside the routing consent is not
    readable by it, so the route is refused as bad input, nothing sent."""
    first = _to_desk(net, komae)
    with pytest.raises(InvalidInput) as bad:
        desks.handoff_route(
            staff=komae.counselor,
            handoff_id=first.pk,
            to_agency=net.npo,
            sections=[*ROUTING_SECTIONS, "attendance"],
        )
    assert bad.value.field == "sections"
    assert not Handoff.objects.filter(to_agency=net.npo).exists()


def test_only_the_named_desk_chooses(net: Network, komae: Komae) -> None:
    """The consent names the desk's choice, not anyone's: the ward sending straight to an NPO
    under it is refused, and an NPO that received the sheet from the desk cannot itself route
    on to hikikomori support under it."""
    first = _to_desk(net, komae)
    sheet = first.sheet
    with pytest.raises(ConsentDoesNotCover):
        net.send(sheet, to=net.npo, sections=ROUTING_SECTIONS)

    routed = desks.handoff_route(staff=komae.counselor, handoff_id=first.pk, to_agency=net.npo)
    services.handoff_acknowledge(staff=net.npo_supervisor, handoff_id=routed.pk)
    with pytest.raises(ConsentDoesNotCover):
        services.handoff_relay(
            staff=net.npo_supervisor,
            sheet_id=sheet.pk,
            to_agency=komae.hikikomori,
            sections=ROUTING_SECTIONS,
            purpose=Purpose.SUPPORT,
        )


def test_withdrawal_stops_routing(net: Network, komae: Komae) -> None:
    """A withdrawn routing consent stops the hop to the desk, which can route nothing more."""
    first = _to_desk(net, komae)
    services.consent_withdraw(staff=net.counselor, record_id=first.consent_id, via="保護者から電話")
    first.refresh_from_db()
    assert first.status == Status.WITHDRAWN
    with pytest.raises(IllegalTransition):
        desks.handoff_route(staff=komae.counselor, handoff_id=first.pk, to_agency=net.npo)
    assert not Handoff.objects.filter(to_agency=net.npo).exists()


def test_routing_consent_is_validated(net: Network, komae: Komae) -> None:
    """A routing scope names a real desk and kinds it routes to; nothing is recorded else."""
    sheet = net.sheet()
    with pytest.raises(InvalidInput) as not_desk:
        services.consent_record(
            staff=net.counselor,
            sheet_id=sheet.pk,
            grantors=["guardian"],
            method="written",
            routing_desk=net.npo,
            routing_kinds=[AgencyKind.NPO_FREE_SCHOOL],
            sections=ROUTING_SECTIONS,
            purposes=[Purpose.SUPPORT],
            valid_until=timezone.now() + timedelta(days=30),
        )
    assert not_desk.value.field == "routing_desk"
    with pytest.raises(InvalidInput) as bad_kind:
        _routing_consent(net, sheet, komae, kinds=[AgencyKind.SCHOOL])
    assert bad_kind.value.field == "routing_kinds"
    assert not sheet.consents.exists()


def test_return_to_sender(net: Network, komae: Komae) -> None:
    """The desk gives a hop back: declined with its own reason, the sender told, the desk
    loses the content."""
    first = _to_desk(net, komae)
    with pytest.raises(InvalidInput):
        desks.handoff_return(staff=komae.counselor, handoff_id=first.pk, note="  ")
    returned = desks.handoff_return(
        staff=komae.counselor, handoff_id=first.pk, note="学校での対応を先に確認してください"
    )
    assert returned.status == Status.DECLINED
    assert returned.decline_reason == DeclineReason.RETURNED_BY_DESK
    assert not access.readable_sections(agency=komae.desk, sheet_id=first.sheet_id)
    told = OutboxMessage.objects.filter(agency=net.ward, event_type="handoff.declined").get()
    assert "学校" not in str(told.payload)  # the note stays out of the notification


def test_assign_to_a_colleague_is_audited(net: Network, komae: Komae) -> None:
    first = _to_desk(net, komae)
    desks.handoff_assign(
        staff=komae.intake, handoff_id=first.pk, assignee_id=komae.colleague.user_id
    )
    event = AuditEvent.objects.filter(action=AuditAction.HANDOFF_ASSIGNED).latest("id")
    assert event.detail["assignee_id"] == komae.colleague.user_id
    # Not someone of another agency, and not by another agency.
    with pytest.raises(InvalidInput):
        desks.handoff_assign(
            staff=komae.intake, handoff_id=first.pk, assignee_id=net.npo_intake.user_id
        )
    with pytest.raises((NotFound, NotAllowed)):
        desks.handoff_assign(
            staff=net.npo_intake, handoff_id=first.pk, assignee_id=net.npo_intake.user_id
        )


def test_public_intake_to_sheet_to_routed_agency(net: Network, komae: Komae) -> None:
    """GIVEN a family's request through the public form; WHEN a desk worker turns it into a
    sheet, records consent naming the desk and kinds, and routes; THEN the NPO receives only
    the routing sections, and the intake links the sheet. The audit names ids only."""
    intake = desks.intake_submit(
        desk=komae.routing,
        asker="family",
        contact_method="phone",
        contact_detail="03-0000-0000",
        situation="息子が半年ほど家から出られていません。",
        consent_to_contact=True,
    )
    received = AuditEvent.objects.filter(action=AuditAction.INTAKE_RECEIVED).latest("id")
    assert "03-0000" not in str(received.detail) and "息子" not in str(received.detail)

    desks.intake_assign(
        staff=komae.intake, intake_id=intake.pk, assignee_id=komae.counselor.user_id
    )
    data = {**SHEET_DATA, **desks.intake_sheet_initial(intake, komae.routing)}
    sheet = desks.sheet_create_from_intake(staff=komae.counselor, intake_id=intake.pk, data=data)
    intake.refresh_from_db()
    assert intake.sheet_id == sheet.pk and intake.status == IntakeStatus.SHEET_CREATED
    assert sheet.municipality == "狛江市"

    _routing_consent(net, sheet, komae, staff=komae.counselor)
    routed = services.handoff_relay(
        staff=komae.counselor,
        sheet_id=sheet.pk,
        to_agency=net.npo,
        sections=ROUTING_SECTIONS,
        purpose=Purpose.SUPPORT,
    )
    assert routed.status == Status.SENT
    assert access.readable_sections(agency=net.npo, sheet_id=sheet.pk) == set(ROUTING_SECTIONS)
    with pytest.raises(ConsentDoesNotCover) as refused:
        services.handoff_relay(
            staff=komae.counselor,
            sheet_id=sheet.pk,
            to_agency=net.guidance,
            sections=ROUTING_SECTIONS,
            purpose=Purpose.SUPPORT,
        )
    assert refused.value.context["reason"] == "kind-not-routable"


def test_intake_records_are_the_desks_own(net: Network, komae: Komae) -> None:
    intake = desks.intake_submit(
        desk=komae.routing,
        asker="person",
        contact_method="email",
        contact_detail="someone@example.invalid",
        situation="相談したいです",
        consent_to_contact=True,
    )
    assert desks.intake_view(staff=komae.intake, intake_id=intake.pk).pk == intake.pk
    with pytest.raises(NotFound):
        desks.intake_view(staff=net.counselor, intake_id=intake.pk)
    table = IntakeRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT situation, contact_detail FROM {table} WHERE id = %s", [intake.pk])  # noqa: S608
        stored_situation, stored_contact = cursor.fetchone()
    assert stored_situation.startswith("enc1:") and "相談" not in stored_situation
    assert stored_contact.startswith("enc1:") and "someone@" not in stored_contact


def test_suggestions_rank_the_persons_municipality_then_the_prefecture(
    net: Network, komae: Komae
) -> None:
    """Of the kinds the person agreed to: the person's municipality first, then their
    prefecture, then elsewhere; an agency whose ages exclude the person, or whose needs do
    not meet theirs, or that already has the sheet, is not suggested."""
    from agencies.models import Category
    from relay.suggestions import Person, suggestions_for
    from tests.factories import AgencyFactory

    hikikomori, _ = Category.objects.get_or_create(
        code="hikikomori", defaults={"label_ja": "ひきこもり", "label_en": "Hikikomori"}
    )
    poverty, _ = Category.objects.get_or_create(
        code="poverty", defaults={"label_ja": "生活困窮", "label_en": "Poverty"}
    )

    def agency(slug: str, municipality: str, prefecture: str, **fields):
        made = AgencyFactory(
            slug=slug,
            kind=AgencyKind.HIKIKOMORI_SUPPORT,
            municipality=municipality,
            prefecture=prefecture,
            **fields,
        )
        made.categories.add(hikikomori)
        return made

    elsewhere = agency("osaka", "大阪市", "大阪府")
    tokyo = agency("setagaya", "世田谷区", "東京都")
    local = agency("komae-youth", "狛江市", "東京都", age_min=15, age_max=39)
    agency("too-old", "狛江市", "東京都", age_min=40, age_max=64)
    other_need = AgencyFactory(
        slug="komae-money", kind=AgencyKind.HIKIKOMORI_SUPPORT, municipality="狛江市"
    )
    other_need.categories.add(poverty)
    person = Person(
        municipality="狛江市", prefecture="東京都", age=24, categories=frozenset({"hikikomori"})
    )

    ranked = suggestions_for(
        desk=komae.routing,
        person=person,
        kinds=[AgencyKind.HIKIKOMORI_SUPPORT],
        exclude=[komae.hikikomori.pk],
    )

    assert [s.agency.slug for s in ranked] == [local.slug, tokyo.slug, elsewhere.slug]
    assert [s.place for s in ranked] == ["municipality", "prefecture", "elsewhere"]


def test_the_desk_places_the_person_where_the_sheet_says_not_where_the_desk_is(
    net: Network, komae: Komae
) -> None:
    """GIVEN a hop to the Komae desk (東京都) whose sheet says the person lives in
    大阪府大阪市北区 WHEN the desk asks for suggestions THEN an agency of 大阪市 is in the
    person's city, one elsewhere in 大阪府 in their prefecture, and a Tokyo one elsewhere (the
    desk's prefecture is not the person's)."""
    from relay.suggestions import person_from_hop, suggestions_for
    from tests.factories import AgencyFactory

    sheet = net.sheet(municipality="大阪府大阪市北区")
    _routing_consent(net, sheet, komae)
    hop = net.send(sheet, to=komae.desk, sections=ROUTING_SECTIONS)

    def hiki(slug: str, municipality: str, prefecture: str):
        return AgencyFactory(
            slug=slug,
            kind=AgencyKind.HIKIKOMORI_SUPPORT,
            municipality=municipality,
            prefecture=prefecture,
        )

    city, prefecture, tokyo = (
        hiki("a-osaka-city", "大阪市中央区", "大阪府"),
        hiki("b-sakai", "堺市", "大阪府"),
        hiki("c-komae", "狛江市", "東京都"),
    )
    person = person_from_hop(hop, komae.routing)
    assert (person.prefecture, person.municipality) == ("大阪府", "大阪市北区")

    ranked = suggestions_for(
        desk=komae.routing,
        person=person,
        kinds=[AgencyKind.HIKIKOMORI_SUPPORT],
        exclude=[komae.hikikomori.pk],
    )

    assert [(s.agency.slug, s.place) for s in ranked] == [
        (city.slug, "municipality"),
        (prefecture.slug, "prefecture"),
        (tokyo.slug, "elsewhere"),
    ]


def test_suggestions_list_only_the_programs_the_person_is_eligible_for(
    net: Network, komae: Komae
) -> None:
    """GIVEN a 33-year-old in 狛江市 (a birth year, as the desk's provision gives it), one
    agency with a youth program (15–39, 狛江市 residents) and a school-age learning program,
    and one whose only program serves 6–15 year olds WHEN the desk asks for suggestions THEN
    only the youth program is listed, an inactive or out-of-area program is not, and the agency
    with a program for the person ranks first even though both are in the person's city."""
    from agencies.models import Service
    from relay.suggestions import Person, suggestions_for
    from tests.factories import AgencyFactory

    def hiki(slug: str):
        return AgencyFactory(
            slug=slug,
            kind=AgencyKind.HIKIKOMORI_SUPPORT,
            municipality="狛江市",
            prefecture="東京都",
        )

    school_age = hiki("a-learning-only")  # sorts first by name: the rank must come from fit
    Service.objects.create(agency=school_age, slug="study", name="学習支援", age_min=6, age_max=15)
    youth = hiki("b-youth")
    Service.objects.create(
        agency=youth, slug="ibasho", name="若者の居場所", age_min=15, age_max=39,
        municipalities=["狛江市"],
    )  # fmt: skip
    Service.objects.create(agency=youth, slug="kids", name="子ども食堂", age_max=12)
    Service.objects.create(agency=youth, slug="closed", name="休止中の講座", active=False)
    Service.objects.create(
        agency=youth, slug="chofu-only", name="調布市民の講座", municipalities=["調布市"]
    )
    born = timezone.localdate().year - 33
    person = Person(municipality="狛江市", prefecture="東京都", birth_year=born)

    ranked = suggestions_for(
        desk=komae.routing,
        person=person,
        kinds=[AgencyKind.HIKIKOMORI_SUPPORT],
        exclude=[komae.hikikomori.pk],
    )

    assert [s.agency.slug for s in ranked] == [youth.slug, school_age.slug]
    assert ranked[0].services == ["若者の居場所"]
    assert ranked[1].services == []


def test_the_desk_send_screen_defaults_come_from_a_record_naming_it_whoever_recorded_it(
    net: Network, komae: Komae
) -> None:
    """GIVEN a routing consent recorded by an agency other than the sheet's owner (a holder,
    where the person was met) WHEN the desk's send screen asks which sections its consents
    cover THEN the routing sections, as the policy lets the desk route under that record; the
    NPO, not named as the desk, gets none of them."""
    from relay.views.queries import consented_sections

    sheet = net.sheet()
    record = _routing_consent(net, sheet, komae)
    type(record).objects.filter(pk=record.pk).update(agency=net.welfare)

    assert consented_sections(sheet_id=sheet.pk, sender=komae.desk) == sorted(ROUTING_SECTIONS)
    assert consented_sections(sheet_id=sheet.pk, sender=net.npo) == []
