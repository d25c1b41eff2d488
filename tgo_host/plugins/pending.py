"""Connections that have not registered yet, held apart from registered plugins: one small pool per listener.

An unauthenticated flood must not take the slots of real plugins, nor hold
the host's memory. Each listener (the Unix socket, the TCP debug listener)
has its own :class:`PendingPool` of at most ``max_pending_connections``
connections; a newcomer to a full pool pushes out the *oldest* pending
connection, which gets one ``-32000`` error frame and is closed. A
well-behaved plugin registers within milliseconds of connecting, long before
it becomes the oldest; a connection that sits there without registering is
what gets dropped. Registered plugins count against ``max_connections``
only, never against a pool.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import PluginSession

log = logging.getLogger("tgo_host.listener")


class PendingPool:
    """The unregistered connections of one listener, oldest first."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = max(limit, 1)
        self._sessions: dict["PluginSession", None] = {}  # insertion order: oldest first
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def admit(self, session: "PluginSession") -> None:
        """Add ``session``; if the pool is full, drop the oldest pending connection first."""
        while len(self._sessions) >= self.limit:
            oldest = next(iter(self._sessions))
            del self._sessions[oldest]
            self.dropped += 1
            if self.dropped <= 10 or self.dropped % 1000 == 0:
                log.warning(
                    "%s: dropped unregistered connection %s (#%d): %d connections are waiting to register, the limit",
                    self.name, oldest.peer, self.dropped, self.limit,
                )
            oldest.refuse(f"too many connections waiting to register on {self.name} (limit {self.limit}); oldest dropped")
        self._sessions[session] = None

    def discard(self, session: "PluginSession") -> None:
        """``session`` registered or ended."""
        self._sessions.pop(session, None)
