"""What completing each action records: the manual's check points as a checklist.

The phone call (欠席1日目の対応: 聞く・伝える), the home visit (欠席2日目: 見る・聞く・伝える),
the in-school sharing at 3 consecutive / 7 intermittent days, the 10-day sheet and the 30-day
reason class. Each field: (name, label, type, choices, required). Free text stays in the
school; audit events carry field names and codes, never the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from agencies.errors import InvalidInput
from attendance.models import ActionKind
from relay.choices import AbsenceReason


@dataclass(frozen=True)
class Field:
    name: str
    label: Any
    type: str  # "choice", "bool" or "text"
    choices: tuple[tuple[str, Any], ...] = ()
    required: bool = False


REACHED = (
    ("person", _("本人")),
    ("guardian", _("保護者")),
    ("nobody", _("不在(留守番電話・手紙を残した)")),
)
CONDITION = (("ok", _("不調なし")), ("unwell", _("不調あり")), ("unknown", _("未確認")))
RHYTHM = (
    ("regular", _("規則正しい")),
    ("disrupted", _("乱れている(昼夜逆転・不眠)")),
    ("unknown", _("未確認")),
)
CLINIC = (
    ("checked", _("受診・診断を確認した")),
    ("not_seen", _("受診していない")),
    ("not_illness", _("病欠ではない")),
)
LOOKS = (
    ("ok", _("気になる点なし")),
    ("concern", _("気になる様子あり")),
    ("not_seen", _("会えていない")),
)
REASON = (*AbsenceReason.choices, ("unknown", _("未確認")))
MEETING = (
    ("held", _("開いた")),
    ("planned", _("開く予定")),
    ("not_needed", _("今のところ不要")),
)
NEXT_DAY = (
    ("can_attend", _("登校できそう(受け入れ体制・見守りを確認)")),
    ("cannot_attend", _("登校できそうにない(朝の登校支援・連絡を確認)")),
    ("unknown", _("わからない")),
)

_ASK = (
    Field("reached", _("対応した相手"), "choice", REACHED, required=True),
    Field("day_spent", _("家庭での過ごし方(1日なにをして過ごしていたか)"), "text"),
    Field("condition", _("体調(不調はないか)"), "choice", CONDITION),
    Field("clinic", _("病欠の場合、医療機関の受診・診断"), "choice", CLINIC),
    Field("rhythm", _("生活リズム(昼夜逆転・不眠はないか)"), "choice", RHYTHM),
    Field("concerns", _("気になること(体調・生活面以外)"), "text"),
)
_TELL = (
    Field("told_next_day", _("明日の連絡(時間割・持ち物)を伝えた"), "bool"),
    Field("told_handouts", _("連絡物について説明した"), "bool"),
    Field("reassured", _("気持ちに寄り添い、安心して登校できるような声かけをした"), "bool"),
)
_LOOK = (
    Field("appearance", _("身なり(衣服や身体の汚れ・寝起きか)"), "choice", LOOKS),
    Field("complexion", _("顔色や表情(疲れや拒否はないか)"), "choice", LOOKS),
)
_REASON = Field("reason_class", _("欠席理由の分類"), "choice", REASON, required=True)

CHECKLISTS: dict[str, tuple[Field, ...]] = {
    ActionKind.PHONE_CALL: (*_ASK, *_TELL, _REASON),
    ActionKind.HOME_VISIT: (*_ASK, *_LOOK, *_TELL, _REASON),
    ActionKind.CONTACT: (
        Field(
            "method",
            _("方法"),
            "choice",
            (("phone", _("電話連絡")), ("visit", _("家庭訪問"))),
            required=True,
        ),
        *_ASK,
        *_LOOK,
        *_TELL,
        _REASON,
    ),
    ActionKind.SHARE_REPORT: (
        Field("shared_in_grade", _("学年(校内支援チーム)で共有した"), "bool", required=True),
        Field("reported_to_principal", _("管理職に報告した"), "bool", required=True),
        Field("sc_ssw", _("SC・SSW・関係機関とのつながりを確認した"), "bool"),
        Field("past_absence", _("昨年の欠席日数・理由、これまでの登校しぶりを確認した"), "bool"),
        Field("case_meeting", _("ケース会議"), "choice", MEETING, required=True),
        Field("next_day", _("翌日の見通し"), "choice", NEXT_DAY),
        Field("plan", _("早期対応の方針"), "text"),
    ),
    ActionKind.LONG_ABSENCE_SHEET: (
        Field(
            "sheet_made",
            _("長期欠席児童生徒に関する一覧表・児童生徒理解・教育支援シートを作成した"),
            "bool",
            required=True,
        ),
    ),
    ActionKind.LONG_TERM: (
        Field(
            "reason_class",
            _("長期欠席の理由分類"),
            "choice",
            tuple(AbsenceReason.choices),
            required=True,
        ),
        Field("reason_example", _("具体例(不登校・その他の場合)"), "text"),
    ),
}


def checklist_clean(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The checklist of `kind` from form or API data: known fields only, typed, required
    ones present (a required yes/no must be yes). InvalidInput names the field at fault."""
    clean: dict[str, Any] = {}
    for field in CHECKLISTS[kind]:
        raw = data.get(field.name)
        if field.type == "bool":
            value: Any = raw in (True, "on", "true", "1", 1, "yes")
            if field.required and not value:
                raise InvalidInput(str(_("確認してからチェックしてください。")), field=field.name)
        elif field.type == "choice":
            value = str(raw or "")
            if value and value not in {c for c, _label in field.choices}:
                raise InvalidInput(field=field.name)
            if field.required and not value:
                raise InvalidInput(str(_("選んでください。")), field=field.name)
        else:
            value = str(raw or "").strip()[:2000]
        clean[field.name] = value
    return clean


