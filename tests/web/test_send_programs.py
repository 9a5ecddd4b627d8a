"""The send screen picks a receiver's program, warns when the person falls outside whom it
(or the agency) serves, and sends only with a reason, which the hop page shows; the inbox and
the hop page name the program. The suggestions rank the person's city first, then the
prefecture (a designated city's wards are the city)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from agencies.models import Category, Service
from audit.models import AuditAction, AuditEvent
from relay.models import Handoff, HandoffNote, NoteKind
from relay.views.queries import (
    TIER_ELSEWHERE,
    TIER_MUNICIPALITY,
    TIER_PREFECTURE,
    suggest_recipients,
)
from tests.factories import AgencyFactory

pytestmark = pytest.mark.django_db


def _post(program=None, reason="", recipients=(), **extra):
    data = {
        "recipients": [str(a.pk) for a in recipients],
        "sections": ["basic", "consultation"],
        "purpose": "support",
        "message": "",
        "eligibility_override_reason": reason,
        **extra,
    }
    if program is not None:
        data[f"service_{program.agency_id}"] = str(program.pk)
    return data


@pytest.fixture
def program(net) -> Service:
    return Service.objects.create(
        agency=net.npo,
        slug="heartful-space",
        name="ハートフルスペース",
        grades=["e1", "e2", "e3", "e4", "e5", "e6", "j1", "j2", "j3"],
        municipalities=["横浜市"],
        requires_child_wish=False,
        apply_through_school=True,
    )


def test_the_live_check_offers_the_programs_and_warns(net, login, program) -> None:
    sheet = net.sheet(grade="j2", municipality="足立区")
    net.consent(sheet, to=[net.npo])
    client = login(net.counselor)
    url = reverse("relay:send-check", args=[sheet.pk])
    body = client.post(
        url, _post(recipients=[net.npo]), headers={"HX-Request": "true"}
    ).content.decode()
    assert f'name="service_{net.npo.pk}"' in body and "ハートフルスペース" in body
    assert "eligibility-warnings" not in body  # the agency itself serves any age
    chosen = client.post(
        url, _post(program, recipients=[net.npo]), headers={"HX-Request": "true"}
    ).content.decode()
    assert 'data-testid="eligibility-warnings"' in chosen
    assert "横浜市 に住む人が対象です" in chosen
    assert 'data-testid="apply-through-school"' in chosen


def test_a_warned_send_needs_a_reason_then_goes_with_it(net, login, program) -> None:
    """GIVEN an Adachi pupil and a program for 横浜市 residents WHEN the counselor sends
    without a reason THEN 400 with the reason field's error and nothing created; WITH a reason
    THEN the hop is sent to the program, the reason is its note and the audit names it."""
    sheet = net.sheet(grade="j2", municipality="足立区")
    net.consent(sheet, to=[net.npo])
    client = login(net.counselor)
    url = reverse("relay:send", args=[sheet.pk])
    refused = client.post(url, _post(program, recipients=[net.npo]))
    assert refused.status_code == 400
    assert "それでも送付する場合は理由を記入してください" in refused.content.decode()
    assert not Handoff.objects.exists()

    reason = "来月横浜市へ転居予定のため"
    sent = client.post(url, _post(program, reason=reason, recipients=[net.npo]))
    assert sent.status_code == 302
    hop = Handoff.objects.get()
    assert hop.service == program
    assert hop.eligibility_overridden == [
        {"field": "municipality", "code": "municipality-not-served"}
    ]
    note = HandoffNote.objects.get(handoff=hop, kind=NoteKind.ELIGIBILITY)
    assert note.text == reason
    created = AuditEvent.objects.get(action=AuditAction.HANDOFF_CREATED)
    assert created.detail["eligibility_note_id"] == note.pk

    page = login(net.npo_intake).get(reverse("relay:handoff-detail", args=[hop.pk]))
    text = page.content.decode()
    assert 'data-testid="service"' in text and "ハートフルスペース" in text
    assert 'data-testid="eligibility-overridden"' in text and "居住地" in text
    assert reason in text
    inbox = login(net.npo_intake).get(reverse("relay:inbox")).content.decode()
    assert "メニュー: ハートフルスペース" in inbox


def test_the_33_year_old_is_warned_on_the_send_screen(net, login) -> None:
    net.npo.age_min, net.npo.age_max = 0, 18
    net.npo.save()
    sheet = net.sheet(birth_year=timezone.localdate().year - 33, grade="not_in_school")
    net.consent(sheet, to=[net.npo], grantors=["guardian", "person"])
    response = login(net.counselor).post(
        reverse("relay:send", args=[sheet.pk]), _post(recipients=[net.npo])
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "送付先の機関の対象年齢(0〜18歳)に当てはまりません。" in body
    assert not Handoff.objects.exists()


def test_another_agencys_program_posted_for_a_recipient_is_ignored(net, login) -> None:
    """A program id of another agency posted under the NPO's name never reaches a hop."""
    other = Service.objects.create(agency=net.welfare, slug="w", name="福祉の窓口")
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo])
    data = _post(recipients=[net.npo])
    data[f"service_{net.npo.pk}"] = str(other.pk)
    assert (
        login(net.counselor).post(reverse("relay:send", args=[sheet.pk]), data).status_code == 302
    )
    assert Handoff.objects.get().service is None


