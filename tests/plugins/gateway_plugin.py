"""A raw-protocol test plugin that checks the params the host sends, as the official SDKs need them.

Usage: gateway_plugin.py --id ID [--socket PATH | --tcp HOST:PORT --dev-token T]
                         [--two-panels] [--toolbar] [--tools] [--no-panel] [--expect-empty]

Every ``*/render`` must carry ``visitor_id``, ``session_id``, ``visitor``
(an object: the Go SDK dereferences it), ``context`` (an object) and
``language`` (``chat_toolbar/render`` also ``action_id`` and ``agent_id``);
every ``*/event`` ``event_type``, ``action_id``, ``visitor_id``,
``session_id``, ``selected_id``, ``language``, ``form_data`` and ``payload``
(objects); every ``tool/execute`` ``tool_name``, ``arguments``, ``visitor_id``,
``session_id``, ``agent_id``, ``language``. A call that lacks one is answered with JSON-RPC error -32602
naming what was wrong (where the Go SDK would crash). Otherwise the answer
echoes the params: a ``text`` template whose text is the params as JSON, or a
``show_toast`` whose message is. Without ``--socket``/``--tcp`` it dials
``TGO_SOCKET_PATH``.
"""

import argparse
import json
import os
import socket
import struct
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--id", required=True)
parser.add_argument("--socket")
parser.add_argument("--tcp")
parser.add_argument("--dev-token")
parser.add_argument("--two-panels", action="store_true")
parser.add_argument("--no-panel", action="store_true")
parser.add_argument("--toolbar", action="store_true")
parser.add_argument("--tools", action="store_true")
parser.add_argument("--priority", type=int, default=10)
parser.add_argument("--expect-empty", action="store_true",
                    help="also refuse a call whose visitor/context (render) or form_data/payload (event) is not {}")
args = parser.parse_args()

RENDER_KEYS = {
    "visitor_panel/render": ("visitor_id", "session_id", "visitor", "context", "language"),
    "chat_toolbar/render": ("action_id", "session_id", "visitor_id", "visitor", "agent_id", "context", "language"),
}
EVENT_KEYS = ("event_type", "action_id", "visitor_id", "session_id", "selected_id", "language", "form_data", "payload")
TOOL_KEYS = ("tool_name", "arguments", "visitor_id", "session_id", "agent_id", "language")
OBJECT_KEYS = ("visitor", "context", "form_data", "payload", "arguments")

if args.tcp:
    host, port = args.tcp.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
else:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(args.socket or os.environ["TGO_SOCKET_PATH"])


def send(obj):
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack(">I", len(data)) + data)


def recv():
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    header = exact(4)
    if header is None:
        return None
    return json.loads(exact(struct.unpack(">I", header)[0]))


def problems(params, keys):
    """What an SDK would trip over in ``params`` (empty when all is well)."""
    if not isinstance(params, dict):
        return [f"params is {type(params).__name__}, not an object"]
    found = [f"missing key {key!r}" for key in keys if key not in params]
    found += [f"{key} is {json.dumps(params[key])}, not an object"
              for key in OBJECT_KEYS if key in keys and key in params and not isinstance(params[key], dict)]
    if args.expect_empty:
        found += [f"{key} is {json.dumps(params[key])}, expected {{}}"
                  for key in OBJECT_KEYS if key in keys and key in params and params[key] != {}]
    return found


capabilities = []
if not args.no_panel:
    capabilities.append({"type": "visitor_panel", "title": f"{args.id} first", "icon": "user", "priority": args.priority})
    if args.two_panels:  # the official docs' CRM example declares two
        capabilities.append({"type": "visitor_panel", "title": f"{args.id} second", "icon": "star", "priority": 1})
if args.toolbar:
    capabilities.append({"type": "chat_toolbar", "title": f"{args.id} tool", "icon": "zap", "tooltip": "Run",
                         "shortcut": "Ctrl+J"})
if args.tools:
    capabilities.append({"type": "mcp_tools", "title": "Orders", "tools": [
        {"name": "lookup_order", "title": "Look up an order", "description": "Find an order by id",
         "parameters": [{"name": "order_id", "type": "string", "required": True, "description": "the order"}]}]})
register = {"id": args.id, "name": args.id, "version": "1.2.3", "description": "gateway test plugin",
            "author": "tgo-host tests", "capabilities": capabilities}
if args.dev_token:
    register["dev_token"] = args.dev_token
send({"jsonrpc": "2.0", "id": 1, "method": "register", "params": register})
reply = recv()
if reply is None or "error" in reply:
    print("registration refused:", reply, file=sys.stderr, flush=True)
    sys.exit(3)
print(f"registered as {args.id}", flush=True)

while True:
    msg = recv()
    if msg is None:
        break
    method, params, mid = msg.get("method"), msg.get("params"), msg.get("id")
    if method == "ping":
        send({"jsonrpc": "2.0", "id": mid, "result": {"pong": True}})
    elif method == "shutdown":
        send({"jsonrpc": "2.0", "id": mid, "result": {"success": True}})
        break
    elif method in RENDER_KEYS or (method or "").endswith("/event"):
        keys = RENDER_KEYS.get(method, EVENT_KEYS)
        wrong = problems(params, keys)
        if wrong:
            send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32602, "message": f"{method}: " + "; ".join(wrong)}})
            continue
        echo = json.dumps({"method": method, "params": params}, sort_keys=True)
        if method in RENDER_KEYS:
            result = {"template": "text", "data": {"text": echo}}
        else:
            result = {"action": "show_toast", "data": {"message": echo, "type": "success"}}
        send({"jsonrpc": "2.0", "id": mid, "result": result})
    elif method == "tool/execute":
        wrong = problems(params, TOOL_KEYS)
        if wrong:
            send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32602, "message": f"{method}: " + "; ".join(wrong)}})
            continue
        send({"jsonrpc": "2.0", "id": mid, "result": {
            "success": True, "content": f"order {params['arguments'].get('order_id')} via {args.id}",
            "data": {"visitor_id": params.get("visitor_id"), "agent_id": params.get("agent_id")}}})
    elif mid is not None:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": f"Method not found: {method}"}})
sock.close()
