"""A trio-jsonrpc transport carrying length-prefixed frames over a trio stream.

:class:`FramedTransport` implements ``trio_jsonrpc.transport.BaseTransport``
(``send(bytes)`` / ``recv() -> bytes``) and adds what the named library
leaves out: bounded frames, a deadline on partially received frames, and one
writer task that coalesces every queued frame into a single ``send_all`` so
concurrent senders never collide on the stream (trio would raise
``BusyResourceError``) and pipelined traffic costs one syscall per batch.
"""

from __future__ import annotations

import collections
import math

import trio
from trio_jsonrpc.transport import BaseTransport, TransportClosed

from .framing import DEFAULT_MAX_FRAME_BYTES, FrameDecoder, FrameTooLarge, encode_frame

RECEIVE_CHUNK = 256 * 1024
__all__ = ["FramedTransport", "FrameTooLarge", "PartialFrameStalled", "SendBufferFull", "TransportClosed"]


class PartialFrameStalled(Exception):
    """The peer sent part of a frame and then nothing for too long."""


class SendBufferFull(Exception):
    """The peer stopped reading: queued outgoing bytes passed the limit."""


class FramedTransport(BaseTransport):
    """Frames over ``stream``. Run :meth:`run_writer` in a task while in use.

    ``recv`` raises ``TransportClosed`` at end of stream, :class:`FrameTooLarge`
    or :class:`PartialFrameStalled` on protocol violations. ``send`` never
    blocks on the network: it queues the frame and raises
    :class:`SendBufferFull` when the peer has fallen too far behind, or
    ``TransportClosed`` after :meth:`close`.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        partial_frame_timeout: float = 30.0,
        max_send_buffer: int | None = None,
        flush_timeout: float = 1.0,
    ) -> None:
        self.stream = stream
        self._decoder = FrameDecoder(max_frame_bytes)
        self._frames: collections.deque[bytes] = collections.deque()
        self._partial_frame_timeout = partial_frame_timeout
        self._max_send_buffer = max_send_buffer or 4 * max_frame_bytes + 1024
        self._flush_timeout = flush_timeout
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._wake = trio.Event()
        self._closing = False
        self.bytes_sent = 0

    # -- receiving ---------------------------------------------------------

    async def recv(self) -> bytes:
        """Return the next whole frame, reading from the stream only when none is buffered."""
        frames = self._frames
        while not frames:
            if self._decoder.buffered:
                with trio.move_on_after(self._partial_frame_timeout) as scope:
                    data = await self.stream.receive_some(RECEIVE_CHUNK)
                if scope.cancelled_caught:
                    raise PartialFrameStalled(
                        f"partial frame ({self._decoder.buffered} bytes) stalled for {self._partial_frame_timeout:g} s"
                    )
            else:
                data = await self.stream.receive_some(RECEIVE_CHUNK)
            if not data:
                if self._decoder.buffered:
                    raise TransportClosed(f"connection closed inside a frame ({self._decoder.buffered} bytes buffered)")
                raise TransportClosed("connection closed by peer")
            frames.extend(self._decoder.feed(data))
        return frames.popleft()

    # -- sending -----------------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Queue one frame (``BaseTransport`` signature); see :meth:`send_nowait`."""
        self.send_nowait(data)

    def send_nowait(self, data: bytes) -> None:
        """Queue one frame for the writer task."""
        if self._closing:
            raise TransportClosed("transport is closing")
        frame = encode_frame(data)
        self._out.append(frame)
        self._out_bytes += len(frame)
        if self._out_bytes > self._max_send_buffer:
            raise SendBufferFull(f"peer is not reading: {self._out_bytes} bytes queued")
        self._wake.set()

    def close(self) -> None:
        """Stop accepting frames; the writer flushes what is queued and returns."""
        self._closing = True
        self._wake.set()

    async def run_writer(self) -> None:
        """Send queued frames, all that are waiting in one ``send_all``, until closed and flushed.

        Raises ``trio.BrokenResourceError``/``trio.ClosedResourceError`` when the
        stream breaks. The final flush after :meth:`close` is bounded by ``flush_timeout``.
        """
        stream = self.stream
        while True:
            if not self._out:
                if self._closing:
                    return
                self._wake = trio.Event()
                await self._wake.wait()
                continue
            data = b"".join(self._out) if len(self._out) > 1 else self._out[0]
            self._out.clear()
            self._out_bytes = 0
            deadline = self._flush_timeout if self._closing else math.inf
            with trio.move_on_after(deadline):
                await stream.send_all(data)
                self.bytes_sent += len(data)
                continue
            return
