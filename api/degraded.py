"""What counts as "the infrastructure is down", and a warning that does not flood the log.

A request that meets a dead database, cache or broker is not the client's fault and not a bug
of ours: it is answered 503 with Retry-After (api/problems.py). Rate limiting meets the cache on
every request, so when the cache is down it falls back to a per-process counter and says so in
the log at most once a minute per subsystem (not once per request).
"""

from __future__ import annotations

import logging
import threading
import time

import kombu.exceptions
import redis.exceptions
from django.db import utils as db_utils

log = logging.getLogger("tsunagu.degraded")

# The database (connection refused, server gone, pool exhausted), Redis as cache or broker,
# and kombu's wrapper of broker connection errors.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    db_utils.OperationalError,
    db_utils.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
    ConnectionError,
    TimeoutError,
)

# Seconds a client is asked to wait before retrying when a dependency is down.
RETRY_AFTER_SECONDS = 30
WARN_EVERY_SECONDS = 60.0

_last_warned: dict[str, float] = {}
_lock = threading.Lock()


def is_infrastructure_error(exc: BaseException | None) -> bool:
    """True for an error that says a dependency is unreachable (or one caused by such)."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, INFRASTRUCTURE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def warn_degraded(subsystem: str, exc: BaseException, *, now: float | None = None) -> bool:
    """Log that `subsystem` is down (and we degrade), at most once a minute; True if logged."""
    now = time.monotonic() if now is None else now
    with _lock:
        last = _last_warned.get(subsystem)
        if last is not None and now - last < WARN_EVERY_SECONDS:
            return False
        _last_warned[subsystem] = now
    # The exception's class only: a message could carry a connection URL with a password.
    log.warning(
        "%s unavailable (%s): degraded until it returns",
        subsystem,
        type(exc).__name__,
        extra={"subsystem": subsystem, "error": type(exc).__name__},
    )
    return True


def reset_warnings() -> None:
    """Forget when each subsystem last warned (tests)."""
    with _lock:
        _last_warned.clear()
