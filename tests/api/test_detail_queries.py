"""The audited hop detail in few round trips (issue 14), and no way to tell a hop one may not
see from one that does not exist, by its answer or by the queries it costs."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from relay import services
from relay.models import Handoff
from relay.states import Status
from tests.api.helpers import bearer

pytestmark = pytest.mark.django_db

# The test's own transaction wraps the service's in a savepoint: not a cost of the request
# (in production the service's transaction is the outermost one, whose BEGIN/COMMIT Django
# does not count either).
SAVEPOINTS = re.compile(r"^(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT) ")


def _detail(url: str, key: str) -> tuple[int, list[str], dict]:
    client = APIClient()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **bearer(key))
    statements = [q["sql"] for q in ctx.captured_queries if not SAVEPOINTS.match(q["sql"])]
    return response.status_code, statements, response.json()


def _shape(sql: str) -> str:
    """A statement without its values: what a query path is, whatever the ids."""
    return re.sub(r"'[^']*'|\b\d+\b", "?", sql)


def _warm(key: str, url: str = "/api/v1/agencies/") -> None:
    """The key's first use writes last_used_at (once a minute at most): not a detail cost."""
    APIClient().get(url, **bearer(key))


def _audit_statements() -> int:
    """The audit append (audit.services.audit_record): on PostgreSQL one statement locks a
    chain head, links, inserts the event and moves the head; SQLite (one writer, no CTE
    over an INSERT) reads the head, inserts and moves the head in three."""
    return 1 if connection.vendor == "postgresql" else 3


@pytest.mark.parametrize("reader", ["npo", "ward"], ids=["receiver", "sender"])
def test_the_audited_detail_takes_key_read_notes_and_the_append(net, key_for, reader) -> None:
    """GIVEN a sent hop with two versions and a note WHEN either side reads the detail THEN
    it takes, in this order and nothing else (4 on PostgreSQL, issue 14's goal):
    1. the API key (with its agency);
    2. the hop, every version it gave, guardian's view permission for the reader's group and
       the reader's access row, in one statement (relay.access.handoff_read);
    3. the audit append: the chain head locked, the event linked and inserted, the head
       moved, in one statement (PostgreSQL; SQLite reads the head, inserts, updates);
    4. the hop's notes (HandoffNote rows with their agency).
    """
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    services.handoff_acknowledge(staff=net.npo_intake, handoff_id=hop.pk, note="受け取りました")
    services.sheet_update(
        staff=net.counselor,
        sheet_id=sheet.pk,
        data={"consultation": "面談の結果を追記"},
        reason="追記",
    )
    services.handoff_send_update(staff=net.counselor, handoff_id=hop.pk, note="追記")
    key = key_for(getattr(net, reader))
    _warm(key)

    code, statements, body = _detail(f"/api/v1/handoffs/{hop.pk}/", key)

    assert code == 200
    assert [v["version"] for v in body["versions"]] == [1, 2]
    assert body["notes"] and set(body["sections"]) == {"basic", "consultation"}
    assert len(statements) == 3 + _audit_statements(), statements
    if connection.vendor == "postgresql":
        assert len(statements) <= 4
    read = statements[1]
    assert "relay_provision" in read and "relay_handoffgroupobjectpermission" in read
    assert "relay_sheetaccess" in read
    assert "audit_chainhead" in statements[2]
    assert "relay_handoffnote" in statements[-1]


def test_a_hop_of_a_program_costs_no_more(net, key_for) -> None:
    """GIVEN a hop to one of the receiver's programs WHEN it is read THEN the program comes
    with the hop (no query of its own)."""
    from agencies.models import Service

    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    program = Service.objects.create(agency=net.npo, slug="ibasho", name="居場所")
    Handoff.objects.filter(pk=hop.pk).update(service=program)
    key = key_for(net.npo)
    _warm(key)

    code, statements, body = _detail(f"/api/v1/handoffs/{hop.pk}/", key)

    assert code == 200 and body["service"]["slug"] == "ibasho"
    assert len(statements) == 3 + _audit_statements()


def test_a_draft_read_by_its_sender_takes_one_query_more(net, key_for) -> None:
    """GIVEN a draft (no version given yet) WHEN its sender reads it THEN the hop is fetched
    alone after the empty version read, and the content is what would be sent now."""
    from relay.services.handoffs import handoff_create

    sheet = net.sheet()
    net.consent(sheet)
    draft = handoff_create(
        staff=net.counselor,
        sheet_id=sheet.pk,
        to_agency=net.npo,
        sections=["basic"],
        purpose="support",
    )
    key = key_for(net.ward)
    _warm(key)

    code, statements, body = _detail(f"/api/v1/handoffs/{draft.pk}/", key)

    assert code == 200 and body["status"] == Status.DRAFT and body["versions"] == []
    assert "basic" in body["content"]
    assert "relay_handoff" in statements[2] and "relay_provision" not in statements[2]


