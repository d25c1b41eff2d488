"""Helpers shared by every bench process: statistics, load loops' bookkeeping, plugin processes.

Every bench process prints exactly one JSON object on its last stdout line;
:func:`emit` does that. Latencies are measured with ``time.perf_counter_ns``
around one awaited call (or one blocking round trip) and summarised by
:func:`summarize` the same way for every implementation.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PLUGIN = BENCH_DIR / "bench_plugin.py"

# The same request params for every implementation (the visitor_panel/render body of the protocol).
RENDER_PARAMS = {"visitor_id": "v-1", "visitor": {"name": "Ada"}, "language": "en"}
RENDER_METHOD = "visitor_panel/render"
SAMPLES_KEPT = 300  # latency samples (µs, evenly spaced in rank) kept per series for the chart


def parse_level(spec: str) -> tuple[int, str]:
    """``"64"`` → (64, ""); ``"1@1"`` → (1, "1"): 1 in flight, host and plugin pinned to one core;
    ``"1@2"`` → (1, "2"): pinned to two different cores."""
    count, _, cores = spec.partition("@")
    return int(count), cores


def pin(cores: str, plugin_pid: int) -> Callable[[], None]:
    """Pin this thread and the plugin process for a pinned level; return the undo function.

    ``cores == "1"``: both on one CPU (wake-ups stay on that core: the CPU cost
    of the loops decides); ``"2"``: on two different CPUs (every wake-up
    crosses cores). Unpinned levels let the kernel place them, which flips
    between the two regimes from run to run on a shared machine.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if not cores or (cores == "2" and len(cpus) < 2):
        return lambda: None
    mine, theirs = os.sched_getaffinity(0), os.sched_getaffinity(plugin_pid)
    os.sched_setaffinity(0, {cpus[-1]})
    os.sched_setaffinity(plugin_pid, {cpus[-1] if cores == "1" else cpus[-2]})

    def undo() -> None:
        os.sched_setaffinity(0, mine)
        try:
            os.sched_setaffinity(plugin_pid, theirs)
        except ProcessLookupError:
            pass

    return undo


def raise_fd_limit(want: int = 8192) -> int:
    """Raise RLIMIT_NOFILE's soft limit towards ``want`` (never past the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(q / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[index]


class CpuMeter:
    """User and system CPU this process spends between :meth:`start` and :meth:`stop`."""

    def start(self) -> "CpuMeter":
        self._before = resource.getrusage(resource.RUSAGE_SELF)
        return self

    def stop(self) -> tuple[float, float]:
        after = resource.getrusage(resource.RUSAGE_SELF)
        return after.ru_utime - self._before.ru_utime, after.ru_stime - self._before.ru_stime


def summarize(
    samples_ns: list[int], elapsed_s: float, *, cpu: tuple[float, float] | None = None, keep: int = SAMPLES_KEPT
) -> dict[str, Any]:
    """Throughput and latency percentiles (µs) of one series, plus an even subsample for the chart.

    ``cpu`` = (user, system) seconds the measuring process spent: reported per request.
    """
    values = sorted(samples_ns)
    n = len(values)
    us = [v / 1000.0 for v in values]
    step = max(1, n // keep)
    return {
        "n": n,
        "seconds": round(elapsed_s, 4),
        "rps": round(n / elapsed_s, 1) if elapsed_s > 0 else 0.0,
        "p50_us": round(percentile(us, 50), 1),
        "p90_us": round(percentile(us, 90), 1),
        "p99_us": round(percentile(us, 99), 1),
        "max_us": round(us[-1], 1) if us else float("nan"),
        "mean_us": round(sum(us) / n, 1) if n else float("nan"),
        "cpu_user_us_per_req": round(cpu[0] / n * 1e6, 2) if cpu and n else None,
        "cpu_sys_us_per_req": round(cpu[1] / n * 1e6, 2) if cpu and n else None,
        "samples_us": [round(v) for v in us[::step]],
    }


def emit(result: dict[str, Any]) -> None:
    """Print the process's result as the last line of stdout."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def short_tmpdir() -> str:
    """A short directory for AF_UNIX socket paths (limited to 107 bytes)."""
    return tempfile.mkdtemp(prefix="tgb", dir="/tmp")


def plugin_env(socket_path: str) -> dict[str, str]:
    env = dict(os.environ)
    env["TGO_SOCKET_PATH"] = socket_path
    return env


def spawn_plugin(socket_path: str, *args: str, stdout: Any = subprocess.DEVNULL) -> subprocess.Popen:
    """Start ``bench_plugin.py`` with ``args`` against ``socket_path``."""
    return subprocess.Popen(
        [sys.executable, str(PLUGIN), *args],
        env=plugin_env(socket_path),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        cwd=str(ROOT),
    )


def stop_processes(procs: Iterable[subprocess.Popen], grace: float = 3.0) -> None:
    """Wait up to ``grace`` for each process (they exit on the host's ``shutdown``), then kill it by pid."""
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.01, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def vm_rss_kib() -> int:
    """This process's resident set size (VmRSS of /proc/self/status), in KiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
