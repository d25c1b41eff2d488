"""Serving the API: bind ``http_addr``, then run :mod:`.http1`'s HTTP/1.1 server inside the host's nursery tree."""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from typing import Any

import orjson
import trio

from ..errors import HostError
from .app import build_app
from .http1 import HttpLimits, serve_http

log = logging.getLogger("tgo_host.api")


def parse_addr(addr: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) → (host, port); raises ValueError with the reason."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"HTTP address must be HOST:PORT or 'off', got {addr!r}")
    return host.strip("[]"), int(port)


class HttpBindError(HostError):
    """The HTTP API cannot listen on ``http_addr``; the message is the cause, in words."""

    kind = "http_bind_failed"

    #: The setting at fault, for the one-line start-up error.
    setting = "http_addr"


_BIND_CAUSES = {
    errno.EADDRINUSE: "the address is already in use (another process listens there; pick another port)",
    errno.EADDRNOTAVAIL: "no network interface of this machine has that address",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
}


def bind_http_socket(addr: str) -> socket.socket:
    """A TCP socket bound (not yet listening) to ``addr``; raises :class:`HttpBindError` saying why not."""
    host, port = parse_addr(addr)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise HttpBindError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    family, kind, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(sockaddr)
    except OSError as exc:
        sock.close()
        raise HttpBindError(_BIND_CAUSES.get(exc.errno, exc.strerror or str(exc))) from None
    return sock


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is on the loopback interface."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def drain_timeout(settings: Any) -> float:
    """How long in-flight HTTP requests may run after shutdown begins: the longest plugin deadline + 1 s."""
    return max(settings.render_timeout, settings.event_timeout, settings.call_timeout) + 1.0


async def http_service(host: Any, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
    """Run the HTTP API until the host begins stopping; in-flight requests then get ``drain_timeout``.

    Raises :class:`HttpBindError` before serving anything when ``http_addr`` cannot be bound.

    Reports the bound addresses (``["http://127.0.0.1:8090"]``) via ``task_status``
    and stores them on ``host.http_binds``.
    """
    settings = host.settings
    bind_host, _ = parse_addr(settings.http_addr)
    if not is_loopback(bind_host) and not getattr(host, "http_token", None) and not settings.trusted_networks:
        raise RuntimeError(
            f"refusing to serve the HTTP API on non-loopback address {settings.http_addr} without a bearer token "
            "or trusted_networks (set http_token_file / TGO_HTTP_TOKEN, or trusted_networks)"
        )
    app = build_app(host)
    limits = HttpLimits(max_body_bytes=settings.max_http_body_bytes, drain_timeout=drain_timeout(settings))
    sock = bind_http_socket(settings.http_addr)  # here, so a taken port is one clear error; serve_http closes it

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            lambda task_status: serve_http(app, sock, stopping=host.stopping, limits=limits, error_body=error_body,
                                           task_status=task_status)
        )
        host.http_binds = binds
        log.info("HTTP API on %s", ", ".join(binds))
        task_status.started(binds)


#: The error ``type`` of the answers the HTTP server gives itself (before or instead of the app).
SERVER_ERROR_TYPES = {
    400: "bad_request", 408: "request_timeout", 413: "body_too_large", 431: "headers_too_large",
    500: "internal_error", 505: "http_version_not_supported",
}


def error_body(status: int, message: str) -> tuple[bytes, bytes]:
    """The server's own error answers in the API's one error shape (api/errors.py)."""
    kind = SERVER_ERROR_TYPES.get(status, "http_error")
    return b"application/json", orjson.dumps({"detail": message, "error": {"type": kind, "message": message}})
