"""One budget for the bytes every connection holds: receive buffers and send queues together.

Each connection's limits (``max_frame_bytes``, its send queue) bound what
*one* peer can make the host hold; :class:`BufferBudget` bounds the sum over
all of them (``max_buffered_bytes``). Every :class:`~.transport.FramedTransport`
given the budget reports its holding as it changes. When a growth takes the
total past the limit, the connection holding the most is shed at once: its
buffers are dropped and its owner closes it with a reason naming the figures.
The offender is whoever holds most -- a peer that sends huge partial frames,
or one that does not read what it is sent -- never an arbitrary victim.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .transport import FramedTransport

log = logging.getLogger("tgo_host.wire")


class BufferBudget:
    """``limit`` bytes for all connections together; ``total`` is what they hold now."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self.peak = 0
        self.shed_count = 0
        self._holders: set["FramedTransport"] = set()

    def change(self, transport: "FramedTransport", held: int, delta: int) -> None:
        """``transport`` now holds ``held`` bytes (``delta`` more than before); shed if over the limit."""
        self.total += delta
        if held:
            self._holders.add(transport)
        else:
            self._holders.discard(transport)
        if self.total > self.peak:
            self.peak = self.total
        while delta > 0 and self.total > self.limit and self._holders:
            worst = max(self._holders, key=_held)
            self.shed_count += 1
            reason = (
                f"host buffer budget exceeded: this connection held {worst.held} bytes of {self.total} "
                f"buffered by all connections (max_buffered_bytes {self.limit})"
            )
            if self.shed_count <= 10 or self.shed_count % 1000 == 0:
                log.warning("shedding a connection (#%d): %s", self.shed_count, reason)
            worst.shed(reason)  # drops its buffers: calls back into change() with a negative delta


def _held(transport: "FramedTransport") -> int:
    return transport.held
