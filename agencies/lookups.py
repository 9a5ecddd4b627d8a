"""`field__any=[...]`: membership in a list of values as one array parameter on PostgreSQL.

`field__in=[...]` writes one placeholder per value: for the thousand ids of a sweep batch,
Django prepares each value and psycopg splits a query of a thousand `%s` (about a tenth of
the escalation sweep's CPU). `= ANY(%s)` sends the list as one array. Elsewhere it is `IN`.
The values are ids or plain scalars the caller already has (they are not prepared one by one);
registered for every field in AgenciesConfig.ready (agencies is below every app that queries).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models import Field, ForeignObject, Lookup
from django.db.models.lookups import In


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self) -> Any:
        return list(self.rhs)

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        if not self.rhs:
            raise EmptyResultSet
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs_sql} = ANY(%s)", (*lhs_params, self.rhs)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        sql, params = In(self.lhs, self.rhs).as_sql(compiler, connection)
        return sql, tuple(params)


def register() -> None:
    # Foreign keys look their lookups up on their own classes only (ForeignObject), so both.
    Field.register_lookup(AnyOf)
    ForeignObject.register_lookup(AnyOf)
