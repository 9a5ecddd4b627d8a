"""Signed anchors outside the database, and verification against them: a deleted tail, a
forged anchor and a stale status are reported with the first missing or differing id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from audit import anchors
from audit.context import Actor, ActorKind
from audit.models import AuditAction, AuditAnchor, AuditEvent
from audit.services import audit_record_now
from audit.verification import checkpoint, stored_status, verify
from relay.views import supervisor
from tests.audit.test_chain import as_insider

ACTOR = Actor(kind=ActorKind.USER, user_id=7, agency_id=3, label="counselor")


def _events(n: int) -> list[AuditEvent]:
    return [
        audit_record_now(
            action=AuditAction.SHEET_VIEWED, actor=ACTOR, object_type="sheet", object_id=i
        )
        for i in range(n)
    ]


def _anchor_lines() -> list[dict[str, str]]:
    files = sorted(Path(settings.AUDIT_ANCHOR_PATH).glob("anchors-*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


@pytest.mark.django_db
def test_a_checkpoint_is_signed_into_the_database_and_the_anchor_directory(capsys) -> None:
    events = _events(3)
    call_command("audit_checkpoint")
    anchor = AuditAnchor.objects.get()
    assert anchor.count == 3 and anchor.last_id == events[-1].pk
    [line] = _anchor_lines()
    assert line["anchor"] == anchor.payload and line["sig"] == anchor.signature
    assert anchors.parse_line(json.dumps(line), "file").count == 3
    call_command("verify_audit")
    assert "3 events verified" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_nothing_is_anchored_over_a_broken_chain() -> None:
    _first, second, _third = _events(3)
    as_insider("UPDATE audit_auditevent SET object_id = 'x' WHERE id = %s", [second.pk])
    report, anchor = checkpoint()
    assert anchor is None and not report.ok and report.broken_id == second.pk
    assert not AuditAnchor.objects.exists() and _anchor_lines() == []


@pytest.mark.django_db(transaction=True)
def test_a_deleted_tail_is_reported_with_the_first_missing_id() -> None:
    """GIVEN 6 events anchored outside the database
    WHEN the owner switches the triggers off and deletes the last 3 (and the chain that is
    left is internally consistent)
    THEN verify_audit, incremental or full, names the first missing event."""
    events = _events(6)
    call_command("audit_checkpoint")
    as_insider("DELETE FROM audit_auditevent WHERE id >= %s", [events[3].pk])
    for args in ((), ("--full",)):
        with pytest.raises(CommandError, match=f"first missing id {events[3].pk}"):
            call_command("verify_audit", *args)
    assert stored_status().ok is False


@pytest.mark.django_db
def test_a_forged_anchor_is_rejected() -> None:
    """An anchor line signed with another key (claiming a shorter chain) does not verify."""
    _events(2)
    call_command("audit_checkpoint")
    text = anchors.canonical(
        {"v": 1, "at": "2026-12-01T00:00:00+00:00", "count": 1, "last_id": None, "heads": {}}
    )
    forged = {"anchor": text, "sig": "0" * 64, "key": "forged"}
    path = sorted(Path(settings.AUDIT_ANCHOR_PATH).glob("anchors-*.jsonl"))[-1]
    with path.open("a") as handle:
        handle.write(json.dumps(forged) + "\n")
    with pytest.raises(CommandError, match="signature does not verify"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_anchors_signed_with_a_different_key_are_rejected(settings) -> None:
    _events(2)
    call_command("audit_checkpoint")
    settings.AUDIT_ANCHOR_KEY = "another-key-entirely-0123456789"
    report = verify(full=True)
    assert not report.ok and "signature does not verify" in report.reason


@pytest.mark.django_db
def test_anchors_in_the_database_but_none_outside_fail_verification(settings, tmp_path) -> None:
    _events(1)
    call_command("audit_checkpoint")
    settings.AUDIT_ANCHOR_PATH = str(tmp_path / "empty")
    report = verify()
    assert not report.ok and "none in" in report.reason


@pytest.mark.django_db
def test_incremental_verification_reads_only_the_new_events() -> None:
    _events(5)
    first = verify()
    assert first.ok and first.full and first.checked == 5
    _events(3)
    second = verify()
    assert second.ok and not second.full and second.checked == 3 and second.count == 8
    assert stored_status().count == 8
    full = verify(full=True)
    assert full.ok and full.checked == 8


@pytest.mark.django_db(transaction=True)
def test_incremental_verification_notices_a_changed_verified_event() -> None:
    events = _events(4)
    assert verify().ok
    as_insider("UPDATE audit_auditevent SET hash = %s WHERE id = %s", ["f" * 64, events[-1].pk])
    report = verify()
    assert not report.ok and report.broken_id == events[-1].pk


@pytest.mark.django_db
def test_the_audit_page_reads_the_stored_status_and_never_walks(monkeypatch) -> None:
    _events(2)
    verify()

    def no_walk(*args: object, **kwargs: object) -> None:
        raise AssertionError("the page walked the chain")

    monkeypatch.setattr("audit.chain.walk", no_walk)
    monkeypatch.setattr("audit.chain.walk_fast", no_walk)
    status = supervisor.chain_status()
    assert status is not None and status["ok"] and status["count"] == 2
