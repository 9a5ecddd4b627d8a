"""Reading a 校務支援システム's attendance CSV: CP932 or UTF-8 (with or without BOM), Japanese
or English headers, one error per row and field with its reason; nothing is written unless
every row is valid (or the caller asks to skip invalid rows)."""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

from agencies.models import Agency
from attendance.access import today
from attendance.calendar import school_year_of, year_bounds
from attendance.models import Enrolment, Mark
from attendance.services import Entry
from relay.choices import AbsenceReason

COLUMNS = {
    "出席番号": "number",
    "学年": "grade",
    "組": "class",
    "日付": "date",
    "区分": "status",
    "理由": "reason",
    "number": "number",
    "grade": "grade",
    "class": "class",
    "date": "date",
    "status": "status",
    "reason": "reason",
}
REQUIRED = ("number", "grade", "class", "date", "status")
STATUS = {
    "出席": Mark.PRESENT,
    "欠席": Mark.ABSENT,
    "遅刻": Mark.LATE,
    "早退": Mark.EARLY_LEAVE,
    "出席停止": Mark.SUSPENDED,
    "忌引": Mark.MOURNING,
    "忌引き": Mark.MOURNING,
    **{m: m for m in Mark.values},
    "early": Mark.EARLY_LEAVE,
}
REASON = {
    "": "",
    "病気": AbsenceReason.ILLNESS,
    "経済的理由": AbsenceReason.ECONOMIC,
    "不登校": AbsenceReason.SCHOOL_REFUSAL,
    "その他": AbsenceReason.OTHER,
    "分類1": AbsenceReason.ILLNESS,
    "分類2": AbsenceReason.ECONOMIC,
    "分類3": AbsenceReason.SCHOOL_REFUSAL,
    "分類4": AbsenceReason.OTHER,
    **{r: r for r in AbsenceReason.values},
}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")
MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class RowError:
    """Row (the file's line number; 1 is the header), field and reason."""

    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.row}行目 {self.field}: {self.reason}"


@dataclass
class Parsed:
    entries: list[Entry] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0


def decode(data: bytes) -> str:
    """UTF-8 (a BOM is dropped) or, failing that, CP932 (Shift_JIS as Windows writes it)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp932")


def _norm(value: str | None) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


def _parse_date(value: str) -> date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()  # noqa: DTZ007 (a date, no time)
        except ValueError:
            continue
    return None


def parse(data: bytes, *, school: Agency, school_year: int | None = None) -> Parsed:
    """Every row checked against the school's classes of the school year (default: the
    current one): unknown pupil, a date outside the year or in the future, unknown status or
    reason, a pupil's day twice with different values."""
    result = Parsed()
    if len(data) > MAX_BYTES:
        result.errors.append(RowError(0, "file", "ファイルが大きすぎます(20MBまで)"))
        return result
    try:
        text = decode(data)
    except UnicodeDecodeError:
        result.errors.append(RowError(0, "file", "文字コードを判別できません(UTF-8かShift_JIS)"))
        return result
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        result.errors.append(RowError(1, "file", "空のファイルです"))
        return result
    names = [COLUMNS.get(_norm(h).lower(), COLUMNS.get(_norm(h), "")) for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        result.errors.append(RowError(1, ",".join(missing), "列がありません"))
        return result
    year = school_year if school_year is not None else school_year_of(today())
    start, end = year_bounds(year)
    latest = today()
    enrolments = {
        (e.classroom.grade, _norm(e.classroom.name), e.number): e.pupil_id
        for e in Enrolment.objects.filter(
            school_year=year, classroom__school=school
        ).select_related("classroom")
    }
    seen: dict[tuple[int, date], tuple[str, str]] = {}
    for line, raw in enumerate(reader, start=2):
        if not any(c.strip() for c in raw):
            continue
        result.rows += 1
        row = {n: _norm(v) for n, v in zip(names, raw, strict=False) if n}
        errors_before = len(result.errors)
        day = _parse_date(row.get("date", ""))
        if day is None:
            result.errors.append(RowError(line, "date", "日付の形式が正しくありません"))
        elif not start <= day <= end:
            result.errors.append(RowError(line, "date", f"{year}年度の日付ではありません"))
        elif day > latest:
            result.errors.append(RowError(line, "date", "未来の日付です"))
        mark = STATUS.get(row.get("status", "").lower(), STATUS.get(row.get("status", "")))
        if mark is None:
            result.errors.append(RowError(line, "status", "区分が不明です"))
        reason = REASON.get(row.get("reason", "").lower(), REASON.get(row.get("reason", "")))
        if reason is None:
            result.errors.append(
                RowError(line, "reason", "理由は 病気・経済的理由・不登校・その他 のいずれかです")
            )
        try:
            grade = int(row.get("grade", "").removesuffix("年"))
            number = int(row.get("number", "").removesuffix("番"))
        except ValueError:
            result.errors.append(RowError(line, "number", "学年・出席番号は数字です"))
            continue
        pupil_id = enrolments.get((grade, row.get("class", "").removesuffix("組"), number))
        if pupil_id is None:
            result.errors.append(RowError(line, "number", "該当する児童生徒がいません"))
        if len(result.errors) > errors_before or day is None or mark is None or pupil_id is None:
            continue
        value = (mark, (reason or "") if mark == Mark.ABSENT else "")
        if seen.setdefault((pupil_id, day), value) != value:
            result.errors.append(
                RowError(line, "date", "同じ児童生徒の同じ日が異なる内容で重複しています")
            )
            continue
        result.entries.append(Entry(pupil_id, day, value[0], value[1]))
    # The same pupil's day twice with the same values is one entry.
    unique = {(e.pupil_id, e.day): e for e in result.entries}
    result.entries = list(unique.values())
    return result
