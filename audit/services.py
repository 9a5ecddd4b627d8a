"""Writing and checking the audit trail. Called by every service that changes or reads data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction

from audit import chain
from audit.context import Actor, current_request
from audit.models import AuditAction, AuditEvent


def audit_record(
    *,
    action: AuditAction,
    actor: Actor,
    object_type: str = "",
    object_id: int | str | None = None,
    sheet_id: int | None = None,
    recipient_agency_id: int | None = None,
    sections: Iterable[str] = (),
    lawful_basis: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction.

    `detail` holds ids, codes and counts only: never names, initials or free text about
    the person.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must run inside the business transaction")
    request = current_request()
    chain.lock_chain()
    prev_hash = (
        AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        or chain.GENESIS_HASH
    )
    event = AuditEvent(
        action=action,
        actor_kind=str(actor.kind),
        actor_user_id=actor.user_id,
        actor_agency_id=actor.agency_id,
        actor_api_key_id=actor.api_key_id,
        actor_label=actor.label[:150],
        object_type=object_type,
        object_id="" if object_id is None else str(object_id),
        sheet_id=sheet_id,
        recipient_agency_id=recipient_agency_id,
        sections=sorted(set(sections)),
        lawful_basis=lawful_basis,
        detail=detail or {},
        request_id=request.request_id,
        ip=request.ip,
        prev_hash=prev_hash,
    )
    fields = {name: getattr(event, name) for name in chain.HASHED_FIELDS}
    event.hash = chain.compute_hash(prev_hash, fields)
    event.save()
    return event


def audit_record_now(**kwargs: Any) -> AuditEvent:
    """Record an event in a transaction of its own (for reads and logins outside one)."""
    with transaction.atomic():
        return audit_record(**kwargs)


def audit_verify() -> tuple[int, chain.Break | None]:
    """Verify the whole chain from the first event; streams rows in id order."""
    rows = AuditEvent.objects.order_by("id").values("id", "prev_hash", "hash", *chain.HASHED_FIELDS)
    return chain.verify(rows.iterator(chunk_size=2000))
