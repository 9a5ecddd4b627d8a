"""`manage.py import_agencies` with what operators really have: Excel's CP932 CSV, UTF-8 with
a BOM, .xlsx workbooks, broken cells, duplicate slugs and large files."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from agencies.models import Agency, Service

pytestmark = pytest.mark.django_db

HEADER = "slug,name,kind,municipality,description\n"
# 髙 and 﨑 are IBM extensions, ① an NEC special character: in CP932, not in plain Shift_JIS.
JAPANESE_NAME = "髙﨑①ひきこもり支援センター"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def run(path: Path, *args: str, **options) -> tuple[str, str]:
    """Run the command; returns (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("import_agencies", path, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_a_cp932_csv_from_excel_is_detected_and_keeps_every_character(tmp_path) -> None:
    text = HEADER + f"takasaki,{JAPANESE_NAME},hikikomori_support,高崎市,①月曜日\r\n"
    with pytest.raises(UnicodeEncodeError):
        text.encode("shift_jis")  # the point: plain Shift_JIS cannot even hold these
    out, _err = run(write(tmp_path, "excel.csv", text.encode("cp932")))
    assert "read as cp932" in out
    agency = Agency.objects.get(slug="takasaki")
    assert agency.name == JAPANESE_NAME and agency.description == "①月曜日"


def test_utf8_with_a_bom_is_read_and_the_bom_is_not_part_of_the_first_column(tmp_path) -> None:
    text = HEADER + f"takasaki,{JAPANESE_NAME},hikikomori_support,高崎市,\n"
    out, _err = run(write(tmp_path, "bom.csv", codecs.BOM_UTF8 + text.encode("utf-8")))
    assert "read as utf-8-sig" in out
    assert Agency.objects.get(slug="takasaki").name == JAPANESE_NAME


def test_a_wrong_encoding_given_or_an_undecodable_file_is_a_clear_error(tmp_path) -> None:
    cp932 = write(
        tmp_path, "excel.csv", (HEADER + f"t,{JAPANESE_NAME},other,市,\n").encode("cp932")
    )
    with pytest.raises(CommandError, match="not valid utf-8"):
        run(cp932, encoding="utf-8")
    garbage = write(tmp_path, "garbage.csv", HEADER.encode() + b"\xff\xfe\xfd\x80\xa0\n")
    with pytest.raises(CommandError, match="neither UTF-8 nor CP932"):
        run(garbage)
    assert not Agency.objects.exists()


def test_an_xlsx_workbook_imports_like_a_csv(tmp_path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["slug", "name", "kind", "municipality", "age_min", "age_max", "categories"])
    sheet.append(["takasaki", JAPANESE_NAME, "hikikomori_support", "高崎市", 15, 39, "hikikomori"])
    sheet.append([None] * 7)  # Excel's trailing empty rows are not rows
    sheet.append(["maebashi", "前橋市教育支援センター", "education_support", "前橋市", 6, 15, ""])
    path = tmp_path / "directory.xlsx"
    workbook.save(path)

    out, _err = run(path)

    assert "agencies created: 2" in out
    takasaki = Agency.objects.get(slug="takasaki")
    assert (takasaki.name, takasaki.age_min, takasaki.age_max) == (JAPANESE_NAME, 15, 39)
    assert list(takasaki.categories.values_list("code", flat=True)) == ["hikikomori"]


def test_a_file_that_is_not_a_workbook_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(CommandError, match=r"not a readable \.xlsx"):
        run(write(tmp_path, "fake.xlsx", b"this is not a zip"))


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("nul,名前\x00あり,ward_desk,足立区,", "row 1: name: contains a NUL character"),
        (f"long,{'長' * 5000},ward_desk,足立区,", "row 1: name: too long: 5,000 characters"),
        (f"big,大きい,ward_desk,足立区,{'x' * 200_000}", "row 1: description: too long: 200,000"),
        ("Bad Slug,名前,ward_desk,足立区,", "row 1: slug: must be lowercase"),
    ],
)
def test_bad_cells_are_row_field_reason_errors_and_nothing_is_imported(
    tmp_path, row, expected
) -> None:
    path = write(tmp_path, "bad.csv", (HEADER + row + "\nok,良い,ward_desk,足立区,\n").encode())
    _out, err = _capture_errors(path)
    assert "nothing imported" not in err  # (the summary is the CommandError's message)
    assert expected in err
    assert not Agency.objects.exists()


