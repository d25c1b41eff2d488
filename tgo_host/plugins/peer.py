"""Who is on the other end of an accepted connection."""

from __future__ import annotations

import socket
import struct
from typing import Any, Protocol

import attrs

_UCRED = struct.Struct("3i")


@attrs.define(frozen=True)
class PeerInfo:
    """The transport and, for Unix sockets, the kernel-reported credentials (``SO_PEERCRED``)."""

    transport: str  # "unix" or "tcp"
    pid: int | None = None
    uid: int | None = None
    gid: int | None = None
    address: str | None = None

    def __str__(self) -> str:
        if self.transport == "unix":
            return f"unix pid={self.pid} uid={self.uid} gid={self.gid}"
        return f"tcp {self.address}"


class ConnectedSocket(Protocol):
    """What reading a peer needs of a socket (stdlib's or trio's)."""

    def getsockopt(self, level: int, optname: int, buflen: int, /) -> bytes: ...

    def getpeername(self) -> Any: ...


def unix_peer(sock: ConnectedSocket) -> PeerInfo:
    """Read ``SO_PEERCRED`` of a connected ``AF_UNIX`` socket (Linux)."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
        pid, uid, gid = _UCRED.unpack(raw)
    except (OSError, AttributeError):
        return PeerInfo("unix")
    return PeerInfo("unix", pid=pid, uid=uid, gid=gid)


def tcp_peer(sock: ConnectedSocket) -> PeerInfo:
    try:
        host, port = sock.getpeername()[:2]
    except OSError:
        return PeerInfo("tcp")
    return PeerInfo("tcp", address=f"{host}:{port}")
