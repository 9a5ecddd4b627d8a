"""A school's classes, pupils, staff posts, closures, attendance and early-response actions.

Every row here belongs to one school (an Agency of kind school) and never leaves it: what
leaves is a referral sheet, drafted from these rows through relay's services, under consent.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from relay.choices import AbsenceReason
from relay.models.sheets import validate_initials
from security.fieldcrypt import EncryptedCharField


class SchoolRole(models.TextChoices):
    """A post in a school, beside the membership's role (which decides the sheet workflow)."""

    HOMEROOM = "homeroom", _("担任")
    GRADE_LEADER = "grade_leader", _("学年主任")
    GUIDANCE = "guidance", _("生徒指導・教育相談担当")
    NURSE = "nurse", _("養護教諭")
    SC = "sc", _("スクールカウンセラー(SC)")
    SSW = "ssw", _("スクールソーシャルワーカー(SSW)")
    PRINCIPAL = "principal", _("管理職")


# Posts that see every pupil of the school (the school's support team, after the manual's
# 校内支援チーム); a homeroom teacher sees their class, a grade leader their grade.
WHOLE_SCHOOL_ROLES = frozenset(
    {SchoolRole.GUIDANCE, SchoolRole.NURSE, SchoolRole.SC, SchoolRole.SSW, SchoolRole.PRINCIPAL}
)


class SchoolLevel(models.TextChoices):
    ELEMENTARY = "elementary", _("小学校")
    JUNIOR_HIGH = "junior_high", _("中学校")


class ClassType(models.TextChoices):
    REGULAR = "regular", _("通常学級")
    SPECIAL_NEEDS = "special_needs", _("特別支援学級")


class Mark(models.TextChoices):
    """One pupil's day, as the 出席簿 records it."""

    PRESENT = "present", _("出席")
    ABSENT = "absent", _("欠席")
    LATE = "late", _("遅刻")
    EARLY_LEAVE = "early_leave", _("早退")
    SUSPENDED = "suspended", _("出席停止")
    MOURNING = "mourning", _("忌引")


# Days that are neither attended nor absences: they do not count and do not break a run.
NEUTRAL_MARKS = frozenset({Mark.SUSPENDED, Mark.MOURNING})


class Source(models.TextChoices):
    ENTRY = "entry", _("画面で入力")
    IMPORT = "import", _("校務支援システムから取り込み")


class ActionKind(models.TextChoices):
    """The manual's steps, each an action with an owner and a due date."""

    PHONE_CALL = "phone_call", _("電話連絡")
    HOME_VISIT = "home_visit", _("家庭訪問")
    CONTACT = "contact", _("電話連絡・家庭訪問")
    SHARE_REPORT = "share_report", _("学年で共有・管理職へ報告・ケース会議の検討・相談シート")
    LONG_ABSENCE_SHEET = (
        "long_absence_sheet",
        _("長期欠席児童生徒に関する一覧表・児童生徒理解・教育支援シートの作成"),
    )
    LONG_TERM = "long_term", _("長期欠席(年間30日)の理由分類")


class ActionState(models.TextChoices):
    OPEN = "open", _("未対応")
    DONE = "done", _("対応済み")
    SKIPPED = "skipped", _("対応しない(理由あり)")
    WITHDRAWN = "withdrawn", _("取り消し(出欠の訂正)")
    # Created from records entered after the action's whole escalation window had passed
    # (a backfilled import): kept for the record, never timed, never escalated.
    BACKFILLED = "backfilled", _("過去分(期限を過ぎて取り込まれた)")


class SchoolProfile(models.Model):
    """What the attendance rules need of a school agency: its level."""

    school = models.OneToOneField(
        Agency, on_delete=models.PROTECT, related_name="school_profile", primary_key=True
    )
    level = models.CharField(_("校種"), max_length=16, choices=SchoolLevel.choices)

    class Meta:
        verbose_name = _("学校の設定")
        verbose_name_plural = _("学校の設定")

    def __str__(self) -> str:
        return f"{self.school_id} ({self.level})"


