"""A trio-jsonrpc transport carrying length-prefixed frames over a trio stream.

:class:`FramedTransport` implements ``trio_jsonrpc.transport.BaseTransport``
(``send(bytes)`` / ``recv() -> bytes``) and adds what the named library
leaves out: bounded frames, a deadline on partially received frames, and one
writer task that coalesces every queued frame into a single ``send_all`` so
concurrent senders never collide on the stream (trio would raise
``BusyResourceError``) and pipelined traffic costs one syscall per batch.
A lone frame may skip the queue (``send_nowait(direct=True)``): written to
the socket at once while the writer is idle, it saves two trips through the
scheduler (see bench/README.md).
"""

from __future__ import annotations

import collections
import os
from typing import Callable

import trio
from trio_jsonrpc.transport import BaseTransport, TransportClosed

from ..errors import HostError
from .budget import BufferBudget
from .framing import DEFAULT_MAX_FRAME_BYTES, HEADER, FrameDecoder, FrameTooLarge

RECEIVE_CHUNK = 256 * 1024
__all__ = ["BufferBudgetExceeded", "FramedTransport", "FrameTooLarge", "PartialFrameStalled", "SendBufferFull", "TransportClosed"]


class PartialFrameStalled(HostError):
    """The peer sent part of a frame and then nothing for too long."""

    kind = "partial_frame_stalled"


class SendBufferFull(HostError):
    """The peer stopped reading: queued outgoing bytes passed the limit (its own, or the host's budget)."""

    kind = "send_buffer_full"


