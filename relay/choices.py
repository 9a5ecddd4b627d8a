"""Choice vocabularies of the referral sheet, after the seeds' 相談シート and 実態把握シート."""

from django.db import models
from django.utils.translation import gettext_lazy as _

# The grade vocabulary is the directory's too (a program's eligibility names grades).
from agencies.grades import Grade as Grade


class Gender(models.TextChoices):
    MALE = "male", _("男")
    FEMALE = "female", _("女")
    OTHER = "other", _("その他")
    UNSTATED = "unstated", _("回答しない")


class Consulter(models.TextChoices):
    PERSON = "person", _("本人")
    GUARDIAN = "guardian", _("保護者")
    SCHOOL = "school", _("学校")
    RELATIVE = "relative", _("家族・親族")
    AGENCY = "agency", _("関係機関")
    OTHER = "other", _("その他")


class Urgency(models.TextChoices):
    NORMAL = "normal", _("通常")
    URGENT = "urgent", _("急ぎ")


class AbsenceReason(models.TextChoices):
    """The four reason classes of the long-absence survey (分類1〜4)."""

    ILLNESS = "illness", _("病気")
    ECONOMIC = "economic", _("経済的理由")
    SCHOOL_REFUSAL = "school_refusal", _("不登校")
    OTHER = "other", _("その他")


class Willingness(models.TextChoices):
    VERY_STRONG = "very_strong", _("大変強い")
    STRONG = "strong", _("強い")
    WEAK = "weak", _("弱い")
    VERY_WEAK = "very_weak", _("大変弱い")
    UNKNOWN = "unknown", _("未確認")


class DailyRhythm(models.TextChoices):
    REGULAR = "regular", _("規則正しい")
    DISRUPTED = "disrupted", _("乱れている")
    UNKNOWN = "unknown", _("未確認")


class ClassType(models.TextChoices):
    REGULAR = "regular", _("通常学級")
    SPECIAL_NEEDS = "special_needs", _("特別支援学級")


class YesNoUnknown(models.TextChoices):
    YES = "yes", _("ある")
    NO = "no", _("ない")
    UNKNOWN = "unknown", _("不明・未確認")


class Connection(models.TextChoices):
    """Agencies and professionals the person is already connected with (実態把握シート 7)."""

    SC = "sc", _("スクールカウンセラー(SC)")
    SSW = "ssw", _("スクールソーシャルワーカー(SSW)")
    CHILD_GUIDANCE = "child_guidance", _("児童相談所・こどもセンター")
    DEVELOPMENT_CENTER = "development_center", _("発達支援センター")
    EDUCATION_CONSULTATION = "education_consultation", _("教育相談機関")
    SUPPORT_CLASSROOM = "support_classroom", _("教育支援センター(適応指導教室)")
    FREE_SCHOOL = "free_school", _("フリースクール・民間施設")
    WELFARE_COMMISSIONER = "welfare_commissioner", _("民生委員・児童委員")
    AFTER_SCHOOL_DAY = "after_school_day", _("放課後等デイサービス")
    MEDICAL = "medical", _("医療機関")
    WELFARE_OFFICE = "welfare_office", _("福祉事務所・生活支援窓口")
    OTHER = "other", _("その他")


class PreferredConsultee(models.TextChoices):
    CHIEF_SC = "chief_sc", _("主任SC")
    CHIEF_SSW = "chief_ssw", _("主任SSW")
    SUPERVISOR = "supervisor", _("指導主事")
