"""Inserting many rows of a model at once: COPY on PostgreSQL, bulk_create elsewhere.

The audit chain's batch path (audit_record_many) writes with it, and so does the escalation
sweep for its outbox rows: building model instances for bulk_create costs more than the
database does.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, models


def copy_rows(model: type[models.Model], rows: list[dict[str, Any]]) -> None:
    """Insert `rows` of `model` given as field values (attnames), defaults filled in.

    Auto-increment ids are assigned in row order either way.
    """
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create([model(**row) for row in rows], batch_size=1000)
        return
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    # Defaults once per call (a callable default, like uuid4 or now, once per row).
    static = {f.attname: f.get_default() for f in fields if not callable(f.default)}
    dumped: dict[int, str] = {}
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,  # names: the model's
    ):
        for row in rows:
            values = []
            for f in fields:
                name = f.attname
                if name in row:
                    value = row[name]
                else:
                    value = static[name] if name in static else f.get_default()
                if name in json_fields:
                    # As text, which COPY parses into jsonb; a payload shared by several rows
                    # is serialised once.
                    key = id(value)
                    if key not in dumped:
                        dumped[key] = json.dumps(value, ensure_ascii=False)
                    value = dumped[key]
                values.append(value)
            copy.write_row(values)
