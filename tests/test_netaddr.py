"""tgo_host/netaddr.py: the one HOST:PORT parser and loopback test, and the one HTTP drain and token rules built on them."""

from __future__ import annotations

import pytest

from tgo_host.api.server import unguarded_refusal
from tgo_host.netaddr import is_loopback, parse_addr, serves_off_loopback
from tgo_host.settings import Settings


@pytest.mark.parametrize("addr, expected", [
    ("127.0.0.1:8090", ("127.0.0.1", 8090)),
    ("[::1]:0", ("::1", 0)),
    ("localhost:65535", ("localhost", 65535)),
    ("tgo-host.internal:80", ("tgo-host.internal", 80)),
])
def test_parse_addr(addr, expected):
    assert parse_addr(addr) == expected


@pytest.mark.parametrize("addr", ["8090", ":8090", "[]:80", "host:", "host:65536", "host:-1", "host:８０", "off"])
def test_parse_addr_refuses(addr):
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_addr(addr)


@pytest.mark.parametrize("host, loopback", [
    ("localhost", True), ("LOCALHOST", True), ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
    ("::ffff:127.0.0.1", True), ("0.0.0.0", False), ("::", False), ("10.0.0.1", False),
    ("localhost.example.com", False), ("", False),
])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_off_loopback_needs_a_token_or_trusted_networks():
    assert not serves_off_loopback("off") and not serves_off_loopback("[::1]:1")
    assert unguarded_refusal(Settings(http_addr="127.0.0.1:8090"), None) is None
    remote = Settings(http_addr="0.0.0.0:8090")
    assert "bearer token is required" in (unguarded_refusal(remote, None) or "")
    assert unguarded_refusal(remote, "s3cret") is None
    assert unguarded_refusal(Settings(http_addr="0.0.0.0:8090", trusted_networks=["10.0.0.0/8"]), None) is None


def test_drain_timeout_is_the_longest_plugin_deadline_plus_2_s():
    assert Settings(render_timeout=5, event_timeout=10, call_timeout=30).drain_timeout() == 32
    assert Settings(render_timeout=40, event_timeout=1, call_timeout=1).drain_timeout() == 42
