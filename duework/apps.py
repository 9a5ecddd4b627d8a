from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DueworkConfig(AppConfig):
    """Clocks (deadlines, reminders, escalation steps) and the one sweep that fires them."""

    name = "duework"
    verbose_name = _("期限と督促")
    default_auto_field = "django.db.models.BigAutoField"
