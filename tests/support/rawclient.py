"""A plugin's side of the socket, byte by byte: frames out, JSON frames in, for protocol tests."""

from __future__ import annotations

import json
import struct

import trio


class RawClient:
    """A plugin-side raw socket client for protocol tests."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    @classmethod
    async def connect(cls, path: str) -> "RawClient":
        return cls(await trio.open_unix_socket(path))

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def send_frame(self, payload: bytes) -> None:
        await self.stream.send_all(struct.pack(">I", len(payload)) + payload)

    async def send(self, obj) -> None:
        await self.send_frame(json.dumps(obj).encode())

    async def recv(self, timeout: float = 5.0):
        """Next frame as JSON; None at EOF; raises TooSlow after ``timeout``."""
        with trio.fail_after(timeout):
            while True:
                if len(self.buffer) >= 4:
                    (n,) = struct.unpack(">I", self.buffer[:4])
                    if len(self.buffer) >= 4 + n:
                        frame, self.buffer = self.buffer[4 : 4 + n], self.buffer[4 + n :]
                        return json.loads(frame)
                data = await self.stream.receive_some(65536)
                if not data:
                    return None
                self.buffer += data

    async def register(self, plugin_id: str = "raw", **extra):
        params = {"id": plugin_id, "name": plugin_id, "version": "1.0",
                  "capabilities": [{"type": "visitor_panel", "title": "Raw", "priority": 1}], **extra}
        await self.send({"jsonrpc": "2.0", "id": 1, "method": "register", "params": params})
        return await self.recv()

    async def aclose(self) -> None:
        await self.stream.aclose()
