from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConferencesConfig(AppConfig):
    """Case meetings (ケース会議), their versioned records, support plans and reviews."""

    name = "conferences"
    verbose_name = _("ケース会議と支援計画")

    def ready(self) -> None:
        from conferences.clocks import register_kinds

        register_kinds()
