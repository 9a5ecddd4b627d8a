from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    """Consent records, lawful bases and the sharing policy."""

    name = "consent"
    verbose_name = _("同意")