# --- 実態把握シート (参考資料1: short version) ----------------------------------------------

SITUATION_TAKEOVER = (("yes", _("あり")), ("no", _("なし")))
WILL = (
    ("very_weak", _("大変弱い")),
    ("weak", _("弱い")),
    ("normal", _("普通")),
    ("strong", _("強い")),
    ("very_strong", _("大変強い")),
)
RELATION = (("good", _("良好")), ("concern", _("気になる様子あり")))
LINK = (("yes", _("している")), ("no", _("していない")), ("planned", _("する予定がある")))

# The short version's checklist items. special_care: 要配慮個人情報 (health, disability,
# abuse): they land in the sheet's special-care sections, which only an explicit consent
# naming them lets leave the school.
TRAITS = (
    ("learning_delay", _("学業不振がある"), False),
    ("peer_trouble", _("友人とトラブルになりやすい"), False),
    ("developmental", _("発達障害の傾向が見られる"), True),
    ("disability_illness", _("何らかの障害・疾患を持っている"), True),
)
ABSENT_LIFE = (
    ("regular_life", _("規則正しい生活ができている")),
    ("studies_at_home", _("家庭学習ができている")),
    ("answers_phone", _("電話連絡に出る")),
    ("meets_visit", _("家庭訪問に出る")),
    ("stays_in_room", _("自室にこもっている")),
    ("absorbed_in_games", _("ゲームやパソコン、スマートフォン等に熱中している")),
)
LINKED_AGENCIES = (
    ("child_guidance", _("こどもセンター(児童相談所)")),
    ("development_center", _("発達支援センター")),
    ("other", _("その他")),
)


@dataclass(frozen=True)
class SituationField:
    name: str
    label: Any
    type: str  # "choice", "multi", "text", "number"
    choices: tuple[tuple[str, Any], ...] = ()
    special_care: bool = False


SITUATION_FIELDS: tuple[SituationField, ...] = (
    SituationField("takeover", _("前年度より引継ぎ(学年間・校種間)"), "choice", SITUATION_TAKEOVER),
    SituationField("will_child", _("登校意識(本人)"), "choice", WILL),
    SituationField("will_guardian", _("登校意識(保護者)"), "choice", WILL),
    SituationField("likes", _("好きな教科や活動"), "text"),
    SituationField("dislikes", _("嫌いな教科や活動"), "text"),
    SituationField(
        "traits", _("本人の特性"), "multi", tuple((c, label) for c, label, _s in TRAITS)
    ),
    SituationField("traits_note", _("本人の特性(詳細:障害・疾患など)"), "text", special_care=True),
    SituationField("absent_life", _("欠席時の本児の様子"), "multi", ABSENT_LIFE),
    SituationField("home_life", _("家庭での本児の様子"), "text"),
    SituationField("guardian_relation", _("保護者との関係"), "choice", RELATION),
    SituationField("home_state", _("家庭状況"), "choice", RELATION),
    SituationField("family", _("家族構成"), "text"),
    SituationField("home_note", _("家庭状況や保護者の考え・対応"), "text"),
    SituationField("staff_relation", _("教職員との関係"), "choice", RELATION),
    SituationField("peer_relation", _("友人関係/集団内での様子"), "choice", RELATION),
    SituationField("sc_link", _("スクールカウンセラー(SC)との連携"), "choice", LINK),
    SituationField("ssw_link", _("スクールソーシャルワーカー(SSW)との連携"), "choice", LINK),
    SituationField("agencies", _("関係機関との連携"), "multi", LINKED_AGENCIES),
    SituationField("case_review", _("校内での事例検討"), "choice", LINK),
    SituationField("policy", _("支援の方針"), "text"),
)
SPECIAL_CARE_TRAITS = frozenset(c for c, _label, special in TRAITS if special)


def situation_clean(data: dict[str, Any]) -> dict[str, Any]:
    """The short 実態把握シート from form data (multi-valued fields as lists)."""
    clean: dict[str, Any] = {}
    for field in SITUATION_FIELDS:
        raw = data.get(field.name)
        allowed = {c for c, _label in field.choices}
        if field.type == "multi":
            values = raw if isinstance(raw, list) else ([raw] if raw else [])
            if not set(values) <= allowed:
                raise InvalidInput(field=field.name)
            clean[field.name] = sorted(set(values))
        elif field.type == "choice":
            value = str(raw or "")
            if value and value not in allowed:
                raise InvalidInput(field=field.name)
            clean[field.name] = value
        else:
            clean[field.name] = str(raw or "").strip()[:2000]
    return clean


def special_care_items(fields: dict[str, Any]) -> list[str]:
    """The 要配慮 items the sheet holds (names), for the flag on the form and the sheet."""
    items = [t for t in fields.get("traits", []) if t in SPECIAL_CARE_TRAITS]
    if fields.get("traits_note"):
        items.append("traits_note")
    return items
