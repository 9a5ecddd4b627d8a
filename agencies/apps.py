from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AgenciesConfig(AppConfig):
    """The directory: agencies, services, staff memberships."""

    name = "agencies"
    verbose_name = _("機関")

    def ready(self) -> None:
        from agencies import (
            lookups,
            signals,  # noqa: F401  (group membership sync)
        )

        lookups.register()  # field__any=[...] (agencies.lookups)
