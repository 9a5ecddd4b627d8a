"""Two sessions at once, on PostgreSQL: exactly one outcome, no lost audit event, chain intact."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from agencies.errors import NotFound, WorkflowError
from audit.models import AuditAction, AuditEvent
from audit.services import audit_verify
from relay import services
from relay.models import Handoff, SheetAccess
from relay.states import Status
from tests.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; each returns its result or its exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


@pytest.mark.parametrize("attempt", range(3))
def test_two_acknowledgments_at_once_give_one(net_tx, attempt) -> None:
    sheet = net_tx.sheet()
    net_tx.consent(sheet)
    hop = net_tx.send(sheet)
    results = _race(
        lambda: services.handoff_acknowledge(staff=net_tx.npo_intake, handoff_id=hop.pk),
        lambda: services.handoff_acknowledge(staff=net_tx.npo_supervisor, handoff_id=hop.pk),
    )
    successes = [r for r in results if isinstance(r, Handoff)]
    failures = [r for r in results if isinstance(r, WorkflowError)]
    assert len(successes) == 1 and len(failures) == 1, results
    assert AuditEvent.objects.filter(action=AuditAction.HANDOFF_ACKNOWLEDGED).count() == 1
    assert Handoff.objects.get(pk=hop.pk).version == 3
    assert audit_verify()[1] is None


@pytest.mark.parametrize("attempt", range(3))
def test_withdrawal_racing_an_approval_never_leaves_the_receiver_with_access(
    net_tx, attempt
) -> None:
    """Whichever wins, the end state is the same: no access for the receiver; and the audit
    trail tells which way it went."""
    net_tx.ward.requires_supervisor_approval = True
    net_tx.ward.save()
    sheet = net_tx.sheet()
    record = net_tx.consent(sheet)
    hop = net_tx.send(sheet)
    assert hop.status == Status.AWAITING_APPROVAL

    approve, withdraw = _race(
        lambda: services.handoff_approve(staff=net_tx.supervisor, handoff_id=hop.pk),
        lambda: services.consent_withdraw(
            staff=net_tx.counselor, record_id=record.pk, via="保護者"
        ),
    )

    assert isinstance(withdraw, list), withdraw
    hop.refresh_from_db()
    if isinstance(approve, Handoff):  # sent first, then stopped by the withdrawal
        assert hop.status == Status.WITHDRAWN and [h.pk for h in withdraw] == [hop.pk]
        actions = [AuditAction.HANDOFF_SENT, AuditAction.HANDOFF_WITHDRAWN]
    else:  # the withdrawal came first: the send was refused
        assert isinstance(approve, WorkflowError), approve
        assert hop.status == Status.AWAITING_APPROVAL and withdraw == []
        actions = [AuditAction.HANDOFF_SEND_REFUSED]
    recorded = list(
        AuditEvent.objects.filter(
            object_type="handoff",
            object_id=str(hop.pk),
            action__in=[
                AuditAction.HANDOFF_SENT,
                AuditAction.HANDOFF_WITHDRAWN,
                AuditAction.HANDOFF_SEND_REFUSED,
            ],
        ).values_list("action", flat=True)
    )
    assert recorded == actions
    assert not SheetAccess.objects.filter(agency=net_tx.npo).exists()
    with pytest.raises(NotFound):
        services.sheet_view(staff=net_tx.npo_intake, sheet_id=sheet.pk)
    assert audit_verify()[1] is None
    assert connection.vendor == "postgresql"