class Classroom(models.Model):
    """A class (学年・組) of one school year (April to March)."""

    school = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="classrooms")
    school_year = models.PositiveSmallIntegerField(_("年度"))
    grade = models.PositiveSmallIntegerField(
        _("学年"), validators=[MinValueValidator(1), MaxValueValidator(6)]
    )
    name = models.CharField(_("組"), max_length=16)
    class_type = models.CharField(
        _("学級種別"), max_length=16, choices=ClassType.choices, default=ClassType.REGULAR
    )

    class Meta:
        ordering = ["school", "school_year", "grade", "name"]
        verbose_name = _("学級")
        verbose_name_plural = _("学級")
        constraints = [
            models.UniqueConstraint(
                fields=["school", "school_year", "grade", "name"], name="classroom_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.grade}年{self.name}組"


class StaffPost(models.Model):
    """A staff member's post in their school: 担任 of a class, 学年主任 of a grade, ..."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="school_posts"
    )
    school = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="staff_posts")
    role = models.CharField(_("校務分掌"), max_length=16, choices=SchoolRole.choices)
    grade = models.PositiveSmallIntegerField(_("学年"), null=True, blank=True)
    classroom = models.ForeignKey(
        Classroom, on_delete=models.PROTECT, null=True, blank=True, related_name="posts"
    )

    class Meta:
        verbose_name = _("校務分掌")
        verbose_name_plural = _("校務分掌")
        indexes = [models.Index(fields=["school", "role"], name="staffpost_school_role_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "classroom"], name="staffpost_unique_class"
            ),
            models.CheckConstraint(
                condition=~models.Q(role="homeroom") | models.Q(classroom__isnull=False),
                name="staffpost_homeroom_has_class",
            ),
            models.CheckConstraint(
                condition=~models.Q(role="grade_leader") | models.Q(grade__isnull=False),
                name="staffpost_grade_leader_has_grade",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} #{self.pk}"


class Pupil(models.Model):
    """A pupil registered by the school: a school-internal number and initials.

    The full name is optional and local to the school; it is stored in plain text (the
    encrypted field of the security work is not on this branch yet) and never leaves it.
    """

    school = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="pupils")
    school_number = models.CharField(_("校内番号"), max_length=32)
    initials = models.CharField(_("イニシャル"), max_length=12, validators=[validate_initials])
    # Encrypted at rest like a sheet's full name (security.fieldcrypt, issue 13).
    full_name = EncryptedCharField(
        _("氏名(校内のみ・任意)"),
        max_length=100,
        blank=True,
        help_text=_("学校の外には出ません。相談シートにはイニシャルだけが入ります。"),
    )
    gender = models.CharField(_("性別"), max_length=10, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["school", "school_number"]
        verbose_name = _("児童生徒")
        verbose_name_plural = _("児童生徒")
        constraints = [
            models.UniqueConstraint(fields=["school", "school_number"], name="pupil_number_unique")
        ]

    def __str__(self) -> str:
        # Never the initials or the name outside the pupil's own screens.
        return f"児童生徒 #{self.pk}"


class Enrolment(models.Model):
    """A pupil's class and 出席番号 in one school year."""

    pupil = models.ForeignKey(Pupil, on_delete=models.PROTECT, related_name="enrolments")
    classroom = models.ForeignKey(Classroom, on_delete=models.PROTECT, related_name="enrolments")
    school_year = models.PositiveSmallIntegerField(_("年度"))
    number = models.PositiveSmallIntegerField(_("出席番号"))

    class Meta:
        ordering = ["classroom", "number"]
        verbose_name = _("在籍")
        verbose_name_plural = _("在籍")
        constraints = [
            models.UniqueConstraint(fields=["pupil", "school_year"], name="enrolment_once_a_year"),
            models.UniqueConstraint(fields=["classroom", "number"], name="enrolment_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.classroom} {self.number}"


class Closure(models.Model):
    """Days the school is closed beyond weekends and holidays (休業日, 振替休業日, 長期休業)."""

    school = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="closures")
    start = models.DateField(_("開始日"))
    end = models.DateField(_("終了日"))
    label = models.CharField(_("名称"), max_length=60)

    class Meta:
        ordering = ["school", "start"]
        verbose_name = _("休業日")
        verbose_name_plural = _("休業日")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start__lte=models.F("end")), name="closure_ordered"
            )
        ]

    def __str__(self) -> str:
        return f"{self.start}–{self.end}"


