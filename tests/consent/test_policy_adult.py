"""consent.policy.decide: a person aged 18 or over consents for themselves. A consent whose
only grantor is a guardian covers nothing for them; their own consent, a legal
representative's, or an approved lawful basis does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from agencies.models import Agency
from consent.models import ConsentRecord
from consent.policy import REASON_LABELS, decide, guardian_only
from consent.vocabulary import Basis


@pytest.fixture(autouse=True)
def _japanese():
    """The messages are read in Japanese, whatever language an earlier test left active."""
    with translation.override("ja"):
        yield


NOW = timezone.now()


def _record(pk: int, grantors: list[str], basis: str = Basis.CONSENT) -> ConsentRecord:
    record = ConsentRecord(
        pk=pk,
        basis=basis,
        grantors=grantors,
        recipient_kinds=["npo_free_school"],
        sections=["basic", "consultation"],
        purposes=["support"],
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=90),
    )
    return record


NPO = Agency(pk=1, name="NPO", kind="npo_free_school")


def _ask(records: list[ConsentRecord], *, adult: bool):
    return decide(
        records=records,
        sender=None,
        recipient=NPO,
        sections=["basic"],
        purpose="support",
        at=NOW,
        adult=adult,
    )


def test_guardian_only_consent_covers_a_minor() -> None:
    assert _ask([_record(1, ["guardian"])], adult=False)


def test_guardian_only_consent_is_refused_for_an_adult_with_its_own_reason() -> None:
    decision = _ask([_record(7, ["guardian"])], adult=True)
    assert not decision
    assert decision.reason == "adult-needs-own-consent"
    assert "18歳以上" in decision.message and "#7" in decision.message
    assert "adult-needs-own-consent" in REASON_LABELS


@pytest.mark.parametrize("grantors", [["person"], ["guardian", "person"], ["legal_representative"]])
def test_the_persons_own_or_a_legal_representatives_consent_covers_an_adult(grantors) -> None:
    decision = _ask([_record(2, grantors)], adult=True)
    assert decision and decision.record is not None and decision.record.pk == 2


def test_an_adults_own_consent_is_used_even_when_a_guardian_only_one_is_newer() -> None:
    records = [_record(9, ["guardian"]), _record(3, ["person"])]  # newest first
    decision = _ask(records, adult=True)
    assert decision and decision.record is not None and decision.record.pk == 3


def test_a_lawful_basis_is_no_guardian_consent() -> None:
    basis = _record(4, [], basis=Basis.LIFE_OR_BODY)
    basis.approval = "approved"
    assert not guardian_only(basis)
    assert _ask([basis], adult=True)
