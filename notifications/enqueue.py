"""Handing committed outbox rows to the broker, by task name.

Sent by name (not through the task objects in notifications.tasks), so that recording and
delivering a notification can hand work on without importing the module whose tasks call them.
Never raises: the rows are committed, and if the broker is down the sweeper delivers them later.
"""

from __future__ import annotations

import logging

from celery import current_app

log = logging.getLogger(__name__)

DELIVER_TASK = "notifications.tasks.deliver_outbox_message"
FAN_OUT_TASK = "notifications.tasks.enqueue_outbox_messages"
# Above this many rows, the committing process publishes one fan-out task per chunk.
FAN_OUT_ABOVE = 20
FAN_OUT_CHUNK = 500
# One quick retry (a pooled connection gone stale after a broker restart), then give up: the
# request that committed must not wait on a dead broker, the sweeper catches up.
_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def enqueue_deliveries(ids: list[str], *, countdown: float | None = None) -> int:
    """After commit: hand rows to the broker; returns how many were handed over.

    Never raises: the rows are committed, and if the broker is down the sweeper delivers
    them later. (Raising here would turn a committed send into an error page.)
    """
    for done, message_id in enumerate(ids):
        try:
            current_app.send_task(
                DELIVER_TASK,
                args=[message_id],
                countdown=countdown or None,
                retry=True,
                retry_policy=_RETRY_POLICY,
            )
        except Exception as exc:  # kombu OperationalError, redis/socket errors, ...
            log.warning(
                "broker unavailable, %d outbox row(s) left for the sweeper: %s",
                len(ids) - done,
                type(exc).__name__,
            )
            return done
    return len(ids)


def enqueue_after_commit(ids: list[str]) -> None:
    """A few rows: one delivery task each, at once. Many (an escalation sweep's batch): one
    fan-out task per chunk, so the committing process publishes a handful of messages."""
    if len(ids) <= FAN_OUT_ABOVE:
        enqueue_deliveries(ids)
        return
    for start in range(0, len(ids), FAN_OUT_CHUNK):
        chunk = ids[start : start + FAN_OUT_CHUNK]
        try:
            current_app.send_task(
                FAN_OUT_TASK, args=[chunk], retry=True, retry_policy=_RETRY_POLICY
            )
        except Exception as exc:  # as in enqueue_deliveries: the sweeper catches up
            log.warning(
                "broker unavailable, %d outbox row(s) left for the sweeper: %s",
                len(ids) - start,
                type(exc).__name__,
            )
            return
