from django.apps import AppConfig


class SecurityConfig(AppConfig):
    """Field encryption, shared URL rules and response headers (no models)."""

    name = "security"
    verbose_name = "Security"

    def ready(self) -> None:
        from security import checks  # noqa: F401  (registers the system checks)
