"""What can be consented to: the named sections of a sheet, the purposes, the lawful bases.

Consent is recorded per section and purpose, so these names are shared by consent records,
handoffs and the sheet's own field map (relay.sections).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Section(models.TextChoices):
    BASIC = "basic", _("基本情報")
    CONSULTATION = "consultation", _("相談内容")
    ATTENDANCE = "attendance", _("出欠・学校生活")
    HOME = "home", _("家庭の状況")
    HEALTH = "health", _("心身の状態・特性")
    SAFEGUARDING = "safeguarding", _("虐待・非行に関すること")
    CONNECTIONS = "connections", _("関係機関とのつながり")
    WISHES = "wishes", _("本人・保護者の希望")
    ATTACHMENTS = "attachments", _("添付資料")
    # Not a part of the sheet: what a receiver reports back to the sender of an accepted hop
    # (relay.ProgressUpdate: 通所開始, attendance days, ...). Consent names it like any
    # section, with the sender as the recipient.
    PROGRESS = "progress", _("受け入れ後の経過(通所状況など)")


# 要配慮個人情報 (APPI Art. 2(3)): health, disability, abuse, juvenile proceedings.
SPECIAL_CARE_SECTIONS = frozenset({Section.HEALTH, Section.SAFEGUARDING})
ALL_SECTIONS = frozenset(Section.values)
# The sections a sheet holds and a hop shares, in their order (every one but PROGRESS).
SHEET_SECTIONS: tuple[str, ...] = tuple(s for s in Section.values if s != Section.PROGRESS)


class Purpose(models.TextChoices):
    SUPPORT = "support", _("支援の提供と調整のため")
    CASE_CONFERENCE = "case_conference", _("ケース会議・支援会議での検討のため")
    SCHOOL_SUPPORT = "school_support", _("学校生活・学びの支援のため")
    PROTECTION = "protection", _("生命・身体・安全を守るため")


class Basis(models.TextChoices):
    """Consent, or the lawful basis that stands in for it (APPI Art. 27(1))."""

    CONSENT = "consent", _("本人・保護者の同意")
    LIFE_OR_BODY = "life_or_body", _("人の生命・身体・財産の保護(同意を得ることが困難)")
    CHILD_UPBRINGING = "child_upbringing", _("児童の健全な育成の推進(同意を得ることが困難)")
    PUBLIC_DUTY = "public_duty", _("国・自治体の事務への協力(同意により支障)")
    YOTAIKYO = "yotaikyo", _("要保護児童対策地域協議会での情報共有(児童福祉法25条の2)")
    SUPPORT_COUNCIL = "support_council", _("支援会議での情報共有(社会福祉法106条の6)")
