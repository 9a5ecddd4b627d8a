"""The bulk append's canonical text (audit.chain.canonical_parts) is the hashed text:
canonical_bytes is the judge, and the shortcut must write the same bytes for any event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import chain
from audit.context import Actor
from audit.models import AuditAction, AuditEvent
from audit.services import audit_record_many, audit_verify

json_scalars = st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
optional_ids = st.none() | st.integers(min_value=0, max_value=2**40) | st.booleans()
# hypothesis bounds are naive; the drawn times are aware (UTC, then shown in JST).
times = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda t: t.astimezone(timezone(timedelta(hours=9))))


@settings(deadline=None)
@given(
    occurred_at=times,
    text=st.text(),
    ids=st.tuples(optional_ids, optional_ids, optional_ids, optional_ids),
    sections=st.lists(st.text(max_size=5), max_size=4),
    detail=st.dictionaries(st.text(), json_values, max_size=4),
    ip=st.none() | st.text(max_size=20),
)
def test_the_append_text_is_the_canonical_text(occurred_at, text, ids, sections, detail, ip):
    fields = {
        "occurred_at": occurred_at,
        "action": "handoff.escalated",
        "actor_kind": "system",
        "actor_user_id": ids[0],
        "actor_agency_id": ids[1],
        "actor_api_key_id": ids[2],
        "actor_label": text,
        "object_type": "handoff",
        "object_id": text[:8],
        "sheet_id": ids[3],
        "recipient_agency_id": ids[0],
        "sections": sections,
        "lawful_basis": "\u2028" + text,
        "detail": detail,
        "request_id": "",
        "ip": ip,
    }
    content, detail_text = chain.canonical_parts(fields)
    assert content == chain.canonical_bytes(fields)
    assert detail_text.encode() in content


def test_a_bulk_append_stores_the_detail_it_hashed_and_verifies(db) -> None:
    actor = Actor.system("test")
    records = [
        {
            "action": AuditAction.CLOCK_FIRED,
            "actor": actor,
            "object_type": "handoff",
            "object_id": n,
            "sheet_id": n,
            "sections": ["consultation", "basic"],
            "detail": {"level": n, "told": [1, 2], "note": "日本語\u2028", "z": None, "a": 1.5},
        }
        for n in range(5)
    ]
    before = AuditEvent.objects.count()
    with transaction.atomic():
        assert audit_record_many(records) == 5
    stored = list(AuditEvent.objects.order_by("id")[before:].values_list("detail", flat=True))
    assert stored == [record["detail"] for record in records]
    assert audit_verify()[1] is None
