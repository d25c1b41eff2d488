"""A plugin that floods the host with responses whose ids match nothing, while answering
its own renders correctly from a second thread.

Every frame the host sends it is recorded (--record): the host must never answer the flood.
"""

import argparse
import threading

from _raw import Conn, frame, panel, record

parser = argparse.ArgumentParser()
parser.add_argument("--id", required=True)
parser.add_argument("--count", type=int, default=10000)
parser.add_argument("--record")
args = parser.parse_args()

conn = Conn()
conn.register(args.id)


def flood():
    batch = []
    for i in range(args.count):
        batch.append(frame({"jsonrpc": "2.0", "id": 1_000_000 + i, "result": {"flood": i}}))
        if len(batch) == 500:
            conn.send_raw(b"".join(batch))
            batch = []
    if batch:
        conn.send_raw(b"".join(batch))
    record(args.record, f"flooded {args.count}")


threading.Thread(target=flood, daemon=True).start()
while True:
    msg = conn.recv()
    if msg is None:
        break
    method = msg.get("method")
    record(args.record, str(method) if method else f"answer {msg.get('id')} {msg.get('error')}")
    if method and method.endswith("/render"):
        conn.send({"jsonrpc": "2.0", "id": msg["id"], "result": panel(args.id, msg)})
    elif method == "shutdown":
        conn.send({"jsonrpc": "2.0", "id": msg["id"], "result": {"success": True}})
        break
