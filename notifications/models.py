"""Side effects recorded before they happen: the notification outbox, its delivery attempts,
in-app notices, and the webhook endpoints messages are delivered to.

A row is written in the business transaction; a task delivers it after commit, and a sweeper
re-enqueues what is due and undelivered. Payloads hold ids and links only, never the person's
data.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from security.validators import guard_text_fields


class Channel(models.TextChoices):
    EMAIL = "email", _("メール")
    WEBHOOK = "webhook", _("Webhook")


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("配信待ち")
    DELIVERED = "delivered", _("配信済み")
    FAILED = "failed", _("配信失敗(再試行終了)")
    CANCELLED = "cancelled", _("配信不要")


class EndpointState(models.TextChoices):
    ACTIVE = "active", _("有効")
    FAILING = "failing", _("配信失敗中")
    DISABLED = "disabled", _("停止")


class WebhookEndpoint(models.Model):
    """Where an agency's system receives signed notifications (Standard Webhooks)."""

    agency = models.OneToOneField(Agency, on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(max_length=80)
    # During rotation both secrets sign, so a receiver can switch without losing messages.
    previous_secret = models.CharField(max_length=80, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=EndpointState.choices, default="active")
    state_reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "agencies_webhookendpoint"  # created by agencies/0003, moved here in state
        verbose_name = _("Webhook送信先")
        verbose_name_plural = _("Webhook送信先")

    def __str__(self) -> str:
        return f"webhook of agency {self.agency_id}"


class OutboxMessage(models.Model):
    """One notification to deliver on one channel; its id is the webhook-id."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=48)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="outbox")
    handoff = models.ForeignKey(
        "relay.Handoff", on_delete=models.PROTECT, null=True, blank=True, related_name="outbox"
    )
    recipients = models.JSONField(default=list, blank=True)
    payload = models.JSONField()
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "relay_outboxmessage"  # created by relay/0001, moved here in state
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_due_idx",
                condition=models.Q(state="pending"),
            ),
            models.Index(fields=["handoff", "created_at"], name="outbox_handoff_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} -> agency {self.agency_id} ({self.channel})"


class DeliveryAttempt(models.Model):
    """One try at delivering an outbox message: when, result, how long."""

    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="log")
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        db_table = "relay_deliveryattempt"
        ordering = ["message", "attempted_at"]

    def __str__(self) -> str:
        return f"attempt {self.attempted_at:%Y-%m-%d %H:%M:%S} {self.status_code}"


class InAppNotification(models.Model):
    """A notice shown in the web UI to the staff of an agency."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="notifications")
    event_type = models.CharField(max_length=48)
    handoff = models.ForeignKey(
        "relay.Handoff", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "relay_inappnotification"
        indexes = [
            models.Index(fields=["agency", "-created_at", "-id"], name="inapp_agency_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} for agency {self.agency_id}"


# The shared rules of every write path (security/validators.py): no control characters in
# text, links http(s) only.
guard_text_fields(WebhookEndpoint)
