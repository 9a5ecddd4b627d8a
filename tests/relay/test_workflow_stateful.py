"""Random sequences of the workflow never let an agency read what consent does not cover.

A hypothesis state machine drives create / consent / withdraw / send / acknowledge / relay /
cancel / decline through the services, as the UI and API would, and after every step checks,
from the outside (services.sheet_view), that every section any agency can read is covered by
a consent record in force for that agency, and that the audit chain verifies.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from agencies.errors import NotFound, WorkflowError
from audit.services import audit_verify
from consent.models import ConsentRecord, ConsentStatus, Decision
from consent.vocabulary import Purpose
from relay import services
from relay.models import ReferralSheet
from tests.fixtures import SHEET_DATA, build_network
from tests.profile import PROFILE

SECTIONS = ["basic", "consultation", "attendance", "home", "health"]
section_sets = st.sets(st.sampled_from(SECTIONS), min_size=1, max_size=3).map(sorted)


class _Rollback(Exception):
    pass


class WorkflowMachine(RuleBasedStateMachine):
    sheets = Bundle("sheets")
    consents = Bundle("consents")
    hops = Bundle("hops")

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.net = build_network()
        self.receivers = {
            "npo": (self.net.npo, self.net.npo_supervisor),
            "guidance": (self.net.guidance, self.net.guidance_intake),
            "welfare": (self.net.welfare, self.net.welfare_intake),
        }

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    @rule(target=sheets)
    def create_sheet(self) -> ReferralSheet:
        return services.sheet_create(staff=self.net.counselor, data=dict(SHEET_DATA))

    @rule(
        target=consents,
        sheet=sheets,
        to=st.sets(st.sampled_from(["npo", "guidance", "welfare"]), min_size=1),
        sections=section_sets,
        deny=st.sampled_from([False, False, False, True]),
    )
    def record_consent(self, sheet, to, sections, deny) -> ConsentRecord:
        return services.consent_record(
            staff=self.net.counselor,
            sheet_id=sheet.pk,
            grantors=["guardian"],
            method="verbal",
            recipients=[self.receivers[name][0] for name in sorted(to)],
            sections=sections,
            purposes=[Purpose.SUPPORT],
            valid_until=timezone.now() + timedelta(days=30),
            decision=Decision.DENY if deny else Decision.PERMIT,
        )

    @rule(record=consents)
    def withdraw(self, record) -> None:
        try:
            stopped = services.consent_withdraw(
                staff=self.net.counselor, record_id=record.pk, via="本人"
            )
            event(f"withdraw: stopped {min(len(stopped), 2)} hop(s)")
        except WorkflowError:
            event("withdraw: refused")

    @rule(hop=hops)
    def withdraw_what_a_hop_was_sent_under(self, hop) -> None:
        """Aim at the interesting case: the consent a live hop depends on is withdrawn."""
        if hop is not None and hop.consent_id is not None:
            self.withdraw(hop.consent)

    @rule(
        target=hops,
        sheet=sheets,
        to=st.sampled_from(["npo", "guidance", "welfare"]),
        sections=section_sets,
    )
    def send_anything(self, sheet, to, sections):
        return self.send(sheet, to, sections)

    def send(self, sheet, to, sections):
        try:
            hop = services.handoff_create(
                staff=self.net.counselor,
                sheet_id=sheet.pk,
                to_agency=self.receivers[to][0],
                sections=sections,
                purpose=Purpose.SUPPORT,
            )
            sent = services.handoff_submit(staff=self.net.counselor, handoff_id=hop.pk)
            event("send: sent")
            return sent
        except WorkflowError as exc:
            event(f"send: refused {type(exc).__name__} {exc.context.get('reason', '')}")
            return None

    @rule(target=hops, record=consents, data=st.data())
    def send_within_consent(self, record, data):
        """Mostly-successful sends: a recipient and sections the record names."""
        if record.decision == Decision.DENY:
            return None
        recipients = sorted(a.slug for a in record.recipient_agencies.all())
        to = data.draw(st.sampled_from(recipients))
        sections = data.draw(st.sets(st.sampled_from(record.sections), min_size=1).map(sorted))
        return self.send(record.sheet, to, sections)

    @rule(hop=hops, to=st.sampled_from(["npo", "guidance", "welfare"]), sections=section_sets)
    def relay_onward(self, hop, to, sections) -> None:
        if hop is None:
            return
        _agency, staff = self.receivers[hop.to_agency.slug]
        try:
            onward = services.handoff_create(
                staff=staff,
                sheet_id=hop.sheet_id,
                to_agency=self.receivers[to][0],
                sections=sections,
                purpose=Purpose.SUPPORT,
            )
            services.handoff_submit(staff=staff, handoff_id=onward.pk)
        except WorkflowError:
            pass

    @rule(hop=hops, action=st.sampled_from(["acknowledge", "accept", "decline", "cancel"]))
    def answer(self, hop, action) -> None:
        if hop is None:
            return
        _agency, receiver = self.receivers[hop.to_agency.slug]
        sender = self.net.counselor if hop.from_agency_id == self.net.ward.pk else None
        try:
            if action == "acknowledge":
                services.handoff_acknowledge(staff=receiver, handoff_id=hop.pk)
            elif action == "accept":
                services.handoff_accept(staff=receiver, handoff_id=hop.pk)
            elif action == "decline":
                services.handoff_decline(staff=receiver, handoff_id=hop.pk, reason="no_capacity")
            elif sender is not None:
                services.handoff_cancel(staff=sender, handoff_id=hop.pk, reason="other")
        except WorkflowError:
            pass

    @invariant()
    def nobody_reads_beyond_consent(self) -> None:
        now = timezone.now()
        for sheet in ReferralSheet.objects.all():
            in_force = [
                r
                for r in ConsentRecord.objects.filter(
                    sheet=sheet, status=ConsentStatus.ACTIVE, decision=Decision.PERMIT
                ).prefetch_related("recipient_agencies")
                if r.in_force_at(now)
            ]
            for agency, staff in self.receivers.values():
                try:
                    view = services.sheet_view(staff=staff, sheet_id=sheet.pk)
                except NotFound:
                    continue
                for section in view.sections:
                    assert any(
                        r.covers_recipient(agency) and section in r.sections for r in in_force
                    ), (agency.slug, sheet.pk, section)

    @invariant()
    def audit_chain_verifies(self) -> None:
        assert audit_verify()[1] is None


@pytest.mark.django_db
def test_no_agency_reads_beyond_consent_in_random_workflows() -> None:
    run_state_machine_as_test(
        WorkflowMachine,
        settings=settings(
            max_examples=PROFILE.stateful_examples,
            stateful_step_count=PROFILE.stateful_steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
