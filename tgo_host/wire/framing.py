"""Length-prefixed framing: a 4-byte big-endian length, then that many bytes of JSON.

Sans-IO: :class:`FrameDecoder` turns received bytes into whole frames and
:func:`encode_frame` does the reverse. The announced length is checked against
the limit as soon as the 4-byte header is complete, before anything of that
size is buffered.
"""

from __future__ import annotations

import struct

from ..errors import HostError

HEADER = struct.Struct(">I")
HEADER_SIZE = HEADER.size
DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024


class FrameTooLarge(HostError):
    """A peer announced a frame longer than the configured limit."""

    kind = "frame_too_large"

    def __init__(self, announced: int, limit: int) -> None:
        super().__init__(f"frame of {announced} bytes exceeds the limit of {limit} bytes")
        self.announced = announced
        self.limit = limit


def encode_frame(payload: bytes) -> bytes:
    """Return ``payload`` with its length prefix."""
    return HEADER.pack(len(payload)) + payload


class FrameDecoder:
    """Accumulates received bytes and yields every complete frame.

    Raises :class:`FrameTooLarge` from :meth:`feed` when a header announces
    more than ``max_frame_bytes``; the decoder is unusable afterwards (the
    stream position is lost), so the connection must be closed.
    """

    __slots__ = ("_buffer", "max_frame_bytes")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self._buffer = bytearray()
        self.max_frame_bytes = max_frame_bytes

    @property
    def buffered(self) -> int:
        """Bytes received that do not yet form a whole frame."""
        return len(self._buffer)

    def reset(self) -> None:
        """Forget every buffered byte (the connection is being dropped) and give the memory back."""
        self._buffer = bytearray()

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        """Add ``data`` and return the frames it completes (possibly none)."""
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        offset = 0
        end = len(buffer)
        limit = self.max_frame_bytes
        while end - offset >= HEADER_SIZE:
            (length,) = HEADER.unpack_from(buffer, offset)
            if length > limit:
                raise FrameTooLarge(length, limit)
            start = offset + HEADER_SIZE
            if end - start < length:
                break
            frames.append(bytes(buffer[start : start + length]))
            offset = start + length
        if offset:
            del buffer[:offset]
        return frames
