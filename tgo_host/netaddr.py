"""``HOST:PORT`` strings and loopback: the one place the host parses listening addresses.

Used by the configuration (checking ``http_addr`` / ``dev_tcp_addr``), the
plugin listeners, the HTTP server and its guard. This module imports nothing
of tgo-host: it is below ``wire`` in the import order.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_addr(addr: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) → ``(host, port)``; raises ValueError saying what is wrong."""
    host, sep, port = addr.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isascii() or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {addr!r}")
    return host, int(port)


@lru_cache(maxsize=1024)
def parse_ip(text: str) -> IPAddress | None:
    """``text`` as an IP address (IPv4-mapped IPv6 as IPv4, a ``%zone`` dropped), or None; cached (peers repeat)."""
    if not text or not (text[0].isdigit() or ":" in text):
        return None  # a name, not a literal: skip the costly failed parse
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback IP literal (``127.0.0.0/8``, ``::1``, ``::ffff:127.x``)."""
    if host.lower() == "localhost":
        return True
    address = parse_ip(host)
    return address is not None and address.is_loopback


def serves_off_loopback(addr: str) -> bool:
    """Whether a listening address (``HOST:PORT``, or ``off``) is reachable from other machines."""
    return addr != "off" and not is_loopback(parse_addr(addr)[0])
