from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The partner REST API."""

    name = "api"
    verbose_name = "API"

    def ready(self) -> None:
        # Registers the OpenAPI extension for API key authentication.
        from api import schema  # noqa: F401
