from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    """The outbox and its delivery: e-mail, Standard Webhooks, in-app notices."""

    name = "notifications"
    verbose_name = _("通知")
