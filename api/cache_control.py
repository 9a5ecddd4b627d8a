"""`Cache-Control: no-store` on every answer of the partner API (/api/v1/).

Hops, sheets, consents and the FHIR views carry a person's data, and even a problem or a list
names agencies and ids: nothing under /api/v1/ may be kept by a browser, a proxy or a shared
cache. An ETag still lets a client that keeps its own copy revalidate (If-None-Match -> 304).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

API_PATH_PREFIX = "/api/v1/"


class NoStoreMiddleware:
    """Marks every response under /api/v1/ `no-store`, whoever made it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.path_info.startswith(API_PATH_PREFIX):
            patch_cache_control(response, no_store=True, private=True)
            patch_vary_headers(response, ("Authorization",))
        return response
