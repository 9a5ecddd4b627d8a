"""The SSRF guard: which webhook URLs we may call, and the checked address to connect to."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings


class UnsafeEndpoint(Exception):
    """The endpoint is not allowed (scheme, or an address inside our network)."""


# IPv6 prefixes that carry (or translate to) an IPv4 address: a partner's endpoint is never
# behind one, and each can reach an IPv4 address inside our network through a translator or
# a tunnel (64:ff9b::7f00:1 is 127.0.0.1 through NAT64; 2002:7f00:1:: is 127.0.0.1 via 6to4).
TRANSITION_PREFIXES = tuple(
    ipaddress.IPv6Network(prefix)
    for prefix in (
        "64:ff9b::/96",  # NAT64, well-known prefix (RFC 6052)
        "64:ff9b:1::/48",  # NAT64, local-use prefix (RFC 8215)
        "2002::/16",  # 6to4 (RFC 3056)
        "2001::/32",  # Teredo (RFC 4380)
        "::/96",  # IPv4-compatible (deprecated, RFC 4291)
    )
)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address embeds (mapped, 6to4, Teredo, NAT64, compatible)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in net for net in TRANSITION_PREFIXES[:2] + TRANSITION_PREFIXES[4:]):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def address_refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why we must not connect to this address, or None if it is a public unicast one."""
    if not address.is_global or address.is_multicast or address.is_unspecified:
        return "host resolves to a non-public address"
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if any(not v4.is_global or v4.is_multicast for v4 in inner):
            return "host resolves to an IPv6 form of a non-public IPv4 address"
        if any(address in net for net in TRANSITION_PREFIXES):
            return "host resolves to an IPv4/IPv6 transition address (NAT64, 6to4, Teredo)"
    return None


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
        reason = address_refusal(address)
        if reason:
            raise UnsafeEndpoint(reason)
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
