from django.apps import AppConfig


class OpsConfig(AppConfig):
    """What operators run the service with: health, readiness, metrics, structured logs."""

    name = "ops"
    verbose_name = "Operations"
