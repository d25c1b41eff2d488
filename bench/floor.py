"""The floor: a "host" with blocking Python sockets and no framework, same framing, same plugin.

``python -m bench.floor --levels 1@1,1@2,16,64,256 --duration 1 --warmup 0.2``

It binds a Unix socket, starts ``bench_plugin.py``, answers its ``register``,
then sends ``visitor_panel/render`` requests encoded exactly as tgo-host
encodes them (orjson, 4-byte length prefix) and decodes every answer.

* level 1: one request, wait for its answer, repeat (sequential).
* level N > 1: lockstep batches: N requests in one ``sendall``, then read
  until all N answers are in; every request of a batch is given the batch's
  round-trip time. This is the most a single Python thread can push through
  one connection; it is not the same shape as N independent callers, so the
  bench reports it as a reference only.
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import time

import orjson

from .common import (
    RENDER_METHOD,
    RENDER_PARAMS,
    CpuMeter,
    emit,
    parse_level,
    pin,
    short_tmpdir,
    spawn_plugin,
    stop_processes,
    summarize,
)

HEADER = struct.Struct(">I")


class BlockingPeer:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.next_id = 1

    def send(self, obj) -> None:
        body = orjson.dumps(obj)
        self.sock.sendall(HEADER.pack(len(body)) + body)

    def recv_frames(self, want: int) -> list:
        """Block until at least ``want`` frames are decoded; return them all."""
        out = []
        buffer = self.buffer
        while len(out) < want:
            offset = 0
            end = len(buffer)
            while end - offset >= 4:
                (length,) = HEADER.unpack_from(buffer, offset)
                start = offset + 4
                if end - start < length:
                    break
                out.append(orjson.loads(bytes(buffer[start : start + length])))
                offset = start + length
            if offset:
                del buffer[:offset]
            if len(out) >= want:
                break
            data = self.sock.recv(262144)
            if not data:
                raise ConnectionError("plugin closed the connection")
            buffer += data
        return out

    def request_frames(self, count: int) -> tuple[bytes, int]:
        parts = []
        first = self.next_id
        for i in range(count):
            body = orjson.dumps({"jsonrpc": "2.0", "method": RENDER_METHOD, "id": first + i, "params": RENDER_PARAMS})
            parts.append(HEADER.pack(len(body)) + body)
        self.next_id += count
        return b"".join(parts), first

    def sequential(self, duration: float) -> tuple[list[int], float]:
        samples: list[int] = []
        now = time.perf_counter_ns
        sock = self.sock
        end = time.perf_counter() + duration
        begin = time.perf_counter()
        while time.perf_counter() < end:
            request_id = self.next_id
            self.next_id += 1
            t0 = now()
            body = orjson.dumps({"jsonrpc": "2.0", "method": RENDER_METHOD, "id": request_id, "params": RENDER_PARAMS})
            sock.sendall(HEADER.pack(len(body)) + body)
            (answer,) = self.recv_frames(1)
            if answer.get("id") != request_id or "result" not in answer:
                raise RuntimeError(f"unexpected answer {answer!r}")
            samples.append(now() - t0)
        return samples, time.perf_counter() - begin

    def batches(self, size: int, duration: float) -> tuple[list[int], float]:
        samples: list[int] = []
        now = time.perf_counter_ns
        end = time.perf_counter() + duration
        begin = time.perf_counter()
        while time.perf_counter() < end:
            t0 = now()
            data, first = self.request_frames(size)
            self.sock.sendall(data)
            answers = self.recv_frames(size)
            elapsed = now() - t0
            if len(answers) != size or answers[0].get("id") != first:
                raise RuntimeError("unexpected answers")
            samples.extend([elapsed] * size)
        return samples, time.perf_counter() - begin


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", default="1@1,1@2,16,64,256")
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--warmup", type=float, default=0.2)
    args = parser.parse_args()
    levels = args.levels.split(",")

    path = os.path.join(short_tmpdir(), "floor.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    proc = spawn_plugin(path, "--id", "bench")
    try:
        listener.settimeout(10)
        sock, _ = listener.accept()
        sock.settimeout(None)
        peer = BlockingPeer(sock)
        (register,) = peer.recv_frames(1)
        assert register["method"] == "register"
        peer.send({"jsonrpc": "2.0", "id": register["id"], "result": {"success": True, "plugin_id": "bench"}})
        results = {}
        for spec in levels:
            level, cores = parse_level(spec)
            meter = CpuMeter()
            unpin = pin(cores, proc.pid)
            try:
                if level == 1:
                    peer.sequential(args.warmup)
                    meter.start()
                    samples, elapsed = peer.sequential(args.duration)
                else:
                    peer.batches(level, args.warmup)
                    meter.start()
                    samples, elapsed = peer.batches(level, args.duration)
            finally:
                unpin()
            results[spec] = summarize(samples, elapsed, cpu=meter.stop())
        peer.send({"jsonrpc": "2.0", "id": peer.next_id, "method": "shutdown"})
        peer.recv_frames(1)
        sock.close()
    finally:
        stop_processes([proc])
        listener.close()
        os.unlink(path)
        os.rmdir(os.path.dirname(path))
    emit({"impl": "floor", "levels": results})


if __name__ == "__main__":
    main()
