"""PostgreSQL: drop the plain btree on `hash` that partitioning (0008) put in place of the
unique constraint.

Nothing looks an event up by its hash: verification walks each chain in id order and checks
every link, anchors name events by id. A SHA-256 is random, so each append wrote a random
leaf page of this index: in the escalation sweep (25,000 events in one minute's batches) it
was about 40 % of the full-page images PostgreSQL wrote to its WAL (issue 14 item 5). SQLite
keeps its plain table and unique index (no partitioning there)."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS audit_auditevent_hash_idx", params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS audit_auditevent_hash_idx ON audit_auditevent (hash)",
            params=None,
        )


class Migration(migrations.Migration):
    dependencies = [("audit", "0010_supervisor_page_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]
