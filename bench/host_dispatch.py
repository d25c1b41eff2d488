"""tgo-host measured through its Python API, in-process, with real plugin subprocesses.

``python -m bench.host_dispatch dispatch --levels 1@1,1@2,16,64,256 --duration 1 --warmup 0.2``
    Render round trips to ONE ``bench_plugin.py`` process, two ways:
    ``render`` = ``host.dispatcher.render(plugin_id, "visitor_panel", params)``
    (lookup, deadline, result validated as JSON-UI and re-serialised) and
    ``call`` = ``session.call("visitor_panel/render", params)`` (the raw
    JSON-RPC round trip under the same deadline, no validation). Level N is N
    trio tasks each awaiting one call at a time.

``python -m bench.host_dispatch fanout --layouts 1,10,100x1,100 --duration 1``
    ``host.dispatcher.render_visitor_panels(params)`` back to back, for
    ``N`` plugins: ``N`` = N plugin processes, ``NxK`` = K processes holding
    N/K connections each.

``python -m bench.host_dispatch hung --plugins 10 --deadline 0.5 --iterations 6``
    The fan-out with one of the plugins never answering: the answer time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import time
from typing import Any, AsyncIterator

import trio

from tgo_host.host import Host
from tgo_host.settings import Settings

from .common import (
    RENDER_METHOD,
    CpuMeter,
    RENDER_PARAMS,
    emit,
    parse_level,
    pin,
    raise_fd_limit,
    short_tmpdir,
    spawn_plugin,
    stop_processes,
    summarize,
)


def bench_settings(socket_path: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        socket_path=socket_path,
        http_addr="off",
        render_timeout=5.0,
        ping_interval=3600.0,
        max_connections=4096,
        max_in_flight=1024,
        shutdown_grace=2.0,
    )
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def running_host(**overrides: Any) -> AsyncIterator[Host]:
    """A tgo-host serving on a fresh socket; stopped gracefully on exit."""
    directory = short_tmpdir()
    host = Host(bench_settings(os.path.join(directory, "h.sock"), **overrides))
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(host.serve)
            try:
                yield host
            finally:
                host.request_stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def wait_registered(host: Host, count: int, timeout: float = 30.0) -> None:
    with trio.fail_after(timeout):
        while len(host.registry) < count:
            await trio.sleep(0.005)


async def timed_workers(level: int, duration: float, call: Any) -> tuple[list[int], float]:
    """``level`` tasks calling ``call()`` back to back for ``duration`` s; per-call latency in ns."""
    samples: list[int] = []
    now = time.perf_counter_ns
    end = time.perf_counter() + duration

    async def worker() -> None:
        append = samples.append
        while time.perf_counter() < end:
            t0 = now()
            await call()
            append(now() - t0)

    begin = time.perf_counter()
    if level == 1:
        await worker()
    else:
        async with trio.open_nursery() as nursery:
            for _ in range(level):
                nursery.start_soon(worker)
    return samples, time.perf_counter() - begin


async def dispatch(levels: list[str], duration: float, warmup: float, apis: list[str]) -> dict[str, Any]:
    procs = []
    results: dict[str, Any] = {}
    try:
        async with running_host() as host:
            procs.append(spawn_plugin(host.settings.socket_path, "--id", "bench"))
            await wait_registered(host, 1)
            session = host.registry.get("bench")
            render = host.dispatcher.render

            async def via_render() -> None:
                await render("bench", "visitor_panel", RENDER_PARAMS)

            async def via_call() -> None:
                await session.call(RENDER_METHOD, RENDER_PARAMS)

            calls = {"render": via_render, "call": via_call}
            for api in apis:
                results[api] = {}
                for spec in levels:
                    level, cores = parse_level(spec)
                    unpin = pin(cores, procs[0].pid)
                    try:
                        await timed_workers(level, warmup, calls[api])
                        meter = CpuMeter().start()
                        samples, elapsed = await timed_workers(level, duration, calls[api])
                    finally:
                        unpin()
                    results[api][spec] = summarize(samples, elapsed, cpu=meter.stop())
    finally:
        stop_processes(procs)
    return {"impl": "tgo-host", "apis": results}


def parse_layout(layout: str) -> tuple[int, int]:
    """``"100x1"`` → (100 plugins, 1 process); ``"10"`` → (10, 10)."""
    if "x" in layout:
        plugins, processes = layout.split("x")
        return int(plugins), int(processes)
    return int(layout), int(layout)


def spawn_layout(socket_path: str, plugins: int, processes: int, *, hang_one: bool = False) -> list:
    procs = []
    per = plugins // processes
    for index in range(processes):
        args = ["--id", f"p{index:03d}", "--priority", str(index)]
        if per > 1:
            args += ["--count", str(per)]
        if hang_one and index == processes - 1:
            args.append("--hang")
        procs.append(spawn_plugin(socket_path, *args))
    return procs


async def fanout(layouts: list[str], duration: float, warmup: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for layout in layouts:
        plugins, processes = parse_layout(layout)
        procs: list = []
        try:
            async with running_host() as host:
                start = time.perf_counter()
                procs = spawn_layout(host.settings.socket_path, plugins, processes)
                await wait_registered(host, plugins, timeout=60)
                startup = time.perf_counter() - start
                fan = host.dispatcher.render_visitor_panels
                bad: list[int] = []

                async def one() -> None:
                    result = await fan(RENDER_PARAMS)
                    if len(result.panels) != plugins:
                        bad.append(len(result.errors))

                await timed_workers(1, warmup, one)
                meter = CpuMeter().start()
                samples, elapsed = await timed_workers(1, duration, one)
                summary = summarize(samples, elapsed, cpu=meter.stop())
                summary.update(plugins=plugins, processes=processes, startup_s=round(startup, 2), incomplete=len(bad))
                results[layout] = summary
        finally:
            stop_processes(procs)
    return {"impl": "tgo-host", "fanout": results}


async def hung(plugins: int, deadline: float, iterations: int) -> dict[str, Any]:
    procs: list = []
    try:
        async with running_host(render_timeout=deadline) as host:
            procs = spawn_layout(host.settings.socket_path, plugins, plugins, hang_one=True)
            await wait_registered(host, plugins)
            times: list[float] = []
            shapes = set()
            for _ in range(iterations):
                t0 = time.perf_counter()
                result = await host.dispatcher.render_visitor_panels(RENDER_PARAMS)
                times.append(time.perf_counter() - t0)
                shapes.add((len(result.panels), tuple(e.error for e in result.errors)))
    finally:
        stop_processes(procs)
    times.sort()
    return {
        "impl": "tgo-host",
        "hung": {
            "plugins": plugins,
            "deadline_s": deadline,
            "iterations": iterations,
            "p50_ms": round(times[len(times) // 2] * 1000, 1),
            "max_ms": round(times[-1] * 1000, 1),
            "min_ms": round(times[0] * 1000, 1),
            "margin_ms": round((times[-1] - deadline) * 1000, 1),
            "outcomes": sorted([n, list(errors)] for n, errors in shapes),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    d = sub.add_parser("dispatch")
    d.add_argument("--levels", default="1@1,1@2,16,64,256")
    d.add_argument("--apis", default="render,call")
    f = sub.add_parser("fanout")
    f.add_argument("--layouts", default="1,10,100x1")
    for p in (d, f):
        p.add_argument("--duration", type=float, default=1.0)
        p.add_argument("--warmup", type=float, default=0.2)
    h = sub.add_parser("hung")
    h.add_argument("--plugins", type=int, default=10)
    h.add_argument("--deadline", type=float, default=0.5)
    h.add_argument("--iterations", type=int, default=6)
    args = parser.parse_args()
    raise_fd_limit()
    if args.mode == "dispatch":
        result = trio.run(dispatch, args.levels.split(","), args.duration, args.warmup, args.apis.split(","))
    elif args.mode == "fanout":
        result = trio.run(fanout, args.layouts.split(","), args.duration, args.warmup)
    else:
        result = trio.run(hung, args.plugins, args.deadline, args.iterations)
    emit(result)


if __name__ == "__main__":
    main()
