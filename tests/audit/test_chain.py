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


def _recorded(**extra: object) -> AuditEvent:
    return audit_record_now(action=AuditAction.SHEET_VIEWED, actor=ACTOR, **extra)  # type: ignore[arg-type]


@requires_postgres
def test_the_one_statement_append_writes_todays_link(settings) -> None:
    """GIVEN events with non-ASCII text, JSON detail, sections and an address WHEN they are
    appended on PostgreSQL THEN each is one statement (head lock, link, INSERT, head move),
    its hash is chain.compute_hash over what was stored (the database finishes the link
    with the same SHA-256 the Python side uses), the head points at it, and the trail
    verifies."""
    from django.test.utils import CaptureQueriesContext

    from audit import chain
    from audit.context import RequestContext, reset_request, set_request
    from audit.models import ChainHead

    token = set_request(RequestContext(request_id="r-1", ip="2001:db8::1"))
    try:
        with CaptureQueriesContext(connection) as ctx, transaction.atomic():
            event = audit_record(
                action=AuditAction.HANDOFF_VIEWED,
                actor=Actor(kind=ActorKind.USER, user_id=7, agency_id=3, label="相談員「つなぐ」"),
                object_type="handoff",
                object_id=9,
                sheet_id=1,
                sections=["health", "basic"],
                detail={"provision_version": 2, "note": "é\u2028"},
            )
    finally:
        reset_request(token)
    statements = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 1 and "audit_chainhead" in statements[0], statements
    stored = AuditEvent.objects.values(*chain.ROW_FIELDS).get(pk=event.pk)
    fields = {name: stored[name] for name in chain.HASHED_FIELDS}
    assert stored["hash"] == event.hash == chain.compute_hash(stored["prev_hash"], fields)
    assert stored["ip"] == "2001:db8::1" and stored["actor_label"] == "相談員「つなぐ」"
    head = ChainHead.objects.get(chain=stored["chain"])
    assert (head.last_id, head.hash) == (event.pk, event.hash)
    later = _recorded(sheet_id=2)
    assert later.chain == event.chain and later.prev_hash == event.hash
    assert audit_verify() == (2, None)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_with_every_head_busy_the_append_waits_for_one_and_links_to_it(settings) -> None:
    """GIVEN one chain whose head another transaction holds WHEN an event is appended THEN
    the one-statement append finds no free head and writes nothing; the append waits for the
    head (the two-step path) once the other commits, and links to it."""
    import threading

    settings.AUDIT_CHAINS = 1
    first = _recorded(sheet_id=1)
    with pg_roles.app_connection() as other:
        other.autocommit = False
        other.execute("SELECT hash FROM audit_chainhead WHERE chain = 0 FOR UPDATE")
        release = threading.Timer(0.5, other.commit)
        release.start()
        try:
            second = _recorded(sheet_id=2)
        finally:
            release.join()
    assert (second.chain, second.prev_hash) == (0, first.hash)
    assert AuditEvent.objects.count() == 2
    assert audit_verify() == (2, None)
