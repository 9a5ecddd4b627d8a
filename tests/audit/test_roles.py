"""The application's database role cannot change the audit trail (PostgreSQL).

The test session itself runs as the application role (tests/pg_roles.py); these tests also
log in as it on a connection of their own and try what an attacker with its credentials would.
"""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from audit.checks import check_database_role
from audit.context import Actor, ActorKind
from audit.models import AuditAction, AuditEvent
from audit.roles import connected
from audit.services import audit_record_now, audit_verify
from tests import pg_roles
from tests.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

ACTOR = Actor(kind=ActorKind.USER, user_id=7, agency_id=3, label="counselor")


@pytest.fixture
def events() -> list[AuditEvent]:
    return [
        audit_record_now(action=AuditAction.SHEET_VIEWED, actor=ACTOR, object_id=i)
        for i in range(3)
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'auth.logout'",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER USER",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL",
        "ALTER TABLE audit_auditevent ADD COLUMN note text",
        "DROP TABLE audit_auditevent",
        "UPDATE audit_auditanchor SET count = 0",
        "DELETE FROM audit_auditanchor",
        "DELETE FROM audit_chainhead",
        "SET session_replication_role = replica",
        "CREATE TABLE audit_shadow (id int)",
        # The monthly partitions: reached through the parent only, never detached by the app.
        "DELETE FROM audit_auditevent_default",
        "TRUNCATE audit_auditevent_default",
        "ALTER TABLE audit_auditevent DETACH PARTITION audit_auditevent_default",
    ],
)
def test_the_application_role_cannot_change_or_unlock_the_trail(events, statement) -> None:
    with pg_roles.app_connection() as app:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute(statement)
        assert app.execute("SELECT count(*) FROM audit_auditevent").fetchone()[0] == 3
    assert AuditEvent.objects.count() == 3


def test_the_application_role_appends_reads_and_owns_nothing(events) -> None:
    who = connected()  # the session's own connection
    assert who.user == pg_roles.app()[0] and not who.superuser and who.owned_tables == 0
    assert connection.settings_dict["USER"] == pg_roles.app()[0]
    audit_record_now(action=AuditAction.LOGIN, actor=ACTOR)
    assert AuditEvent.objects.count() == 4


def test_the_deploy_check_warns_when_connected_as_the_owner(events, settings) -> None:
    settings.DEBUG = False
    assert [m.id for m in check_database_role()] == []
    pg_roles.connect_as(*pg_roles.owner())  # the next test reconnects as the app role
    assert "audit.W001" in [m.id for m in check_database_role()]


def test_the_audit_table_is_partitioned_by_month(events) -> None:
    with pg_roles.owner_connection() as owner:
        kind = owner.execute(
            "SELECT relkind FROM pg_class WHERE relname = 'audit_auditevent'"
        ).fetchone()[0]
        month = owner.execute(
            "SELECT tableoid::regclass::text FROM audit_auditevent WHERE id = %s",
            [events[0].pk],
        ).fetchone()[0]
    assert kind == "p"
    assert month == f"audit_auditevent_y{events[0].occurred_at:%Y}m{events[0].occurred_at:%m}"


def test_nothing_indexes_the_hash(events) -> None:
    """A hash lands on a random leaf: an index on it cost every append a page write of its
    own, and nothing looks an event up by its hash (issue 14; audit 0009 and 0011). The
    chain still verifies without it."""
    with pg_roles.owner_connection() as owner:
        definitions = [
            row[0]
            for row in owner.execute(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index "
                "WHERE indrelid = 'audit_auditevent'::regclass"
            ).fetchall()
        ]
    assert definitions, "the audit table has its other indexes"
    assert not [d for d in definitions if "(hash" in d], definitions
    assert audit_verify()[1] is None
