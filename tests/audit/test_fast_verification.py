"""The fast walk of verify_audit (PostgreSQL): the canonical text it writes from plain columns
is, byte for byte, the one the appenders hashed, whatever the events hold; a tampered event is
still found, whether the fast text or only the slow recomputation would notice."""

from __future__ import annotations

import pytest
from django.db import connection

from audit import verification
from audit.context import Actor, ActorKind, RequestContext, reset_request, set_request
from audit.models import AuditAction, AuditEvent
from audit.services import audit_record_now
from audit.verification import verify
from tests.audit.test_chain import as_insider

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the fast walk is PostgreSQL's"
)

TRICKY = [
    'quote " and backslash \\ and slash /',
    "control \x01\x1f tab\tnewline\nreturn\r",
    "line separator \u2028 paragraph \u2029",
    "全角・ひらがな・カタカナ、絵文字 🙂",
    "",
]


def _events() -> list[AuditEvent]:
    events = []
    for i, label in enumerate(TRICKY):
        token = set_request(
            RequestContext(request_id=f"req-{i}", ip=["192.0.2.7", "2001:db8::1", None][i % 3])
        )
        try:
            events.append(
                audit_record_now(
                    action=AuditAction.SHEET_VIEWED,
                    actor=Actor(
                        kind=ActorKind.USER,
                        user_id=None if i % 2 else 10**12 + i,
                        agency_id=i or None,
                        label=label,
                    ),
                    object_type="sheet",
                    object_id=label[:64],
                    sheet_id=i or None,
                    sections=["consultation", "basic"][: i % 3],
                    lawful_basis=label[:64],
                    detail={"z": [1, 2.5, None, True], "a": {"名前": label, "b": -3}, "": i},
                )
            )
        finally:
            reset_request(token)
    return events


def _never_slow(event_id: int, prev_hash: str) -> str:
    raise AssertionError(f"the fast text of event {event_id} differs from canonical_bytes")


@pytest.mark.django_db(transaction=True)
def test_the_fast_text_is_the_hashed_text_for_every_kind_of_value(monkeypatch) -> None:
    events = _events()
    monkeypatch.setattr(verification, "_reference_hash", _never_slow)
    heads: dict = {}
    checked, broken = verification._walk(heads)
    assert broken is None and checked == AuditEvent.objects.count() >= len(events)
    report = verify(full=True)
    assert report.ok and report.checked == checked


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor_label", "someone else"),
        ("detail", '{"z": [1, 2.5, null, true]}'),
        ("ip", "198.51.100.9"),
    ],
)
def test_a_tampered_event_is_found_by_the_fast_walk(column, value) -> None:
    events = _events()
    target = events[2]
    as_insider(f"UPDATE audit_auditevent SET {column} = %s WHERE id = %s", [value, target.pk])  # noqa: S608
    report = verify(full=True)
    assert not report.ok and report.broken_id == target.pk


@pytest.mark.django_db(transaction=True)
def test_the_fast_walk_streams_in_batches_across_the_batch_boundary(monkeypatch) -> None:
    monkeypatch.setattr(verification, "BATCH", 2)
    events = _events()
    as_insider("UPDATE audit_auditevent SET object_id = 'x' WHERE id = %s", [events[3].pk])
    report = verify(full=True)
    assert not report.ok and report.broken_id == events[3].pk
    assert report.checked == AuditEvent.objects.filter(id__lt=events[3].pk).count()


@pytest.mark.django_db(transaction=True)
def test_a_break_mid_stream_stops_the_reader_and_leaves_the_connection_usable(
    monkeypatch,
) -> None:
    # The rows are read by a thread ahead of the walk: a break must end it (no reader left
    # behind, no cursor left open) and the next verification must find the same event.
    import threading

    monkeypatch.setattr(verification, "BATCH", 1)
    monkeypatch.setattr(verification, "PREFETCH", 1)
    before = threading.active_count()
    events = _events()
    as_insider("UPDATE audit_auditevent SET actor_label = 'x' WHERE id = %s", [events[1].pk])
    first = verify(full=True)
    assert threading.active_count() == before
    again = verify(full=True)
    assert not first.ok and first.broken_id == again.broken_id == events[1].pk
    assert AuditEvent.objects.count() >= len(events)  # the connection still answers
