"""The benchmark suite's single entry point: ``python -m bench.run [--quick] [--only SECTIONS]``.

Runs every section in its own processes (see bench/README.md for what each
row measures), prints one table, and writes ``bench/results/latest.json`` and
``bench/results/latest.png``. ``--quick`` is a seconds-long smoke run of the
same harness (tiny durations, 20 plugins for "100", 50 for "1,000"): its
numbers mean nothing, its shape is checked by tests/test_bench_smoke.py.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from .common import BENCH_DIR, RENDER_PARAMS, ROOT, raise_fd_limit, spawn_plugin, stop_processes

PY = sys.executable
SECTIONS = ("dispatch", "fanout", "hung", "http", "scale")
DISPATCH_IMPLS = ("tgo-host render", "asyncio render", "tgo-host call", "asyncio call", "floor")
# "1@1": sequential with host and plugin pinned to one core; "1@2": pinned to two cores (see common.pin).
LEVELS = ("1@1", "1@2", "16", "64", "256")


def level_label(level: str) -> str:
    if level.startswith("1@"):
        return "sequential, " + ("1 core" if level == "1@1" else "2 cores")
    return f"{level} in flight"


# What each mode runs. Durations are seconds of measurement per row (after a warm-up).
PROFILES: dict[str, dict[str, Any]] = {
    "full": dict(
        rounds=5, duration=0.8, warmup=0.2,
        fan_layouts=["1", "10", "100x1", "100"], fan_duration=2.0, fan_warmup=0.3,
        hung_plugins=10, hung_deadline=0.5, hung_iterations=6,
        http_duration=2, http_rounds=3, http_plugins=10, http_warmup=True, http_parallel=False,
        idle_plugins=1000, ping_interval=1.0, heartbeat_window=5.0,
    ),
    "quick": dict(
        rounds=1, duration=0.05, warmup=0.01,
        fan_layouts=["1", "3", "10x1"], fan_duration=0.1, fan_warmup=0.01,
        hung_plugins=3, hung_deadline=0.2, hung_iterations=2,
        http_duration=1, http_rounds=1, http_plugins=3, http_warmup=False, http_parallel=True,
        idle_plugins=50, ping_interval=0.25, heartbeat_window=0.5,
    ),
}

TARGETS = {
    "dispatch_64": "pipelined dispatch at 64 in flight ≥ 2× the asyncio reference",
    "sequential_p50": "sequential p50 ≤ the asyncio reference",
    "fanout_100_p50": "fan-out to 100 plugins p50 ≤ 10 ms",
    "hung_margin": "hung-plugin fan-out within deadline + 50 ms",
    "http_cpu": "host CPU per HTTP fan-out request (10 plugins) ≤ 0.5× the asyncio HTTP reference",
    "http_p50": "HTTP fan-out p50 at 1 connection ≤ 0.7× the asyncio HTTP reference",
    "http_throughput": "HTTP fan-out at 32 connections ≥ 1.5× the reference's req/s with p99 ≤ the reference's",
    "http_healthz": "GET /healthz ≥ 5,000 req/s at 32 connections",
    "idle_rss": "1,000 idle plugins ≤ 100 KiB RSS each",
}


# -- running the section processes ---------------------------------------------------


def run_json(args: list[str], timeout: float) -> dict[str, Any]:
    """Run ``python -m <args>`` from the repo root; return the JSON of its last stdout line."""
    proc = subprocess.run(
        [PY, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_dispatch(p: dict[str, Any], log) -> dict[str, Any]:
    levels = ",".join(LEVELS)
    common = ["--levels", levels, "--duration", str(p["duration"]), "--warmup", str(p["warmup"])]
    rounds: list[dict[str, Any]] = []
    for r in range(p["rounds"]):
        log(f"dispatch round {r + 1}/{p['rounds']}: tgo-host, asyncio, floor")
        host = run_json(["bench.host_dispatch", "dispatch", *common], 300)
        aio = run_json(["bench.asyncio_host", *common], 300)
        floor = run_json(["bench.floor", *common], 300)
        rounds.append({
            "tgo-host render": host["apis"]["render"], "asyncio render": aio["apis"]["render"],
            "tgo-host call": host["apis"]["call"], "asyncio call": aio["apis"]["call"],
            "floor": floor["levels"],
        })
    median: dict[str, dict[str, dict[str, float]]] = {}
    for impl in rounds[0]:
        median[impl] = {}
        for level in rounds[0][impl]:
            series = [rnd[impl][level] for rnd in rounds]
            median[impl][level] = {k: statistics.median(s[k] for s in series) for k in ("rps", "p50_us", "p99_us")}
            median[impl][level]["rounds_rps"] = [s["rps"] for s in series]
            median[impl][level]["cpu_us_per_req"] = statistics.median(
                (s["cpu_user_us_per_req"] or 0) + (s["cpu_sys_us_per_req"] or 0) for s in series
            )
    ratios: dict[str, dict[str, dict[str, float]]] = {}
    for api in ("render", "call"):
        impl = f"tgo-host {api}"
        ratios[impl] = {}
        for name, base in (("asyncio", f"asyncio {api}"), ("floor", "floor")):
            ratios[impl][name] = {
                level: {
                    "rps": round(median[impl][level]["rps"] / median[base][level]["rps"], 3),
                    "p50": round(median[impl][level]["p50_us"] / median[base][level]["p50_us"], 3),
                    "cpu": round(median[impl][level]["cpu_us_per_req"] / median[base][level]["cpu_us_per_req"], 3),
                }
                for level in median[impl]
            }
    samples = {impl: {lv: s["samples_us"] for lv, s in rounds[-1][impl].items()} for impl in rounds[-1]}
    return {"rounds": [{impl: {lv: {k: v for k, v in s.items() if k != "samples_us"} for lv, s in r.items()}
                        for impl, r in rnd.items()} for rnd in rounds],
            "median": median, "ratios": ratios, "samples_us": samples}


def run_fanout(p: dict[str, Any], log) -> dict[str, Any]:
    log(f"fan-out: layouts {', '.join(p['fan_layouts'])}")
    result = run_json(["bench.host_dispatch", "fanout", "--layouts", ",".join(p["fan_layouts"]),
                       "--duration", str(p["fan_duration"]), "--warmup", str(p["fan_warmup"])], 600)
    return result["fanout"]


def run_hung(p: dict[str, Any], log) -> dict[str, Any]:
    log(f"hung: {p['hung_plugins']} plugins, one never answers, deadline {p['hung_deadline']} s")
    result = run_json(["bench.host_dispatch", "hung", "--plugins", str(p["hung_plugins"]),
                       "--deadline", str(p["hung_deadline"]), "--iterations", str(p["hung_iterations"])], 300)
    return result["hung"]


class HostProcess:
    """A bench server (``bench.host_server`` or ``bench.asyncio_http``) in a subprocess, steered line by line.

    ``skipped`` is the reason when the server could not run (the reference without its packages).
    """

    def __init__(self, *args: str, module: str = "bench.host_server") -> None:
        self.module = module
        self.proc = subprocess.Popen(
            [PY, "-m", module, *args], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.info = self._read()
        self.skipped: str | None = self.info.get("skipped")

    def _read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.module} exited ({self.proc.wait()})")
        return json.loads(line)

    def ask(self, command: str) -> dict[str, Any]:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def stop(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def wrk_row(url: str, connections: int, duration: int, method: str, body: str | None) -> dict[str, Any]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
            "-s", str(BENCH_DIR / "wrk_report.lua"), url, "--", method]
    if body is not None:
        argv.append(body)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no report: {out.stdout}\n{out.stderr}")
    r = json.loads(line[len("WRKJSON "):])
    seconds = r["duration_us"] / 1e6
    errors = sum(r[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeout_errors"))
    return {"connections": connections, "requests": r["requests"], "seconds": round(seconds, 3),
            "rps": round(r["requests"] / seconds, 1), "p50_us": r["p50_us"], "p90_us": r["p90_us"],
            "p99_us": r["p99_us"], "max_us": r["max_us"], "errors": errors}


HTTP_ROWS = ("fanout c1", "fanout c32", "healthz c1", "healthz c32")
HTTP_SIDES = ("tgo-host", "reference")
REFERENCE_NAME = "asyncio reference (FastAPI + pydantic on uvicorn, uvloop, httptools)"


def _start_http_side(side: str, p: dict[str, Any], log) -> tuple[HostProcess, list[subprocess.Popen]]:
    """One HTTP server with its own ``http_plugins`` plugin processes, checked with one fan-out."""
    server = HostProcess("--http") if side == "tgo-host" else HostProcess(module="bench.asyncio_http")
    procs: list[subprocess.Popen] = []
    if server.skipped:
        return server, procs
    try:
        for i in range(p["http_plugins"]):
            procs.append(spawn_plugin(server.info["socket"], "--id", f"h{i:02d}", "--priority", str(i)))
        server.ask(f"wait {p['http_plugins']} 30")
        check = urllib.request.Request(server.info["http"] + "/plugins/visitor-panel/render",
                                       data=json.dumps(RENDER_PARAMS).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(check, timeout=10) as resp:
            answer = json.loads(resp.read())
        if len(answer["panels"]) != p["http_plugins"] or answer.get("errors"):
            raise RuntimeError(f"{side}: the fan-out route answered unexpectedly: {answer}")
    except BaseException:
        server.stop()
        stop_processes(procs)
        raise
    return server, procs


def _http_jobs(base: str, duration: int) -> dict[str, tuple[str, int, int, str, str | None]]:
    body = json.dumps(RENDER_PARAMS)
    paths = {"fanout": ("/plugins/visitor-panel/render", "POST", body), "healthz": ("/healthz", "GET", None)}
    jobs = {}
    for row in HTTP_ROWS:
        what, c = row.split()
        path, method, payload = paths[what]
        jobs[row] = (base + path, int(c[1:]), duration, method, payload)
    return jobs


def _http_median(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per row: the median of rounds for every figure (each round's req/s and CPU kept)."""
    out: dict[str, Any] = {}
    for row in rounds[0]:
        series = [rnd[row] for rnd in rounds]
        m = {k: statistics.median(s[k] for s in series) for k in ("rps", "p50_us", "p90_us", "p99_us", "max_us")}
        m.update(connections=series[0]["connections"], requests=sum(s["requests"] for s in series),
                 errors=sum(s["errors"] for s in series), rounds_rps=[s["rps"] for s in series])
        cpus = [s["host_cpu_us_per_req"] for s in series if s.get("host_cpu_us_per_req") is not None]
        if cpus:
            m["host_cpu_us_per_req"] = round(statistics.median(cpus), 1)
            m["rounds_cpu_us"] = cpus
        out[row] = m
    return out


