"""The rules every write path shares (form, API, admin, importer, command): a link is http or
https, and no text carries a NUL or other C0 control character.

Model fields carry these validators, so ``full_clean``, ``Field.clean`` (the importer),
ModelForms (the admin, the web forms) and DRF model serializers all apply the same rule.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator, URLValidator
from django.db import models
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

WEB_SCHEMES = ("http", "https")
# C0 controls other than tab, newline and carriage return: never in text people type.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@deconstructible
class ControlCharacterValidator:
    """Refuses NUL and the other C0 control characters (tab and newlines are fine)."""

    message = _("制御文字(NULなど)は使えません。")
    code = "control_characters"

    def __call__(self, value: Any) -> None:
        if isinstance(value, str) and _CONTROL.search(value):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ControlCharacterValidator)

    def __hash__(self) -> int:
        return hash(self.code)


_no_controls = ControlCharacterValidator()
_web_url = URLValidator(schemes=list(WEB_SCHEMES))


def validate_web_url(value: str) -> None:
    """An absolute http(s) URL with no control characters: never ``javascript:``, ``data:``,
    ``file:`` or ``ftp:``, which a link on a page or a webhook must not carry."""
    _no_controls(value)
    scheme = value.split(":", 1)[0].strip().lower() if ":" in value else ""
    if scheme not in WEB_SCHEMES:
        raise ValidationError(
            _("http:// または https:// で始まるURLを入力してください。"), code="url_scheme"
        )
    _web_url(value)


def guard_text_fields(*model_classes: type[models.Model]) -> None:
    """Give every text field of the models the shared rules: no control characters; URL
    fields http(s) only. Called once under each model module, so every path that validates
    through the model (full_clean, Field.clean, ModelForm, ModelSerializer) applies them."""
    for model in model_classes:
        for field in model._meta.concrete_fields:
            if not isinstance(field, models.CharField | models.TextField):
                continue
            validators = field.validators  # Django's cached list, built once per field
            if not any(isinstance(v, ControlCharacterValidator) for v in validators):
                validators.append(_no_controls)
            if isinstance(field, models.URLField) and validate_web_url not in validators:
                validators.append(validate_web_url)


__all__ = [
    "WEB_SCHEMES",
    "ControlCharacterValidator",
    "ProhibitNullCharactersValidator",
    "guard_text_fields",
    "validate_web_url",
]
