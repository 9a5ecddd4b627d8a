"""Signing in and out: Django's views with our templates, lockout by django-axes, audited.

Logins, logouts and failed logins are written to the audit trail from Django's auth signals:
these are the one kind of event no service of ours performs (Django's auth does), so the
signal is where the event happens. The actor is the staff username, never the subject's data;
for a failed login the typed username is recorded only if such a user exists, because people
sometimes type their password into the username field.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from audit.context import Actor, ActorKind
from audit.models import AuditAction
from audit.services import audit_record_now


class LoginView(auth_views.LoginView):
    template_name = "relay/auth/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST only (Django's default): a link cannot sign someone out."""


def _user_actor(user: Any) -> Actor:
    membership = getattr(user, "membership", None)
    return Actor(
        kind=ActorKind.USER,
        user_id=user.pk,
        agency_id=membership.agency_id if membership is not None else None,
        label=user.get_username(),
    )


@receiver(user_logged_in, dispatch_uid="tsunagu_audit_login")
def audit_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record_now(
        action=AuditAction.LOGIN, actor=_user_actor(user), object_type="user", object_id=user.pk
    )


@receiver(user_logged_out, dispatch_uid="tsunagu_audit_logout")
def audit_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    audit_record_now(
        action=AuditAction.LOGOUT, actor=_user_actor(user), object_type="user", object_id=user.pk
    )


@receiver(user_login_failed, dispatch_uid="tsunagu_audit_login_failed")
def audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    typed = str(credentials.get("username") or "")[:150]
    user = get_user_model().objects.filter(username=typed).first() if typed else None
    locked = bool(getattr(request, "axes_locked_out", False))
    if user is not None:
        actor = _user_actor(user)
        actor = Actor(kind=ActorKind.ANONYMOUS, agency_id=actor.agency_id, label=actor.label)
        detail: dict[str, Any] = {"known_user": True, "user_id": user.pk}
    else:
        actor = Actor(kind=ActorKind.ANONYMOUS)
        detail = {"known_user": False}
    if locked:
        detail["locked_out"] = True
    audit_record_now(
        action=AuditAction.LOGIN_FAILED,
        actor=actor,
        object_type="user",
        object_id=user.pk if user is not None else None,
        detail=detail,
    )
