"""A plugin whose */render answers are legal-looking but heavy, chosen by --mode:

deep-row     a table whose first row nests --depth levels deep
deep-error   a JSON-RPC error whose ``data`` nests --depth levels deep
big          a legal table of --rows rows (about 15 bytes of JSON per row)
ok           a small key_value panel echoing the visitor (the control)

Every other request with an id gets ``{}``; ``shutdown`` ends it.
"""

import argparse
import json
import struct

from _raw import Conn, panel

parser = argparse.ArgumentParser()
parser.add_argument("--id", required=True)
parser.add_argument("--mode", required=True, choices=["deep-row", "deep-error", "big", "ok"])
parser.add_argument("--depth", type=int, default=300)
parser.add_argument("--rows", type=int, default=250_000)
args = parser.parse_args()


def nested(depth: int):
    value = ["bottom"]
    for _ in range(depth - 1):
        value = {"x": value}
    return value


conn = Conn()
conn.register(args.id)
big_result = b""
if args.mode == "big":  # encoded once: the plugin answers at once, the cost is all the host's
    big_result = json.dumps({"template": "table", "data": {"columns": [{"key": "n", "label": "N"}],
                                                          "rows": [{"n": i} for i in range(args.rows)]}}).encode()
while True:
    msg = conn.recv()
    if msg is None:
        break
    method = msg.get("method", "")
    if method == "shutdown":
        conn.send({"jsonrpc": "2.0", "id": msg["id"], "result": {"success": True}})
        break
    if "id" not in msg:
        continue
    if not method.endswith("/render"):
        conn.send({"jsonrpc": "2.0", "id": msg["id"], "result": {}})
    elif args.mode == "deep-row":
        conn.send({"jsonrpc": "2.0", "id": msg["id"], "result": {"template": "table", "data": {
            "columns": [{"key": "x", "label": "X"}], "rows": [nested(args.depth)]}}})
    elif args.mode == "deep-error":
        conn.send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32000, "message": "deep", "data": nested(args.depth)}})
    elif args.mode == "big":
        payload = b'{"jsonrpc": "2.0", "id": ' + json.dumps(msg["id"]).encode() + b', "result": ' + big_result + b"}"
        conn.send_raw(struct.pack(">I", len(payload)) + payload)
    else:
        conn.send({"jsonrpc": "2.0", "id": msg["id"], "result": panel(args.id, msg)})
