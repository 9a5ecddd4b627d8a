"""`field__any=[...]` (agencies.lookups): the same rows as `__in`, one array parameter on
PostgreSQL instead of a placeholder per value (the sweep's batches filter on a thousand ids)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.models import Agency, Membership
from tests.factories import AgencyFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_any_finds_the_rows_in_finds() -> None:
    agencies = AgencyFactory.create_batch(5)
    wanted = [agencies[0].pk, agencies[3].pk, agencies[4].pk, 10**12]
    found = set(Agency.objects.filter(pk__any=wanted).values_list("pk", flat=True))
    assert found == set(Agency.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    assert found == {agencies[0].pk, agencies[3].pk, agencies[4].pk}


def test_any_works_on_a_foreign_key_column() -> None:
    first, second = MembershipFactory(), MembershipFactory()
    found = Membership.objects.filter(agency_id__any=[first.agency_id]).values_list("pk", flat=True)
    assert list(found) == [first.pk] and second.agency_id != first.agency_id


def test_any_of_nothing_is_nothing_and_asks_nothing() -> None:
    AgencyFactory()
    with CaptureQueriesContext(connection) as queries:
        assert list(Agency.objects.filter(pk__any=[])) == []
    assert len(queries) == 0


def test_any_sends_one_parameter_on_postgresql() -> None:
    agencies = AgencyFactory.create_batch(3)
    with CaptureQueriesContext(connection) as queries:
        list(Agency.objects.filter(pk__any=[a.pk for a in agencies]))
    sql = queries.captured_queries[0]["sql"]
    if connection.vendor == "postgresql":
        assert "= ANY(" in sql and sql.count(str(agencies[1].pk)) == 1
    else:
        assert " IN (" in sql
