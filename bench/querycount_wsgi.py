"""Tsunagu's WSGI application, plus an `X-Query-Count` response header when
TSUNAGU_QUERY_COUNT=1: the number of SQL statements the request ran (for bench/api_bench.py).

Counting wraps the handler, not a middleware, so it needs no change to the settings; gunicorn's
sync workers serve one request per thread at a time, and Django's connections are per thread.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.wsgi import get_wsgi_application
from django.db import connection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tsunagu.settings")
django_application = get_wsgi_application()
ENABLED = os.environ.get("TSUNAGU_QUERY_COUNT") == "1"


def application(environ: dict[str, Any], start_response: Any) -> Any:
    if not ENABLED:
        return django_application(environ, start_response)
    count = 0

    def counter(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    def counting_start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, ("X-Query-Count", str(count))], exc_info)

    with connection.execute_wrapper(counter):
        return django_application(environ, counting_start_response)
