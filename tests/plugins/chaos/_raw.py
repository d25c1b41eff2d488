"""Shared raw-protocol pieces for the chaos plugins (standard library only)."""

import json
import os
import socket
import struct
import sys
import threading


def frame(obj) -> bytes:
    data = json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data


def register_frame(plugin_id: str, capability: str = "visitor_panel") -> bytes:
    """``capability``: visitor_panel (also rendered by the fan-out) or chat_toolbar (only when asked)."""
    cap = {"type": capability, "title": f"Chaos {plugin_id}"}
    if capability == "visitor_panel":
        cap["priority"] = 50
    return frame({"jsonrpc": "2.0", "id": 1, "method": "register", "params": {
        "id": plugin_id, "name": plugin_id, "version": "1.0.0", "capabilities": [cap]}})


def panel(plugin_id: str, msg: dict) -> dict:
    """A valid key_value panel echoing the request's visitor_id (so callers can check whose answer they got)."""
    visitor = (msg.get("params") or {}).get("visitor_id") or "anonymous"
    return {"template": "key_value", "data": {"title": plugin_id, "items": [{"label": "Visitor", "value": visitor}]}}


class Conn:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(os.environ["TGO_SOCKET_PATH"])
        self.lock = threading.Lock()
        self.buffer = b""

    def send_raw(self, data: bytes) -> None:
        with self.lock:
            self.sock.sendall(data)

    def send(self, obj) -> None:
        self.send_raw(frame(obj))

    def recv(self):
        """Next frame as JSON, None at EOF."""
        while True:
            if len(self.buffer) >= 4:
                (n,) = struct.unpack(">I", self.buffer[:4])
                if len(self.buffer) >= 4 + n:
                    payload, self.buffer = self.buffer[4 : 4 + n], self.buffer[4 + n :]
                    return json.loads(payload)
            try:
                data = self.sock.recv(65536)
            except OSError:
                return None
            if not data:
                return None
            self.buffer += data

    def register(self, plugin_id: str, capability: str = "visitor_panel") -> None:
        self.send_raw(register_frame(plugin_id, capability))
        reply = self.recv()
        if reply is None or "error" in reply:
            print(f"registration failed: {reply}", file=sys.stderr)
            os._exit(3)


def record(path, line: str) -> None:
    if path:
        with open(path, "a") as fh:
            fh.write(line + "\n")


def die() -> None:
    """Exit at once, like a crash: no cleanup, no shutdown of the socket."""
    sys.stdout.flush()
    os._exit(9)
