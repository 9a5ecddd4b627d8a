"""The SSRF guard: no loopback, private or link-local targets, https only, unless allowed."""

from __future__ import annotations

import pytest

from notifications.ssrf import (
    UnsafeEndpoint,
    check_endpoint,
    pinned_url,
    resolve_endpoint,
)
from notifications.transport import post_webhook


@pytest.fixture
def strict(settings) -> None:
    """Production rules, whichever run this is."""
    settings.TSUNAGU = {
        **settings.TSUNAGU,
        "WEBHOOK_ALLOW_PRIVATE": False,
        "WEBHOOK_ALLOW_HTTP": False,
    }


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://172.16.0.9/hook",
        "https://192.168.1.10/hook",
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata: link-local
        "https://100.64.0.1/hook",  # carrier-grade NAT, not global
        "https://0.0.0.0/hook",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[fd00::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
        "https://224.0.0.1/hook",  # multicast
        "https://[::ffff:10.0.0.1]/hook",  # IPv4-mapped private
        "https://[::ffff:169.254.169.254]/hook",  # IPv4-mapped metadata address
        "https://[::127.0.0.1]/hook",  # IPv4-compatible loopback
        "https://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
        "https://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
        "https://[64:ff9b:1::7f00:1]/hook",  # local-use NAT64 prefix
        "https://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
        "https://[2002:c0a8:101::1]/hook",  # 6to4 of 192.168.1.1
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",  # Teredo, client 127.0.0.1
    ],
)
def test_internal_addresses_are_refused(strict: None, url: str) -> None:
    """GIVEN an attacker's webhook URL naming an internal address, in any IPv6 disguise
    THEN the guard refuses it before any connection."""
    with pytest.raises(UnsafeEndpoint, match=r"non-public|transition"):
        check_endpoint(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://[64:ff9b::5db8:d70e]/hook",  # NAT64 of a public address: still refused
        "https://[2002:5db8:d70e::1]/hook",  # 6to4 of a public address
        "https://[2001:0:4136:e378:8000:63bf:a247:28f1]/hook",  # Teredo, public client
    ],
)
def test_transition_prefixes_are_refused_whatever_they_embed(strict: None, url: str) -> None:
    """A partner's endpoint is never behind NAT64, 6to4 or Teredo: refused outright."""
    with pytest.raises(UnsafeEndpoint, match=r"transition|non-public"):
        check_endpoint(url)


def test_a_public_ipv6_address_is_allowed(strict: None) -> None:
    assert resolve_endpoint("https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook") == (
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://93.184.215.14/hook", "https"),
        ("ftp://93.184.215.14/hook", "https"),
        ("https:///hook", "no host"),
        ("https://user:pw@93.184.215.14/hook", "credentials"),
        ("https://93.184.215.14:99999/hook", "port"),
        ("https://no-such-host.invalid/hook", "resolve"),
    ],
)
def test_malformed_or_plain_http_urls_are_refused(strict: None, url: str, reason: str) -> None:
    with pytest.raises(UnsafeEndpoint, match=reason):
        check_endpoint(url)


def test_a_public_address_is_accepted_and_pinned(strict: None) -> None:
    """The request goes to the address that was checked (the name stays in Host and SNI)."""
    assert resolve_endpoint("https://93.184.215.14:8443/hook?x=1") == "93.184.215.14"
    assert pinned_url("https://partner.example/hook?x=1", "93.184.215.14") == (
        "https://93.184.215.14/hook?x=1"
    )
    assert pinned_url("https://partner.example:8443/h", "2001:db8::1") == (
        "https://[2001:db8::1]:8443/h"
    )
    assert pinned_url("http://127.0.0.1:9/h", None) == "http://127.0.0.1:9/h"


def test_the_settings_allow_local_http_for_the_embedded_demo(settings) -> None:
    settings.TSUNAGU = {
        **settings.TSUNAGU,
        "WEBHOOK_ALLOW_PRIVATE": True,
        "WEBHOOK_ALLOW_HTTP": True,
    }
    check_endpoint("http://127.0.0.1:8000/hook")
    settings.TSUNAGU = {**settings.TSUNAGU, "WEBHOOK_ALLOW_HTTP": False}
    with pytest.raises(UnsafeEndpoint, match="https"):
        check_endpoint("http://127.0.0.1:8000/hook")


def test_delivery_refuses_an_internal_endpoint_without_connecting(strict: None) -> None:
    """An endpoint saved before the rules changed is still refused at send time, for good."""
    result = post_webhook("https://127.0.0.1:1/hook", headers={}, body=b"{}")
    assert not result.ok and result.permanent and "non-public" in result.error
