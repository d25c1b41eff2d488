"""A plugin that answers every host request with requests of its own (same id, same method,
plus a notification and a fresh request) instead of a response.

Frames the host sends back are recorded (--record): each request must get a -32601 error.
"""

import argparse

from _raw import Conn, record

parser = argparse.ArgumentParser()
parser.add_argument("--id", required=True)
parser.add_argument("--record")
args = parser.parse_args()

conn = Conn()
conn.register(args.id)
fresh = 10_000
while True:
    msg = conn.recv()
    if msg is None:
        break
    if "method" in msg:
        record(args.record, f"request {msg['method']}")
        fresh += 1
        conn.send({"jsonrpc": "2.0", "id": msg["id"], "method": msg["method"], "params": msg.get("params")})
        conn.send({"jsonrpc": "2.0", "method": "log", "params": {"text": "notification"}})
        conn.send({"jsonrpc": "2.0", "id": fresh, "method": "visitor_panel/render", "params": {}})
    else:
        record(args.record, f"error {msg.get('id')} {msg.get('error', {}).get('code')}")
