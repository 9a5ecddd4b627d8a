"""The consent gate, tried from the outside: nothing leaves without consent covering it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from agencies.errors import ConsentDoesNotCover, ConsentWithdrawn, NotFound
from audit.models import AuditAction, AuditEvent
from audit.services import audit_verify
from consent.vocabulary import Basis, Purpose
from notifications.models import OutboxMessage
from relay import services
from relay.models import Handoff, SheetAccess
from relay.states import Status

pytestmark = pytest.mark.django_db


def _actions_since(event_id: int) -> list[str]:
    return list(AuditEvent.objects.filter(id__gt=event_id).values_list("action", flat=True))


def _last_event_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_send_without_consent_fails_and_writes_only_the_refusal(net) -> None:
    """GIVEN a sheet with no consent WHEN the counselor sends it THEN it is refused, the hop
    stays a draft, the receiver has no access, nothing is queued, and one refusal is audited."""
    sheet = net.sheet()
    hop = services.handoff_create(
        staff=net.counselor,
        sheet_id=sheet.pk,
        to_agency=net.npo,
        sections=["basic"],
        purpose=Purpose.SUPPORT,
    )
    mark = _last_event_id()

    with pytest.raises(ConsentDoesNotCover) as refused:
        services.handoff_submit(staff=net.counselor, handoff_id=hop.pk)

    assert refused.value.context["reason"] == "no-consent"
    hop.refresh_from_db()
    assert hop.status == Status.DRAFT and hop.sent_at is None and hop.consent is None
    assert not SheetAccess.objects.filter(agency=net.npo).exists()
    assert not OutboxMessage.objects.exists()
    assert _actions_since(mark) == [AuditAction.HANDOFF_SEND_REFUSED]
    with pytest.raises(NotFound):
        services.sheet_view(staff=net.npo_intake, sheet_id=sheet.pk)


def test_consent_for_one_agency_does_not_allow_another(net) -> None:
    sheet = net.sheet()
    net.consent(sheet, to=[net.npo])
    with pytest.raises(ConsentDoesNotCover) as refused:
        net.send(sheet, to=net.welfare)
    assert refused.value.context["reason"] == "recipient-not-covered"
    assert net.send(sheet, to=net.npo).status == Status.SENT


def test_consent_by_agency_kind_covers_every_agency_of_that_kind(net) -> None:
    sheet = net.sheet()
    net.consent(sheet, to=[], kinds=["child_guidance"])
    assert net.send(sheet, to=net.guidance).status == Status.SENT
    with pytest.raises(ConsentDoesNotCover):
        net.send(sheet, to=net.npo)


def test_consent_for_some_sections_does_not_allow_others(net) -> None:
    sheet = net.sheet()
    net.consent(sheet, sections=["basic", "consultation"])
    with pytest.raises(ConsentDoesNotCover) as refused:
        net.send(sheet, sections=["basic", "health"])
    assert refused.value.context["reason"] == "sections-not-covered"
    assert refused.value.context["missing_sections"] == ["health"]


def test_consent_for_one_purpose_does_not_allow_another(net) -> None:
    sheet = net.sheet()
    net.consent(sheet, purposes=[Purpose.SUPPORT])
    with pytest.raises(ConsentDoesNotCover) as refused:
        net.send(sheet, purpose=Purpose.CASE_CONFERENCE)
    assert refused.value.context["reason"] == "purpose-not-covered"


def test_expired_consent_does_not_allow_sending(net) -> None:
    sheet = net.sheet()
    net.consent(sheet, days=30)
    with (
        time_machine.travel(timezone.now() + timedelta(days=31)),
        pytest.raises(ConsentDoesNotCover) as refused,
    ):
        net.send(sheet)
    assert refused.value.context["reason"] == "expired"


def test_a_recorded_refusal_wins_over_a_broader_permission(net) -> None:
    """The guardian agreed to share with child guidance centres in general, but refused the
    home section to this one: the refusal holds."""
    sheet = net.sheet()
    net.consent(sheet, to=[], kinds=["child_guidance"], sections=["basic", "home"])
    net.consent(sheet, to=[net.guidance], sections=["home"], decision="deny")
    with pytest.raises(ConsentDoesNotCover) as refused:
        net.send(sheet, to=net.guidance, sections=["basic", "home"])
    assert refused.value.context["reason"] == "refused"
    assert net.send(sheet, to=net.guidance, sections=["basic"]).status == Status.SENT


def test_withdrawal_blocks_pending_hops_and_removes_access(net) -> None:
    """GIVEN one hop sent and one waiting for approval under the same consent WHEN the
    guardian withdraws THEN the sent one is withdrawn, its receiver loses access and is told,
    and the waiting one can no longer be sent."""
    sheet = net.sheet()
    record = net.consent(sheet, to=[net.npo, net.guidance])
    sent = net.send(sheet, to=net.npo)
    net.ward.requires_supervisor_approval = True
    net.ward.save()
    waiting = net.send(sheet, to=net.guidance)
    assert waiting.status == Status.AWAITING_APPROVAL
    assert services.sheet_view(staff=net.npo_intake, sheet_id=sheet.pk).sections == [
        "basic",
        "consultation",
    ]

    stopped = services.consent_withdraw(
        staff=net.counselor, record_id=record.pk, via="保護者(電話)", reason="本人が望まない"
    )

    assert [h.pk for h in stopped] == [sent.pk]
    sent.refresh_from_db()
    assert sent.status == Status.WITHDRAWN and sent.withdrawn_at is not None
    with pytest.raises(NotFound):
        services.sheet_view(staff=net.npo_intake, sheet_id=sheet.pk)
    assert OutboxMessage.objects.filter(agency=net.npo, event_type="handoff.withdrawn").exists()
    with pytest.raises(ConsentWithdrawn):
        services.handoff_approve(staff=net.supervisor, handoff_id=waiting.pk)
    waiting.refresh_from_db()
    assert waiting.status == Status.AWAITING_APPROVAL
    assert audit_verify()[1] is None


def test_lawful_basis_needs_a_supervisor_before_it_allows_sending(net) -> None:
    sheet = net.sheet(urgency="urgent")
    basis = services.lawful_basis_record(
        staff=net.counselor,
        sheet_id=sheet.pk,
        basis=Basis.LIFE_OR_BODY,
        reason="保護者と連絡が取れず、本人の安全確認が急がれるため",
        recipients=[net.guidance],
        sections=["basic", "home"],
        purposes=[Purpose.PROTECTION],
        valid_until=timezone.now() + timedelta(days=14),
    )
    with pytest.raises(ConsentDoesNotCover) as refused:
        net.send(sheet, to=net.guidance, sections=["basic", "home"], purpose=Purpose.PROTECTION)
    assert refused.value.context["reason"] == "basis-not-approved"

    services.lawful_basis_decide(staff=net.supervisor, record_id=basis.pk, approve=True)
    hop = net.send(sheet, to=net.guidance, sections=["basic", "home"], purpose=Purpose.PROTECTION)
    assert hop.status == Status.SENT and hop.consent_id == basis.pk
    sent_event = AuditEvent.objects.get(action=AuditAction.HANDOFF_SENT, object_id=str(hop.pk))
    assert sent_event.lawful_basis == Basis.LIFE_OR_BODY


def test_a_counselor_cannot_approve_a_lawful_basis(net) -> None:
    from agencies.errors import NotAllowed

    sheet = net.sheet()
    basis = services.lawful_basis_record(
        staff=net.counselor,
        sheet_id=sheet.pk,
        basis=Basis.YOTAIKYO,
        reason="要対協の個別ケース検討",
        recipients=[net.guidance],
        sections=["basic"],
        purposes=[Purpose.CASE_CONFERENCE],
        valid_until=timezone.now() + timedelta(days=30),
    )
    with pytest.raises(NotAllowed):
        services.lawful_basis_decide(staff=net.counselor, record_id=basis.pk, approve=True)


def test_supervisor_sign_off_is_required_when_the_agency_asks_for_it(net) -> None:
    net.ward.requires_supervisor_approval = True
    net.ward.save()
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    assert hop.status == Status.AWAITING_APPROVAL
    with pytest.raises(NotFound):  # not sent yet: the receiver cannot see it
        services.handoff_view(staff=net.npo_intake, handoff_id=hop.pk)
    approved = services.handoff_approve(staff=net.supervisor, handoff_id=hop.pk)
    assert approved.status == Status.SENT and approved.approved_by_id == net.supervisor.user_id
    assert (
        services.handoff_view(staff=net.npo_intake, handoff_id=hop.pk).content["basic"][
            "subject_initials"
        ]
        == "A.T"
    )


def test_nothing_is_sent_when_the_consent_is_withdrawn_between_approval_request_and_approval(
    net,
) -> None:
    net.ward.requires_supervisor_approval = True
    net.ward.save()
    sheet = net.sheet()
    record = net.consent(sheet)
    hop = net.send(sheet)
    services.consent_withdraw(staff=net.counselor, record_id=record.pk, via="本人")
    with pytest.raises(ConsentWithdrawn):
        services.handoff_approve(staff=net.supervisor, handoff_id=hop.pk)
    assert Handoff.objects.get(pk=hop.pk).status == Status.AWAITING_APPROVAL


def test_expired_records_are_marked_expired_once(net) -> None:
    from consent.models import ConsentStatus
    from relay.services.consents import consents_expire_due

    sheet = net.sheet()
    record = net.consent(sheet, days=10)
    assert consents_expire_due() == 0
    later = timezone.now() + timedelta(days=11)
    assert consents_expire_due(now=later) == 1
    assert consents_expire_due(now=later) == 0
    record.refresh_from_db()
    assert record.status == ConsentStatus.EXPIRED
    assert AuditEvent.objects.filter(action=AuditAction.CONSENT_EXPIRED).count() == 1


def test_a_named_record_is_the_only_one_that_may_cover_the_send(net) -> None:
    """The sender names a lawful basis still waiting for approval: the broader consent that
    would cover the send does not stand in for it."""
    sheet = net.sheet()
    net.consent(sheet)
    basis = services.lawful_basis_record(
        staff=net.counselor,
        sheet_id=sheet.pk,
        basis=Basis.SUPPORT_COUNCIL,
        reason="支援会議での検討",
        recipients=[net.npo],
        sections=["basic"],
        purposes=[Purpose.SUPPORT],
        valid_until=timezone.now() + timedelta(days=30),
    )
    hop = services.handoff_create(
        staff=net.counselor,
        sheet_id=sheet.pk,
        to_agency=net.npo,
        sections=["basic"],
        purpose=Purpose.SUPPORT,
        consent_id=basis.pk,
    )
    with pytest.raises(ConsentDoesNotCover) as refused:
        services.handoff_submit(staff=net.counselor, handoff_id=hop.pk)
    assert refused.value.context["reason"] == "basis-not-approved"
    other_sheet = net.sheet()
    from agencies.errors import InvalidInput

    with pytest.raises(InvalidInput) as wrong_sheet:
        services.handoff_create(
            staff=net.counselor,
            sheet_id=other_sheet.pk,
            to_agency=net.npo,
            sections=["basic"],
            purpose=Purpose.SUPPORT,
            consent_id=basis.pk,
        )
    assert wrong_sheet.value.field == "consent"


def test_consent_expiry_runs_on_the_beat_schedule(settings) -> None:
    from relay.tasks import expire_consents
    from tsunagu.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["expire-consents"]
    assert entry["task"] == expire_consents.name
    assert expire_consents.name in app.tasks
