"""The SSRF guard: which webhook URLs we may call, and the checked address to connect to."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings


class UnsafeEndpoint(Exception):
    """The endpoint is not allowed (scheme, or an address inside our network)."""


def check_endpoint(url: str) -> None:
    """Refuse http outside the demo, and hosts resolving to loopback/private/link-local."""
    resolve_endpoint(url)


def resolve_endpoint(url: str) -> str | None:
    """Validate `url` and return the public address to connect to.

    The request is then sent to that address (with the name in Host and TLS SNI), so a DNS
    answer that changes between the check and the connection cannot point us inside our own
    network. None when private targets are allowed (the embedded demo): connect by name.
    """
    parts = urlsplit(url)
    if parts.scheme != "https" and not (
        parts.scheme == "http" and settings.TSUNAGU["WEBHOOK_ALLOW_HTTP"]
    ):
        raise UnsafeEndpoint("only https endpoints are allowed")
    if not parts.hostname:
        raise UnsafeEndpoint("no host")
    if parts.username or parts.password:
        raise UnsafeEndpoint("credentials in the URL are not allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeEndpoint("invalid port") from exc
    if settings.TSUNAGU["WEBHOOK_ALLOW_PRIVATE"]:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeEndpoint("host does not resolve") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        mapped = getattr(address, "ipv4_mapped", None)
        if not address.is_global or address.is_multicast or (mapped and not mapped.is_global):
            raise UnsafeEndpoint("host resolves to a non-public address")
    if not addresses:
        raise UnsafeEndpoint("host does not resolve")
    return str(addresses[0])


def pinned_url(url: str, address: str | None) -> str:
    """`url` with its host replaced by the checked address (None: unchanged)."""
    if address is None:
        return url
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))
