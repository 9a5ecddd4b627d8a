from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The partner REST API."""

    name = "api"
    verbose_name = "API"
