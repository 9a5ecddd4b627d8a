"""Monthly partitions of the audit table (PostgreSQL declarative partitioning by occurred_at).

A month is a partition `audit_auditevent_yYYYYmMM`; a DEFAULT partition catches anything no
month covers, so an append never fails for want of a partition. Partitions are created ahead
by the owner (migration 0007 and `manage.py audit_partitions`): the application role owns no
table and cannot create them. Each partition refuses TRUNCATE itself (statement triggers are
not inherited); row triggers and privileges come from the parent.
"""

from __future__ import annotations

from datetime import date

from django.db.backends.base.base import BaseDatabaseWrapper

PARENT = "audit_auditevent"


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{PARENT}_y{month.year:04d}m{month.month:02d}"


def is_partitioned(conn: BaseDatabaseWrapper) -> bool:
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT c.relkind = 'p' FROM pg_class c WHERE c.relname = %s", [PARENT]
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def existing(conn: BaseDatabaseWrapper) -> set[str]:
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [PARENT],
        )
        return {row[0] for row in cursor.fetchall()}


def _no_truncate(name: str) -> str:
    return (
        f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name} "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
    )


def ensure(conn: BaseDatabaseWrapper, *, first: date, until: date) -> list[str]:
    """Create the monthly partitions from `first`'s month through `until`'s; returns the new
    ones. A month whose rows already sit in the DEFAULT partition is left to it."""
    have = existing(conn)
    created = []
    month = month_start(first)
    with conn.cursor() as cursor:
        while month <= until:
            name = partition_name(month)
            if name not in have:
                cursor.execute(
                    f"SELECT EXISTS (SELECT 1 FROM {PARENT}_default "  # noqa: S608 (constant)
                    "WHERE occurred_at >= %s AND occurred_at < %s)",
                    [month, next_month(month)],
                )
                if not cursor.fetchone()[0]:
                    cursor.execute(
                        f"CREATE TABLE {name} PARTITION OF {PARENT} "
                        f"FOR VALUES FROM ('{month.isoformat()}') TO "
                        f"('{next_month(month).isoformat()}')"
                    )
                    cursor.execute(_no_truncate(name))
                    created.append(name)
            month = next_month(month)
    return created


def convert(conn: BaseDatabaseWrapper, *, first: date, until: date) -> None:
    """Turn the plain audit table into a partitioned one, keeping every row, id, index name,
    the id sequence and the append-only triggers."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
            "AND indexname NOT IN (%s, %s)",
            [PARENT, f"{PARENT}_pkey", f"{PARENT}_hash_key"],
        )
        indexes = cursor.fetchall()
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {PARENT}")  # noqa: S608 (constant)
        last_id = cursor.fetchone()[0]
        statements = [
            f"ALTER TABLE {PARENT} RENAME TO {PARENT}_plain",
            f"DROP TRIGGER IF EXISTS audit_event_no_update_delete ON {PARENT}_plain",
            f"DROP TRIGGER IF EXISTS audit_event_no_truncate ON {PARENT}_plain",
            f"ALTER TABLE {PARENT}_plain RENAME CONSTRAINT {PARENT}_pkey TO {PARENT}_plain_pkey",
            f"CREATE TABLE {PARENT} (LIKE {PARENT}_plain INCLUDING DEFAULTS) "
            "PARTITION BY RANGE (occurred_at)",
            f"CREATE SEQUENCE {PARENT}_id_partitioned_seq START WITH {last_id + 1}",
            f"ALTER TABLE {PARENT} ALTER COLUMN id SET DEFAULT "
            f"nextval('{PARENT}_id_partitioned_seq')",
            # The partition key must be in the primary key; ids stay unique by the sequence.
            f"ALTER TABLE {PARENT} ADD CONSTRAINT {PARENT}_pkey PRIMARY KEY (id, occurred_at)",
            f"CREATE TABLE {PARENT}_default PARTITION OF {PARENT} DEFAULT",
            _no_truncate(f"{PARENT}_default"),
        ]
        for statement in statements:
            cursor.execute(statement)
    ensure(conn, first=first, until=until)
    with conn.cursor() as cursor:
        cursor.execute(f"INSERT INTO {PARENT} SELECT * FROM {PARENT}_plain")  # noqa: S608
        cursor.execute(f"DROP TABLE {PARENT}_plain")
        cursor.execute(
            f"ALTER SEQUENCE {PARENT}_id_partitioned_seq OWNED BY {PARENT}.id"
        )
        cursor.execute(f"ALTER SEQUENCE {PARENT}_id_partitioned_seq RENAME TO {PARENT}_id_seq")
        cursor.execute(
            f"ALTER TABLE {PARENT} ALTER COLUMN id SET DEFAULT nextval('{PARENT}_id_seq')"
        )
        for _name, definition in indexes:
            cursor.execute(definition.replace(" ON public.", " ON ").replace(" ON ONLY ", " ON "))
        # No index on the hash: nothing looks an event up by it (the walk checks each link
        # in id order), and a hash lands on a random leaf, so its index cost every append a
        # page write of its own (audit 0011).
        cursor.execute(
            f"CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON {PARENT} "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
        )
        cursor.execute(
            f"CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON {PARENT} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
        )
