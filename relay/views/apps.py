from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebUIConfig(AppConfig):
    """The web UI: connects the login audit receivers and provides the template tags."""

    name = "relay.views"
    label = "relay_web"
    verbose_name = _("画面")

    def ready(self) -> None:
        from relay.views import auth  # noqa: F401  (login, logout and failed-login audit)
