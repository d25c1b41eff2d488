"""A minimal raw-protocol plugin that answers ``*/render`` as fast as Python can.

Usage: TGO_SOCKET_PATH=... bench_plugin.py [--id ID] [--count N] [--priority P] [--hang]

* Pipelining-friendly: every receive takes all available bytes, every
  complete frame in them is answered, and all answers go out in one
  ``sendall``. The render result is a constant small ``key_value`` panel,
  encoded once; only the request id is spliced in.
* ``--count N`` holds N connections in this one process (plugin ids
  ``ID-0`` … ``ID-<N-1>``), multiplexed with ``selectors``: the fan-out-100
  and 1,000-idle-plugin rows use it so the plugin side costs one process,
  not N. All N connect and send ``register`` at once; when every
  registration is acknowledged one JSON line goes to stdout:
  ``{"registered": N, "seconds": <first connect → last ack>}``.
* ``--hang``: ``*/render`` is never answered (``ping`` still is).
* ``ping`` → pong, ``shutdown`` → ack and close; the process exits once all
  its connections are closed.

No tgo imports: this is what a plugin author would write. orjson is used
when importable (the venv has it), the standard json module otherwise.
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import struct
import sys
import time

try:
    import orjson

    loads = orjson.loads
    dumps = orjson.dumps
except ImportError:  # pragma: no cover - the bench runs in the venv
    import json

    loads = json.loads

    def dumps(obj):
        return json.dumps(obj, separators=(",", ":")).encode()


HEADER = struct.Struct(">I")
RESULT = dumps(
    {
        "template": "key_value",
        "data": {
            "title": "Bench",
            "items": [
                {"label": "Visitor", "value": "v-1"},
                {"label": "Orders", "value": 3},
                {"label": "Plan", "value": "pro"},
            ],
        },
    }
)
PONG = b'{"pong":true}'
ACK = b'{"success":true}'


def reply(request_id, result: bytes) -> bytes:
    body = b'{"jsonrpc":"2.0","id":' + dumps(request_id) + b',"result":' + result + b"}"
    return HEADER.pack(len(body)) + body


def error(request_id, code: int, message: str) -> bytes:
    body = dumps({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})
    return HEADER.pack(len(body)) + body


def frame(obj) -> bytes:
    body = dumps(obj)
    return HEADER.pack(len(body)) + body


class Conn:
    """One plugin connection's state: its buffer and whether it is registered."""

    __slots__ = ("buffer", "plugin_id", "registered", "sock", "closed")

    def __init__(self, sock: socket.socket, plugin_id: str) -> None:
        self.sock = sock
        self.plugin_id = plugin_id
        self.buffer = bytearray()
        self.registered = False
        self.closed = False

    def handle(self, data: bytes, hang: bool) -> tuple[bytes, bool]:
        """Answers to every complete frame in the buffer, and whether to close afterwards."""
        buffer = self.buffer
        buffer += data
        out = []
        offset = 0
        end = len(buffer)
        close = False
        while end - offset >= 4:
            (length,) = HEADER.unpack_from(buffer, offset)
            start = offset + 4
            if end - start < length:
                break
            msg = loads(bytes(buffer[start : start + length]))
            offset = start + length
            method = msg.get("method")
            request_id = msg.get("id")
            if method is None:  # a response: only register's is expected
                if "error" in msg:
                    sys.stderr.write(f"[bench-plugin {self.plugin_id}] register refused: {msg['error']}\n")
                    close = True
                else:
                    self.registered = True
                continue
            if request_id is None:
                continue  # notification
            if method.endswith("/render"):
                if not hang:
                    out.append(reply(request_id, RESULT))
            elif method == "ping":
                out.append(reply(request_id, PONG))
            elif method == "shutdown":
                out.append(reply(request_id, ACK))
                close = True
                break
            else:
                out.append(error(request_id, -32601, f"Method not found: {method}"))
        if offset:
            del buffer[:offset]
        return b"".join(out), close


def register_frame(plugin_id: str, priority: int) -> bytes:
    return frame(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "register",
            "params": {
                "id": plugin_id,
                "name": plugin_id,
                "version": "1.0",
                "capabilities": [{"type": "visitor_panel", "title": f"Bench {plugin_id}", "priority": priority}],
            },
        }
    )


def serve_one(path: str, plugin_id: str, priority: int, hang: bool) -> int:
    """One connection, blocking socket: the fastest loop for the dispatch rows."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    conn = Conn(sock, plugin_id)
    sock.sendall(register_frame(plugin_id, priority))
    recv = sock.recv
    sendall = sock.sendall
    handle = conn.handle
    while True:
        try:
            data = recv(262144)
        except OSError:
            return 0
        if not data:
            return 0
        out, close = handle(data, hang)
        if out:
            try:
                sendall(out)
            except OSError:
                return 0
        if close:
            sock.close()
            return 0


def serve_many(path: str, prefix: str, count: int, priority: int, hang: bool) -> int:
    """``count`` connections in one process, multiplexed with selectors."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = count + 64
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))
    except (ImportError, ValueError, OSError):
        pass
    selector = selectors.DefaultSelector()
    conns: list[Conn] = []
    start = time.perf_counter()
    for index in range(count):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)  # blocking: waits while the listen backlog is full
        conn = Conn(sock, f"{prefix}-{index}")
        sock.sendall(register_frame(conn.plugin_id, priority))
        selector.register(sock, selectors.EVENT_READ, conn)
        conns.append(conn)
    open_count = count
    unregistered = count
    reported = False
    while open_count:
        for key, _ in selector.select():
            conn: Conn = key.data
            try:
                data = conn.sock.recv(262144)
            except OSError:
                data = b""
            if not data:
                close = True
                out = b""
            else:
                was = conn.registered
                out, close = conn.handle(data, hang)
                if conn.registered and not was:
                    unregistered -= 1
            if out:
                try:
                    conn.sock.sendall(out)
                except OSError:
                    close = True
            if close:
                selector.unregister(conn.sock)
                conn.sock.close()
                open_count -= 1
        if not reported and unregistered == 0:
            reported = True
            elapsed = time.perf_counter() - start
            sys.stdout.write(f'{{"registered": {count}, "seconds": {elapsed:.4f}}}\n')
            sys.stdout.flush()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--id", default="bench")
    parser.add_argument("--count", type=int, default=0, help="hold this many connections in one process")
    parser.add_argument("--priority", type=int, default=10)
    parser.add_argument("--hang", action="store_true", help="never answer */render")
    args = parser.parse_args()
    path = os.environ["TGO_SOCKET_PATH"]
    cpu = os.environ.get("BENCH_PLUGIN_CPU")
    if cpu:  # bench.run --pin: the plugin on its own core
        os.sched_setaffinity(0, {int(cpu)})
    if args.count:
        return serve_many(path, args.id, args.count, args.priority, args.hang)
    return serve_one(path, args.id, args.priority, args.hang)


if __name__ == "__main__":
    sys.exit(main())
