# Provisions (what each send gave its receiver) and notes as append-only rows.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The old single `note` held the text of the hop's last transition: which kind it was follows
# from the status it was left in, and so do its author and agency.
_NOTE_BY_STATUS = {
    "draft": ("return", "return", "from", None),
    "acknowledged": ("acknowledge", "acknowledge", "to", "acknowledged"),
    "accepted": ("accept", "accept", "to", "accepted"),
    "declined": ("decline", "decline", "to", "declined"),
    "completed": ("complete", "complete", "to", "completed"),
    "cancelled": ("cancel", "cancel", "from", "cancelled"),
}


def _immediate_checks(schema_editor):
    # The field is dropped after these inserts in the same transaction: PostgreSQL refuses an
    # ALTER TABLE while deferred FK checks are pending, so they are checked as rows go in.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def notes_to_rows(apps, schema_editor):
    """Each hop's single note becomes a note row of the transition that wrote it last."""
    _immediate_checks(schema_editor)
    handoff_model = apps.get_model("relay", "Handoff")
    note_model = apps.get_model("relay", "HandoffNote")
    rows = []
    for hop in handoff_model.objects.exclude(note="").iterator():
        kind, transition, side, stamp = _NOTE_BY_STATUS.get(
            hop.status, ("acknowledge", "acknowledge", "to", None)
        )
        rows.append(
            note_model(
                handoff_id=hop.pk,
                kind=kind,
                text=hop.note,
                transition=transition,
                author_id=getattr(hop, f"{stamp}_by_id") if stamp else None,
                agency_id=hop.from_agency_id if side == "from" else hop.to_agency_id,
                created_at=(getattr(hop, f"{stamp}_at") if stamp else None) or hop.updated_at,
            )
        )
        if len(rows) >= 1000:
            note_model.objects.bulk_create(rows)
            rows = []
    note_model.objects.bulk_create(rows)


def provisions_for_sent_hops(apps, schema_editor):
    """Hops sent before snapshots existed get version 1 from the sheet as it is now (the
    nearest record there is); their receivers read it from here on."""
    from relay.sections import SECTION_FIELDS, content_hash

    _immediate_checks(schema_editor)
    handoff_model = apps.get_model("relay", "Handoff")
    provision_model = apps.get_model("relay", "Provision")
    attachment_model = apps.get_model("relay", "Attachment")
    rows = []
    hops = handoff_model.objects.filter(sent_at__isnull=False).select_related("sheet")
    for hop in hops.iterator(chunk_size=500):
        content = {}
        for section in hop.sections:
            if section == "attachments":
                content[section] = {
                    "files": [
                        {
                            "id": a.pk,
                            "title": a.title,
                            "content_type": a.content_type,
                            "size": a.size,
                            "sha256": a.sha256,
                        }
                        for a in attachment_model.objects.filter(sheet_id=hop.sheet_id).order_by(
                            "id"
                        )
                    ]
                }
                continue
            fields = {}
            for name in SECTION_FIELDS.get(section, ()):
                value = getattr(hop.sheet, name)
                fields[name] = value.isoformat() if hasattr(value, "isoformat") else value
            content[section] = fields
        rows.append(
            provision_model(
                handoff_id=hop.pk,
                version=1,
                sections=list(hop.sections),
                content=content,
                content_hash=content_hash(content),
                consent_id=hop.consent_id,
                created_by_id=hop.sent_by_id,
                created_at=hop.sent_at,
            )
        )
        if len(rows) >= 500:
            provision_model.objects.bulk_create(rows)
            rows = []
    provision_model.objects.bulk_create(rows)


class Migration(migrations.Migration):

    dependencies = [
        ('agencies', '0004_webhookendpoint_moved_to_notifications'),
        ('consent', '0002_initial'),
        ('relay', '0005_sheet_search_key_saved_filters'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='handoff',
            name='deliberate_duplicate',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='handoff',
            name='update_requested_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='handoff',
            name='update_requested_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='update requested by'),
        ),
        migrations.CreateModel(
            name='HandoffNote',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('message', '送付元からの連絡事項'), ('return', '差し戻しの理由'), ('acknowledge', '受領確認のメモ'), ('accept', '受け入れのメモ'), ('decline', '辞退の補足'), ('complete', '結果の補足'), ('cancel', '取り下げの補足'), ('update', '更新の連絡事項')], max_length=16)),
                ('text', models.TextField()),
                ('transition', models.CharField(max_length=24)),
                ('author_label', models.CharField(blank=True, max_length=150)),
                ('created_at', models.DateTimeField()),
                ('agency', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='agencies.agency')),
                ('author', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('handoff', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='notes', to='relay.handoff')),
            ],
            options={
                'verbose_name': '引き継ぎのメモ',
                'verbose_name_plural': '引き継ぎのメモ',
                'ordering': ['handoff', 'created_at', 'id'],
                'indexes': [models.Index(fields=['handoff', 'id'], name='handoff_note_idx')],
            },
        ),
        migrations.CreateModel(
            name='Provision',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('version', models.PositiveIntegerField()),
                ('sections', models.JSONField()),
                ('content', models.JSONField()),
                ('content_hash', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField()),
                ('changed_sections', models.JSONField(blank=True, default=list)),
                ('consent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='consent.consentrecord')),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('handoff', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='provisions', to='relay.handoff')),
            ],
            options={
                'verbose_name': '提供記録(送付内容)',
                'verbose_name_plural': '提供記録(送付内容)',
                'ordering': ['handoff', 'version'],
                'constraints': [models.UniqueConstraint(fields=('handoff', 'version'), name='provision_version_unique')],
            },
        ),
        migrations.RunPython(notes_to_rows, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(provisions_for_sent_hops, migrations.RunPython.noop, elidable=False),
        migrations.RemoveField(
            model_name='handoff',
            name='note',
        ),
    ]
