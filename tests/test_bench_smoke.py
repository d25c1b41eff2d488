"""The benchmark harness cannot rot: ``python -m bench.run --quick`` runs every section.

Its numbers mean nothing (tiny durations on a shared machine) and nothing here
is timed; it checks that each section ran and left the fields the table, the
chart and bench/README.md rely on.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(240)  # make bench --quick, in a subprocess
def test_quick_bench_writes_every_section(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads((tmp_path / "latest.json").read_text())
    assert result["mode"] == "quick"
    assert {"nproc", "cpu_model", "python"} <= set(result["machine"])

    dispatch = result["dispatch"]
    impls = {"tgo-host render", "asyncio render", "tgo-host call", "asyncio call", "floor"}
    assert set(dispatch["median"]) == impls
    for impl in impls:
        assert set(dispatch["median"][impl]) == {"1@1", "1@2", "16", "64", "256"}
        assert all(row["rps"] > 0 for row in dispatch["median"][impl].values())
    for api in ("tgo-host render", "tgo-host call"):
        assert set(dispatch["ratios"][api]) == {"asyncio", "floor"}

    fanout = result["fanout"]
    assert len(fanout) == 3 and all(row["incomplete"] == 0 and row["n"] > 0 for row in fanout.values())
    hung = result["hung"]
    # every answer carries the hung plugin's timeout and the others' panels
    assert hung["outcomes"] == [[hung["plugins"] - 1, ["timeout"]]]

    http = result["http"]
    if "skipped" in http:
        assert "wrk" in http["skipped"]
        assert not os.environ.get("CI"), "wrk is missing under CI: the HTTP rows were skipped (make system-deps installs it)"
    else:
        assert set(http["rows"]) == {"fanout c1", "fanout c32", "healthz c1", "healthz c32"}
        assert all(row["requests"] > 0 and row["errors"] == 0 for row in http["rows"].values())
        # the asyncio HTTP reference (FastAPI on uvicorn) runs beside it when bench/requirements.lock is installed
        reference = http["reference"]
        if "skipped" in reference:
            assert "not installed" in reference["skipped"]
            assert not os.environ.get("CI"), "the asyncio HTTP reference was skipped under CI (make bench-deps installs it)"
        else:
            assert set(reference["rows"]) == set(http["rows"])
            assert all(row["requests"] > 0 and row["errors"] == 0 for row in reference["rows"].values())
            assert set(http["ratios"]) == set(http["rows"])
            assert "asyncio ref POST fan-out" in result["table"]

    scale = result["scale"]
    assert scale["registered"] == scale["plugins"] == 50
    assert scale["rss_per_plugin_kib"] > 0 and scale["heartbeat_cpu_s_per_s"] >= 0

    assert {t["target"] for t in result["targets"]} == {
        "dispatch_64", "sequential_p50", "fanout_100_p50", "hung_margin", "http_cpu", "http_p50", "http_throughput",
        "http_healthz", "idle_rss"}
    assert "| dispatch |" in result["table"] and "Targets:" in proc.stdout
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "latest.png").stat().st_size > 10_000
    else:
        assert "matplotlib" in result["chart"]
        assert not os.environ.get("CI"), "matplotlib is missing under CI: no chart was drawn (make bench-deps installs it)"
