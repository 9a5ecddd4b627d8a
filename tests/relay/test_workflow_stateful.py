"""Random sequences of the workflow never let an agency read what consent does not cover.

A hypothesis state machine drives create / consent / withdraw / send / acknowledge / relay /
cancel / decline, and (issue 10) edit / send-update / refuse-sections / expire, through the
services, as the UI and API would. After every step it checks, from the outside
(services.sheet_view and services.handoff_view), that every section an agency other than the
owner can read is, word for word, in a provision of a hop to that agency, sent under a record
that covered that agency and section at its send time, not withdrawn since, and not refused
(for that agency and section) after that send; and that the audit chain verifies.
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
from relay.models import Handoff, Provision, ReferralSheet
from relay.services.consents import consents_expire_due
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
        self.edits = 0
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

    # --- issue 10: edits, updates, later refusals, expiry ---------------------------------

    @rule(sheet=sheets, text=st.sampled_from(["追記A", "追記B", "追記C"]))
    def edit(self, sheet, text) -> None:
        """The owner edits shared sections; nothing reaches a receiver by itself."""
        self.edits += 1
        services.sheet_update(
            staff=self.net.counselor,
            sheet_id=sheet.pk,
            data={"consultation": f"{text} {self.edits}", "home_situation": f"{text}"},
            reason="追記",
        )

    @rule(hop=hops)
    def send_update(self, hop) -> None:
        if hop is None or hop.from_agency_id != self.net.ward.pk:
            return
        try:
            services.handoff_send_update(staff=self.net.counselor, handoff_id=hop.pk)
            event("update: sent")
        except WorkflowError as exc:
            event(f"update: refused {type(exc).__name__} {exc.context.get('reason', '')}")

    @rule(hop=hops, data=st.data())
    def refuse_sections(self, hop, data) -> None:
        """The person refuses some of what a live hop shares, to its receiver, afterwards."""
        if hop is None:
            return
        sections = data.draw(st.sets(st.sampled_from(hop.sections), min_size=1).map(sorted))
        services.consent_record(
            staff=self.net.counselor,
            sheet_id=hop.sheet_id,
            grantors=["guardian"],
            method="verbal",
            recipients=[hop.to_agency],
            sections=sections,
            purposes=[Purpose.SUPPORT],
            valid_until=timezone.now() + timedelta(days=30),
            decision=Decision.DENY,
        )

    @rule(record=consents)
    def expire(self, record) -> None:
        """The record's validity ends (the clock moved on) and the expiry sweep runs."""
        now = timezone.now()
        ConsentRecord.objects.filter(pk=record.pk).update(
            valid_from=now - timedelta(days=2), valid_until=now - timedelta(seconds=1)
        )
        consents_expire_due(now=now)

    # --- invariants ----------------------------------------------------------------------

    def _allowed(self, agency, sheet, section: str, text) -> bool:
        """Some provision of a hop to `agency` gave exactly this, lawfully, and still may."""
        refusals = [
            r
            for r in ConsentRecord.objects.filter(
                sheet=sheet, decision=Decision.DENY
            ).prefetch_related("recipient_agencies")
            if r.covers_recipient(agency) and section in r.sections
        ]
        for provision in Provision.objects.filter(
            handoff__sheet=sheet, handoff__to_agency=agency
        ).select_related("consent", "handoff"):
            consent = provision.consent
            if (
                section in provision.sections
                and provision.content.get(section) == text
                and consent is not None
                and consent.covers_recipient(agency)
                and section in consent.sections
                and consent.valid_from <= provision.created_at
                and consent.status not in (ConsentStatus.WITHDRAWN, ConsentStatus.ENTERED_IN_ERROR)
                and not any(r.created_at > provision.created_at for r in refusals)
            ):
                return True
        return False

    @invariant()
    def nobody_reads_beyond_what_was_lawfully_provided(self) -> None:
        for sheet in ReferralSheet.objects.all():
            for agency, staff in self.receivers.values():
                try:
                    view = services.sheet_view(staff=staff, sheet_id=sheet.pk)
                except NotFound:
                    view = None
                for section, text in view.content.items() if view else []:
                    assert self._allowed(agency, sheet, section, text), (
                        agency.slug,
                        sheet.pk,
                        section,
                    )
                for hop in Handoff.objects.filter(sheet=sheet, to_agency=agency).exclude(
                    sent_at=None
                ):
                    content = services.handoff_view(staff=staff, handoff_id=hop.pk).content
                    for section, text in content.items():
                        assert self._allowed(agency, sheet, section, text), (
                            agency.slug,
                            hop.pk,
                            section,
                        )

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
