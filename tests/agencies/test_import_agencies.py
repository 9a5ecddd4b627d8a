"""`manage.py import_agencies`: HSDS-style CSV and JSON in, bad files rejected whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from agencies.models import Agency, Service

pytestmark = pytest.mark.django_db

HSDS_CSV = """organization_id,organization,organization_type,state_province,city,location,phone,schedule,taxonomy,service_name,email
sumiya,すみ家,hikikomori_support,東京都,墨田区,墨田区内,03-0000-0001,月〜金 10:00-17:00,hikikomori;family,居場所,intake@sumiya.example.invalid
sumiya,すみ家,hikikomori_support,東京都,墨田区,墨田区内,03-0000-0001,月〜金 10:00-17:00,hikikomori,家族会,intake@sumiya.example.invalid
yell,エールしながわ,hikikomori_support,東京都,品川区,,03-0000-0002,,hikikomori,,
"""

BAD_CSV = """organization_id,organization,organization_type,city,phone,taxonomy,email,minimum_age,maximum_age
ok-one,良い機関,ward_desk,足立区,03-1111-2222,school_refusal,a@example.invalid,,
bad-kind,種別が変,castle,足立区,,,,,
no-city,市区町村なし,ward_desk,,,,,,
bad-mail,メール不正,ward_desk,足立区,,poverty,not-an-email,,
bad-ages,年齢が逆,ward_desk,足立区,,,,18,6
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_hsds_csv_imports_organizations_with_their_services(tmp_path: Path) -> None:
    call_command("import_agencies", _write(tmp_path, "dir.csv", HSDS_CSV))
    sumiya = Agency.objects.get(slug="sumiya")
    assert sumiya.name == "すみ家"
    assert sumiya.municipality == "墨田区" and sumiya.phone == "03-0000-0001"
    assert sumiya.hours == "月〜金 10:00-17:00"
    assert set(sumiya.categories.values_list("code", flat=True)) == {"hikikomori", "family"}
    assert sorted(sumiya.services.values_list("name", flat=True)) == ["家族会", "居場所"]
    assert Agency.objects.get(slug="yell").group.name == "agency:yell"


def test_reimporting_the_same_file_changes_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path, "dir.csv", HSDS_CSV)
    call_command("import_agencies", path)
    before = (Agency.objects.count(), Service.objects.count())
    call_command("import_agencies", path, update=True)
    assert (Agency.objects.count(), Service.objects.count()) == before == (2, 2)


def test_bad_file_reports_each_bad_row_and_imports_nothing(tmp_path: Path, capsys) -> None:
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_agencies", _write(tmp_path, "bad.csv", BAD_CSV))
    err = capsys.readouterr().err
    assert "row 2: kind: unknown kind 'castle'" in err
    assert "row 3: municipality: required" in err
    assert "row 4: intake_email: not an e-mail address" in err
    assert "row 5: age_min: greater than age_max" in err
    assert "row 1" not in err
    assert not Agency.objects.exists()


def test_skip_invalid_imports_only_the_good_rows(tmp_path: Path) -> None:
    call_command("import_agencies", _write(tmp_path, "bad.csv", BAD_CSV), skip_invalid=True)
    assert list(Agency.objects.values_list("slug", flat=True)) == ["ok-one"]


def test_json_list_with_nested_services(tmp_path: Path) -> None:
    data = [
        {
            "slug": "heartful",
            "name": "ハートフルスペース",
            "kind": "education_support",
            "municipality": "横浜市",
            "categories": ["school_refusal"],
            "age_min": 6,
            "age_max": 15,
            "services": [{"slug": "space", "name": "通所", "categories": ["learning_support"]}],
        }
    ]
    call_command("import_agencies", _write(tmp_path, "d.json", json.dumps(data)))
    agency = Agency.objects.get(slug="heartful")
    assert (agency.age_min, agency.age_max) == (6, 15)
    assert agency.services.get().categories.get().code == "learning_support"


def test_unknown_file_type_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="unsupported file type"):
        call_command("import_agencies", _write(tmp_path, "d.xml", "<x/>"))
