"""The handoff (hop): one relay of a sheet from one agency to another."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from consent.vocabulary import Purpose
from relay.models.sheets import ReferralSheet
from relay.states import CancelReason, DeclineReason, Outcome, Status
from security.validators import guard_text_fields


def _by(name: str) -> models.ForeignKey:
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=name,
    )


class Handoff(models.Model):
    """One hop, with the sections it shares, its lifecycle and its acknowledgment clock."""

    # Indexed by handoff_sheet_idx (sheet, id), which serves the foreign key too.
    sheet = models.ForeignKey(
        ReferralSheet, on_delete=models.PROTECT, related_name="handoffs", db_index=False
    )
    from_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="handoffs_out")
    to_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="handoffs_in")
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="onward",
        help_text=_("受け取った引き継ぎから、さらにつないだ場合の元の引き継ぎ"),
    )
    # The receiver's program the hop asks for (optional); it belongs to to_agency (checked
    # by the workflow and by clean()).
    service = models.ForeignKey(
        "agencies.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="handoffs",
        verbose_name=_("支援メニュー"),
    )
    # The eligibility warnings the sender saw and overrode with a reason (a note of kind
    # "eligibility"): [{"field", "code"}], empty when there were none.
    eligibility_overridden = models.JSONField(default=list, blank=True)
    sections = models.JSONField(_("共有する項目"))
    purpose = models.CharField(_("目的"), max_length=32, choices=Purpose.choices)
    message = models.TextField(_("送付先への連絡事項"), blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    version = models.PositiveIntegerField(default=1)
    urgent = models.BooleanField(default=False)
    # The record the sender named (optional): if set, only it may cover the send.
    requested_consent = models.ForeignKey(
        "consent.ConsentRecord",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # The consent record or approved lawful basis under which it was sent.
    consent = models.ForeignKey(
        "consent.ConsentRecord",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="handoffs",
    )

    created_by = _by("created by")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = _by("approved by")
    approved_at = models.DateTimeField(null=True, blank=True)
    sent_by = _by("sent by")
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = _by("acknowledged by")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    accepted_by = _by("accepted by")
    accepted_at = models.DateTimeField(null=True, blank=True)
    declined_by = _by("declined by")
    declined_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=24, choices=DeclineReason.choices, blank=True)
    completed_by = _by("completed by")
    completed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=24, choices=Outcome.choices, blank=True)
    cancelled_by = _by("cancelled by")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=24, choices=CancelReason.choices, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # Sent a second time on purpose while another open hop of the sheet goes to the receiver.
    deliberate_duplicate = models.BooleanField(default=False)
    # A counselor asked for an update to be sent; a supervisor's send clears it.
    update_requested_at = models.DateTimeField(null=True, blank=True)
    update_requested_by = _by("update requested by")

    # Acknowledgment clock and escalation (driven by the database, not broker ETAs).
    ack_due_at = models.DateTimeField(null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    escalation_policy = models.JSONField(default=dict, blank=True)
    receiver_notified = models.BooleanField(default=True)
    outcome_reminder_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("引き継ぎ")
        verbose_name_plural = _("引き継ぎ")
        indexes = [
            # Inbox: one indexed range per page, newest first, stable tie-break on id.
            models.Index(
                fields=["to_agency", "-sent_at", "-id"],
                name="handoff_inbox_idx",
                condition=models.Q(sent_at__isnull=False),
            ),
            models.Index(fields=["from_agency", "-created_at", "-id"], name="handoff_outbox_idx"),
            models.Index(fields=["sheet", "id"], name="handoff_sheet_idx"),
            # No index on escalation_level / next_escalation_at: they mirror the hop's
            # acknowledgment clock (duework_clock, which has the due index), and an indexed
            # column would make every escalation a non-HOT update of all the hop's indexes.
            models.Index(
                fields=["from_agency", "status"],
                name="handoff_approval_idx",
                condition=models.Q(status="awaiting_approval"),
            ),
            # The hourly outcome reminder reads due rows through this, not a scan.
            models.Index(
                fields=["outcome_reminder_at"],
                name="handoff_outcome_due_idx",
                condition=models.Q(outcome_reminder_at__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(from_agency=models.F("to_agency")), name="handoff_not_to_self"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="handoff_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"引き継ぎ #{self.pk}"

    def clean(self) -> None:
        """A hop targets only a program of the agency it goes to."""
        service = self.service if self.service_id is not None else None
        if service is not None and service.agency_id != self.to_agency_id:
            raise ValidationError(
                {"service": _("送付先の機関の支援メニューを選んでください。")},
                code="service_not_of_recipient",
            )

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'


# The shared rules of every write path (security/validators.py): no control characters in
# text, links http(s) only.
guard_text_fields(Handoff)
