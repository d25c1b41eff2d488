"""Serving the API: bind ``http_addr``, then run :mod:`.http1`'s HTTP/1.1 server inside the host's nursery tree."""

from __future__ import annotations

import errno
import logging
import socket

import orjson
import trio

from ..errors import HostError
from ..netaddr import parse_addr, serves_off_loopback
from ..settings import Settings
from .app import build_app
from .hostview import HostView
from .http1 import HttpLimits, serve_http

log = logging.getLogger("tgo_host.api")


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
    try:
        host, port = parse_addr(addr)
    except ValueError as exc:
        raise HttpBindError(str(exc)) from None
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
        raise HttpBindError(_BIND_CAUSES.get(exc.errno or 0, exc.strerror or str(exc))) from None
    return sock


def unguarded_refusal(settings: Settings, http_token: str | None) -> str | None:
    """Why the API must not be served as configured, or None: off loopback it needs a bearer token or trusted_networks."""
    if not serves_off_loopback(settings.http_addr) or http_token or settings.trusted_networks:
        return None
    return (
        f"http_addr {settings.http_addr} is not loopback: a bearer token is required "
        "(TGO_HTTP_TOKEN or http_token_file), or trusted_networks naming the callers' networks "
        "(e.g. the compose network)"
    )


async def http_service(host: HostView, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
    """Run the HTTP API until the host begins stopping; in-flight requests then get ``settings.drain_timeout()``.

    Raises :class:`HttpBindError` before serving anything when ``http_addr`` cannot be bound,
    or must not be (:func:`unguarded_refusal`).

    Reports the bound addresses (``["http://127.0.0.1:8090"]``) via ``task_status``
    and stores them on ``host.http_binds``.
    """
    settings = host.settings
    refusal = unguarded_refusal(settings, host.http_token)
    if refusal is not None:
        raise HttpBindError(refusal)
    app = build_app(host)
    limits = HttpLimits(max_body_bytes=settings.max_http_body_bytes, drain_timeout=settings.drain_timeout())
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
