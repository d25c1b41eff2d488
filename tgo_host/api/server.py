"""Serving the API with hypercorn's trio server inside the host's nursery tree."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from .app import build_app

log = logging.getLogger("tgo_host.api")


def parse_addr(addr: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) → (host, port); raises ValueError with the reason."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"HTTP address must be HOST:PORT or 'off', got {addr!r}")
    return host.strip("[]"), int(port)


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

    Reports the bound addresses (``["http://127.0.0.1:8090"]``) via ``task_status``
    and stores them on ``host.http_binds``.
    """
    settings = host.settings
    bind_host, port = parse_addr(settings.http_addr)
    if not is_loopback(bind_host) and not getattr(host, "http_token", None) and not settings.trusted_networks:
        raise RuntimeError(
            f"refusing to serve the HTTP API on non-loopback address {settings.http_addr} without a bearer token "
            "or trusted_networks (set http_token_file / TGO_HTTP_TOKEN, or trusted_networks)"
        )
    config = HypercornConfig()
    config.bind = [f"[{bind_host}]:{port}" if ":" in bind_host else f"{bind_host}:{port}"]
    config.graceful_timeout = drain_timeout(settings)
    config.accesslog = None
    config.errorlog = logging.getLogger("tgo_host.api.server")
    config.keep_alive_timeout = 5
    app = build_app(host)

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            lambda task_status: serve(app, config, shutdown_trigger=host.stopping.wait, task_status=task_status)
        )
        host.http_binds = binds
        log.info("HTTP API on %s", ", ".join(binds))
        task_status.started(binds)
