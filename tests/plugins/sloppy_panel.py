"""A raw-protocol test plugin sending what the TGO web app renders but a strict host refused.

Its panel has Go-SDK nulls, loose values, display hints outside the spec's
lists, CSS widths, an email field, a ``type: "link"`` value and unknown
nested templates; its events answer with the Go SDK's empty strings and a
batch holding an unknown sub-action. It registers an ``mcp_tools`` capability
without a title and with numeric ``enum_values``.
A render whose ``context`` has ``echo: true`` answers with that context as text.
Usage: sloppy_panel.py [--id ID]
"""

import argparse
import json
import os
import socket
import struct

parser = argparse.ArgumentParser()
parser.add_argument("--id", default="test.sloppy")
args = parser.parse_args()

UI = {"template": "group", "data": {"layout": "stacked", "items": [
    {"template": "key_value", "data": {"title": "Customer", "items": [
        {"label": "Name", "value": None},
        {"label": "Shop", "value": "https://shop.example.com/c/1", "type": "link"},
        {"label": "State", "value": "active", "type": "status", "color": "green"},
        {"label": "Orders", "value": 3.0, "copyable": "true"},
    ]}},
    {"template": "sparkline", "data": {"points": [1, 2, 3]}},
    {"template": "table", "data": {"columns": [{"key": "id", "label": "Order", "width": "30%"},
                                               {"key": "total", "label": "Total", "type": "money"}],
                                   "rows": [{"id": "A-1", "total": None}]}},
    {"template": "tabs", "data": {"items": [
        {"key": "a", "label": "Notes", "content": {"template": "text", "data": {"text": "tab text", "type": "shout"}}},
        {"key": "b", "label": "Map", "content": {"template": "map", "data": None}},
    ]}},
    {"template": "form", "data": {"action_id": "save", "fields": [
        {"name": "email", "label": "Email", "type": "email", "required": "true"}]}},
    {"template": "button", "data": {"label": "Open shop", "action_id": "open", "type": "outline", "size": "huge"}},
]}}

EVENTS = {
    "open": {"action": "batch", "data": {"actions": [
        {"action": "teleport", "data": {"to": "mars"}},
        {"action": "show_toast", "data": {"message": "opened", "type": "", "duration": None}},
        {"action": "open_url", "data": {"url": "mailto:help@example.com", "target": ""}},
    ]}},
    "modal": {"action": "show_modal", "data": {"title": "Chart", "template": "chart", "data": {"x": 1}}},
}

REGISTER = {
    "id": args.id, "name": "Sloppy CRM", "version": "1.0.0", "dev_token": "",
    "capabilities": [
        {"type": "visitor_panel", "title": "Sloppy", "icon": "user", "priority": 2.0, "refresh_on": None},
        {"type": "chat_toolbar", "title": "Sloppy tools", "icon": "", "tooltip": None},
        {"type": "mcp_tools", "tools": [{"name": "lookup", "parameters": [
            {"name": "kind", "type": "string", "enum_values": [1, 2]}]}]},
    ],
}

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(os.environ["TGO_SOCKET_PATH"])


def send(obj):
    data = json.dumps(obj).encode()
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


send({"jsonrpc": "2.0", "id": 1, "method": "register", "params": REGISTER})
reply = recv()
if reply is None or "error" in reply:
    raise SystemExit(3)

while True:
    msg = recv()
    if msg is None:
        break
    method = msg.get("method")
    if "id" not in msg or method is None:
        continue
    if method == "ping":
        result = {"pong": True}
    elif method == "shutdown":
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"success": True}})
        break
    elif method.endswith("/render"):
        context = (msg.get("params") or {}).get("context")
        echo = isinstance(context, dict) and context.get("echo")
        # with context.echo: show the context exactly as received (what the host forwarded)
        result = {"template": "text", "data": {"text": json.dumps(context, sort_keys=True)}} if echo else UI
    elif method.endswith("/event"):
        action_id = (msg.get("params") or {}).get("action_id")
        result = EVENTS.get(action_id, {"action": "noop", "data": None})
    else:
        send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "Method not found"}})
        continue
    send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
sock.close()
