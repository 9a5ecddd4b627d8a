"""Fill the chain heads (chain 0 continues the existing single chain) and make anchors and
archive records append-only in the database, like the events."""

from django.db import migrations

GENESIS_HASH = "0" * 64
MAX_CHAINS = 64

TRIGGERS = """
CREATE TRIGGER {table}_no_update_delete
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER {table}_no_truncate
    BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
"""


def heads(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    ChainHead = apps.get_model("audit", "ChainHead")
    last = AuditEvent.objects.order_by("-id").values_list("id", "hash").first()
    count = AuditEvent.objects.count()
    ChainHead.objects.bulk_create(
        [
            ChainHead(chain=0, last_id=last[0], hash=last[1], count=count)
            if chain == 0 and last
            else ChainHead(chain=chain, last_id=None, hash=GENESIS_HASH, count=0)
            for chain in range(MAX_CHAINS)
        ]
    )


def triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in ("audit_auditanchor", "audit_auditarchive"):
        schema_editor.execute(TRIGGERS.format(table=table), params=None)


def no_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in ("audit_auditanchor", "audit_auditarchive"):
        schema_editor.execute(
            f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table};"
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};",
            params=None,
        )


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_chains_anchors_status")]

    operations = [
        migrations.RunPython(heads, migrations.RunPython.noop),
        migrations.RunPython(triggers, no_triggers),
    ]
