"""Load the demo network (relay's load_demo), then the demo schools with their attendance.

attendance sits before relay in INSTALLED_APPS so that this command is the one `manage.py
load_demo` runs; relay's stays what it was and is called first."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from attendance.demo import load_school_demo
from relay.demo import users_table
from relay.management.commands.load_demo import Command as RelayLoadDemo


class Command(RelayLoadDemo):
    help = RelayLoadDemo.help + " Adds two Akashi schools with classes, pupils and attendance."

    def handle(self, *args: Any, **options: Any) -> None:
        super().handle(*args, **options)
        schools = load_school_demo()
        self.stdout.write(
            self.style.SUCCESS(
                f"demo schools: {schools.schools} schools, {schools.pupils} pupils, "
                f"{schools.records} new attendance records"
            )
        )
        users_file = settings.VAR_DIR / "demo-users.txt"
        table = users_file.read_text(encoding="utf-8").rstrip("\n")
        school_table = users_table(schools.users).split("\n", 1)[1]  # without the title line
        combined = (
            f"{table}\n\n学校の職員(出欠と早期対応) / school staff (attendance)\n{school_table}"
        )
        users_file.write_text(combined + "\n", encoding="utf-8")
        self.stdout.write(school_table)