class BufferBudgetExceeded(TransportClosed):
    """The host-wide buffer budget shed this connection (it held the most); ends it like a close."""


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
        budget: BufferBudget | None = None,
    ) -> None:
        self.stream = stream
        self._decoder = FrameDecoder(max_frame_bytes)
        self._frames: collections.deque[bytes] = collections.deque()
        self._partial_frame_timeout = partial_frame_timeout
        self._max_send_buffer = max_send_buffer or 4 * max_frame_bytes + 1024
        self._flush_timeout = flush_timeout
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._writer_task: trio.lowlevel.Task | None = None  # the writer, while parked with nothing to send
        self._sending = False  # the writer is inside a send (direct writes must not interleave)
        self._fileno = stream.socket.fileno if isinstance(stream, trio.SocketStream) else None
        self._drained = True  # the last receive emptied the socket: wait before reading
        self._closing = False
        self.bytes_sent = 0
        # The host-wide budget (wire/budget.py): what this transport holds, and who closes it when shed.
        self._budget = budget
        self.held = 0
        self._writing = 0  # bytes taken from the queue by the writer, not yet written
        self.shed_reason: str | None = None
        self.on_shed: Callable[[str], None] | None = None

    def set_limits(self, *, max_frame_bytes: int, max_send_buffer: int | None = None) -> None:
        """Change the frame limit (and the send queue limit, default ``4 * max_frame_bytes + 1024``).

        The host starts a connection with small limits and raises them once
        the peer has registered. A frame whose header already passed is not
        checked again.
        """
        self._decoder.max_frame_bytes = max_frame_bytes
        self._max_send_buffer = max_send_buffer or 4 * max_frame_bytes + 1024

    # -- receiving ---------------------------------------------------------

    async def recv(self) -> bytes:
        """Return the next whole frame, reading from the stream only when none is buffered."""
        frames = self._frames
        if not frames:
            frames.extend(await self._receive_frames())
        return frames.popleft()

    async def recv_batch(self) -> list[bytes]:
        """Return every whole frame available (at least one): those buffered, else those the next receive completes.

        Same errors as :meth:`recv`. A reader that handles frames in batches
        pays one ``await`` per receive instead of one per frame.
        """
        if self._frames:
            frames = list(self._frames)
            self._frames.clear()
            return frames
        return await self._receive_frames()

    async def _receive_frames(self) -> list[bytes]:
        decoder = self._decoder
        receive_some = self._receive_some if self._fileno is not None else self._receive_some_stream
        while True:
            if decoder.buffered:
                with trio.move_on_after(self._partial_frame_timeout) as scope:
                    data = await receive_some(RECEIVE_CHUNK)
                if scope.cancelled_caught:
                    raise PartialFrameStalled(
                        f"partial frame ({decoder.buffered} bytes) stalled for {self._partial_frame_timeout:g} s"
                    )
            else:
                data = await receive_some(RECEIVE_CHUNK)
            if not data:
                if decoder.buffered:
                    raise TransportClosed(f"connection closed inside a frame ({decoder.buffered} bytes buffered)")
                raise TransportClosed("connection closed by peer")
            frames = decoder.feed(data)
            if self._budget is not None:
                self._account()
                if self.shed_reason is not None:
                    raise BufferBudgetExceeded(self.shed_reason)
            if frames:
                return frames

    async def _receive_some_stream(self, max_bytes: int) -> bytes | bytearray:
        return await self.stream.receive_some(max_bytes)

    async def _receive_some(self, max_bytes: int) -> bytes:
        """``receive_some`` for a socket, one failed ``recv`` and one scheduler trip cheaper.

        When the last receive drained the socket, wait for readability first
        (trio's ``receive_some`` tries a ``recv`` that fails with EAGAIN, then
        waits); once readable, read without the extra checkpoint trio adds
        after a successful attempt. Errors are the socket's ``OSError`` s.
        """
        fileno = self._fileno
        assert fileno is not None  # only a socket's transport reads this way
        if self._drained:
            await trio.lowlevel.wait_readable(fileno())
        else:
            await trio.lowlevel.checkpoint()
        while True:
            try:
                data = os.read(fileno(), max_bytes)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(fileno())
                continue
            self._drained = len(data) < max_bytes
            return data

    async def _write_all(self, data: bytes) -> None:
        """``send_all`` for a socket: write what the kernel takes, wait for room only when it is full.

        Unlike trio's ``send_all`` it adds no scheduler trip after a write
        that completes; a broken socket raises its ``OSError``.
        """
        fileno = self._fileno
        assert fileno is not None  # only a socket's transport writes this way
        view = memoryview(data)
        while True:
            try:
                sent = os.write(fileno(), view)
            except BlockingIOError:
                sent = 0
            if sent == len(view):
                return
            view = view[sent:]
            await trio.lowlevel.wait_writable(fileno())

    # -- sending -----------------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Queue one frame (``BaseTransport`` signature); see :meth:`send_nowait`."""
        self.send_nowait(data)

    def send_nowait(self, data: bytes, *, direct: bool = False) -> None:
        """Queue one frame for the writer task.

        With ``direct``, when the writer is idle (nothing queued, not sending),
        the frame is first offered to the socket without blocking; only what
        the kernel does not take is queued. Meant for a frame with no company
        to coalesce with (a lone request): batches are the writer's job.
        Errors of a direct write are left for the writer to meet and report.
        """
        if self._closing:
            raise TransportClosed("transport is closing")
        frame = HEADER.pack(len(data)) + data
        if direct and not self._out and not self._sending and self._fileno is not None:
            try:
                sent = os.write(self._fileno(), frame)
            except OSError:  # BlockingIOError, or a broken socket the writer will report
                sent = 0
            if sent:
                self.bytes_sent += sent
                if sent == len(frame):
                    return
                frame = frame[sent:]
        self._out.append(frame)
        self._out_bytes += len(frame)
        if self._out_bytes > self._max_send_buffer:
            raise SendBufferFull(f"peer is not reading: {self._out_bytes} bytes queued")
        if self._budget is not None:
            self._account()
            if self.shed_reason is not None:
                raise SendBufferFull(self.shed_reason)
        self._wake_writer()

    # -- the host-wide budget ------------------------------------------------

    def _account(self) -> None:
        """Report what this transport holds now to the budget (which may shed it, or another)."""
        held = self._decoder.buffered + self._out_bytes + self._writing
        delta = held - self.held
        if delta:
            self.held = held
            self._budget.change(self, held, delta)  # type: ignore[union-attr]

    def shed(self, reason: str) -> None:
        """Drop everything buffered (the budget chose this connection) and ask the owner to close it."""
        if self.shed_reason is None:
            self.shed_reason = reason
            self._closing = True
            self._out.clear()
            self._out_bytes = 0
            self._decoder.reset()
            self._wake_writer()
            if self.on_shed is not None:
                self.on_shed(reason)
        self._writing = 0
        self._account()

    def release_budget(self) -> None:
        """The connection ended: give back whatever it still held."""
        if self._budget is not None and self.held:
            self._budget.change(self, 0, -self.held)
            self.held = 0

    def close(self) -> None:
        """Stop accepting frames; the writer flushes what is queued and returns."""
        self._closing = True
        self._wake_writer()

    def _wake_writer(self) -> None:
        task = self._writer_task
        if task is not None:
            self._writer_task = None
            trio.lowlevel.reschedule(task)

    def _writer_aborted(self, raise_cancel: object) -> trio.lowlevel.Abort:
        self._writer_task = None
        return trio.lowlevel.Abort.SUCCEEDED

    async def run_writer(self) -> None:
        """Send queued frames, all that are waiting in one ``send_all``, until closed and flushed.

        Raises ``trio.BrokenResourceError``/``trio.ClosedResourceError`` when the
        stream breaks (a socket, written directly, raises its ``OSError``). The
        final flush after :meth:`close` is bounded by ``flush_timeout``.
        """
        stream = self.stream
        while True:
            if not self._out:
                if self._closing:
                    return
                self._writer_task = trio.lowlevel.current_task()
                await trio.lowlevel.wait_task_rescheduled(self._writer_aborted)
                continue
            data = b"".join(self._out) if len(self._out) > 1 else self._out[0]
            self._out.clear()
            self._out_bytes = 0
            self._writing = len(data)
            send_all = self._write_all if self._fileno is not None else stream.send_all
            self._sending = True
            try:
                if not self._closing:
                    await send_all(data)
                else:
                    with trio.move_on_after(self._flush_timeout) as scope:
                        await send_all(data)
                    if scope.cancelled_caught:
                        return
            finally:
                self._sending = False
                self._writing = 0
                if self._budget is not None:
                    self._account()
            self.bytes_sent += len(data)
