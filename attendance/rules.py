"""The early-response rules: which absence day creates which action, for whom, by when.

Pure functions over a pupil's school days; the defaults are the Akashi City Board of
Education's 不登校未然防止「早期対応マニュアル」(2024):

* 欠席1日目: a phone call by the homeroom teacher, that day;
* 連続欠席2日目: a home visit, that day;
* 断続欠席2〜6日目 (the first day of a new absence when the year's total is 2 to 6): a phone
  call or a home visit, that day;
* 連続欠席3日目 / 断続欠席7日目: share in the grade team, report to the 管理職, consider a
  case meeting and draft the 相談シート, by the next school day;
* 10 days in the year: the 長期欠席児童生徒に関する一覧表・児童生徒理解・教育支援シート;
* 30 days in the year: 長期欠席, which needs a reason class (病気/経済的理由/不登校/その他).

A municipality overrides them with a RuleSet row (same shape as AKASHI). Only 欠席 counts;
出席停止 and 忌引, and days not yet entered, neither count nor break a run; 出席, 遅刻 and
早退 end a run. Days the school is closed are not in the input at all.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from attendance.models import NEUTRAL_MARKS, ActionKind, Mark, RuleSet, SchoolRole

AKASHI: dict[str, Any] = {
    "source": "明石市教育委員会 不登校未然防止「早期対応マニュアル」(2024年4月)",
    "rules": [
        {
            "code": "intermittent_contact",
            "group": "new_absence",
            "counter": "total",
            "from": 2,
            "to": 6,
            "new_run": True,
            "per": "day",
            "kind": ActionKind.CONTACT,
            "owner": SchoolRole.HOMEROOM,
            "due_days": 0,
        },
        {
            "code": "first_day_call",
            "group": "new_absence",
            "counter": "consecutive",
            "at": 1,
            "per": "day",
            "kind": ActionKind.PHONE_CALL,
            "owner": SchoolRole.HOMEROOM,
            "due_days": 0,
        },
        {
            "code": "second_day_visit",
            "counter": "consecutive",
            "at": 2,
            "per": "run",
            "kind": ActionKind.HOME_VISIT,
            "owner": SchoolRole.HOMEROOM,
            "due_days": 0,
        },
        {
            "code": "consecutive_3",
            "group": "share",
            "counter": "consecutive",
            "at": 3,
            "per": "run",
            "kind": ActionKind.SHARE_REPORT,
            "owner": SchoolRole.HOMEROOM,
            "due_days": 1,
        },
        {
            "code": "intermittent_7",
            "group": "share",
            "counter": "total",
            "at": 7,
            "per": "year",
            "kind": ActionKind.SHARE_REPORT,
            "owner": SchoolRole.HOMEROOM,
            "due_days": 1,
        },
        {
            "code": "ten_days",
            "counter": "total",
            "at": 10,
            "per": "year",
            "kind": ActionKind.LONG_ABSENCE_SHEET,
            "owner": SchoolRole.HOMEROOM,
            "due_days": 5,
        },
        {
            "code": "thirty_days",
            "counter": "total",
            "at": 30,
            "per": "year",
            "kind": ActionKind.LONG_TERM,
            "owner": SchoolRole.HOMEROOM,
            "due_days": 5,
        },
    ],
}
# The thresholds the dashboards count pupils over: (code, counter, value).
THRESHOLDS: tuple[tuple[str, str, int], ...] = (
    ("consecutive_3", "longest_run", 3),
    ("total_7", "total", 7),
    ("total_10", "total", 10),
    ("total_30", "total", 30),
)

_COUNTERS = {"consecutive", "total"}
_PERS = {"day", "run", "year"}


def validate_config(config: dict[str, Any]) -> list[str]:
    """Problems of a rule set, in words (empty: valid)."""
    problems = []
    codes = set()
    for index, rule in enumerate(config.get("rules") or []):
        where = f"rules[{index}]"
        if rule.get("code") in codes or not rule.get("code"):
            problems.append(f"{where}.code")
        codes.add(rule.get("code"))
        if rule.get("counter") not in _COUNTERS:
            problems.append(f"{where}.counter")
        if rule.get("per", "day") not in _PERS:
            problems.append(f"{where}.per")
        if rule.get("kind") not in ActionKind.values:
            problems.append(f"{where}.kind")
        if rule.get("owner") not in SchoolRole.values:
            problems.append(f"{where}.owner")
        if "at" not in rule and not ("from" in rule and "to" in rule):
            problems.append(f"{where}.at")
        if not isinstance(rule.get("due_days", 0), int) or rule.get("due_days", 0) < 0:
            problems.append(f"{where}.due_days")
    return problems


def rules_for(municipality: str) -> dict[str, Any]:
    """The municipality's rule set, or the Akashi manual's."""
    row = RuleSet.objects.filter(municipality=municipality).first()
    if row is not None and row.config.get("rules") and not validate_config(row.config):
        return copy.deepcopy(row.config)
    return copy.deepcopy(AKASHI)


@dataclass(frozen=True)
class Trigger:
    """A rule reached on an absence day: the action it asks for."""

    rule: str
    kind: str
    owner: str
    due_days: int
    trigger_key: str
    triggered_on: date
    consecutive: int
    total: int


@dataclass(frozen=True)
class Counters:
    consecutive: int
    longest_run: int
    total: int
    last_absent_on: date | None
    run_start: date | None = None  # the first day of the run still going at the end


def _matches(rule: dict[str, Any], run: int, total: int) -> bool:
    value = run if rule["counter"] == "consecutive" else total
    if rule.get("new_run") and run != 1:
        return False
    if "at" in rule:
        return bool(value == rule["at"])
    return bool(rule["from"] <= value <= rule["to"])


def evaluate(
    days: Iterable[tuple[date, str | None]], config: dict[str, Any]
) -> tuple[Counters, list[Trigger]]:
    """Walk a school year's school days in order (with each day's mark, None if not
    entered): the counters at the end, and every rule reached on the way."""
    run = total = longest = 0
    run_start: date | None = None
    last: date | None = None
    triggers: list[Trigger] = []
    rules = config.get("rules") or []
    for day, mark in days:
        if mark is None or mark in NEUTRAL_MARKS:
            continue
        if mark != Mark.ABSENT:
            run, run_start = 0, None
            continue
        run += 1
        total += 1
        last = day
        run_start = run_start or day
        longest = max(longest, run)
        groups: set[str] = set()
        for rule in rules:
            if not _matches(rule, run, total):
                continue
            group = rule.get("group")
            if group:
                if group in groups:
                    continue
                groups.add(group)
            per = rule.get("per", "day")
            key = {"day": day.isoformat(), "run": run_start.isoformat(), "year": "year"}[per]
            triggers.append(
                Trigger(
                    rule=rule["code"],
                    kind=rule["kind"],
                    owner=rule["owner"],
                    due_days=int(rule.get("due_days", 0)),
                    trigger_key=f"{per}:{key}",
                    triggered_on=day,
                    consecutive=run,
                    total=total,
                )
            )
    counters = Counters(
        consecutive=run,
        longest_run=longest,
        total=total,
        last_absent_on=last,
        run_start=run_start if run else None,
    )
    return counters, triggers
