"""Minimal raw-protocol plugin (stdlib only): registers, renders, obeys shutdown."""

import json
import os
import socket
import struct

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


print("hello plugin up", flush=True)
send({"jsonrpc": "2.0", "id": 1, "method": "register", "params": {
    "id": "test.hello", "name": "hello", "version": "2.0.0",
    "capabilities": [{"type": "visitor_panel", "title": "Hello", "icon": "smile"}]}})
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
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"template": "text", "data": {"content": "hello"}}})
    elif "id" in msg and method:
        send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "Method not found"}})
