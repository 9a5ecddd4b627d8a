"""OpenAPI descriptions drf-spectacular cannot infer: API key security, Idempotency-Key."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.APIKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "tsk_<prefix>_<secret>",
            "description": "An API key of your agency, issued by a Tsunagu administrator.",
        }


class TsunaguAutoSchema(AutoSchema):
    """Documents the Idempotency-Key header on the methods IdempotencyMixin handles."""

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.method in getattr(self.view, "idempotent_methods", ()):
            parameters.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    str,
                    OpenApiParameter.HEADER,
                    description=(
                        "Up to 255 characters, unique per request you mean to make once. A retry "
                        "with the same key and body gets the first response (with "
                        "Idempotent-Replayed: true) for 24 hours; another body gets 422."
                    ),
                )
            )
        return parameters
