from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RelayConfig(AppConfig):
    """Referral sheets, handoffs and the relay workflow."""

    name = "relay"
    verbose_name = _("つなぐシートと引き継ぎ")
