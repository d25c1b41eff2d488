"""A plugin that dies at a chosen point, leaving whatever it had half-written.

--at connect          connect, then die
--at register         write the first --fraction of the register frame (0..1), then die
--at register-sent    write the whole register frame, die before reading the answer
--at render           register; once --after N */render requests are waiting, write --fraction of the
                      answer to the last one, then die (--linger S: stall S seconds with the half frame first)
--at shutdown         register, answer renders; on shutdown write half an answer, then die
"""

import argparse
import time

from _raw import Conn, die, frame, panel, register_frame

parser = argparse.ArgumentParser()
parser.add_argument("--id", required=True)
parser.add_argument("--capability", default="visitor_panel", choices=["visitor_panel", "chat_toolbar"])
parser.add_argument("--at", required=True, choices=["connect", "register", "register-sent", "render", "shutdown"])
parser.add_argument("--fraction", type=float, default=0.5)
parser.add_argument("--linger", type=float, default=0.0)
parser.add_argument("--after", type=int, default=1)
args = parser.parse_args()

conn = Conn()
if args.at == "connect":
    die()
if args.at in ("register", "register-sent"):
    data = register_frame(args.id, args.capability)
    cut = len(data) if args.at == "register-sent" else int(len(data) * args.fraction)
    conn.send_raw(data[:cut])
    die()
conn.register(args.id, args.capability)
renders = 0
while True:
    msg = conn.recv()
    if msg is None:
        die()
    method = msg.get("method", "")
    if method.endswith("/render"):
        answer = frame({"jsonrpc": "2.0", "id": msg["id"], "result": panel(args.id, msg)})
        renders += 1
        if args.at == "render" and renders < args.after:
            continue
        if args.at == "render":
            conn.send_raw(answer[: max(1, int(len(answer) * args.fraction))])
            time.sleep(args.linger)
            die()
        conn.send_raw(answer)
    elif method == "shutdown":
        answer = frame({"jsonrpc": "2.0", "id": msg["id"], "result": {"success": True}})
        conn.send_raw(answer[: len(answer) // 2])
        die()
    elif "id" in msg and method:
        conn.send({"jsonrpc": "2.0", "id": msg["id"], "result": {"pong": True}})
