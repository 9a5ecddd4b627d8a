"""School grades: the vocabulary a sheet records and a program's eligibility names."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Grade(models.TextChoices):
    PRESCHOOL = "preschool", _("未就学")
    E1 = "e1", _("小学1年")
    E2 = "e2", _("小学2年")
    E3 = "e3", _("小学3年")
    E4 = "e4", _("小学4年")
    E5 = "e5", _("小学5年")
    E6 = "e6", _("小学6年")
    J1 = "j1", _("中学1年")
    J2 = "j2", _("中学2年")
    J3 = "j3", _("中学3年")
    H1 = "h1", _("高校1年")
    H2 = "h2", _("高校2年")
    H3 = "h3", _("高校3年")
    NOT_IN_SCHOOL = "not_in_school", _("在籍なし・卒業後")


# The age a pupil of each grade has at the start of the school year (April); they reach the
# next year of age during it.
GRADE_AGE = {
    "preschool": 5,
    "e1": 6,
    "e2": 7,
    "e3": 8,
    "e4": 9,
    "e5": 10,
    "e6": 11,
    "j1": 12,
    "j2": 13,
    "j3": 14,
    "h1": 15,
    "h2": 16,
    "h3": 17,
}
