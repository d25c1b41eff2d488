"""Raw visitor panel: the TGO plugin protocol with no SDK (socket + struct + json).

Frames are a 4-byte big-endian length followed by UTF-8 JSON (JSON-RPC 2.0).
Run: TGO_SOCKET_PATH=/path/to/tgo.sock python plugins_examples/raw_panel/main.py
"""

import json
import os
import socket
import struct
import sys
import time

SOCKET_PATH = os.environ.get("TGO_SOCKET_PATH", "/var/run/tgo/tgo.sock")
REGISTER = {
    "id": "com.example.raw-panel",
    "name": "raw-panel",
    "version": "1.0.0",
    "description": "Visitor panel speaking the raw protocol (no SDK)",
    "author": "tgo-host examples",
    "capabilities": [{"type": "visitor_panel", "title": "Raw panel", "icon": "code",
                      "priority": 90}],
}


def log(msg):
    print(f"[raw-panel] {msg}", file=sys.stderr, flush=True)


def send(sock, msg):
    body = json.dumps(msg, ensure_ascii=False).encode("utf-8")
    sock.sendall(struct.pack(">I", len(body)) + body)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("host closed the connection")
        buf += chunk
    return buf


def recv(sock):
    (length,) = struct.unpack(">I", recv_exact(sock, 4))
    return json.loads(recv_exact(sock, length).decode("utf-8"))


def render(params):
    visitor = params.get("visitor") or {}
    return {"template": "key_value", "data": {"title": "Raw panel", "items": [
        {"label": "Visitor id", "value": params.get("visitor_id", ""), "copyable": True},
        {"label": "Name", "value": visitor.get("name") or "unknown"},
        {"label": "Language", "value": params.get("language") or "-"},
    ]}}


def event(params):
    if params.get("event_type") == "button_click":
        return {"action": "show_toast",
                "data": {"message": f"clicked {params.get('action_id')}", "type": "info"}}
    return {"action": "noop", "data": {}}


METHODS = {"visitor_panel/render": render, "visitor_panel/event": event}


def serve(sock):
    """Register, then answer requests until shutdown (returns True) or EOF."""
    send(sock, {"jsonrpc": "2.0", "id": 1, "method": "register", "params": REGISTER})
    while True:
        msg = recv(sock)
        if "method" not in msg:  # a response; only register's is expected
            if msg.get("error"):
                log(f"register rejected: {msg['error']}")
                return False
            continue
        req_id, method = msg.get("id"), msg["method"]
        if "id" not in msg:  # a notification: never answered
            continue
        if method == "ping":
            send(sock, {"jsonrpc": "2.0", "id": req_id,
                        "result": {"pong": True, "timestamp": int(time.time() * 1000)}})
        elif method == "shutdown":
            send(sock, {"jsonrpc": "2.0", "id": req_id, "result": {"success": True}})
            return True
        elif method in METHODS:
            try:
                reply = {"result": METHODS[method](msg.get("params") or {})}
            except Exception as exc:  # report, don't die
                reply = {"error": {"code": -32603, "message": str(exc)}}
            send(sock, {"jsonrpc": "2.0", "id": req_id, **reply})
        else:
            send(sock, {"jsonrpc": "2.0", "id": req_id,
                        "error": {"code": -32601, "message": f"method not found: {method}"}})


def main():
    delay = 0.5
    while True:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(SOCKET_PATH)
                log(f"connected to {SOCKET_PATH}")
                if serve(sock):
                    return 0
        except (OSError, ValueError) as exc:
            log(f"{exc}; retrying in {delay:.1f}s")
        time.sleep(delay)
        delay = min(delay * 2, 10)


if __name__ == "__main__":
    sys.exit(main())