def _capture_errors(path: Path) -> tuple[str, str]:
    """Run the command expecting it to refuse the file; returns (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_agencies", path, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_cell_beyond_what_the_reader_holds_is_a_clear_error_not_a_traceback(tmp_path) -> None:
    path = write(tmp_path, "huge.csv", (HEADER + f"h,名前,other,市,{'x' * 1_100_000}\n").encode())
    with pytest.raises(CommandError, match="row 1: field larger than field limit"):
        run(path)


def test_duplicate_slugs_within_the_file_are_an_error_naming_both_rows(tmp_path) -> None:
    text = (
        HEADER
        + "same,一つ目,ward_desk,足立区,\nother,別,ward_desk,足立区,\nsame,二つ目,npo_free_school,足立区,\n"
    )
    _out, err = _capture_errors(write(tmp_path, "dup.csv", text.encode()))
    assert "row 3: slug: duplicate slug 'same': row 1 has the same slug" in err
    assert not Agency.objects.exists()


def test_a_slug_already_in_the_directory_needs_update(tmp_path) -> None:
    path = write(tmp_path, "a.csv", (HEADER + "takasaki,旧名,ward_desk,高崎市,\n").encode())
    run(path)
    renamed = write(tmp_path, "b.csv", (HEADER + "takasaki,新名,ward_desk,高崎市,\n").encode())

    _out, err = _capture_errors(renamed)
    assert "row 1: slug: 'takasaki' is already in the directory (use --update" in err
    assert Agency.objects.get(slug="takasaki").name == "旧名"

    out, _err = run(renamed, update=True)
    assert "updated: 1" in out
    assert Agency.objects.get(slug="takasaki").name == "新名"
    assert Agency.objects.count() == 1


def test_thousands_of_rows_are_written_in_batches_all_or_nothing(tmp_path) -> None:
    """GIVEN 2,500 rows (three write batches) whose last row is bad WHEN imported THEN nothing
    is written; with --skip-invalid the 2,499 good ones are, each with its group, and the
    progress bar reports both phases."""
    rows = [f"a-{n},機関{n},npo_free_school,足立区," for n in range(2499)]
    rows.append("bad,機関,castle,足立区,")
    path = write(tmp_path, "many.csv", (HEADER + "\n".join(rows) + "\n").encode())

    _out, err = _capture_errors(path)
    assert "row 2500: kind: unknown kind 'castle'" in err
    assert not Agency.objects.exists()

    out, err = run(path, skip_invalid=True)
    assert "agencies created: 2499" in out and "rows skipped: 1" in out
    assert "validating rows" in err and "writing agencies" in err and "100%" in err
    assert Agency.objects.count() == 2499
    assert Group.objects.filter(name__startswith="agency:a-").count() == 2499
    assert Agency.objects.get(slug="a-2498").group.name == "agency:a-2498"


def test_services_of_an_hsds_export_are_upserted_on_update(tmp_path) -> None:
    header = "organization_id,organization,organization_type,city,service_name\n"
    first = header + "sumiya,すみ家,hikikomori_support,墨田区,居場所\n"
    run(write(tmp_path, "1.csv", first.encode()))
    second = first + "sumiya,すみ家,hikikomori_support,墨田区,家族会\n"
    run(write(tmp_path, "2.csv", second.encode()), update=True)
    assert sorted(Service.objects.values_list("name", flat=True)) == ["家族会", "居場所"]
