"""The audit trail is append-only and tamper-evident."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit.context import Actor, ActorKind
from audit.models import AuditAction, AuditEvent
from audit.services import audit_record, audit_record_now, audit_verify
from tests import pg_roles
from tests.conftest import requires_postgres

pytestmark = pytest.mark.django_db

ACTOR = Actor(kind=ActorKind.USER, user_id=7, agency_id=3, label="counselor")


def _three_events() -> list[AuditEvent]:
    return [
        audit_record_now(
            action=AuditAction.SHEET_CREATED,
            actor=ACTOR,
            object_type="sheet",
            object_id=1,
            sheet_id=1,
        ),
        audit_record_now(
            action=AuditAction.SHEET_VIEWED,
            actor=ACTOR,
            object_type="sheet",
            object_id=1,
            sheet_id=1,
            sections=["home", "basic"],
        ),
        audit_record_now(
            action=AuditAction.HANDOFF_SENT,
            actor=ACTOR,
            object_type="handoff",
            object_id=9,
            sheet_id=1,
            recipient_agency_id=4,
            detail={"consent_id": 2},
        ),
    ]


def test_events_chain_each_to_the_one_before() -> None:
    first, second, third = _three_events()
    assert first.prev_hash == "0" * 64
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert second.sections == ["basic", "home"]
    assert audit_verify() == (3, None)


def test_recording_outside_a_transaction_is_refused() -> None:
    # pytest-django wraps the test in a transaction, so leave it to prove the guard.
    assert connection.in_atomic_block
    with pytest.raises(RuntimeError):
        transaction.get_connection().in_atomic_block = False
        try:
            audit_record(action=AuditAction.LOGIN, actor=ACTOR)
        finally:
            transaction.get_connection().in_atomic_block = True


def test_python_refuses_update_and_delete() -> None:
    event, *_ = _three_events()
    event.action = AuditAction.LOGOUT
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="auth.logout")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()


def as_insider(sql: str, params: list[object]) -> None:
    """Run `sql` behind the application's back: on PostgreSQL as the tables' owner with the
    triggers switched off (the application role may do neither), on SQLite directly."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    with pg_roles.owner_connection() as owner:
        owner.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        owner.execute(sql, params)
        owner.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


@pytest.mark.django_db(transaction=True)
def test_verify_audit_reports_the_first_tampered_event(capsys) -> None:
    _first, second, _third = _three_events()
    call_command("verify_audit")
    assert "3 events verified" in capsys.readouterr().out

    # An insider edits a row behind the application's back.
    as_insider("UPDATE audit_auditevent SET recipient_agency_id = 99 WHERE id = %s", [second.pk])

    with pytest.raises(CommandError, match=f"broken at event {second.pk}: hash does not match"):
        call_command("verify_audit", "--full")


@pytest.mark.django_db(transaction=True)
def test_deleting_an_event_breaks_the_chain_at_the_next_one() -> None:
    _first, second, third = _three_events()
    as_insider("DELETE FROM audit_auditevent WHERE id = %s", [second.pk])
    count, broken = audit_verify()
    assert count == 1 and broken is not None and broken.event_id == third.pk


@requires_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'auth.logout'",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
    ],
)
def test_postgres_triggers_reject_update_delete_truncate(statement: str) -> None:
    """The triggers hold even for the owner (who has the privileges the app role lacks)."""
    _three_events()
    with pytest.raises(DatabaseError, match="append-only"), pg_roles.owner_connection() as owner:
        try:
            owner.execute(statement)
        except Exception as exc:  # psycopg's error, as Django would raise it
            raise DatabaseError(str(exc)) from exc
    assert AuditEvent.objects.count() == 3
