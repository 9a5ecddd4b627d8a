"""The bounded retry of workflow transactions (relay.services.transactions): what it retries,
how often, and that it never retries inside an enclosing transaction."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, OperationalError, transaction

from relay.services import transactions
from relay.services.transactions import MAX_ATTEMPTS, is_retryable, retry_on_conflict


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _django_error(sqlstate: str) -> DatabaseError:
    """What Django raises: its own error class, with the driver's error as the cause."""
    try:
        raise _PgError(sqlstate)
    except _PgError as cause:
        try:
            raise OperationalError("deadlock detected") from cause
        except OperationalError as exc:
            return exc


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch) -> None:
    monkeypatch.setattr(transactions.time, "sleep", lambda seconds: None)


def test_deadlocks_and_serialization_failures_are_retryable_and_nothing_else() -> None:
    assert is_retryable(_django_error("40P01")) and is_retryable(_django_error("40001"))
    assert not is_retryable(_django_error("23505"))  # a unique violation is a real error
    assert not is_retryable(ValueError("40P01"))


def test_a_deadlock_victim_is_run_again_until_it_succeeds() -> None:
    calls: list[int] = []

    @retry_on_conflict
    def work() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _django_error("40P01")
        return "done"

    assert work() == "done" and len(calls) == 3


def test_the_retry_is_bounded() -> None:
    calls: list[int] = []

    @retry_on_conflict
    def always() -> None:
        calls.append(1)
        raise _django_error("40001")

    with pytest.raises(OperationalError):
        always()
    assert len(calls) == MAX_ATTEMPTS


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    @retry_on_conflict
    def broken() -> None:
        calls.append(1)
        raise _django_error("23505")

    with pytest.raises(OperationalError):
        broken()
    assert len(calls) == 1


@pytest.mark.django_db
def test_inside_an_enclosing_transaction_the_error_goes_to_the_caller() -> None:
    """Only the outermost transaction can be started again: an inner one never retries."""
    calls: list[int] = []

    @retry_on_conflict
    def inner() -> None:
        calls.append(1)
        raise _django_error("40P01")

    with pytest.raises(OperationalError), transaction.atomic():
        inner()
    assert len(calls) == 1
