"""The fast walk of verify_audit (PostgreSQL): the canonical text it writes from plain columns
is, byte for byte, the one the appenders hashed, whatever the events hold; a tampered event is
still found, whether the fast text or only the slow recomputation would notice."""

from __future__ import annotations

import pytest
from django.db import connection

from audit import services, verification
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


# --- The split full walk (verify_audit --full --workers N): id ranges in parallel processes --


def _spread(monkeypatch, count: int) -> list[AuditEvent]:
    """`count` events appended round robin over four chains (each append prefers the chain
    its process id picks: a stand-in process id per event)."""
    import itertools
    import types

    pids = itertools.count()
    monkeypatch.setattr(services, "os", types.SimpleNamespace(getpid=lambda: next(pids)))
    monkeypatch.setattr(verification, "SPLIT_MIN", 0)
    actor = Actor(kind=ActorKind.USER, user_id=1, agency_id=1, label="counselor")
    events = [
        audit_record_now(action=AuditAction.SHEET_VIEWED, actor=actor, sheet_id=i)
        for i in range(count)
    ]
    assert len({e.chain for e in events}) == 4
    return events


@pytest.fixture
def four_chains(settings) -> None:
    settings.AUDIT_CHAINS = 4


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("four_chains")
def test_a_split_walk_verifies_what_one_walk_does(monkeypatch) -> None:
    """GIVEN events in four chains WHEN the full walk is split over three processes THEN it
    checks every event and ends every chain where one walk does."""
    _spread(monkeypatch, 40)
    one = verify(full=True, store=False)
    split = verify(full=True, store=False, workers=3)
    assert one.ok and split.ok and split.checked == one.checked == AuditEvent.objects.count()
    assert chain_heads(split) == chain_heads(one)
    assert AuditEvent.objects.count() >= 40  # this process's connection answers again


def chain_heads(report) -> dict:
    return {k: (h.last_id, h.hash, h.count) for k, h in report.heads.items()}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("four_chains")
@pytest.mark.parametrize("where", ["first range", "last range"])
def test_a_tampered_event_in_one_chain_is_found_by_the_split_walk(monkeypatch, where) -> None:
    events = _spread(monkeypatch, 40)
    target = events[5] if where == "first range" else events[33]
    as_insider("UPDATE audit_auditevent SET sheet_id = 999 WHERE id = %s", [target.pk])
    one = verify(full=True, store=False)
    split = verify(full=True, workers=2)
    assert not split.ok and split.broken_id == one.broken_id == target.pk
    assert split.checked == one.checked == AuditEvent.objects.filter(id__lt=target.pk).count()
    assert split.reason == one.reason


def _boundary(events: list[AuditEvent], workers: int) -> int:
    """The last id of the first range, as _walk_split cuts them."""
    low, high = min(e.pk for e in events), max(e.pk for e in events)
    return low - 1 + (high - low + 1) // workers


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("four_chains")
@pytest.mark.parametrize("tamper", ["delete the last before", "relink the first after"])
def test_a_break_at_the_boundary_between_two_ranges_is_found(monkeypatch, tamper) -> None:
    """GIVEN a chain whose events straddle the boundary of two ranges WHEN the link across it
    is broken (its last event before the boundary deleted, or the first after it pointed
    elsewhere) THEN the split walk reports the first event after the boundary, as one walk
    does, although each range on its own verifies."""
    events = _spread(monkeypatch, 40)
    boundary = _boundary(events, 2)
    after = next(e for e in events if e.pk > boundary)
    before = max((e for e in events if e.chain == after.chain and e.pk <= boundary), key=_id)
    if tamper == "delete the last before":
        as_insider("DELETE FROM audit_auditevent WHERE id = %s", [before.pk])
    else:
        as_insider(
            "UPDATE audit_auditevent SET prev_hash = %s WHERE id = %s", [events[0].hash, after.pk]
        )
    one = verify(full=True, store=False)
    split = verify(full=True, store=False, workers=2)
    assert not one.ok and one.broken_id == after.pk
    assert (split.ok, split.broken_id, split.reason, split.checked) == (
        one.ok,
        one.broken_id,
        one.reason,
        one.checked,
    )


def _id(event: AuditEvent) -> int:
    return event.pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("four_chains")
def test_verify_audit_full_splits_the_walk_and_reports_as_before(monkeypatch, capsys) -> None:
    from django.core.management import CommandError, call_command

    events = _spread(monkeypatch, 24)
    call_command("verify_audit", "--full", "--workers", "2")
    assert f"audit chain intact: {len(events)} events verified (full: " in capsys.readouterr().out
    as_insider("UPDATE audit_auditevent SET actor_label = 'x' WHERE id = %s", [events[20].pk])
    with pytest.raises(CommandError, match=f"broken at event {events[20].pk}: hash does not"):
        call_command("verify_audit", "--full", "--workers", "2")
