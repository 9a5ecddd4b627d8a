"""Signing staff in and out: Django's session login and logout, each with its audit event.

The login screens (ours and the admin's) call these, so the events are written explicitly,
in the same transaction as the session change, not by auth signal receivers. The actor is the
staff username, never the subject's data; for a failed login the typed username is recorded
only if such a user exists, because people sometimes type their password into that field.

Sign-in has two steps for whoever needs a second factor (agencies.twofactor): the password
step only remembers the person as *pending* in the session (no login yet); the code step
signs in. A session then carries when it began, when it was last used and when the password
was last confirmed: the idle and absolute timeouts (agencies.middleware) and re-authentication
before sensitive actions read those.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import django_otp
from django.conf import settings
from django.contrib.auth import get_user_model, login, logout, update_session_auth_hash
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice

from agencies import twofactor
from agencies.models import membership_of
from audit.context import Actor, ActorKind
from audit.models import AuditAction
from audit.services import audit_record

SIGNED_IN_AT = "tsunagu_signed_in_at"
LAST_SEEN = "tsunagu_last_seen"
REAUTH_AT = "tsunagu_reauth_at"
PENDING = "tsunagu_pending_sign_in"


def _user_actor(user: Any) -> Actor:
    membership = membership_of(user)
    return Actor(
        kind=ActorKind.USER,
        user_id=user.pk,
        agency_id=membership.agency_id if membership is not None else None,
        label=user.get_username(),
    )


def _stamp(request: HttpRequest) -> None:
    now = time.time()
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_SEEN] = now
    request.session[REAUTH_AT] = now


@transaction.atomic
def session_sign_in(*, request: HttpRequest, user: Any, device: Any = None) -> None:
    """Start the user's session (Django's login: new session key, last_login) and audit it;
    with the second factor that verified it, if any."""
    request.session.pop(PENDING, None)
    login(request, user)
    detail: dict[str, Any] = {}
    if device is not None:
        django_otp.login(request, device)
        detail["second_factor"] = "recovery_code" if isinstance(device, StaticDevice) else "totp"
    _stamp(request)
    audit_record(
        action=AuditAction.LOGIN,
        actor=_user_actor(user),
        object_type="user",
        object_id=user.pk,
        detail=detail,
    )


def session_second_factor(*, request: HttpRequest, device: Any) -> None:
    """A signed-in person just enrolled: this session counts as verified by that device
    (the enrolment itself is audited by agencies.twofactor)."""
    django_otp.login(request, device)


@transaction.atomic
def session_sign_out(*, request: HttpRequest) -> None:
    """End the session; audited if someone was signed in (signing out twice is harmless)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        audit_record(
            action=AuditAction.LOGOUT,
            actor=_user_actor(user),
            object_type="user",
            object_id=user.pk,
        )
    logout(request)


@transaction.atomic
def session_expire(*, request: HttpRequest, reason: str) -> None:
    """End a session the server no longer honours (idle, too old, second factor missing)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        audit_record(
            action=AuditAction.SESSION_EXPIRED,
            actor=_user_actor(user),
            object_type="user",
            object_id=user.pk,
            detail={"reason": reason},
        )
    logout(request)


@transaction.atomic
def sign_in_failed(*, username: str, locked_out: bool) -> None:
    """Audit a refused password check (wrong password, unknown user, or a locked username)."""
    typed = (username or "")[:150]
    user = get_user_model().objects.filter(username=typed).first() if typed else None
    if user is not None:
        known = _user_actor(user)
        actor = Actor(kind=ActorKind.ANONYMOUS, agency_id=known.agency_id, label=known.label)
        detail: dict[str, Any] = {"known_user": True, "user_id": user.pk}
    else:
        actor = Actor(kind=ActorKind.ANONYMOUS)
        detail = {"known_user": False}
    if locked_out:
        detail["locked_out"] = True
    audit_record(
        action=AuditAction.LOGIN_FAILED,
        actor=actor,
        object_type="user",
        object_id=user.pk if user is not None else None,
        detail=detail,
    )


# --- the pending second step -----------------------------------------------------------------


def pending_start(*, request: HttpRequest, user: Any, next_url: str) -> None:
    """The password was right; remember who, for the code step only (not signed in)."""
    request.session.cycle_key()
    request.session[PENDING] = {
        "user_id": user.pk,
        "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[-2]),
        "at": time.time(),
        "next": next_url,
    }


def pending_user(request: HttpRequest) -> tuple[Any, str] | None:
    """(user, next url) of a sign-in waiting for its code, if still fresh."""
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    max_age = settings.TSUNAGU_SECURITY["SECOND_STEP_SECONDS"]
    if time.time() - float(pending.get("at", 0)) > max_age:
        request.session.pop(PENDING, None)
        return None
    user_id = pending.get("user_id")
    if not isinstance(user_id, int):
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    user.backend = str(pending.get("backend") or "")
    return user, str(pending.get("next") or "/")


# --- passwords and re-authentication --------------------------------------------------------


@transaction.atomic
def password_changed(*, request: HttpRequest, user: Any) -> None:
    """After a self-service password change: keep this session, end the others, audit."""
    update_session_auth_hash(request, user)
    request.session[REAUTH_AT] = time.time()
    audit_record(
        action=AuditAction.PASSWORD_CHANGED,
        actor=_user_actor(user),
        object_type="user",
        object_id=user.pk,
    )


@transaction.atomic
def reauthenticated(*, request: HttpRequest, user: Any, purpose: str) -> None:
    """The password (and code) were confirmed again before a sensitive action."""
    request.session[REAUTH_AT] = time.time()
    audit_record(
        action=AuditAction.REAUTHENTICATED,
        actor=_user_actor(user),
        object_type="user",
        object_id=user.pk,
        detail={"purpose": purpose[:200]},
    )


def reauth_fresh(request: HttpRequest) -> bool:
    """Was the password confirmed recently enough for a sensitive action?"""
    at = request.session.get(REAUTH_AT)
    max_age = settings.TSUNAGU_SECURITY["REAUTH_SECONDS"]
    return isinstance(at, int | float) and time.time() - at <= max_age


def reauth_redirect(request: HttpRequest, next_url: str | None = None) -> HttpResponse:
    """Send the person to confirm their password, then back to `next_url`."""
    target = next_url or request.get_full_path()
    return HttpResponseRedirect(f"{reverse('reauth')}?{urlencode({'next': target})}")


def reauth_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Views of sensitive actions (approving a lawful basis, exports, role changes): if the
    password was not confirmed in the last REAUTH_SECONDS, ask for it first. A POST that
    arrives stale is not carried out; the person comes back to the page (GET) after."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.user.is_authenticated and not reauth_fresh(request):
            back = request.get_full_path() if request.method == "GET" else None
            return reauth_redirect(request, back or request.META.get("HTTP_REFERER") or "/")
        return view(request, *args, **kwargs)

    return wrapped


def needs_second_step(user: Any) -> bool:
    return twofactor.second_step_needed(user)
