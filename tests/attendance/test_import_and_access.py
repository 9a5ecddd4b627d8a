"""CSV import (CP932, BOM'd UTF-8, bad rows, idempotent re-import) and access as an attacker
(another school, the ward, another agency's supervisor, an API key: 404); the ward's counts
never show a cell under 5."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from agencies.actors import Staff
from agencies.errors import NotFound
from attendance import access, importing, selectors, services
from attendance.models import AttendanceRecord, PupilYear
from audit.context import Actor
from tests.fixtures import sign_in

CSV = "出席番号,学年,組,日付,区分,理由\n1,2,1,2025/09/11,欠席,病気\n2,2,1,2025/09/11,遅刻,\n3,２,1組,2025-09-11,忌引,\n"


def _import(s, data: bytes, skip=False):
    parsed = importing.parse(data, school=s.school, school_year=2025)
    if parsed.errors and not skip:
        return parsed, None
    return parsed, services.attendance_import(
        school=s.school, entries=parsed.entries, actor=Actor.system("t"), user=None
    )


def test_cp932_file_from_a_school_system(akashi, travel):
    with travel(date(2025, 9, 12)):
        parsed, result = _import(akashi, CSV.encode("cp932"))
    assert parsed.errors == [] and result.created == 3
    marks = dict(AttendanceRecord.objects.values_list("pupil__school_number", "mark"))
    assert marks == {"25-001": "absent", "25-002": "late", "25-003": "mourning"}


def test_bom_utf8_with_english_headers_and_reimport_changes_nothing(akashi, travel):
    data = (
        "\ufeffnumber,grade,class,date,status,reason\n1,2,1,2025-09-11,absent,illness\n"
    ).encode()
    with travel(date(2025, 9, 12)):
        _p, first = _import(akashi, data)
        _p, again = _import(akashi, data)
    assert (first.created, again.created, again.updated, again.unchanged) == (1, 0, 0, 1)
    assert AttendanceRecord.objects.get().reason == "illness"


def test_bad_rows_are_named_and_nothing_is_written(akashi, travel):
    bad = (
        "出席番号,学年,組,日付,区分,理由\n"
        "1,2,1,2025-09-11,欠席,病気\n"
        "99,2,1,2025-09-11,欠席,\n"  # unknown pupil
        "2,2,1,2024-09-11,欠席,\n"  # outside the school year
        "3,2,1,2025-09-11,休み,\n"  # unknown status
        "4,2,1,2025-09-11,欠席,風邪\n"  # unknown reason class
    ).encode()
    with travel(date(2025, 9, 12)):
        parsed, result = _import(akashi, bad)
    assert result is None
    assert [(e.row, e.field) for e in parsed.errors] == [
        (3, "number"),
        (4, "date"),
        (5, "status"),
        (6, "reason"),
    ]
    assert AttendanceRecord.objects.count() == 0


def test_command_all_or_nothing_and_skip_invalid(akashi, travel, tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes((CSV + "99,2,1,2025-09-11,欠席,\n").encode("cp932"))
    with travel(date(2025, 9, 12)):
        with pytest.raises(CommandError):
            call_command("import_attendance", str(path), "--school", "akashi-es", "--year", "2025")
        assert AttendanceRecord.objects.count() == 0
        call_command(
            "import_attendance",
            str(path),
            "--school",
            "akashi-es",
            "--year",
            "2025",
            "--skip-invalid",
        )
    assert AttendanceRecord.objects.count() == 3


def test_pupils_never_reach_another_school_the_ward_or_an_api_key(akashi, travel):
    with travel(date(2025, 9, 12)):
        _pupils_never_reach_others(akashi)


def _pupils_never_reach_others(akashi):
    pupil = akashi.pupils[0]
    me = access.school_staff(akashi.teacher)
    assert access.pupil_for(me, pupil.pk) == pupil
    api = Staff.for_api_key(
        agency=akashi.school, api_key_id=1, scopes=frozenset({"sheets:read"}), label="k"
    )
    for attacker in (akashi.other_teacher, akashi.ward, api):
        with pytest.raises(NotFound):
            access.pupil_for(access.school_staff(attacker), pupil.pk)
    # A homeroom teacher sees only their class; the grade leader only their grade.
    other_class_pupil = akashi.school.pupils.get(school_number="25-900")
    for staff in (akashi.teacher, akashi.leader):
        with pytest.raises(NotFound):
            access.pupil_for(access.school_staff(staff), other_class_pupil.pk)
    assert access.pupil_for(access.school_staff(akashi.principal), other_class_pupil.pk)


@pytest.mark.parametrize("who", ["other_teacher", "ward"])
def test_screens_answer_404_to_other_agencies(akashi, client, who):
    staff = getattr(akashi, who)
    sign_in(client, staff.person)
    pupil = akashi.pupils[0]
    assert client.get(f"/attendance/pupils/{pupil.pk}/").status_code == 404
    assert client.get(f"/attendance/classes/{akashi.room.pk}/entry/").status_code == 404


def test_school_staff_get_their_screens(akashi, client, travel):
    sign_in(client, akashi.teacher.person)
    with travel(date(2025, 9, 12)):
        page = client.get(f"/attendance/classes/{akashi.room.pk}/entry/?day=2025-09-12")
        assert page.status_code == 200
        response = client.post(
            f"/attendance/classes/{akashi.room.pk}/entry/",
            {"day": "2025-09-12", f"mark-{akashi.pupils[0].pk}": "absent"},
        )
        assert response.status_code == 302
        assert client.get(f"/attendance/pupils/{akashi.pupils[0].pk}/").status_code == 200
    assert AttendanceRecord.objects.get().mark == "absent"


def test_ward_sees_counts_only_with_cells_under_5_suppressed(akashi, client, travel):
    for n, pupil in enumerate(akashi.pupils):
        PupilYear.objects.create(
            pupil=pupil,
            school=akashi.school,
            school_year=2025,
            total=12 if n < 5 else 31,
            longest_run=3 if n < 2 else 1,
        )
    rows = selectors.ward_counts(municipality="明石市", school_year=2025)
    mine = next(r for r in rows if r.school == akashi.school)
    # ≥3 consecutive: 2 → suppressed; ≥7: 6; ≥10: 6; ≥30: 1 → suppressed.
    assert mine.cells == [None, 6, 6, None]
    other = next(r for r in rows if r.school == akashi.other)
    assert other.cells == [None, None, None, None]
    sign_in(client, akashi.ward.person)
    with travel(date(2025, 9, 30)):
        page = client.get("/attendance/ward/")
        csv_page = client.get("/attendance/ward/monthly.csv?month=2025-09")
    assert page.status_code == 200 and "5未満" in page.content.decode()
    assert "A.T" not in page.content.decode()
    body = b"".join(csv_page.streaming_content).decode("utf-8-sig")
    assert body.splitlines()[0].startswith("学校名")
    for line in body.splitlines()[1:]:
        for cell in line.split(",")[2:]:
            assert cell == "5未満" or int(cell) >= 5
