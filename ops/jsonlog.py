"""Log records as one JSON object a line (production), each with the request id.

Configured by settings.LOGGING; LOG_FORMAT=json (the default outside embedded mode) or plain.
The request id comes from audit.context, the same one audit events and problem documents carry.
"""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from audit.context import current_request

# Attributes Django puts on records that could carry personal data (the request's repr has
# its query string) or cannot be serialised.
_DROPPED = ("request", "args")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (empty outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            # Django logs a 4xx/5xx after the middleware returned: read it off the request.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", "") or current_request().request_id
        return True


class TsunaguJsonFormatter(JsonFormatter):
    """python-json-logger's formatter without the request object Django attaches."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        for name in _DROPPED:
            log_data.pop(name, None)
