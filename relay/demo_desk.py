"""The Komae routing desk in the demo (福祉のつながりシート): the desk, two requests through its
public form, and one person it has already routed. Subjects and requests are invented."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from agencies.actors import Staff
from agencies.models import Agency, AgencyKind, RoutingDesk
from consent.vocabulary import Purpose
from relay import services
from relay.models import IntakeRecord
from relay.services import desks

DESK = "komae-fukushi-tsunagari-sheet"
ROUTABLE = [
    AgencyKind.HIKIKOMORI_SUPPORT,
    AgencyKind.NPO_FREE_SCHOOL,
    AgencyKind.EDUCATION_SUPPORT,
    AgencyKind.WELFARE_OFFICE,
    AgencyKind.HEALTH_CENTER,
    AgencyKind.CHILD_GUIDANCE,
    AgencyKind.OTHER,
]
# (asker, contact method, contact, what is happening): invented.
REQUESTS = [
    (
        "family",
        "phone",
        "090-0000-1234(夕方なら出られます)",
        "20さいの 息子が 2年ほど 家から ほとんど 出ません。"
        "どこに そうだんすれば よいか わかりません。",
    ),
    (
        "neighbour",
        "letter",
        "狛江市和泉本町(デモ用の架空の住所)",
        "となりの 家の 中学生を、平日の 昼に よく 見かけます。"
        "学校に 行けて いないのかも しれません。",
    ),
]


def _staff(username: str) -> Staff:
    return Staff.for_user(get_user_model().objects.get(username=username))


def build_demo_desk() -> int:
    """The desk and its demo work; skipped if the desk already has intake records."""
    agency = Agency.objects.filter(slug=DESK).first()
    if agency is None:
        return 0
    desk, _created = RoutingDesk.objects.get_or_create(
        agency=agency,
        defaults={
            "prefecture": agency.prefecture or "東京都",
            "municipality": agency.municipality,
            "routable_kinds": [str(k) for k in ROUTABLE],
            "intake_intro": (
                "「ちょっと 気になるな」「たすけが いりそうだな」と 思う 人が いても、"
                "どこに そうだんしたら よいか わからない ときは、ここに 書いてください。"
                "市の 窓口が お話を きいて、たすけて くれる ところに つなぎます。"
            ),
        },
    )
    if IntakeRecord.objects.filter(desk=agency).exists():
        return 0
    counselor, supervisor = _staff("komae-desk-counselor"), _staff("komae-desk-supervisor")
    with transaction.atomic():
        first, *_rest = [
            desks.intake_submit(
                desk=desk,
                asker=asker,
                contact_method=method,
                contact_detail=contact,
                situation=situation,
                consent_to_contact=True,
            )
            for asker, method, contact, situation in REQUESTS
        ]
        # A third request, already talked through: a sheet, consent naming the desk and the
        # kinds it may choose among, and the desk's choice (Komae's youth consultation).
        routed_intake = desks.intake_submit(
            desk=desk,
            asker="person",
            contact_method="email",
            contact_detail="demo-person@example.invalid",
            situation="仕事を やめてから 外に 出るのが こわいです。話を きいて ほしいです。",
            consent_to_contact=True,
        )
        desks.intake_assign(staff=counselor, intake_id=first.pk, assignee_id=counselor.person.pk)
        sheet = desks.sheet_create_from_intake(
            staff=counselor,
            intake_id=routed_intake.pk,
            data={
                "subject_initials": "Y.T",
                "birth_year": timezone.localdate().year - 24,
                "consulted_on": timezone.localdate().isoformat(),
                "consulter": "person",
                "municipality": agency.municipality,
                "categories": ["hikikomori"],
                "consultation": "デモ用の架空の相談です。離職後、外出が減っている。",
            },
        )
        services.consent_record(
            staff=counselor,
            sheet_id=sheet.pk,
            grantors=["person"],
            method="written",
            routing_desk=agency,
            routing_kinds=[AgencyKind.HIKIKOMORI_SUPPORT, AgencyKind.OTHER],
            sections=["basic", "consultation"],
            purposes=[Purpose.SUPPORT],
            valid_until=timezone.now() + timedelta(days=180),
            child_assent="not_applicable",
            explanation_version="2026-04 v1",
        )
        hop = services.handoff_create(
            staff=counselor,
            sheet_id=sheet.pk,
            to_agency=Agency.objects.get(slug="komae-youth-consultation"),
            sections=["basic", "consultation"],
            purpose=Purpose.SUPPORT,
        )
        hop = services.handoff_submit(staff=counselor, handoff_id=hop.pk)
        services.handoff_approve(staff=supervisor, handoff_id=hop.pk)

        # The CSW at ふらっとなんぶ does not know where to send someone: the person agrees to
        # the desk choosing among hikikomori support, NPOs and others, and the CSW sends it
        # to the desk, whose triage then suggests where.
        csw = _staff("komae-csw-supervisor")
        worried = services.sheet_create(
            staff=csw,
            data={
                "subject_initials": "N.O",
                "birth_year": timezone.localdate().year - 19,
                "consulted_on": timezone.localdate().isoformat(),
                "consulter": "person",
                "municipality": agency.municipality,
                "categories": ["hikikomori"],
                "consultation": "デモ用の架空の相談です。ボランティアに来るが、家では昼夜逆転。",
                "home_situation": "デモ用: 祖母と二人暮らし",
            },
        )
        services.consent_record(
            staff=csw,
            sheet_id=worried.pk,
            grantors=["person"],
            method="written",
            routing_desk=agency,
            routing_kinds=[
                AgencyKind.HIKIKOMORI_SUPPORT,
                AgencyKind.NPO_FREE_SCHOOL,
                AgencyKind.OTHER,
            ],
            sections=["basic", "consultation"],
            purposes=[Purpose.SUPPORT],
            valid_until=timezone.now() + timedelta(days=180),
            child_assent="not_applicable",
            explanation_version="2026-04 v1",
        )
        services.handoff_relay(
            staff=csw,
            sheet_id=worried.pk,
            to_agency=agency,
            sections=["basic", "consultation"],
            purpose=Purpose.SUPPORT,
            message="つなぎ先がわからないため、窓口での振り分けをお願いします。",
        )
    return 1
