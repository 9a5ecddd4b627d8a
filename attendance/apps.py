from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AttendanceConfig(AppConfig):
    """Schools' classes, pupils and attendance, and the early-response rules (never leaves
    the school's agency)."""

    name = "attendance"
    verbose_name = _("出欠と早期対応")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from attendance.clocks import register_kinds

        register_kinds()
