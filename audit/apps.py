from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    """The append-only, hash-chained audit trail."""

    name = "audit"
    verbose_name = _("監査ログ")

    def ready(self) -> None:
        from audit import checks  # noqa: F401  (registers the system checks)
