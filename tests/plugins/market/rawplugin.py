#!/usr/bin/env python3
"""A stdlib-only plugin for the marketplace tests: its id, version and tools come from meta.json beside it.

It registers a visitor panel (rendering "<id> <version>", plus the greeting of the
``greet_lib`` package when that is importable, proving a venv's requirements were
installed) and the MCP tools listed in meta.json; it obeys ``shutdown``.
"""

import json
import os
import socket
import struct
import sys

HERE = os.path.dirname(os.path.realpath(__file__))
with open(os.path.join(HERE, "meta.json")) as fh:
    META = json.load(fh)
try:
    import greet_lib  # installed from a local wheel by `pip install -r requirements.txt`
    GREETING = greet_lib.greeting()
except ImportError:
    GREETING = ""
if META.get("hang"):
    import time

    print("hanging without registering", flush=True)
    time.sleep(3600)
if META.get("crash"):
    print("crashing on purpose: " + META["crash"], flush=True)
    sys.exit(3)

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(os.environ["TGO_SOCKET_PATH"])
stream = sock.makefile("rb")


def send(obj):
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack(">I", len(data)) + data)


def recv():
    header = stream.read(4)
    if len(header) < 4:
        return None
    return json.loads(stream.read(struct.unpack(">I", header)[0]))


capabilities = [{"type": "visitor_panel", "title": "Market", "icon": "box"}]
if META.get("tools"):
    capabilities.append({"type": "mcp_tools", "title": "Tools", "tools": META["tools"]})
print(f"{META['id']} {META['version']} up {GREETING}", flush=True)
send({"jsonrpc": "2.0", "id": 1, "method": "register", "params": {
    "id": META["id"], "name": META["id"], "version": META["version"], "capabilities": capabilities}})
recv()
while True:
    msg = recv()
    if msg is None:
        break
    method = msg.get("method")
    if method == "shutdown":
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"success": True}})
        break
    if method == "ping":
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"pong": True}})
    elif method and method.endswith("/render"):
        text = f"{META['id']} {META['version']} {GREETING}".strip()
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"template": "text", "data": {"text": text}}})
    elif "id" in msg and method:
        send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "Method not found"}})
