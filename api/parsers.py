"""The API's JSON parser: refuses a body too large or nested too deep before parsing it.

Python's json module recurses once per nesting level (RecursionError, a 500, at about a
thousand) and builds the whole document in memory; an API body is a few kilobytes. So the
body is read up to the limit (413 beyond it), its nesting counted by a linear scan that stops
at the first level past the limit (400), and only then parsed.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from api.problems import RequestTooLarge

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 32

# A JSON string (unrolled so that a long one costs one pass), and the brackets outside them.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def max_body_bytes() -> int:
    """Bytes an API body may have: the API's own limit, never above Django's."""
    api_limit = getattr(settings, "TSUNAGU", {}).get("API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
    django_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return min(api_limit, django_limit) if django_limit is not None else api_limit


def max_depth() -> int:
    return getattr(settings, "TSUNAGU", {}).get("API_JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH)


def nesting_exceeds(data: bytes, limit: int) -> bool:
    """True if arrays/objects in `data` nest deeper than `limit` (strings are skipped)."""
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class BoundedJSONParser(JSONParser):
    """DRF's JSONParser with a size limit (413) and a nesting limit (400) checked first."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = max_body_bytes()
        data = stream.read(limit + 1) if stream is not None else b""
        if len(data) > limit:
            raise RequestTooLarge()
        if nesting_exceeds(data, max_depth()):
            raise ParseError(f"JSON nested deeper than {max_depth()} levels")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = data.decode(encoding)
            parse_constant = json.strict_constant if self.strict else None
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
