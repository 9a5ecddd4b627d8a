"""Readiness checks: can this process serve? Each answers "ok" or the kind of failure.

No check reads or returns personal data, and none writes an audit event: a probe every few
seconds must not grow the audit chain. Each is bounded in time (the database by its connect
timeout, the cache and the broker by a second or two), so a dead dependency makes /readyz
answer 503 promptly rather than hang the probe.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from celery import current_app
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

log = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2.0
_migrations_applied = False  # once true for a process, it stays true


def check_database() -> None:
    """A round trip to the default database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_migrations() -> None:
    """Every migration of the code is applied (else the code would meet an older schema)."""
    global _migrations_applied
    if _migrations_applied:
        return
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        raise RuntimeError(f"{len(plan)} migration(s) not applied")
    _migrations_applied = True


def check_cache() -> None:
    """A write and a read of a short-lived key in the shared cache."""
    key = f"tsunagu:readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was written")
    cache.delete(key)


def check_broker() -> None:
    """A connection to the Celery broker (Redis in production, the folder when embedded)."""
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "migrations": check_migrations,
    "cache": check_cache,
    "broker": check_broker,
}


def run_checks() -> dict[str, str]:
    """Each check's result: "ok", or "failed" (the reason goes to the log, not the answer)."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        if name == "migrations" and results.get("database") != "ok":
            results[name] = "unknown"
            continue
        try:
            check()
        except Exception as exc:  # any failure is "not ready"; the probe must answer
            log.warning("readiness check %s failed: %s", name, type(exc).__name__)
            results[name] = "failed"
        else:
            results[name] = "ok"
    return results


def reset() -> None:
    """Forget that migrations were found applied (tests)."""
    global _migrations_applied
    _migrations_applied = False
