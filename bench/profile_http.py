"""A py-spy profile of one HTTP server under wrk, as a top-N table (bench/README.md's profile evidence).

``python -m bench.profile_http [--server host|reference] [--path fanout|healthz] [--connections 32]
[--seconds 8] [--top 25] [--raw FILE]``

Starts the server (``bench.host_server --http`` or ``bench.asyncio_http``) with
10 ``bench_plugin.py`` processes, drives the route with ``wrk -t1`` and samples
the server process with ``py-spy record --format raw --nonblocking`` meanwhile.
Prints two markdown tables: functions by *own* samples (where the CPU goes)
and by *inclusive* samples (which layers cost what), each a share of all
samples of the server's threads that were running Python (``--idle`` off:
samples of a thread blocked in ``epoll_wait`` are not counted). Needs py-spy
(``bench/requirements.lock``) and the right to ptrace the child (root, or
``kernel.yama.ptrace_scope = 0``).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from .common import RENDER_PARAMS, spawn_plugin, stop_processes
from .run import HostProcess, wrk_row


def aggregate(raw_path: str) -> tuple[int, collections.Counter, collections.Counter]:
    """(total samples, own samples per function, inclusive samples per function) of a py-spy raw file."""
    own: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    total = 0
    with open(raw_path) as fh:
        for line in fh:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [short(f) for f in stack.split(";")]
            frames = [f for f in frames if f is not None]
            if not frames:
                continue
            total += count
            own[frames[-1]] += count
            for name in set(frames):
                inclusive[name] += count
    return total, own, inclusive


def short(frame: str) -> str | None:
    """``func (path/to/module.py:12)`` → ``func (package/module.py)``; thread frames dropped."""
    if frame.startswith("process ") or frame.startswith("thread "):
        return None
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = path.split("/")
    for anchor in ("site-packages", "tgo_host", "bench", "lib"):
        if anchor in parts:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            keep = parts[index + 1:] if anchor in ("site-packages", "lib") else parts[index:]
            path = "/".join(keep[-3:])
            break
    return f"{name} ({path})"


def table(title: str, counter: collections.Counter, total: int, top: int) -> str:
    lines = [f"| {title} | share of samples |", "|---|---|"]
    for name, count in counter.most_common(top):
        lines.append(f"| `{name}` | {count / total:.1%} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", choices=("host", "reference"), default="host")
    parser.add_argument("--path", choices=("fanout", "healthz"), default="fanout")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--plugins", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--raw", help="keep py-spy's raw output here")
    parser.add_argument("--no-profile", action="store_true", help="only the figures (no py-spy): for A/B runs")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    server = HostProcess("--http") if args.server == "host" else HostProcess(module="bench.asyncio_http")
    if server.skipped:
        print(server.skipped, file=sys.stderr)
        return 3
    procs = []
    raw = args.raw or tempfile.mktemp(prefix="tgb-prof-", suffix=".txt")
    try:
        for i in range(args.plugins):
            procs.append(spawn_plugin(server.info["socket"], "--id", f"h{i:02d}", "--priority", str(i)))
        server.ask(f"wait {args.plugins} 30")
        if args.path == "fanout":
            url, method, body = server.info["http"] + "/plugins/visitor-panel/render", "POST", json.dumps(RENDER_PARAMS)
        else:
            url, method, body = server.info["http"] + "/healthz", "GET", None
        wrk_row(url, args.connections, 1, method, body)  # warm-up
        spy = None if args.no_profile else subprocess.Popen([py_spy, "record", "--format", "raw", "--nonblocking", "--rate", str(args.rate),
                                "--duration", str(args.seconds + 1), "-o", raw, "--pid", str(server.info["pid"])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)
        before = server.ask("stats")["cpu_s"]
        row = wrk_row(url, args.connections, args.seconds, method, body)
        spent = server.ask("stats")["cpu_s"] - before
        if spy is not None:
            spy.wait(timeout=args.seconds + 30)
        if spy is not None and spy.returncode != 0:
            print(spy.stderr.read().decode()[-2000:], file=sys.stderr)
            return 1
    finally:
        server.stop()
        stop_processes(procs)
    summary = (f"{args.server} {method} {args.path}, {args.connections} conn, {args.seconds} s: {row['rps']:,.0f} req/s, "
               f"p50 {row['p50_us'] / 1000:.2f} ms, p99 {row['p99_us'] / 1000:.2f} ms, "
               f"server CPU {spent / max(1, row['requests']) * 1e6:,.0f} µs/req")
    if spy is None:
        print(summary)
        return 0
    total, own, inclusive = aggregate(raw)
    print(f"{summary}; {total} samples\n")
    print(table("function (own samples)", own, total, args.top))
    print()
    print(table("function (inclusive)", inclusive, total, args.top))
    if not args.raw:
        os.unlink(raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
