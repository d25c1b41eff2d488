"""A raw-protocol test plugin whose behaviour is chosen on the command line.

Usage: scripted.py --id ID [--priority N] [--mode MODE] [--record FILE] [--no-id]

Modes for ``*/render``: ``ok`` (key_value panel), ``hang`` (never answers),
``slow`` (answers after --delay seconds), ``invalid`` (the Go SDK's
``{"success": true}``), ``error`` (JSON-RPC error -32000), ``crash``
(exits mid-request), ``null`` (result null). ``--ignore-shutdown`` leaves
``shutdown`` unanswered; ``--shutdown-delay S`` answers it after S seconds.
With ``TGO_TCP_ADDR`` (HOST:PORT) set it connects to the TCP debug listener
and registers with ``TGO_DEV_TOKEN``. Every request method received is appended to
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
parser.add_argument("--shutdown-delay", type=float, default=0.0)
parser.add_argument("--ignore-ping", action="store_true")
parser.add_argument("--toolbar", action="store_true")
parser.add_argument("--extras", action="store_true", help="also sidebar_iframe, channel_integration, mcp_tools")
parser.add_argument("--event-mode", default="ok", help="ok | js (javascript: open_url) | hang")
args = parser.parse_args()

if os.environ.get("TGO_TCP_ADDR"):
    tcp_host, _, tcp_port = os.environ["TGO_TCP_ADDR"].rpartition(":")
    sock = socket.create_connection((tcp_host, int(tcp_port)))
else:
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
    capabilities.append({"type": "chat_toolbar", "title": "Tool", "icon": "zap", "tooltip": "Do it", "shortcut": "Ctrl+K"})
if args.extras:
    capabilities += [
        {"type": "sidebar_iframe", "title": "CRM", "icon": "users", "url": "http://127.0.0.1:9/crm", "width": 400},
        {"type": "channel_integration", "channel_type": "custom_im", "name": "Custom IM", "icon": "message-circle"},
        {"type": "mcp_tools", "title": "Tools", "tools": [{"name": "lookup_order", "description": "Find an order",
            "parameters": [{"name": "order_id", "type": "string", "required": True}]}]},
    ]
EXTRA_RESULTS = {
    "sidebar_iframe/config": {"url": "http://127.0.0.1:9/crm", "title": "CRM", "icon": "users", "width": 400,
                              "allow_fullscreen": False, "sandbox": "allow-scripts", "permissions": []},
    "channel_integration/manifest": {"channel_type": "custom_im", "name": "Custom IM", "icon": "message-circle",
                                     "config_schema": {"type": "object", "properties": {"token": {"type": "string"}}},
                                     "setup_guide": "# Setup", "capabilities": {"send_text": True}},
}
register = {"id": args.id, "name": args.id, "version": "1.0.0", "capabilities": capabilities}
if os.environ.get("TGO_DEV_TOKEN"):
    register["dev_token"] = os.environ["TGO_DEV_TOKEN"]
send({"jsonrpc": "2.0", "id": 1, "method": "register", "params": register})
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
        visitor = msg.get("params", {}).get("visitor_id") or "anonymous"
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
            time.sleep(args.shutdown_delay)
            send({"jsonrpc": "2.0", "id": msg["id"], "result": {"success": True}})
            break
    elif method and method.endswith("/render"):
        threading.Thread(target=render, args=(msg,), daemon=True).start()
    elif method in EXTRA_RESULTS:
        send({"jsonrpc": "2.0", "id": msg["id"], "result": EXTRA_RESULTS[method]})
    elif method == "channel_integration/send_message":
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"success": True, "message_id": "m-" + str(msg["params"]["to"]["id"])}})
    elif method == "tool/execute":
        params = msg["params"]
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"success": True, "content": "order " + str(params["arguments"].get("order_id")),
              "data": {"tool": params["tool_name"], "visitor_id": params.get("visitor_id")}}})
    elif method and method.endswith("/event") and args.event_mode == "hang":
        pass
    elif method and method.endswith("/event") and args.event_mode == "js":
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"action": "batch", "data": {"actions": [
            {"action": "show_toast", "data": {"message": "hi"}}, {"action": "open_url", "data": {"url": "javascript:alert(1)"}}]}}})
    elif method and method.endswith("/event"):
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"action": "show_toast", "data": {"message": "clicked " + str(msg["params"].get("action_id")), "type": "success"}}})
    elif "id" in msg and method:
        send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "Method not found"}})
sock.close()
