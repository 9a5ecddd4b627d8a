"""A per-IP limit on failed sign-ins (passwords and second-factor codes), beside django-axes.

django-axes locks a username only from the address that failed (username + IP), so an
attacker elsewhere cannot lock the owner out; this counter limits how much any one address
may guess across all usernames. Counted in the shared cache (every web process sees it) in
fixed windows.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache


def _key(ip: str, window: int) -> str:
    return f"signin-fail:{ip}:{window}"


def _window() -> tuple[int, int]:
    seconds = int(settings.TSUNAGU_SECURITY["SIGNIN_IP_WINDOW_SECONDS"])
    return int(time.time() // seconds), seconds


def ip_blocked(ip: str | None) -> bool:
    """Has this address failed too often in the current window?"""
    if not ip:
        return False
    window, _seconds = _window()
    count = cache.get(_key(ip, window), 0)
    return int(count) >= int(settings.TSUNAGU_SECURITY["SIGNIN_IP_FAILURE_LIMIT"])


def ip_failed(ip: str | None) -> None:
    """Count one failed password or code from this address."""
    if not ip:
        return
    window, seconds = _window()
    key = _key(ip, window)
    if cache.add(key, 1, timeout=seconds * 2):
        return
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=seconds * 2)
