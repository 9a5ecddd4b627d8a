from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebUIConfig(AppConfig):
    """The web UI: screens for people and their template tags."""

    name = "relay.views"
    label = "relay_web"
    verbose_name = _("画面")
