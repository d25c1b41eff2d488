"""A raw-protocol test plugin whose behaviour is chosen on the command line.

Usage: scripted.py --id ID [--priority N] [--mode MODE] [--record FILE] [--no-id]

Modes for ``*/render``: ``ok`` (key_value panel), ``hang`` (never answers),
``slow`` (answers after --delay seconds), ``invalid`` (the Go SDK's
``{"success": true}``), ``error`` (JSON-RPC error -32000), ``crash``
(exits mid-request), ``null`` (result null). ``--ignore-shutdown`` leaves
``shutdown`` unanswered. Every request method received is appended to
--record (one line each, flushed) so tests can see what arrived.
"""

import argparse
import json
import os
import socket
import struct
import sys
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("--id", required=True)
parser.add_argument("--priority", type=int, default=10)
parser.add_argument("--mode", default="ok")
parser.add_argument("--delay", type=float, default=1.0)
parser.add_argument("--record")
parser.add_argument("--ignore-shutdown", action="store_true")
parser.add_argument("--ignore-ping", action="store_true")
parser.add_argument("--toolbar", action="store_true")
args = parser.parse_args()

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(os.environ["TGO_SOCKET_PATH"])
send_lock = threading.Lock()


def record(line):
    if args.record:
        with open(args.record, "a") as fh:
            fh.write(line + "\n")
            fh.flush()


def send(obj):
    data = json.dumps(obj).encode()
    with send_lock:
        sock.sendall(struct.pack(">I", len(data)) + data)


def recv_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def recv():
    header = recv_exact(4)
    if header is None:
        return None
    return json.loads(recv_exact(struct.unpack(">I", header)[0]))


capabilities = [{"type": "visitor_panel", "title": f"Panel {args.id}", "icon": "user", "priority": args.priority}]
if args.toolbar:
    capabilities.append({"type": "chat_toolbar", "title": "Tool", "icon": "zap"})
send({"jsonrpc": "2.0", "id": 1, "method": "register", "params": {
    "id": args.id, "name": args.id, "version": "1.0.0", "capabilities": capabilities}})
reply = recv()
record("registered " + json.dumps(reply))
if reply is None or "error" in reply:
    sys.exit(3)


def render(msg):
    mode = args.mode
    if mode == "hang":
        return
    if mode == "slow":
        time.sleep(args.delay)
    if mode == "crash":
        os._exit(7)
    if mode == "invalid":
        result = {"success": True}
    elif mode == "null":
        result = None
    elif mode == "error":
        send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32000, "message": "CRM unavailable", "data": {"retry": True}}})
        return
    else:
        visitor = msg.get("params", {}).get("visitor_id")
        result = {"template": "key_value", "data": {"title": args.id, "items": [
            {"label": "Visitor", "value": visitor}, {"label": "Orders", "value": 3}]}}
    send({"jsonrpc": "2.0", "id": msg["id"], "result": result})


while True:
    msg = recv()
    if msg is None:
        record("eof")
        break
    method = msg.get("method")
    record(str(method))
    if method == "ping":
        if not args.ignore_ping:
            send({"jsonrpc": "2.0", "id": msg["id"], "result": {"pong": True}})
    elif method == "shutdown":
        if not args.ignore_shutdown:
            send({"jsonrpc": "2.0", "id": msg["id"], "result": {"success": True}})
            break
    elif method and method.endswith("/render"):
        threading.Thread(target=render, args=(msg,), daemon=True).start()
    elif method and method.endswith("/event"):
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"action": "show_toast", "data": {"message": "clicked " + str(msg["params"].get("action_id")), "type": "success"}}})
    elif "id" in msg and method:
        send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "Method not found"}})
sock.close()
