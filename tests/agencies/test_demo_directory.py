"""The demo directory is checked against the seeds: every phone number carries the area code
of its municipality (a Yokohama number is 045-..., never a bare 671-4637), the 社協 CSW's
direct line is listed on its own organisation only, programs carry their eligibility, the
seeds' schools are in it, and the demo network relays only inside a plausible area (an Adachi
child to Adachi or Tokyo agencies, never to Yokohama or Akashi)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from agencies.models import Agency, AgencyKind, Service
from relay.demo import FIXTURE

# Area codes by municipality, from the national numbering plan (総務省 市外局番の一覧).
AREA_CODES: dict[str, tuple[str, ...]] = {
    "横浜市": ("045",),
    "明石市": ("078",),
    "神戸市": ("078",),
    "姫路市": ("079",),
    "朝来市": ("079",),
    "宍粟市": ("0790",),
    "八王子市": ("042",),
    "武蔵野市": ("0422",),
    "調布市": ("042", "03"),
    "町田市": ("042",),
    "日野市": ("042",),
    "国立市": ("042",),
    "狛江市": ("03",),
    "西東京市": ("042",),
    "大島町": ("04992",),
}
# Codes that belong to no place: toll-free, mobile, IP phones, navigation dial.
NOT_GEOGRAPHIC = ("0120", "0800", "0570", "050", "070", "080", "090")
PHONE = re.compile(r"^0\d{1,4}-\d{1,4}-\d{3,4}$")
CSW_LINE = "03-3488-0313"  # 狛江市社協 コミュニティソーシャルワーカー直通 (seed 004)


def _allowed_codes(agency: dict) -> tuple[str, ...]:
    place = agency["municipality"]
    if agency["prefecture"] == "東京都" and place.endswith("区"):
        return ("03",)  # the 23 special wards
    if place == agency["prefecture"]:  # a prefecture-wide agency: where its office is
        return {"東京都": ("03", "042"), "兵庫県": ("078", "079")}.get(place, ())
    return AREA_CODES[place]


def _fixture() -> list[dict]:
    return json.loads(Path(FIXTURE).read_text(encoding="utf-8"))


def test_every_demo_phone_number_has_the_area_code_of_its_municipality() -> None:
    checked = 0
    for agency in _fixture():
        phone = agency["phone"]
        if not phone:
            continue
        assert PHONE.match(phone), (agency["slug"], phone)
        code = phone.split("-")[0]
        if code in NOT_GEOGRAPHIC:
            continue
        assert code in _allowed_codes(agency), (agency["slug"], phone, agency["municipality"])
        checked += 1
    assert checked >= 20


def test_the_csw_direct_line_is_only_on_the_social_welfare_council() -> None:
    holders = [a["slug"] for a in _fixture() if a["phone"] == CSW_LINE]
    assert holders == ["komae-shakyo"]
    family_group = next(a for a in _fixture() if a["slug"] == "komae-kame-no-yorimichi")
    assert "CSW" not in family_group["description"]


@pytest.mark.django_db
def test_load_demo_brings_programs_with_eligibility_and_schools(settings) -> None:
    settings.TSUNAGU = {**settings.TSUNAGU, "DEMO_ALLOWED": True}
    call_command("load_demo")
    space = Service.objects.get(
        agency__slug="yokohama-education-support-center", slug="heartful-space"
    )
    assert space.municipalities == ["横浜市"] and space.requires_child_wish
    assert space.grades[0] == "e1" and space.grades[-1] == "j3" and space.apply_through_school
    mokusei = Service.objects.get(agency__slug="akashi-mokusei-east", slug="daily-program")
    assert mokusei.apply_through_school and mokusei.municipalities == ["明石市"]
    youth = Service.objects.get(agency__slug="yokohama-youth-consultation-center")
    assert (youth.age_min, youth.age_max) == (15, 39)
    schools = Agency.objects.filter(kind=AgencyKind.SCHOOL)
    assert {"明石市立二見小学校", "明石市立野々池中学校"} <= set(
        schools.values_list("name", flat=True)
    )
    assert Agency.objects.get(slug="yokohama-education-support-center").phone == "045-671-4637"


@pytest.mark.django_db
def test_demo_relays_stay_inside_the_prefecture(settings) -> None:
    """GIVEN the demo network WHEN every hop is listed THEN each goes to an agency of the
    sender's prefecture, and no Adachi sheet reaches Yokohama or Akashi."""
    from relay.models import Handoff

    settings.TSUNAGU = {**settings.TSUNAGU, "DEMO_ALLOWED": True}
    call_command("load_demo")
    hops = list(Handoff.objects.select_related("from_agency", "to_agency", "sheet"))
    assert len(hops) >= 10
    for hop in hops:
        assert hop.to_agency.prefecture == hop.from_agency.prefecture, hop.pk
        if hop.sheet.municipality == "足立区":
            assert hop.to_agency.prefecture == "東京都", hop.pk
    assert any(hop.service_id for hop in hops)  # a program is targeted in the demo
