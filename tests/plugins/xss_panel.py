"""A raw-protocol test plugin whose panel and toolbar are full of HTML/JS injection attempts.

Every payload would set ``window.__xss`` if a front end ever turned plugin
text into markup. Its events answer ``open_url`` with a ``javascript:`` URL
(which the host refuses with a 502). Usage: xss_panel.py [--id ID]
"""

import argparse
import json
import os
import socket
import struct

parser = argparse.ArgumentParser()
parser.add_argument("--id", default="test.xss")
args = parser.parse_args()

IMG = '<img src=x onerror="window.__xss=1">'
MARKDOWN = "\n\n".join([
    "**bold** " + '<img src=x onerror="window.__xss=2">',
    "<script>window.__xss=3</script>",
    "[markdown js link](javascript:window.__xss=4)",
    '<a href="javascript:window.__xss=5">raw html link</a>',
    "![image](javascript:window.__xss=6)",
    "<svg onload=window.__xss=7></svg>",
    '<iframe src="javascript:window.__xss=8"></iframe>',
    "[ok link](https://example.com/safe)",
])

UI = {"template": "group", "data": {"items": [
    {"template": "text", "data": {"text": IMG}},
    {"template": "text", "data": {"text": MARKDOWN, "type": "markdown"}},
    {"template": "markdown", "data": {"content": MARKDOWN}},
    {"template": "key_value", "data": {"title": IMG, "items": [
        {"label": IMG, "value": IMG, "copyable": True},
        {"label": "badge", "value": IMG, "type": "badge", "color": "red;background:url(javascript:1)"}]}},
    {"template": "table", "data": {"title": IMG, "columns": [{"key": "a", "label": IMG}, {"key": "b", "label": "b", "type": "badge"}],
                                   "rows": [{"a": IMG, "b": {"text": IMG, "color": "red"}}]}},
    {"template": "list", "data": {"title": IMG, "searchable": True, "items": [{"id": "x", "title": IMG, "description": IMG}]}},
    {"template": "card", "data": {"title": IMG, "subtitle": IMG, "image": "x\" onerror=\"window.__xss=9", "tags": [{"text": IMG}],
                                  "fields": [{"label": IMG, "value": IMG}], "footer": IMG}},
    {"template": "action", "data": {"buttons": [{"id": "js", "label": "Open " + IMG, "type": "danger"}]}},
]}}

REGISTER = {
    "id": args.id, "name": "xss <b>plugin</b>", "version": "1.0.0", "description": IMG,
    "capabilities": [
        {"type": "visitor_panel", "title": "XSS " + IMG, "icon": "x\" onload=\"window.__xss=10", "priority": 1},
        {"type": "chat_toolbar", "title": "XSS " + IMG, "icon": "zap", "tooltip": IMG},
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
        result = UI
    elif method.endswith("/event"):
        result = {"action": "open_url", "data": {"url": "javascript:window.__xss=11"}}
    else:
        send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "Method not found"}})
        continue
    send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
sock.close()
