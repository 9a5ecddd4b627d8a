"""Inserting many rows of a model at once: COPY on PostgreSQL, bulk_create elsewhere.

The audit chain's batch path (audit_record_many) writes with it, and so does the escalation
sweep for its outbox rows: building model instances for bulk_create costs more than the
database does.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, models


def copy_rows(
    model: type[models.Model],
    rows: list[dict[str, Any]],
    *,
    json_text: dict[int, str] | None = None,
) -> None:
    """Insert `rows` of `model` given as field values (attnames), defaults filled in.

    Auto-increment ids are assigned in row order either way. `json_text`: the JSON text the
    caller has already written for some of the JSON values, by id() (the rows hold them).
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
    # Per field, once per call: its name, whether it is JSON, and its default (a callable
    # default, like uuid4 or now, is called once per row that lacks the field).
    missing = object()
    plan = [
        (
            f.attname,
            f.attname in json_fields,
            f.get_default if callable(f.default) else None,
            None if callable(f.default) else f.get_default(),
        )
        for f in fields
    ]
    dumped: dict[int, str] = dict(json_text or {})
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,  # names: the model's
    ):
        for row in rows:
            values = []
            for name, is_json, default_call, default in plan:
                value = row.get(name, missing)
                if value is missing:
                    value = default_call() if default_call is not None else default
                    if is_json:
                        value = json.dumps(value, ensure_ascii=False)
                elif is_json:
                    # As text, which COPY parses into jsonb; a payload shared by several rows
                    # is serialised once (the rows hold it, so its id is not reused meanwhile).
                    key = id(value)
                    if key not in dumped:
                        dumped[key] = json.dumps(value, ensure_ascii=False)
                    value = dumped[key]
                values.append(value)
            copy.write_row(values)
