"""The two PostgreSQL roles: the owner (runs migrations, owns every table) and the
application role (what web, workers and beat connect as).

The application role may SELECT, INSERT, UPDATE and DELETE the ordinary tables, but on the
audit trail's append-only tables (events, anchors, archive records) only SELECT and INSERT,
on the chain heads no DELETE, and it owns nothing: it cannot ALTER a table, disable a trigger,
TRUNCATE, or detach a partition. Partitions are reached through their parent only.
Run `manage.py db_roles --apply` as the owner after every `migrate`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

APPEND_ONLY_TABLES = ("audit_auditevent", "audit_auditanchor", "audit_auditarchive")
NO_DELETE_TABLES = ("audit_chainhead",)
READ_ONLY_TABLES = ("django_migrations",)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def partitions(conn: BaseDatabaseWrapper | None = None) -> list[str]:
    """The audit table's partitions (empty when it is a plain table)."""
    with (conn or connection).cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'audit_auditevent'::regclass ORDER BY 1"
        )
        return [row[0] for row in cursor.fetchall()]


def grant_statements(app_role: str, *, create_role: bool, database: str) -> list[str]:
    """The SQL that gives `app_role` what the application needs and no more."""
    role = _q(app_role)
    statements = []
    if create_role:
        statements.append(
            "DO $$ BEGIN "
            f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{app_role}') THEN "
            f"CREATE ROLE {role} LOGIN; END IF; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
    statements += [
        f"GRANT CONNECT ON DATABASE {_q(database)} TO {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"REVOKE CREATE ON SCHEMA public FROM {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]
    for table in APPEND_ONLY_TABLES:
        statements += [
            f"REVOKE ALL ON {_q(table)} FROM {role}",
            f"GRANT SELECT, INSERT ON {_q(table)} TO {role}",
        ]
    for table in NO_DELETE_TABLES:
        statements += [
            f"REVOKE ALL ON {_q(table)} FROM {role}",
            f"GRANT SELECT, INSERT, UPDATE ON {_q(table)} TO {role}",
        ]
    for table in READ_ONLY_TABLES:
        statements += [
            f"REVOKE ALL ON {_q(table)} FROM {role}",
            f"GRANT SELECT ON {_q(table)} TO {role}",
        ]
    return statements


def partition_statements(app_role: str) -> list[str]:
    return [f"REVOKE ALL ON {_q(name)} FROM {_q(app_role)}" for name in partitions()]


def apply(app_role: str, *, create_role: bool = True) -> list[str]:
    """Run the grants as the connected owner; returns what ran."""
    statements = grant_statements(
        app_role, create_role=create_role, database=connection.settings_dict["NAME"]
    )
    statements += partition_statements(app_role)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return statements


@dataclass(frozen=True)
class Connected:
    """Who the application is connected as, and what that role can do."""

    user: str
    superuser: bool
    owned_tables: int


def connected() -> Connected:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, r.rolsuper, "
            "(SELECT count(*) FROM pg_tables WHERE tableowner = current_user) "
            "FROM pg_roles r WHERE r.rolname = current_user"
        )
        user, superuser, owned = cursor.fetchone()
    return Connected(user=user, superuser=bool(superuser), owned_tables=int(owned))
