"""A living demo network: sheets with consents and handoffs in every state, through the
services, as staff would make them. Subjects are invented (initials only); agencies are real.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from agencies.actors import Staff
from agencies.models import Agency
from consent.models import ConsentRecord
from consent.vocabulary import Basis, Purpose
from relay import services
from relay.models import Handoff, ReferralSheet
from relay.services.demo import demo_handoff_backdate
from relay.services.escalations import escalate_due

WARD = "adachi-fukushi-marugoto-soudan"
# The Adachi desk relays inside Tokyo: its ward's agencies and the metropolitan ones
# (tests/agencies/test_demo_directory.py keeps every demo hop inside its prefecture).
EDUCATION = "tokyo-education-counseling-center"
FREE_SPACE = "shinagawa-kodomo-wakamono-free-space"
DEVELOPMENTAL = "tokyo-developmental-disabilities-support-center"


def _staff(username: str) -> Staff:
    return Staff.for_user(get_user_model().objects.get(username=username))


def _agency(slug: str) -> Agency:
    return Agency.objects.get(slug=slug)


def _sheet(staff: Staff, initials: str, **fields: Any) -> ReferralSheet:
    data = {
        "subject_initials": initials,
        "consulted_on": (timezone.localdate() - timedelta(days=3)).isoformat(),
        "consulter": "guardian",
        "municipality": "足立区",
        "categories": ["school_refusal"],
        "consultation": "デモ用の架空の相談です。",
        **fields,
    }
    return services.sheet_create(staff=staff, data=data)


def _consent(
    staff: Staff,
    sheet: ReferralSheet,
    recipients: list[str],
    sections: list[str],
    purposes: list[str] | None = None,
) -> ConsentRecord:
    return services.consent_record(
        staff=staff,
        sheet_id=sheet.pk,
        grantors=["guardian", "person"],
        method="written",
        recipients=[_agency(s) for s in recipients],
        sections=sections,
        purposes=purposes or [Purpose.SUPPORT],
        valid_until=timezone.now() + timedelta(days=180),
        child_assent="assented",
        explanation_version="2026-04 v1",
    )


def _send(
    staff: Staff,
    sheet: ReferralSheet,
    to: str,
    sections: list[str],
    approver: Staff | None = None,
    program: str = "",
) -> Handoff:
    agency = _agency(to)
    hop = services.handoff_create(
        staff=staff,
        sheet_id=sheet.pk,
        to_agency=agency,
        sections=sections,
        purpose=Purpose.SUPPORT,
        service=agency.services.get(slug=program) if program else None,
    )
    hop = services.handoff_submit(staff=staff, handoff_id=hop.pk)
    if approver is not None:
        hop = services.handoff_approve(staff=approver, handoff_id=hop.pk)
    return hop


def build_demo_network() -> int:
    ward = _agency(WARD)
    counselor, supervisor = _staff("adachi-counselor"), _staff("adachi-supervisor")
    if ReferralSheet.objects.filter(owner_agency=ward).exists():
        return 0
    base = ["basic", "consultation", "attendance", "wishes"]
    with transaction.atomic():
        # 1. A draft, no consent yet: its hop cannot be sent until consent is recorded.
        draft = _sheet(
            counselor, "S.K", grade="j1", consultation="入学後から休みがち。母が相談に来所。"
        )
        services.handoff_create(
            staff=counselor,
            sheet_id=draft.pk,
            to_agency=_agency("adachi-safety-net-adachi"),
            sections=["basic", "consultation"],
            purpose=Purpose.SUPPORT,
        )

        # 2. Waiting for the supervisor's sign-off.
        waiting = _sheet(
            counselor,
            "R.M",
            grade="e5",
            absence_days_month=6,
            absence_reason="school_refusal",
            consultation="朝の腹痛で欠席が続く。",
        )
        _consent(counselor, waiting, [EDUCATION], base)
        _send(counselor, waiting, EDUCATION, base)

        # 3-7. One sheet relayed to several agencies, each hop in another state.
        main = _sheet(
            counselor,
            "T.A",
            grade="not_in_school",
            birth_year=2004,
            categories=["hikikomori", "family"],
            municipality="足立区",
            consultation="高校中退後、自宅で過ごすことが多い。家族が相談。",
            wish_person="人の少ない場所なら行ってみたい",
            wish_guardian="まず話を聞いてほしい",
            home_situation="両親と三人暮らし",
        )
        _consent(
            counselor,
            main,
            [
                "adachi-safety-net-adachi",
                "shinjuku-hikikomori-consultation",
                "sumida-sumika",
                "shinagawa-yell-shinagawa",
            ],
            [*base, "home"],
        )
        _send(counselor, main, "sumida-sumika", base, approver=supervisor)
        # To a program of the agency: its drop-in space (居場所).
        accepted = _send(
            counselor,
            main,
            "adachi-safety-net-adachi",
            [*base, "home"],
            approver=supervisor,
            program="ibasho",
        )
        services.handoff_acknowledge(staff=_staff("safetynet-intake"), handoff_id=accepted.pk)
        services.handoff_accept(
            staff=_staff("safetynet-supervisor"), handoff_id=accepted.pk, note="初回面談を調整中"
        )
        # The receiver relays onward (a new hop from it, under the same consent).
        onward = services.handoff_create(
            staff=_staff("safetynet-supervisor"),
            sheet_id=main.pk,
            to_agency=_agency("shinjuku-hikikomori-consultation"),
            sections=["basic", "wishes"],
            purpose=Purpose.SUPPORT,
        )
        services.handoff_submit(staff=_staff("safetynet-supervisor"), handoff_id=onward.pk)
        services.handoff_acknowledge(staff=_staff("shinjuku-intake"), handoff_id=onward.pk)
        declined = _send(counselor, main, "shinagawa-yell-shinagawa", base, approver=supervisor)
        services.handoff_cancel(
            staff=counselor,
            handoff_id=declined.pk,
            reason="other_agency",
            note="足立区内の窓口で対応するため",
        )

        # 8. Completed: the loop closed with an outcome.
        done = _sheet(
            counselor,
            "Y.N",
            grade="j3",
            absence_days_since_april=45,
            absence_reason="school_refusal",
            consultation="進路について相談したい。",
        )
        _consent(counselor, done, [FREE_SPACE, DEVELOPMENTAL], base)
        completed = _send(counselor, done, FREE_SPACE, base, approver=supervisor)
        free_space = _staff("freespace-intake")
        services.handoff_accept(staff=free_space, handoff_id=completed.pk)
        services.handoff_complete(
            staff=free_space,
            handoff_id=completed.pk,
            outcome="support_started",
            note="週2回の通所を開始",
        )
        # 9. Declined by the receiver.
        no = _send(counselor, done, DEVELOPMENTAL, ["basic", "consultation"], approver=supervisor)
        services.handoff_decline(
            staff=_staff("tokyo-dd-intake"),
            handoff_id=no.pk,
            reason="out_of_scope",
            note="教育相談の窓口をご案内ください",
        )

        # 10. Consent withdrawn after sending.
        withdrawn = _sheet(counselor, "M.H", grade="e6", consultation="家庭での様子について。")
        record = _consent(counselor, withdrawn, [EDUCATION], base)
        _send(counselor, withdrawn, EDUCATION, base, approver=supervisor)
        services.consent_withdraw(
            staff=counselor, record_id=record.pk, via="保護者(電話)", reason="家庭で様子を見たい"
        )

        # 11. Overdue and escalated: nobody acknowledged in time.
        late = _sheet(
            counselor,
            "K.I",
            grade="j2",
            urgency="urgent",
            absence_days_month=12,
            consultation="連絡が取れない日が続いている。",
        )
        _consent(counselor, late, ["shinjuku-hikikomori-consultation"], base)
        overdue = _send(
            counselor, late, "shinjuku-hikikomori-consultation", base, approver=supervisor
        )
        demo_handoff_backdate(handoff_id=overdue.pk, days=4)

        # 12. A lawful basis waiting for approval (Akashi).
        akashi = _staff("akashi-counselor")
        urgent = _sheet(
            akashi,
            "H.S",
            grade="e4",
            municipality="明石市",
            categories=["abuse"],
            urgency="urgent",
            consultation="登校時にあざが見られ、保護者と連絡が取れない。",
        )
        services.lawful_basis_record(
            staff=akashi,
            sheet_id=urgent.pk,
            basis=Basis.LIFE_OR_BODY,
            reason="保護者と連絡が取れず、児童の安全確認が急がれるため",
            recipients=[_agency("akashi-kodomo-center")],
            sections=["basic", "safeguarding"],
            purposes=[Purpose.PROTECTION],
            valid_until=timezone.now() + timedelta(days=14),
        )
    escalate_due()
    return ReferralSheet.objects.count()
