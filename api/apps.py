from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The partner REST API."""

    name = "api"
    verbose_name = "API"

    def ready(self) -> None:
        # The OpenAPI extension for API key authentication, and the workflow's errors
        # (agencies.errors) as problem types: both register themselves on import.
        from api import schema, workflow_problems  # noqa: F401