def _http_ratios(mine: dict[str, Any], ref: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """tgo-host / reference per row (``rps``: higher is better; ``p50``, ``p99``, ``cpu``: lower is better)."""
    ratios: dict[str, dict[str, float | None]] = {}
    for row in mine:
        a, b = mine[row], ref[row]
        cpu_a, cpu_b = a.get("host_cpu_us_per_req"), b.get("host_cpu_us_per_req")
        ratios[row] = {
            "rps": round(a["rps"] / b["rps"], 3) if b["rps"] else None,
            "p50": round(a["p50_us"] / b["p50_us"], 3) if b["p50_us"] else None,
            "p99": round(a["p99_us"] / b["p99_us"], 3) if b["p99_us"] else None,
            "cpu": round(cpu_a / cpu_b, 3) if cpu_a and cpu_b else None,
        }
    return ratios


def run_http(p: dict[str, Any], log) -> dict[str, Any]:
    """tgo-host and the asyncio HTTP reference side by side, each with its own plugin processes.

    Both servers stay up for the whole section (an idle one costs nothing); each
    row is measured on one side, then the other (the order alternating by
    round), and the table shows the median of ``http_rounds`` rounds.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        message = "skipped: wrk not found (Debian: apt-get install -y wrk)"
        log(f"http: {message}")
        return {"skipped": message}
    log(f"http: tgo-host and the asyncio reference, {p['http_plugins']} plugin processes each, wrk from a separate "
        f"process, {p['http_rounds']} round(s) of {p['http_duration']} s per row")
    servers: dict[str, HostProcess] = {}
    procs: list[subprocess.Popen] = []
    reference_skipped: str | None = None
    try:
        for side in HTTP_SIDES:
            server, plugins = _start_http_side(side, p, log)
            procs += plugins
            if server.skipped:
                reference_skipped = f"skipped: {server.skipped}"
                log(f"http: reference {reference_skipped}")
                server.stop()
                continue
            servers[side] = server
        jobs = {side: _http_jobs(server.info["http"], p["http_duration"]) for side, server in servers.items()}
        if p["http_warmup"]:
            for side in servers:
                wrk_row(*jobs[side]["fanout c32"][:2], 1, *jobs[side]["fanout c32"][3:])
        rounds: dict[str, list[dict[str, Any]]] = {side: [] for side in servers}
        for index in range(p["http_rounds"]):
            if p["http_parallel"]:  # quick mode: every row of both sides at once (the numbers mean nothing there)
                with concurrent.futures.ThreadPoolExecutor(len(servers) * len(HTTP_ROWS)) as pool:
                    futures = {(side, row): pool.submit(wrk_row, *jobs[side][row]) for side in servers for row in HTTP_ROWS}
                    for side in servers:
                        rounds[side].append({row: futures[side, row].result() for row in HTTP_ROWS})
                continue
            order = list(servers) if index % 2 == 0 else list(reversed(servers))
            measured: dict[str, dict[str, Any]] = {side: {} for side in servers}
            for row in HTTP_ROWS:
                for side in order:
                    server = servers[side]
                    before = server.ask("stats")["cpu_s"]
                    measured[side][row] = wrk_row(*jobs[side][row])
                    spent = server.ask("stats")["cpu_s"] - before
                    measured[side][row]["host_cpu_us_per_req"] = round(spent / max(1, measured[side][row]["requests"]) * 1e6, 1)
            for side in servers:
                rounds[side].append(measured[side])
            log(f"http: round {index + 1}/{p['http_rounds']} done")
        result: dict[str, Any] = {"plugins": p["http_plugins"], "tool": "wrk -t1 (" + wrk + ")",
                                  "rounds": p["http_rounds"], "rows": _http_median(rounds["tgo-host"]),
                                  "rounds_raw": {side: rounds[side] for side in servers}}
        if "reference" in servers:
            result["reference"] = {"impl": REFERENCE_NAME, "rows": _http_median(rounds["reference"])}
            result["ratios"] = _http_ratios(result["rows"], result["reference"]["rows"])
        else:
            result["reference"] = {"skipped": reference_skipped or "not run"}
        return result
    finally:
        for server in servers.values():
            server.stop()
        stop_processes(procs)


def run_scale(p: dict[str, Any], log) -> dict[str, Any]:
    n = p["idle_plugins"]
    log(f"scale: {n} idle plugins in one process, ping every {p['ping_interval']} s")
    host = HostProcess("--ping-interval", str(p["ping_interval"]), "--ping-timeout", "10",
                       "--max-connections", str(n + 100))
    swarm = None
    try:
        before = host.ask("stats")
        idle_window = min(2.0, p["heartbeat_window"])
        time.sleep(idle_window)
        idle = host.ask("stats")
        idle_cpu = (idle["cpu_s"] - before["cpu_s"]) / idle_window
        swarm = spawn_plugin(host.info["socket"], "--id", "idle", "--count", str(n), stdout=subprocess.PIPE)
        waited = host.ask(f"wait {n} 120")
        plugin_side = json.loads(swarm.stdout.readline())
        registered = host.ask("stats")
        cpu0 = host.ask("stats")
        t0 = time.perf_counter()
        time.sleep(p["heartbeat_window"])
        cpu1 = host.ask("stats")
        window = time.perf_counter() - t0
        heartbeat_cpu = (cpu1["cpu_s"] - cpu0["cpu_s"]) / window
        pings_per_s = n / p["ping_interval"]
        return {
            "plugins": n,
            "registered": cpu1["registered"],
            "register_all_s": plugin_side["seconds"],
            "host_wait_s": waited["seconds"],
            "rss_before_kib": before["rss_kib"],
            "rss_registered_kib": registered["rss_kib"],
            "rss_after_heartbeats_kib": cpu1["rss_kib"],
            "rss_per_plugin_kib": round((cpu1["rss_kib"] - before["rss_kib"]) / n, 1),
            "ping_interval_s": p["ping_interval"],
            "heartbeat_window_s": round(window, 2),
            "idle_cpu_s_per_s": round(idle_cpu, 4),
            "heartbeat_cpu_s_per_s": round(heartbeat_cpu, 4),
            "cpu_us_per_ping": round((heartbeat_cpu - idle_cpu) / pings_per_s * 1e6, 1),
        }
    finally:
        host.stop()
        if swarm is not None:
            stop_processes([swarm])


# -- verdicts, table, chart -----------------------------------------------------------------


def verdicts(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []

    def add(key: str, met: bool | None, value: str) -> None:
        out.append({"target": key, "text": TARGETS[key], "met": met, "value": value})

    d = result.get("dispatch")
    if d:
        r = d["ratios"]
        for api in ("render", "call"):
            ratio = r[f"tgo-host {api}"]["asyncio"]["64"]
            add("dispatch_64", ratio["rps"] >= 2.0, f"{api}: {ratio['rps']:.2f}× asyncio {api} "
                f"({d['median'][f'tgo-host {api}']['64']['rps']:,.0f} vs {d['median'][f'asyncio {api}']['64']['rps']:,.0f} req/s; "
                f"CPU per request {ratio['cpu']:.2f}×)")
        for api in ("render", "call"):
            for level in ("1@1", "1@2"):
                mine = d["median"][f"tgo-host {api}"][level]["p50_us"]
                theirs = d["median"][f"asyncio {api}"][level]["p50_us"]
                add("sequential_p50", mine <= theirs,
                    f"{api}, {level_label(level)}: p50 {mine:.0f} µs vs asyncio {api} {theirs:.0f} µs")
    f = result.get("fanout")
    if f:
        for layout, row in f.items():
            if row["plugins"] >= 100 or (layout.endswith("x1") and layout != "1"):
                add("fanout_100_p50", row["p50_us"] <= 10_000,
                    f"{row['plugins']} plugins / {row['processes']} process(es): p50 {row['p50_us'] / 1000:.2f} ms")
    h = result.get("hung")
    if h:
        add("hung_margin", h["margin_ms"] <= 50, f"worst {h['max_ms']:.0f} ms for deadline {h['deadline_s'] * 1000:.0f} ms "
            f"(+{h['margin_ms']:.0f} ms)")
    http = result.get("http")
    if http:
        ref = http.get("reference", {})
        if "skipped" in http or "skipped" in ref:
            reason = http.get("skipped") or f"reference {ref['skipped']}"
            for key in ("http_cpu", "http_p50", "http_throughput"):
                add(key, None, reason)
        else:
            mine, theirs, ratio = http["rows"], ref["rows"], http["ratios"]
            for row in ("fanout c1", "fanout c32"):
                r = ratio[row]["cpu"]
                add("http_cpu", None if r is None else r <= 0.5,
                    f"{row.split()[1][1:]} conn: " + ("not measured (rows ran in parallel)" if r is None else
                    f"{r:.2f}× ({fmt_us(mine[row]['host_cpu_us_per_req'])} vs {fmt_us(theirs[row]['host_cpu_us_per_req'])})"))
            r = ratio["fanout c1"]["p50"]
            add("http_p50", r <= 0.7, f"{r:.2f}× ({fmt_us(mine['fanout c1']['p50_us'])} vs {fmt_us(theirs['fanout c1']['p50_us'])})")
            a, b = mine["fanout c32"], theirs["fanout c32"]
            add("http_throughput", ratio["fanout c32"]["rps"] >= 1.5 and a["p99_us"] <= b["p99_us"],
                f"{ratio['fanout c32']['rps']:.2f}× ({a['rps']:,.0f} vs {b['rps']:,.0f} req/s); "
                f"p99 {fmt_us(a['p99_us'])} vs {fmt_us(b['p99_us'])}")
        if "skipped" in http:
            add("http_healthz", None, http["skipped"])
        else:
            row = http["rows"]["healthz c32"]
            add("http_healthz", row["rps"] >= 5000, f"{row['rps']:,.0f} req/s (p99 {fmt_us(row['p99_us'])})")
    s = result.get("scale")
    if s:
        add("idle_rss", s["rss_per_plugin_kib"] <= 100, f"{s['rss_per_plugin_kib']:.1f} KiB per plugin ({s['plugins']} plugins)")
    return out


def fmt_us(us: float) -> str:
    if us != us:  # NaN
        return "-"
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def build_table(result: dict[str, Any]) -> str:
    rows: list[tuple[str, ...]] = [
        ("section", "row", "req/s", "p50", "p99", "CPU/req", "vs asyncio (same API) / note", "vs floor")
    ]
    d = result.get("dispatch")
    if d:
        m, r = d["median"], d["ratios"]
        for level in LEVELS:
            label = level_label(level)
            for impl in DISPATCH_IMPLS:
                s = m[impl][level]
                name = impl if not (impl == "floor" and not level.startswith("1@")) else "floor (lockstep batches)"
                va = vf = ""
                if impl.startswith("tgo-host"):
                    ra, rf = r[impl]["asyncio"][level], r[impl]["floor"][level]
                    va = f"thr {ra['rps']:.2f}× p50 {ra['p50']:.2f}× cpu {ra['cpu']:.2f}×"
                    vf = f"thr {rf['rps']:.2f}× p50 {rf['p50']:.2f}×"
                rows.append(("dispatch", f"{name}, {label}", f"{s['rps']:,.0f}", fmt_us(s["p50_us"]), fmt_us(s["p99_us"]),
                             f"{s['cpu_us_per_req']:.1f} µs", va, vf))
    f = result.get("fanout")
    if f:
        for layout, s in f.items():
            procs = "1 process" if s["processes"] == 1 else f"{s['processes']} processes"
            cpu = (s["cpu_user_us_per_req"] or 0) + (s["cpu_sys_us_per_req"] or 0)
            rows.append(("fan-out", f"{s['plugins']} plugin(s), {procs}", f"{s['rps']:,.0f}", fmt_us(s["p50_us"]),
                         fmt_us(s["p99_us"]), fmt_us(cpu), "", ""))
    h = result.get("hung")
    if h:
        rows.append(("fan-out", f"{h['plugins']} plugins, 1 hung, deadline {h['deadline_s'] * 1000:.0f} ms",
                     "", f"{h['p50_ms']:.0f} ms", f"max {h['max_ms']:.0f} ms", "",
                     f"worst: deadline +{h['margin_ms']:.0f} ms", ""))
    http = result.get("http")
    if http:
        if "skipped" in http:
            rows.append(("http", http["skipped"], "", "", "", "", "", ""))
        else:
            ref = http.get("reference", {})
            for name in HTTP_ROWS:
                what, c = name.split()
                label = f"POST fan-out ({http['plugins']} plugins)" if what == "fanout" else "GET /healthz"
                sides = [("tgo-host", http["rows"][name])]
                if "rows" in ref:
                    sides.append(("asyncio ref", ref["rows"][name]))
                for side, s in sides:
                    cpu = s.get("host_cpu_us_per_req")
                    note = f"errors {s['errors']}"
                    if side == "tgo-host" and "ratios" in http:
                        r = http["ratios"][name]
                        note = (f"thr {r['rps']:.2f}× p50 {r['p50']:.2f}× p99 {r['p99']:.2f}×"
                                + (f" cpu {r['cpu']:.2f}×" if r["cpu"] is not None else "")
                                + (f"; errors {s['errors']}" if s["errors"] else ""))
                    rows.append(("http", f"{side} {label}, {c[1:]} conn", f"{s['rps']:,.0f}", fmt_us(s["p50_us"]),
                                 fmt_us(s["p99_us"]), fmt_us(cpu) if cpu is not None else "", note, ""))
            if "skipped" in ref:
                rows.append(("http", f"asyncio reference {ref['skipped']}", "", "", "", "", "", ""))
    s = result.get("scale")
    if s:
        rows.append(("scale", f"{s['plugins']} idle plugins: connect + register all", "", f"{s['register_all_s']:.2f} s",
                     "", "", "one process holding every socket", ""))
        rows.append(("scale", "host RSS per connected plugin", "", f"{s['rss_per_plugin_kib']:.1f} KiB", "", "",
                     f"VmRSS {s['rss_before_kib'] // 1024} → {s['rss_after_heartbeats_kib'] // 1024} MiB", ""))
        rows.append(("scale", f"host CPU on heartbeats (ping every {s['ping_interval_s']:g} s)", "",
                     f"{s['heartbeat_cpu_s_per_s']:.3f} CPU-s/s", "", f"{s['cpu_us_per_ping']:.0f} µs/ping",
                     f"idle host {s['idle_cpu_s_per_s']:.3f} CPU-s/s", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    verdict_lines = []
    for v in result.get("targets", []):
        mark = "MET" if v["met"] else ("SKIPPED" if v["met"] is None else "MISSED")
        verdict_lines.append(f"  [{mark}] {v['text']}: {v['value']}")
    return "\n".join(lines) + ("\n\nTargets:\n" + "\n".join(verdict_lines) if verdict_lines else "")


def draw_http(http: dict[str, Any] | None, ax_rps, ax_latency, ax_cpu) -> None:
    """The HTTP section: tgo-host next to the asyncio reference, per row (req/s, p50/p99, host CPU per request)."""
    if not http or "rows" not in http:
        for ax in (ax_rps, ax_latency, ax_cpu):
            ax.text(0.5, 0.5, (http or {}).get("skipped", "HTTP not run"), ha="center", va="center")
            ax.set_axis_off()
        return
    sides = [("tgo-host", http["rows"], "tab:blue")]
    if "rows" in http.get("reference", {}):
        sides.append(("asyncio reference (FastAPI, uvicorn)", http["reference"]["rows"], "tab:orange"))
    names = list(http["rows"])
    width = 0.8 / len(sides)
    ratios = http.get("ratios", {})

    def bars(ax, key, scale, fmt):
        for i, (label, rows, color) in enumerate(sides):
            xs = [j + (i - (len(sides) - 1) / 2) * width for j in range(len(names))]
            values = [(rows[n].get(key) or 0) / scale for n in names]
            ax.bar(xs, values, width, label=label, color=color)
            for x, v in zip(xs, values):
                if v:
                    ax.annotate(fmt(v), (x, v), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(names)), [n.replace("fanout", "fan-out").replace(" c", ", ") + " conn" for n in names])
        if any(rows[n].get(key) for _, rows, _ in sides for n in names):
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)

    bars(ax_rps, "rps", 1, lambda v: f"{v:,.0f}")
    ax_rps.axhline(5000, color="red", linestyle=":", label="target: /healthz 5,000 req/s at 32 conn")
    ax_rps.set_ylabel("requests/s (wrk, log)")
    ax_rps.set_title(f"HTTP throughput (fan-out: {http['plugins']} plugins)" + (f" — fan-out at 32 conn: {ratios['fanout c32']['rps']:.2f}× the reference"
                                          if ratios else ""), fontsize=10)
    ax_rps.legend(fontsize=8)
    bars(ax_latency, "p50_us", 1000, lambda v: f"{v:.2f}")
    for i, (label, rows, color) in enumerate(sides):
        xs = [j + (i - (len(sides) - 1) / 2) * width for j in range(len(names))]
        ax_latency.scatter(xs, [rows[n]["p99_us"] / 1000 for n in names], marker="_", s=300, color="black",
                           label="p99" if i == 0 else None, zorder=3)
    ax_latency.set_ylabel("p50 bars, p99 ticks (ms, log)")
    ax_latency.set_title("HTTP latency" + (f" — fan-out p50 at 1 conn: {ratios['fanout c1']['p50']:.2f}× the reference"
                                          if ratios else ""), fontsize=10)
    ax_latency.legend(fontsize=8)
    bars(ax_cpu, "host_cpu_us_per_req", 1, lambda v: f"{v:,.0f}")
    cpu = ratios.get("fanout c32", {}).get("cpu") if ratios else None
    ax_cpu.set_ylabel("server process CPU per request (µs, log)")
    ax_cpu.set_title("HTTP host CPU per request" + (f" — fan-out at 32 conn: {cpu:.2f}× the reference" if cpu else ""),
                     fontsize=10)
    ax_cpu.legend(fontsize=8)


def draw_chart(result: dict[str, Any], path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no chart (pip install matplotlib)"
    fig, axes = plt.subplots(3, 2, figsize=(14, 15))
    colors = {"tgo-host render": "tab:blue", "asyncio render": "tab:orange", "tgo-host call": "tab:cyan",
              "asyncio call": "gold", "floor": "tab:gray"}
    d = result.get("dispatch")
    if d:
        ax = axes[0][0]
        for impl, by_level in d["samples_us"].items():
            for level, style in (("1@1", "-"), ("64", "--")):
                values = sorted(by_level.get(level, []))
                if values:
                    ys = [(i + 1) / len(values) for i in range(len(values))]
                    ax.plot(values, ys, style, color=colors[impl], label=f"{impl}, {level_label(level)}")
        ax.set_xscale("log")
        ax.set_xlabel("latency per request (µs, log)")
        ax.set_ylabel("fraction of requests")
        ax.set_title("dispatch latency distribution (CDF), one plugin")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        ax = axes[0][1]
        impls = list(colors)
        width = 0.16
        for i, impl in enumerate(impls):
            xs = [j + (i - 2) * width for j in range(len(LEVELS))]
            ax.bar(xs, [d["median"][impl][lv]["rps"] for lv in LEVELS], width, label=impl, color=colors[impl])
        ax.set_xticks(range(len(LEVELS)), [level_label(lv).replace("sequential, ", "seq ") for lv in LEVELS])
        ax.set_ylabel("requests/s (median of rounds)")
        ax.set_title("dispatch throughput (floor > 1: lockstep batches)")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    f = result.get("fanout")
    if f:
        ax = axes[1][0]
        labels, data = [], []
        for layout, s in f.items():
            labels.append(f"{s['plugins']}p/{s['processes']}proc")
            data.append([v / 1000 for v in s["samples_us"]])
        ax.boxplot(data, whis=(1, 99), showfliers=False)
        ax.set_xticks(range(1, len(labels) + 1), labels)
        ax.set_ylabel("fan-out answer time (ms), whiskers p1–p99")
        title = "visitor-panel fan-out latency"
        h = result.get("hung")
        if h:
            title += f"; 1 of {h['plugins']} hung: {h['max_ms']:.0f} ms worst (deadline {h['deadline_s'] * 1000:.0f})"
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    draw_http(result.get("http"), axes[1][1], axes[2][0], axes[2][1])
    m = result["machine"]
    fig.suptitle(f"tgo-host bench — {m['cpu_model']} × {m['nproc']}, Python {m['python']}, {result['mode']} mode", fontsize=12)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None


def dump_json(result: dict[str, Any]) -> str:
    """Indented JSON with every list of numbers on one line (the latency samples stay compact)."""
    text = json.dumps(result, indent=1, ensure_ascii=False)
    return re.sub(r"\[\s+([-\d.,\s]+?)\s+\]", lambda m: "[" + ", ".join(m.group(1).split(",")).replace("\n", "").replace(" ", "").replace(",", ", ") + "]", text) + "\n"


def machine() -> dict[str, Any]:
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import trio

    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "python": platform.python_version(),
        "trio": trio.__version__,
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="tgo-host benchmark suite")
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run (numbers are meaningless)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--out", default=str(BENCH_DIR / "results"), help="directory for latest.json / latest.png")
    parser.add_argument("--rounds", type=int, help="dispatch rounds (default 5, quick 1)")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    profile = dict(PROFILES[mode])
    if args.rounds:
        profile["rounds"] = args.rounds
    only = [s for s in args.only.split(",") if s]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    raise_fd_limit()
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[bench {time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    result: dict[str, Any] = {"mode": mode, "machine": machine(), "profile": profile,
                              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    runners = {"dispatch": run_dispatch, "fanout": run_fanout, "hung": run_hung, "http": run_http, "scale": run_scale}
    load = result["machine"]["loadavg_by_section"] = {}
    for section in SECTIONS:
        if section in only:
            before = os.getloadavg()[0]
            result[section] = runners[section](profile, log)
            load[section] = [round(before, 2), round(os.getloadavg()[0], 2)]
    result["machine"]["loadavg_end"] = os.getloadavg()[0]
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["targets"] = verdicts(result)
    result["table"] = build_table(result)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chart_note = draw_chart(result, out / "latest.png")
    if chart_note:
        result["chart"] = chart_note
    (out / "latest.json").write_text(dump_json(result))
    m = result["machine"]
    print(f"\ntgo-host bench ({mode}) on {m['cpu_model']} × {m['nproc']}, Python {m['python']}, trio {m['trio']}; "
          f"load {m['loadavg_start']:.2f} → {m['loadavg_end']:.2f}; {result['seconds']} s\n")
    busy = [f"{name} ({a:.1f}→{b:.1f})" for name, (a, b) in load.items() if max(a, b) > m["nproc"]]
    if busy:
        print(f"NOTE: the 1-minute load average exceeded the {m['nproc']} cores during: {', '.join(busy)}; "
              "other processes shared the CPUs, so wall-clock figures there are pessimistic (CPU/req is steadier).\n")
    print(result["table"])
    print(f"\nwrote {out / 'latest.json'}" + ("" if chart_note else f" and {out / 'latest.png'}"))
    if chart_note:
        print(chart_note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
