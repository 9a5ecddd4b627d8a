"""Print or apply the grants of the application's database role (PostgreSQL)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from audit import roles


class Command(BaseCommand):
    help = (
        "Print (--print) or apply (--apply, connected as the owner) the grants of the "
        "application role: INSERT and SELECT only on the audit tables, owning nothing. "
        "Run --apply after every migrate."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--print", action="store_true", help="print the SQL")
        mode.add_argument("--apply", action="store_true", help="run it as the connected owner")
        parser.add_argument(
            "--app-role",
            default=settings.DATABASE_APP_ROLE,
            help="the application's role (default: DATABASE_APP_ROLE)",
        )
        parser.add_argument(
            "--no-create-role",
            action="store_true",
            help="do not create the role (it exists; the owner may lack CREATEROLE)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("database roles apply to PostgreSQL only (DATABASE_URL)")
        app_role = options["app_role"]
        create = not options["no_create_role"]
        if options["print"]:
            statements = roles.grant_statements(
                app_role, create_role=create, database=connection.settings_dict["NAME"]
            )
            statements += roles.partition_statements(app_role)
            self.stdout.write(
                "-- As the owner of the tables, after every migrate. Give the role a password\n"
                f"-- (ALTER ROLE {app_role} PASSWORD '...') and put it in DATABASE_URL.\n"
            )
            self.stdout.write(";\n".join(statements) + ";")
            return
        who = roles.connected()
        if who.user == app_role:
            raise CommandError("connect as the owner (DATABASE_URL of the owner) to apply grants")
        done = roles.apply(app_role, create_role=create)
        self.stdout.write(
            self.style.SUCCESS(f"{len(done)} statements applied for role {app_role} as {who.user}")
        )
