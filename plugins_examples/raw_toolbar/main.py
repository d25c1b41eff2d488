"""Raw chat toolbar: quick replies over the TGO plugin protocol with no SDK.

Frames are a 4-byte big-endian length followed by UTF-8 JSON (JSON-RPC 2.0).
Run: TGO_SOCKET_PATH=/path/to/tgo.sock python plugins_examples/raw_toolbar/main.py
"""

import json
import os
import socket
import struct
import sys
import time

SOCKET_PATH = os.environ.get("TGO_SOCKET_PATH", "/var/run/tgo/tgo.sock")
REGISTER = {
    "id": "com.example.raw-toolbar",
    "name": "raw-toolbar",
    "version": "1.0.0",
    "description": "Chat toolbar quick replies speaking the raw protocol (no SDK)",
    "author": "tgo-host examples",
    "capabilities": [{"type": "chat_toolbar", "title": "Raw replies", "icon": "message-square",
                      "tooltip": "Quick replies (raw protocol)"}],
}
REPLIES = {
    "hello": "Hello! How can I help you today?",
    "thanks": "Thank you for contacting us.",
    "bye": "Have a great day!",
}


def log(msg):
    print(f"[raw-toolbar] {msg}", file=sys.stderr, flush=True)


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
    items = [{"id": key, "title": key.capitalize(), "description": text}
             for key, text in REPLIES.items()]
    return {"template": "list", "data": {"title": "Quick replies", "searchable": True,
                                         "items": items}}


def event(params):
    if params.get("event_type") == "item_select" and params.get("selected_id") in REPLIES:
        return {"action": "insert_text", "data": {"text": REPLIES[params["selected_id"]]}}
    return {"action": "show_toast", "data": {"message": "unknown reply", "type": "error"}}


METHODS = {"chat_toolbar/render": render, "chat_toolbar/event": event}


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
