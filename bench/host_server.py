"""tgo-host as its own process, steered over stdin/stdout by ``bench.run`` (HTTP and scale rows).

``python -m bench.host_server [--http] [--ping-interval S] [--max-connections N]``

On start it prints one JSON line: ``{"socket": PATH, "http": URL|null, "pid": PID}``.
Then it reads commands, one per line, and answers each with one JSON line:

* ``stats`` → ``{"rss_kib", "cpu_s", "registered", "connections"}``, read in
  this process (VmRSS of /proc/self/status; user+system CPU of getrusage);
* ``wait N TIMEOUT`` → waits until N plugins are registered:
  ``{"registered", "seconds"}``;
* ``quit`` (or end of input) → graceful stop (plugins get ``shutdown``), exit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

import trio

from tgo_host.api.server import http_service
from tgo_host.host import Host

from .common import cpu_seconds, raise_fd_limit, short_tmpdir, vm_rss_kib
from .host_dispatch import bench_settings


def reply(obj) -> None:
    print(json.dumps(obj), flush=True)


async def serve(args: argparse.Namespace) -> None:
    directory = short_tmpdir()
    settings = bench_settings(
        os.path.join(directory, "h.sock"),
        http_addr="127.0.0.1:0" if args.http else "off",
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        register_timeout=30.0,
        max_connections=args.max_connections,
        render_timeout=args.render_timeout,
    )
    host = Host(settings, services=[http_service] if args.http else [])
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(host.serve)
            reply({"socket": settings.socket_path, "http": host.http_binds[0] if host.http_binds else None, "pid": os.getpid()})
            stdin = trio.lowlevel.FdStream(os.dup(0))
            buffer = b""
            while True:
                while b"\n" not in buffer:
                    data = await stdin.receive_some(4096)
                    if not data:
                        buffer += b"\nquit\n"
                        break
                    buffer += data
                line, _, buffer = buffer.partition(b"\n")
                words = line.decode().split()
                if not words:
                    continue
                if words[0] == "stats":
                    reply({"rss_kib": vm_rss_kib(), "cpu_s": cpu_seconds(), "registered": len(host.registry),
                           "connections": host.connection_count})
                elif words[0] == "wait":
                    want, timeout = int(words[1]), float(words[2])
                    start = time.perf_counter()
                    with trio.move_on_after(timeout):
                        while len(host.registry) < want:
                            await trio.sleep(0.005)
                    reply({"registered": len(host.registry), "seconds": round(time.perf_counter() - start, 4)})
                elif words[0] == "quit":
                    break
                else:
                    reply({"error": f"unknown command {words[0]!r}"})
            await stdin.aclose()
            host.request_stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--ping-interval", type=float, default=3600.0)
    parser.add_argument("--ping-timeout", type=float, default=10.0)
    parser.add_argument("--max-connections", type=int, default=4096)
    parser.add_argument("--render-timeout", type=float, default=5.0)
    args = parser.parse_args()
    raise_fd_limit(args.max_connections + 256)
    trio.run(serve, args)


if __name__ == "__main__":
    main()
