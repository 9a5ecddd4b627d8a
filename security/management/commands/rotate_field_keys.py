"""Re-encrypt every encrypted field under the first key of FIELD_ENCRYPTION_KEYS.

    manage.py rotate_field_keys --new-key k2     print a fresh key entry to put first
    manage.py rotate_field_keys --status         count values per key id, change nothing
    manage.py rotate_field_keys [--batch 500]    re-encrypt what is not under the first key

Rotation: put the new key first (keep the old ones after it), deploy, run this command, check
with --status that no value is left under an old key, then drop the old key. Rows are read and
written in primary-key batches, each batch in its own transaction; a value changed since it
was read is left alone (the UPDATE compares the old ciphertext) and picked up by a rerun.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from security import fieldcrypt


class Command(BaseCommand):
    help = "Re-encrypt encrypted fields under the first FIELD_ENCRYPTION_KEYS key, in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=500)
        parser.add_argument("--status", action="store_true", help="only count values per key")
        parser.add_argument("--new-key", metavar="ID", help="print a new key entry and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["new_key"]:
            self.stdout.write(fieldcrypt.new_key_spec(options["new_key"]))
            return
        primary = fieldcrypt.keyring()[0].key_id
        found = fieldcrypt.models_with_encrypted_fields(apps.get_models())
        total = 0
        for model, fields in found:
            counts, changed = self._rotate_model(
                model, fields, primary, batch=max(1, options["batch"]), dry=options["status"]
            )
            total += changed
            shown = ", ".join(f"{k}: {n}" for k, n in sorted(counts.items())) or "empty"
            self.stdout.write(f"{model._meta.label}: {shown}; re-encrypted {changed}")
        if not options["status"]:
            self.stdout.write(self.style.SUCCESS(f"{total} values now under key {primary!r}"))

    def _rotate_model(
        self,
        model: Any,
        fields: list[Any],
        primary: str,
        *,
        batch: int,
        dry: bool,
    ) -> tuple[Counter[str], int]:
        quote = connection.ops.quote_name
        table = quote(model._meta.db_table)
        pk = quote(model._meta.pk.column)
        cols = [quote(f.column) for f in fields]
        select = (
            f"SELECT {pk}, {', '.join(cols)} FROM {table} "  # noqa: S608 (quoted names)
            f"WHERE {pk} > %s ORDER BY {pk} LIMIT %s"
        )
        counts: Counter[str] = Counter()
        changed = 0
        last: Any = None
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                if last is None:
                    cursor.execute(select.replace(f"WHERE {pk} > %s ", ""), [batch])
                else:
                    cursor.execute(select, [last, batch])
                rows = cursor.fetchall()
                for row in rows:
                    last = row[0]
                    for field, column, token in zip(fields, cols, row[1:], strict=True):
                        key_id = fieldcrypt.key_id_of(token or "")
                        if key_id is None:
                            continue
                        counts[key_id] += 1
                        if dry or key_id == primary:
                            continue
                        context = field.crypto_context()
                        fresh = fieldcrypt.encrypt_str(
                            fieldcrypt.decrypt_str(token, context=context), context=context
                        )
                        cursor.execute(
                            f"UPDATE {table} SET {column} = %s "  # noqa: S608 (quoted names)
                            f"WHERE {pk} = %s AND {column} = %s",
                            [fresh, row[0], token],
                        )
                        changed += cursor.rowcount
            if len(rows) < batch:
                return counts, changed
