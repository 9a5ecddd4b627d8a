"""Serializer building blocks for what the API writes out: an empty value is null, not "".

A blank choice would otherwise be an extra `""` member of every enum, and a blank URL a string
that is not a URI; generated clients reject both. A model serializer that only writes out
derives from `OutputModelSerializer` to get these fields for blank choices, URLs and e-mails.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import serializers


class BlankAsNullChoiceField(serializers.ChoiceField):
    """A choice written out as a member of its enum or null (an empty value)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("allow_blank", None)
        kwargs["allow_null"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        if value in ("", None):
            return None
        return super().to_representation(value)


class BlankAsNullURLField(serializers.URLField):
    """A URL written out as a URI or null (an empty value)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("allow_blank", None)
        kwargs["allow_null"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        return None if value in ("", None) else super().to_representation(value)


class BlankAsNullEmailField(serializers.EmailField):
    """An e-mail address written out as one, or null (an empty value)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("allow_blank", None)
        kwargs["allow_null"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        return None if value in ("", None) else super().to_representation(value)


class OutputModelSerializer(serializers.ModelSerializer):
    """A model serializer that only writes out: blank choices, URLs and e-mails become null."""

    def build_standard_field(
        self, field_name: str, model_field: models.Field
    ) -> tuple[type[serializers.Field], dict[str, Any]]:
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if not model_field.blank:
            return field_class, kwargs
        if model_field.choices and issubclass(field_class, serializers.ChoiceField):
            if not issubclass(field_class, serializers.MultipleChoiceField):
                return BlankAsNullChoiceField, kwargs
        elif isinstance(model_field, models.URLField):
            return BlankAsNullURLField, _without_text_limits(kwargs)
        elif isinstance(model_field, models.EmailField):
            return BlankAsNullEmailField, _without_text_limits(kwargs)
        return field_class, kwargs


def _without_text_limits(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k not in ("allow_blank",)}


class StrictCharField(serializers.CharField):
    """Text only: a number or a boolean in its place is a 400, not turned into text (the
    schema says string, and a generated client would never send anything else)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictRegexField(serializers.RegexField):
    """A RegexField that takes text only (see StrictCharField)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: "5", 5.0 and true are 400s, as the schema's `integer` says."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))
