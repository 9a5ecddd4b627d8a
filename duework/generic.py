"""A clock kind whose subject is any row and whose levels tell generic parties: the owner
agency, the person who owns the clock, the owner's supervisors, a coordinating agency.

Consent expiry, plan actions and review dates use it; the hop clocks have their own kinds
(relay/services/escalations.py) because they tell the two sides of a hop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models

from agencies.models import Agency
from audit.models import AuditAction
from duework.kinds import Firing
from duework.models import Clock
from duework.outbox import SYSTEM, Batch, emails
from notifications.delivery import supervisor_emails_by_agency
from notifications.models import Channel


@dataclass(frozen=True)
class GenericKind:
    """`still_open(row)`: does the subject still wait for this clock (else it stops);
    `path(clock)`: where the told agency opens the subject (a screen that exists for it)."""

    kind: str
    event: str
    still_open: Callable[[Any], bool]
    path: Callable[[Clock], str]

    def fire(self, firings: list[Firing], *, now: datetime, batch: Batch) -> None:
        by_type: dict[int, list[int]] = {}
        for firing in firings:
            clock = firing.clock
            if clock.subject_type_id is not None and clock.subject_id is not None:
                by_type.setdefault(clock.subject_type_id, []).append(clock.subject_id)
        locked: dict[tuple[int, int], Any] = {}
        row: Any
        existing: set[tuple[int, int]] = set()
        for type_id, ids in by_type.items():
            model = ContentType.objects.get_for_id(type_id).model_class()
            if model is None:
                continue
            rows = model._default_manager.select_for_update(skip_locked=True, of=("self",))
            for row in rows.filter(pk__any=ids):
                locked[(type_id, row.pk)] = row
            manager = model._default_manager
            existing |= {
                (type_id, pk) for pk in manager.filter(pk__any=ids).values_list("pk", flat=True)
            }
        agency_ids = set()
        for firing in firings:
            agency_ids.add(firing.clock.owner_agency_id)
            if coordinator := firing.clock.context.get("coordinator_agency_id"):
                agency_ids.add(coordinator)
        agencies = Agency.objects.in_bulk(agency_ids)
        supervisors = supervisor_emails_by_agency(agency_ids)
        user_ids = {f.clock.owner_user_id for f in firings if f.clock.owner_user_id}
        users = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "email"))
        for firing in firings:
            clock = firing.clock
            if clock.subject_type_id is not None:
                row = locked.get((clock.subject_type_id, clock.subject_id or 0))
                if row is None:
                    # Locked by a workflow transaction: decided at the next sweep. Gone: stop.
                    exists = (clock.subject_type_id, clock.subject_id) in existing
                    firing.result = "skip" if exists else "stop"
                    continue
                if not self.still_open(row):
                    firing.result = "stop"
                    continue
            firing.told = self._tell(firing, batch, agencies, supervisors, users)
            firing.result = "fired"
            batch.audits.append(_fired_event(firing, now))

    def _tell(
        self,
        firing: Firing,
        batch: Batch,
        agencies: dict[int, Agency],
        supervisors: dict[int, list[str]],
        users: dict[int, str],
    ) -> list[dict[str, Any]]:
        clock = firing.clock
        owner = agencies[clock.owner_agency_id]
        person = users.get(clock.owner_user_id or 0, "")
        payload = clock_payload(self.event, clock, level=firing.fired, path=self.path(clock))
        notify = firing.spec.get("notify", "owner")
        if notify == "recorder":
            to = emails(person) or emails(owner.intake_email)
            return [batch.notify(self.event, agency=owner, payload=payload, email_to=to)]
        if notify == "owner":
            to = emails(owner.intake_email, person)
            return [batch.notify(self.event, agency=owner, payload=payload, email_to=to)]
        told = [
            batch.notify(
                self.event,
                agency=owner,
                payload=payload,
                email_to=emails(owner.intake_email, person, *supervisors.get(owner.pk, [])),
                channels=(Channel.EMAIL,),
            )
        ]
        coordinator = agencies.get(clock.context.get("coordinator_agency_id") or 0)
        if notify != "owner_supervisors" and coordinator and coordinator.pk != owner.pk:
            told.append(
                batch.notify(
                    self.event,
                    agency=coordinator,
                    payload=clock_payload(
                        self.event, clock, level=firing.fired, path=coordinator_path()
                    ),
                    email_to=emails(coordinator.intake_email, *supervisors.get(coordinator.pk, [])),
                    channels=(Channel.EMAIL,),
                )
            )
        return told


def coordinator_path() -> str:
    """The ward coordinator's view (conferences registers its path at start-up)."""
    return getattr(settings, "TSUNAGU_COORDINATOR_PATH", "/coordinator/")


def clock_payload(
    event: str, clock: Clock, *, level: int, path: str, **extra: Any
) -> dict[str, Any]:
    """The e-mail/webhook body of a firing: kind, ids, level, due time and a link; no
    personal data."""
    return {
        "type": event,
        "data": {
            "clock_id": clock.pk,
            "kind": clock.kind,
            "subject": clock.subject_key,
            "sheet_id": clock.sheet_id,
            "level": level,
            "due_at": clock.due_at.isoformat(),
            "url": settings.SITE_URL + path,
            **extra,
        },
    }


def _fired_event(firing: Firing, now: datetime) -> dict[str, Any]:
    clock = firing.clock
    model: type[models.Model] | None = (
        clock.subject_type.model_class() if clock.subject_type is not None else None
    )
    return {
        "action": AuditAction.CLOCK_FIRED,
        "actor": SYSTEM,
        "object_type": model._meta.model_name if model else "clock",
        "object_id": clock.subject_id if clock.subject_id is not None else clock.pk,
        "sheet_id": clock.sheet_id,
        "recipient_agency_id": clock.owner_agency_id,
        "detail": {
            "clock_id": clock.pk,
            "kind": clock.kind,
            "level": firing.fired,
            "repeat": firing.repeat,
            "due_at": clock.due_at.isoformat(),
            "fired_at": now.isoformat(),
            "told": [n["agency_id"] for n in firing.told],
            "notifications": firing.told,
        },
    }
