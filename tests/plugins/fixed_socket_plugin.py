"""A raw-protocol plugin that dials a hard-coded socket path, as the official Go SDK does.

The Go SDK ignores ``TGO_SOCKET_PATH`` and always dials ``/var/run/tgo/tgo.sock``;
so does this plugin. ``--socket PATH`` stands for a build of it with another
constant (tests use it to stay away from the real path). It registers one
visitor panel, answers ``ping``/``shutdown``/``visitor_panel/render`` and
prints ``registered via PATH`` once the host accepted it.
"""

import argparse
import json
import socket
import struct
import sys

SOCKET_PATH = "/var/run/tgo/tgo.sock"  # the path the plugin docs give; TGO_SOCKET_PATH is ignored

parser = argparse.ArgumentParser()
parser.add_argument("--id", default="test.fixed-socket")
parser.add_argument("--socket", default=SOCKET_PATH)
args = parser.parse_args()

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    sock.connect(args.socket)
except OSError as exc:  # the Go SDK exits the same way; the supervisor restarts it
    print(f"cannot connect to {args.socket}: {exc}", file=sys.stderr, flush=True)
    sys.exit(1)


def send(obj):
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack(">I", len(data)) + data)


def recv():
    buf = b""
    while len(buf) < 4:
        chunk = sock.recv(4 - len(buf))
        if not chunk:
            return None
        buf += chunk
    size, body = struct.unpack(">I", buf)[0], b""
    while len(body) < size:
        chunk = sock.recv(size - len(body))
        if not chunk:
            return None
        body += chunk
    return json.loads(body)


send({"jsonrpc": "2.0", "id": 1, "method": "register", "params": {
    "id": args.id, "name": "Fixed socket", "version": "1.0.0",
    "capabilities": [{"type": "visitor_panel", "title": "Fixed socket", "priority": 10}]}})
reply = recv()
if reply is None or "error" in reply:
    print(f"registration refused: {reply}", file=sys.stderr, flush=True)
    sys.exit(3)
print(f"registered via {args.socket}", flush=True)
while True:
    msg = recv()
    if msg is None:
        break
    method = msg.get("method")
    if method == "ping":
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"pong": True}})
    elif method == "shutdown":
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"success": True}})
        break
    elif method == "visitor_panel/render":
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"template": "text", "data": {"text": f"via {args.socket}"}}})
    elif "id" in msg:
        send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "Method not found"}})
sock.close()
