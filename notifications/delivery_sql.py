"""The two statements of a delivery's hot path, on PostgreSQL: the claim and the success.

A delivery on the ORM path made eight round trips (claim, read the claimed row, read the
endpoint, lock the row, log the attempt, save the row, audit, commit), and building their SQL
was most of a worker's CPU: one worker process tops out where its one GIL is busy. Here the
claim is one statement (the conditional update that takes the lease, returning the row with its
hop's sheet and the agency's endpoint) and the success one more (log the attempt and settle the
row if it is still pending, returning the attempt count). The guarantees are the ORM path's:
the claim's WHERE is the same lease condition, evaluated under the row lock the UPDATE takes;
the success's `state = 'pending'` is what the ORM path checks after SELECT ... FOR UPDATE, and
under READ COMMITTED an UPDATE that waited on the row re-checks it against the committed row.
Everything else (retries, failures, skips, the SQLite default) stays on the ORM path in
notifications.delivery.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from django.db import connection, models

from notifications.models import (
    Channel,
    DeliveryAttempt,
    DeliveryState,
    OutboxMessage,
    WebhookEndpoint,
)


def _columns(model: type[models.Model], alias: str) -> str:
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


def _handoff_model() -> Any:
    # The hop's model without importing relay (notifications sits below it).
    related = OutboxMessage._meta.get_field("handoff").related_model
    if not isinstance(related, type):  # a lazy "app.Model" reference, unresolved
        raise LookupError("relay.Handoff is not loaded")
    return related


@functools.cache
def _claim_sql() -> str:
    outbox = OutboxMessage._meta.db_table
    handoff = _handoff_model()
    # Table and column names from the models' meta, never input; the values are parameters.
    return f"""
WITH claimed AS (
    UPDATE "{outbox}" SET "locked_until" = %(until)s
    WHERE "id" = %(id)s AND "state" = %(pending)s AND "next_attempt_at" <= %(now)s
        AND ("locked_until" IS NULL OR "locked_until" < %(now)s)
    RETURNING *
)
SELECT {_columns(OutboxMessage, "m")}, h."sheet_id", {_columns(WebhookEndpoint, "e")}
FROM claimed m
LEFT JOIN "{handoff._meta.db_table}" h ON h."id" = m."handoff_id"
LEFT JOIN "{WebhookEndpoint._meta.db_table}" e
    ON e."agency_id" = m."agency_id" AND m."channel" = %(webhook)s
"""  # noqa: S608


def _instance(model: type[models.Model], values: tuple | list) -> Any:
    """A model instance from one row's values in concrete-field order, converted as the ORM
    converts them (the JSON fields arrive as text)."""
    converted = [
        field.from_db_value(value, None, connection)
        if value is not None and hasattr(field, "from_db_value")
        else value
        for field, value in zip(model._meta.concrete_fields, values, strict=True)
    ]
    return model.from_db(
        connection.alias, [field.attname for field in model._meta.concrete_fields], converted
    )


def claim(
    message_id: str, *, now: datetime, until: datetime
) -> tuple[OutboxMessage, WebhookEndpoint | None] | None:
    """Take the row's lease if it is due and free: the row, and for a webhook the agency's
    endpoint (None if it has none); None if the row is not ours to deliver."""
    with connection.cursor() as cursor:
        cursor.execute(
            _claim_sql(),
            {
                "id": message_id,
                "now": now,
                "until": until,
                "pending": DeliveryState.PENDING,
                "webhook": Channel.WEBHOOK,
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    n = len(OutboxMessage._meta.concrete_fields)
    message: OutboxMessage = _instance(OutboxMessage, row[:n])
    if message.handoff_id is not None:
        # The hop with only its sheet loaded (the audit event's sheet); the rest is deferred.
        message.handoff = _handoff_model().from_db(
            connection.alias, ["id", "sheet_id"], [message.handoff_id, row[n]]
        )
    endpoint_values = row[n + 1 :]
    endpoint = None if endpoint_values[0] is None else _instance(WebhookEndpoint, endpoint_values)
    return message, endpoint


@functools.cache
def _delivered_sql() -> str:
    attempt_fields = ("message", "attempted_at", "status_code", "latency_ms", "error", "succeeded")
    column = {field.name: field.column for field in DeliveryAttempt._meta.concrete_fields}
    columns = ", ".join(f'"{column[name]}"' for name in attempt_fields)
    return f"""
WITH attempt AS (
    INSERT INTO "{DeliveryAttempt._meta.db_table}" ({columns})
    VALUES (%(id)s, %(now)s, %(status_code)s, %(latency_ms)s, '', true)
)
UPDATE "{OutboxMessage._meta.db_table}"
SET "state" = %(delivered)s, "delivered_at" = %(now)s, "attempts" = "attempts" + 1,
    "locked_until" = NULL, "last_error" = ''
WHERE "id" = %(id)s AND "state" = %(pending)s
RETURNING "attempts"
"""  # noqa: S608 (names from the models' meta; the values are parameters)


def record_delivered(
    message_id: Any, *, now: datetime, status_code: int | None, latency_ms: int
) -> int | None:
    """Log a successful attempt and mark the row delivered, in the caller's transaction: the
    row's attempt count, or None if it was no longer pending (settled meanwhile)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _delivered_sql(),
            {
                "id": message_id,
                "now": now,
                "status_code": status_code,
                "latency_ms": latency_ms,
                "delivered": DeliveryState.DELIVERED,
                "pending": DeliveryState.PENDING,
            },
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])
