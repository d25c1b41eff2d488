"""A tiny ``sd_notify``: tell systemd (``Type=notify``) that the host is ready or stopping.

Sends one datagram of newline-separated ``KEY=VALUE`` assignments to the
``AF_UNIX`` socket named by ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the
abstract namespace). Without ``NOTIFY_SOCKET`` it does nothing, so the host
behaves the same under supervisord, in a terminal and in tests. Failures
are logged, never raised: a missing notification must not stop the host.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("tgo_host.notify")


def notify(*assignments: str, environ: dict[str, str] | None = None) -> bool:
    """Send ``assignments`` (``"READY=1"``, ``"STATUS=..."``) to systemd; True if sent."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not address or not assignments:
        return False
    if address.startswith("@"):
        target = "\0" + address[1:]  # abstract namespace
    elif address.startswith("/"):
        target = address
    else:
        log.debug("NOTIFY_SOCKET %r is not a unix socket address; not notifying", address)
        return False
    message = "\n".join(assignments).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.settimeout(2.0)
            sock.connect(target)
            sock.sendall(message)
    except OSError as exc:
        log.warning("sd_notify to %s failed: %s", address, exc)
        return False
    return True


def ready(status: str | None = None) -> bool:
    """``READY=1`` (with an optional ``STATUS=`` line)."""
    return notify("READY=1", *([f"STATUS={status}"] if status else []))


def stopping(status: str | None = None) -> bool:
    """``STOPPING=1`` (with an optional ``STATUS=`` line)."""
    return notify("STOPPING=1", *([f"STATUS={status}"] if status else []))


def status(text: str) -> bool:
    """``STATUS=text``: a one-line status shown by ``systemctl status``."""
    return notify(f"STATUS={text}")
