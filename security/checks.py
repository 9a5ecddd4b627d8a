"""System checks: the field encryption keys are present and well formed."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from security import fieldcrypt


@register(Tags.security)
def check_field_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every command and the server refuse to start without a usable encryption key."""
    try:
        fieldcrypt.keyring()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="Set FIELD_ENCRYPTION_KEYS to '<id>:<base64 32-byte key>' "
                "(manage.py rotate_field_keys --new-key ID prints one); see SECURITY.md.",
                id="security.E001",
            )
        ]
    return []
