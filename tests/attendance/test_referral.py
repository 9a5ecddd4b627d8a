"""From the 3-day point to a 相談シート: drafted through relay's sheet service with the
attendance section filled from the records; the 実態把握シート stays in the school."""

from __future__ import annotations

from datetime import date

from attendance import services
from attendance.models import EarlyAction, SituationSheet
from audit.context import Actor
from relay.models import ReferralSheet


def test_three_days_draft_the_consultation_sheet(akashi, travel):
    p = akashi.pupils[0]
    days = [date(2025, 9, 10), date(2025, 9, 11), date(2025, 9, 12)]
    with travel(date(2025, 9, 12)):
        services.attendance_import(
            school=akashi.school,
            entries=[services.Entry(p.pk, d, "absent", "school_refusal") for d in days]
            + [services.Entry(p.pk, date(2025, 8, 29), "absent", "illness")],
            actor=Actor.system("t"),
            user=None,
        )
        share = EarlyAction.objects.get(pupil=p, rule="consecutive_3")
        drafted = services.referral_draft(
            staff=akashi.teacher,
            action_id=share.pk,
            situation={"will_child": "weak", "traits": ["developmental"], "sc_link": "yes"},
            consultation="",
        )
    sheet = ReferralSheet.objects.get(pk=drafted.sheet_id)
    assert sheet.owner_agency == akashi.school and sheet.first_sent_at is None
    assert sheet.subject_initials == "A.T" and sheet.subject_full_name == ""
    assert (sheet.absence_days_month, sheet.absence_days_since_april) == (3, 4)
    assert sheet.absence_reason == "school_refusal"
    assert sheet.developmental_traits and sheet.connections == ["sc"]
    assert drafted.special_care == ["developmental"]
    assert SituationSheet.objects.get().sheet_id == sheet.pk
