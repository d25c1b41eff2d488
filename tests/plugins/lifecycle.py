"""A raw-protocol test plugin for the supervisor: crashes, stubbornness, output.

Usage: lifecycle.py --id ID [--crash-on-start CODE] [--crash-after N]
                    [--ignore-shutdown] [--ignore-term]

Prints "<id> started pid=<pid>" on stdout and "<id> stderr check" on stderr
at start. With ``$TGO_TEST_RECORD_DIR`` set, appends to ``<dir>/<id>.log``:
``start <pid> <unix time>`` at start, then every request method received.

``--crash-on-start CODE`` prints two lines and exits with CODE before
connecting; ``--crash-after N`` answers N renders, then exits with status 5
on the next one; ``--ignore-shutdown`` never answers ``shutdown`` and keeps
running after the host closes the connection; ``--ignore-term`` ignores
SIGTERM.
"""

import argparse
import json
import os
import signal
import socket
import struct
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--id", required=True)
parser.add_argument("--crash-on-start", type=int)
parser.add_argument("--crash-after", type=int)
parser.add_argument("--ignore-shutdown", action="store_true")
parser.add_argument("--ignore-term", action="store_true")
args = parser.parse_args()

record_dir = os.environ.get("TGO_TEST_RECORD_DIR")


def record(line):
    if record_dir:
        with open(os.path.join(record_dir, f"{args.id}.log"), "a") as fh:
            fh.write(line + "\n")


if args.ignore_term:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
record(f"start {os.getpid()} {time.time():.6f}")
print(f"{args.id} started pid={os.getpid()}", flush=True)
print(f"{args.id} stderr check", file=sys.stderr, flush=True)

if args.crash_on_start is not None:
    print(f"{args.id}: loading configuration", flush=True)
    print(f"{args.id}: fatal: cannot reach the CRM", file=sys.stderr, flush=True)
    sys.exit(args.crash_on_start)

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(os.environ["TGO_SOCKET_PATH"])


def send(obj):
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack(">I", len(data)) + data)


def recv():
    buf = b""
    while len(buf) < 4:
        chunk = sock.recv(4 - len(buf))
        if not chunk:
            return None
        buf += chunk
    (n,) = struct.unpack(">I", buf)
    body = b""
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return json.loads(body)


send({"jsonrpc": "2.0", "id": 1, "method": "register", "params": {
    "id": args.id, "name": args.id, "version": "1.0.0",
    "capabilities": [{"type": "visitor_panel", "title": f"Panel {args.id}", "icon": "user"}]}})
reply = recv()
record("registered" if reply and "result" in reply else f"refused {reply}")
renders = 0
while True:
    msg = recv()
    if msg is None:
        record("eof")
        break
    method = msg.get("method")
    record(str(method))
    if method == "ping":
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"pong": True}})
    elif method == "shutdown":
        if not args.ignore_shutdown:
            send({"jsonrpc": "2.0", "id": msg["id"], "result": {"success": True}})
            break
    elif method and method.endswith("/render"):
        if args.crash_after is not None and renders >= args.crash_after:
            print(f"{args.id}: crashing after {renders} renders", flush=True)
            os._exit(5)
        renders += 1
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"template": "key_value", "data": {
            "title": args.id, "items": [{"label": "pid", "value": os.getpid()}, {"label": "renders", "value": renders}]}}})
    elif "id" in msg and method:
        send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "Method not found"}})
sock.close()
if args.ignore_shutdown:
    while True:  # a plugin that will not go away on its own
        time.sleep(60)
print(f"{args.id} exiting", flush=True)
