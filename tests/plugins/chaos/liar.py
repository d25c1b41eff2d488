"""A plugin that answers each */render in a broken way, chosen by --mode:

twice           the right answer, then the same answer again
result-error    the right answer, then an error for the same id
error-result    an error, then the right answer for the same id
invalid-ui      a result that is not JSON-UI
no-jsonrpc      the right result without "jsonrpc" (a malformed response, right id)
garbage-bytes   a frame of bytes that are not JSON (the host cannot tell whose answer it is)
bad-id          the right result under an id that is an array
"""

import argparse

from _raw import Conn, panel

parser = argparse.ArgumentParser()
parser.add_argument("--id", required=True)
parser.add_argument("--capability", default="visitor_panel", choices=["visitor_panel", "chat_toolbar"])
parser.add_argument("--mode", required=True)
args = parser.parse_args()

conn = Conn()
conn.register(args.id, args.capability)
while True:
    msg = conn.recv()
    if msg is None:
        break
    method = msg.get("method", "")
    if method == "shutdown":
        conn.send({"jsonrpc": "2.0", "id": msg["id"], "result": {"success": True}})
        break
    if not method.endswith("/render"):
        if "id" in msg:
            conn.send({"jsonrpc": "2.0", "id": msg["id"], "result": {}})
        continue
    ok = {"jsonrpc": "2.0", "id": msg["id"], "result": panel(args.id, msg)}
    err = {"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32000, "message": "liar"}}
    mode = args.mode
    if mode == "twice":
        conn.send(ok)
        conn.send(ok)
    elif mode == "result-error":
        conn.send(ok)
        conn.send(err)
    elif mode == "error-result":
        conn.send(err)
        conn.send(ok)
    elif mode == "invalid-ui":
        conn.send({"jsonrpc": "2.0", "id": msg["id"], "result": {"template": "hologram", "data": {}}})
    elif mode == "no-jsonrpc":
        conn.send({"id": msg["id"], "result": ok["result"]})
    elif mode == "garbage-bytes":
        junk = b"\xff\xfenot json"
        conn.send_raw(len(junk).to_bytes(4, "big") + junk)
    elif mode == "bad-id":
        conn.send({"jsonrpc": "2.0", "id": [msg["id"]], "result": ok["result"]})
