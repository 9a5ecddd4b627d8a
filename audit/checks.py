"""System check: in production the application must not connect as the tables' owner or a
superuser, either of which can switch the audit triggers off and delete the tail."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register
from django.db import DatabaseError, connection

from audit import roles


@register(Tags.security, deploy=True)
def check_database_role(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`manage.py check --deploy`: warns about the owner or a superuser as the app's role."""
    if settings.DEBUG or connection.vendor != "postgresql":
        return []
    try:
        who = roles.connected()
    except DatabaseError:
        return []
    problems: list[CheckMessage] = []
    if who.superuser or who.owned_tables:
        problems.append(
            Warning(
                f"The application connects to PostgreSQL as {who.user!r}, "
                + ("a superuser" if who.superuser else f"the owner of {who.owned_tables} tables")
                + ": it could disable the audit triggers and delete events.",
                hint="Connect as the application role (manage.py db_roles --print); "
                "run migrations as the owner.",
                id="audit.W001",
            )
        )
    if not getattr(settings, "AUDIT_ANCHOR_KEY", ""):
        problems.append(
            Warning(
                "AUDIT_ANCHOR_KEY is not set: audit checkpoints cannot be signed.",
                id="audit.W002",
            )
        )
    return problems
