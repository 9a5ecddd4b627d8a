"""PostgreSQL: drop the pattern-matching (varchar_pattern_ops) index Django made for `hash`.

Nothing looks a hash up with LIKE; the plain btree on hash (made when the table was
partitioned) answers equality. The pattern index cost about 110 bytes of every event's
865 (issue 14) and a write per append."""

from django.db import migrations

DROP = """
DO $$
DECLARE name text;
BEGIN
  FOR name IN
    SELECT i.relname FROM pg_index x
      JOIN pg_class i ON i.oid = x.indexrelid
      JOIN pg_class t ON t.oid = x.indrelid
     WHERE t.relname = 'audit_auditevent'
       AND pg_get_indexdef(x.indexrelid) LIKE '%(hash varchar_pattern_ops)%'
  LOOP
    EXECUTE format('DROP INDEX %I', name);
  END LOOP;
END $$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0008_partition_by_month")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
