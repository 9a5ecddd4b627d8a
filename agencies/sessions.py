"""Signing staff in and out: Django's session login and logout, each with its audit event.

The login screens (ours and the admin's) call these, so the events are written explicitly,
in the same transaction as the session change, not by auth signal receivers. The actor is the
staff username, never the subject's data; for a failed login the typed username is recorded
only if such a user exists, because people sometimes type their password into that field.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model, login, logout
from django.db import transaction
from django.http import HttpRequest

from audit.context import Actor, ActorKind
from audit.models import AuditAction
from audit.services import audit_record


def _user_actor(user: Any) -> Actor:
    membership = getattr(user, "membership", None)
    return Actor(
        kind=ActorKind.USER,
        user_id=user.pk,
        agency_id=membership.agency_id if membership is not None else None,
        label=user.get_username(),
    )


@transaction.atomic
def session_sign_in(*, request: HttpRequest, user: Any) -> None:
    """Start the user's session (Django's login: new session key, last_login) and audit it."""
    login(request, user)
    audit_record(
        action=AuditAction.LOGIN, actor=_user_actor(user), object_type="user", object_id=user.pk
    )


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