def test_the_consent_screen_refuses_a_guardian_only_consent_for_an_adult(net, login) -> None:
    from datetime import timedelta

    from consent.models import ConsentRecord

    sheet = net.sheet(birth_year=timezone.localdate().year - 33, grade="not_in_school")
    data = {
        "basis": "consent",
        "decision": "permit",
        "grantors": ["guardian"],
        "method": "written",
        "child_assent": "not_applicable",
        "obtained_on": timezone.localdate().isoformat(),
        "recipients": [str(net.npo.pk)],
        "sections": ["basic"],
        "purposes": ["support"],
        "valid_until": (timezone.localdate() + timedelta(days=90)).isoformat(),
    }
    response = login(net.counselor).post(reverse("relay:consent-new", args=[sheet.pk]), data)
    assert response.status_code == 400
    assert "保護者だけの同意は記録できません" in response.content.decode()
    assert not ConsentRecord.objects.exists()


# --- suggestions: the person's city first, then the prefecture, then the rest -----------------


def test_suggestions_rank_the_city_then_the_prefecture_then_elsewhere(net) -> None:
    refusal = Category.objects.get(code="school_refusal")
    far = AgencyFactory(name="明石の居場所", prefecture="兵庫県", municipality="明石市")
    kanagawa = AgencyFactory(name="川崎の居場所", prefecture="神奈川県", municipality="川崎市")
    city = AgencyFactory(
        name="横浜市の教育支援センター", prefecture="神奈川県", municipality="横浜市"
    )
    ward = AgencyFactory(name="港北区の居場所", prefecture="神奈川県", municipality="横浜市港北区")
    for agency in (far, kanagawa, city, ward):
        agency.categories.add(refusal)
    content = {
        "basic": {"municipality": "横浜市青葉区"},
        "consultation": {"categories": ["school_refusal"]},
    }
    ranked = suggest_recipients(
        agencies=type(far).objects.filter(pk__in=[far.pk, kanagawa.pk, city.pk, ward.pk]),
        content=content,
        sender=net.ward,
    )
    tiers = {s.agency.name: s.tier for s in ranked}
    assert tiers == {
        "横浜市の教育支援センター": TIER_MUNICIPALITY,
        "港北区の居場所": TIER_MUNICIPALITY,
        "川崎の居場所": TIER_PREFECTURE,
        "明石の居場所": TIER_ELSEWHERE,
    }
    assert [s.agency.name for s in ranked][2:] == ["川崎の居場所", "明石の居場所"]
