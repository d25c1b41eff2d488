"""Registered plugins that flood requests and never read the answers, from their own process.

Usage: noreader.py --count K --requests R --size S

Opens K connections to $TGO_SOCKET_PATH and registers each (id noreader<i>),
then sends R requests per connection whose method name is S bytes long (the
host answers each with a "Method not found" error echoing the name), never
reading again. Prints "sent <frames> alive <n> refused <n>" when done (a dropped connection stops
its own sending), then holds the sockets until stdin closes.
"""

import argparse
import json
import os
import resource
import socket
import struct
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--count", type=int, required=True)
parser.add_argument("--requests", type=int, required=True)
parser.add_argument("--size", type=int, required=True)
args = parser.parse_args()


def frame(obj) -> bytes:
    data = json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data


resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
socks = []
refused = 0
for i in range(args.count):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:  # past the host's limit the connection is refused: count it and go on
        sock.connect(os.environ["TGO_SOCKET_PATH"])
        sock.sendall(frame({"jsonrpc": "2.0", "id": 1, "method": "register", "params": {
            "id": f"noreader{i}", "name": "noreader", "version": "1.0",
            "capabilities": [{"type": "chat_toolbar", "title": "N"}]}}))
        header = sock.recv(4, socket.MSG_WAITALL)
        reply = json.loads(sock.recv(struct.unpack(">I", header)[0], socket.MSG_WAITALL))
    except (OSError, struct.error, ValueError):
        reply = {}
    if "result" not in reply:
        refused += 1
        sock.close()
        continue
    sock.settimeout(5.0)
    socks.append(sock)
method = "x" * args.size
sent = 0
alive = list(socks)
for n in range(args.requests):
    for sock in list(alive):
        try:
            sock.sendall(frame({"jsonrpc": "2.0", "id": n + 2, "method": method}))
            sent += 1
        except OSError:
            alive.remove(sock)
print(f"sent {sent} alive {len(alive)} refused {refused}", flush=True)
sys.stdin.read()
for sock in socks:
    sock.close()
