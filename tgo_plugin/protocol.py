"""Wire format and JSON-RPC 2.0 helpers (standard library only).

A frame is a 4-byte unsigned big-endian length followed by that many bytes of
UTF-8 JSON (no trailing newline). One JSON-RPC object per frame.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

HEADER = struct.Struct(">I")
DEFAULT_MAX_FRAME = 16 * 1024 * 1024  # the host caps lower (a few MiB)

# JSON-RPC 2.0 error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000


class FrameError(Exception):
    """The byte stream is no longer a valid sequence of frames."""


class RPCError(Exception):
    """Raise from a handler to answer with a specific JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


def to_jsonable(value: Any) -> Any:
    """Convert builder objects (anything with ``to_dict``) recursively."""
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return to_jsonable(value.to_dict())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def encode(obj: Any) -> bytes:
    """JSON-encode ``obj`` (builders included) as compact UTF-8."""
    return json.dumps(
        to_jsonable(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def encode_frame(obj: Any) -> bytes:
    """Length-prefixed frame for ``obj``."""
    payload = encode(obj)
    return HEADER.pack(len(payload)) + payload


def decode(payload: bytes) -> Any:
    """Parse one frame body; raises ``ValueError`` on bad UTF-8 or JSON."""
    return json.loads(payload.decode("utf-8"))


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    """Read exactly ``n`` bytes; ``None`` on a clean EOF before the first byte."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 16))
        if not chunk:
            if not buf:
                return None
            raise FrameError(f"connection closed mid-frame ({len(buf)}/{n} bytes)")
        buf += chunk
    return bytes(buf)


def read_frame(sock: socket.socket, max_size: int = DEFAULT_MAX_FRAME) -> bytes | None:
    """Read one frame body from a blocking socket; ``None`` on clean EOF."""
    header = _recv_exact(sock, HEADER.size)
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    if length > max_size:
        raise FrameError(f"frame of {length} bytes exceeds the {max_size}-byte limit")
    body = _recv_exact(sock, length) if length else b""
    if body is None:
        raise FrameError("connection closed after a frame header")
    return body


def request(req_id: int | str | None, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if req_id is not None:
        msg["id"] = req_id
    if params is not None:
        msg["params"] = params
    return msg


def response(req_id: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "result": result}


def error_response(req_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "error": RPCError(code, message, data).to_dict()}


def classify(msg: Any) -> str:
    """``request``, ``notification``, ``response`` or ``invalid``."""
    if not isinstance(msg, dict):
        return "invalid"
    if "method" in msg:
        if not isinstance(msg["method"], str):
            return "invalid"
        return "request" if "id" in msg else "notification"
    if "id" in msg and ("result" in msg or "error" in msg):
        return "response"
    return "invalid"