class AttendanceRecord(models.Model):
    """One pupil's one day: at most one row per pupil and day (imports are idempotent)."""

    pupil = models.ForeignKey(Pupil, on_delete=models.PROTECT, related_name="records")
    school = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    day = models.DateField(_("日付"))
    mark = models.CharField(_("区分"), max_length=12, choices=Mark.choices)
    reason = models.CharField(
        _("理由(分類)"), max_length=16, choices=AbsenceReason.choices, blank=True
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.ENTRY)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("出欠")
        verbose_name_plural = _("出欠")
        indexes = [models.Index(fields=["school", "day"], name="attendance_school_day_idx")]
        constraints = [
            models.UniqueConstraint(fields=["pupil", "day"], name="attendance_once_a_day"),
            models.CheckConstraint(
                condition=models.Q(reason="") | models.Q(mark="absent"),
                name="attendance_reason_only_when_absent",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pupil_id} {self.day} {self.mark}"


class RuleSet(models.Model):
    """A municipality's early-response rules (empty: the Akashi manual's defaults)."""

    municipality = models.CharField(_("市区町村"), max_length=60, unique=True)
    config = models.JSONField(_("ルール"), default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("早期対応のルール")
        verbose_name_plural = _("早期対応のルール")

    def __str__(self) -> str:
        return self.municipality


class PupilYear(models.Model):
    """A pupil's counters in one school year, recomputed from the records by the rules."""

    pupil = models.ForeignKey(Pupil, on_delete=models.PROTECT, related_name="years")
    school = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    school_year = models.PositiveSmallIntegerField(_("年度"))
    consecutive = models.PositiveSmallIntegerField(_("連続欠席日数"), default=0)
    longest_run = models.PositiveSmallIntegerField(_("最長の連続欠席"), default=0)
    total = models.PositiveSmallIntegerField(_("4月からの欠席日数"), default=0)
    last_year_total = models.PositiveSmallIntegerField(_("昨年度欠席日数"), null=True, blank=True)
    last_absent_on = models.DateField(null=True, blank=True)
    long_term = models.BooleanField(_("長期欠席"), default=False)
    long_term_reason = models.CharField(
        _("長期欠席の理由(分類)"), max_length=16, choices=AbsenceReason.choices, blank=True
    )
    evaluated_through = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("年度の欠席状況")
        verbose_name_plural = _("年度の欠席状況")
        indexes = [
            models.Index(fields=["school", "school_year", "total"], name="pupilyear_total_idx")
        ]
        constraints = [
            models.UniqueConstraint(fields=["pupil", "school_year"], name="pupilyear_unique")
        ]

    def __str__(self) -> str:
        return f"#{self.pupil_id} {self.school_year}"


class EarlyAction(models.Model):
    """A dated step of the manual for one pupil: who does it, by when, and what was found."""

    pupil = models.ForeignKey(Pupil, on_delete=models.PROTECT, related_name="actions")
    school = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    school_year = models.PositiveSmallIntegerField(_("年度"))
    kind = models.CharField(_("対応"), max_length=24, choices=ActionKind.choices)
    rule = models.CharField(_("基準"), max_length=40)
    # Which occurrence of the rule: a day, a run (its first day) or the year; with the
    # unique constraint this makes re-evaluating the records idempotent.
    trigger_key = models.CharField(max_length=40)
    triggered_on = models.DateField(_("基準に達した日"))
    consecutive = models.PositiveSmallIntegerField(_("連続欠席日数"))
    total = models.PositiveSmallIntegerField(_("4月からの欠席日数"))
    owner_role = models.CharField(_("担当"), max_length=16, choices=SchoolRole.choices)
    due_on = models.DateField(_("期限"))
    state = models.CharField(
        _("状態"), max_length=10, choices=ActionState.choices, default=ActionState.OPEN
    )
    checklist = models.JSONField(_("記録"), default=dict, blank=True)
    note = models.TextField(_("メモ"), blank=True)
    skip_reason = models.TextField(_("対応しない理由"), blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    sheet_id = models.PositiveBigIntegerField(_("相談シート"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_on", "id"]
        verbose_name = _("早期対応")
        verbose_name_plural = _("早期対応")
        indexes = [
            models.Index(
                fields=["school", "due_on"],
                name="earlyaction_open_idx",
                condition=models.Q(state="open"),
            ),
            models.Index(fields=["school", "triggered_on"], name="earlyaction_triggered_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["pupil", "school_year", "rule", "trigger_key"], name="earlyaction_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class SituationSheet(models.Model):
    """The 実態把握シート (short version; detailed items optional), kept in the school."""

    pupil = models.ForeignKey(Pupil, on_delete=models.PROTECT, related_name="situation_sheets")
    school = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    action = models.ForeignKey(
        EarlyAction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    fields = models.JSONField(default=dict)
    sheet_id = models.PositiveBigIntegerField(_("相談シート"), null=True, blank=True)
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    written_on = models.DateField(_("記入日"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-written_on", "-id"]
        verbose_name = _("実態把握シート")
        verbose_name_plural = _("実態把握シート")

    def __str__(self) -> str:
        return f"実態把握シート #{self.pk}"
