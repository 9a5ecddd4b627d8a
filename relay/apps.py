from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RelayConfig(AppConfig):
    """Referral sheets, handoffs and the relay workflow."""

    name = "relay"
    verbose_name = _("つなぐシートと引き継ぎ")

    def ready(self) -> None:
        from notifications.signals import receiver_not_notified
        from relay.receivers import on_receiver_not_notified
        from relay.services.escalations import register_kinds

        receiver_not_notified.connect(on_receiver_not_notified, dispatch_uid="relay")
        register_kinds()