def _unseen_cases(net) -> dict[str, tuple[str, int]]:
    """Hops a reader may not see, each as (reader, hop id): another agency's hop, a draft
    addressed to the reader but not sent, and an id that names nothing."""
    from relay.services.handoffs import handoff_create

    sheet = net.sheet()
    net.consent(sheet, to=[net.npo, net.guidance])
    sent = net.send(sheet)
    draft = handoff_create(
        staff=net.counselor,
        sheet_id=sheet.pk,
        to_agency=net.guidance,
        sections=["basic"],
        purpose="support",
    )
    missing = Handoff.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    return {
        "another agency": ("guidance", sent.pk),
        "unsent draft": ("guidance", draft.pk),
        "no such hop": ("guidance", missing),
    }


def test_what_one_may_not_see_is_404_on_the_same_query_path_as_nothing(net, key_for) -> None:
    """GIVEN another agency's hop, a draft addressed to the reader but not sent, and an id
    that names nothing WHEN the reader asks for each THEN each is the same 404 document after
    the same statements (the key, the version read, the hop read, then the refusal window
    counting 404s by this key, read and moved; no audit event of a read), so neither the
    answer nor the work done tells an existing hop from a missing one."""
    cases = _unseen_cases(net)
    key = key_for(net.guidance)
    _warm(key)
    seen = {}
    _detail(f"/api/v1/handoffs/{cases['no such hop'][1] + 1}/", key)  # opens the refusal window
    for name, (_reader, hop_id) in cases.items():
        code, statements, body = _detail(f"/api/v1/handoffs/{hop_id}/", key)
        assert code == 404, name
        seen[name] = (body["type"], body["status"], [_shape(s) for s in statements])

    assert len(set(map(repr, seen.values()))) == 1, seen
    assert len(seen["no such hop"][2]) == 5


@pytest.mark.parametrize("stop", ["declined", "withdrawn"])
def test_a_stopped_receiver_reads_the_hop_not_its_content_at_the_same_cost(
    net, key_for, stop
) -> None:
    """GIVEN a hop its receiver declined, or whose consent the person withdrew WHEN the
    receiver reads the detail THEN it sees the hop without content (its access row is gone,
    the rule since the provisions issue) at the same query cost as an open hop: the empty
    access row is read in the same statement, nothing is fetched to decide it."""
    sheet = net.sheet()
    record = net.consent(sheet)
    hop = net.send(sheet)
    if stop == "declined":
        services.handoff_decline(
            staff=net.npo_intake, handoff_id=hop.pk, reason="no_capacity", note="定員"
        )
    else:
        services.consent_withdraw(staff=net.counselor, record_id=record.pk, via="保護者から電話で")
    key = key_for(net.npo)
    _warm(key)

    code, statements, body = _detail(f"/api/v1/handoffs/{hop.pk}/", key)

    assert code == 200 and body["status"] == stop, body
    assert not any(body["content"].values()), body["content"]
    assert len(statements) == 3 + _audit_statements()


def test_the_permission_in_the_read_is_guardians_answer(net) -> None:
    """GIVEN a sent hop, a draft, a declined hop and a hop whose permission was taken away by
    hand WHEN each agency's view of each is asked through relay.access THEN it is what
    guardian's ObjectPermissionChecker answers for the agency's group: the rule read in the
    same query as the hop is guardian's, not a second one."""
    from guardian.core import ObjectPermissionChecker
    from guardian.shortcuts import remove_perm

    from relay import access
    from relay.services.handoffs import handoff_create

    cases = _unseen_cases(net)
    sheet = net.sheet()
    net.consent(sheet)
    declined = net.send(sheet)
    services.handoff_decline(
        staff=net.npo_intake, handoff_id=declined.pk, reason="no_capacity", note="定員"
    )
    stripped = handoff_create(
        staff=net.counselor,
        sheet_id=sheet.pk,
        to_agency=net.welfare,
        sections=["basic"],
        purpose="support",
    )
    remove_perm(access.VIEW_HANDOFF, net.ward.group, stripped)
    hops = Handoff.objects.filter(
        pk__in=[cases["another agency"][1], cases["unsent draft"][1], declined.pk, stripped.pk]
    )
    answers = {
        (agency.slug, hop.pk): (
            access.can_view_handoff(agency=agency, handoff=hop),
            ObjectPermissionChecker(agency.group).has_perm(access.VIEW_HANDOFF, hop),
        )
        for agency in (net.ward, net.npo, net.guidance, net.welfare)
        for hop in hops
    }

    assert all(ours == guardians for ours, guardians in answers.values()), answers
    assert sum(ours for ours, _ in answers.values()) == 5  # ward x3 (not stripped), npo x2
