"""PostgreSQL: the audit table becomes partitioned by month (declarative), so ten years of
events stay cheap to query and a month past retention can be archived. SQLite keeps a plain
table. Existing rows, ids, index names and the append-only triggers are kept; the primary key
becomes (id, occurred_at), as partitioning requires, and hash is indexed instead of unique."""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone

from audit import partitions

MONTHS_AHEAD = 24


def forwards(apps, schema_editor):
    conn = schema_editor.connection
    if conn.vendor != "postgresql" or partitions.is_partitioned(conn):
        return
    with conn.cursor() as cursor:
        cursor.execute("SELECT min(occurred_at) FROM audit_auditevent")
        oldest = cursor.fetchone()[0]
    today = timezone.now().date()
    first = min(oldest.date(), today) if oldest else today
    partitions.convert(conn, first=first, until=today + timedelta(days=31 * MONTHS_AHEAD))


class Migration(migrations.Migration):
    atomic = True
    dependencies = [("audit", "0007_chain_heads_and_append_only_anchors")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
