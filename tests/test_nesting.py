"""Deeply nested and very large values: from plugins (results, error data) and from HTTP callers.

The host bounds the nesting of every JSON value it accepts at ``MAX_JSON_DEPTH``
(64): a plugin that answers deeper gets 502 / a fan-out ``errors`` entry, an HTTP
body deeper gets 422 -- never 500, and the fan-out answers 200 whatever one plugin
returns. A large legal result is validated off the event loop, so other plugins'
renders are not held up.
"""

from __future__ import annotations

import statistics
import sys
import time

import httpx
import orjson
import pytest
import trio

from support.paths import PLUGINS
from support.waiting import wait_registered
from reliability_stats import record
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.model import ValidationError
from tgo_host.model.depth import MAX_JSON_DEPTH, check_depth, check_size

HEAVY = str(PLUGINS / "chaos" / "heavy.py")


def nested(depth: int):
    """Exactly ``depth`` nested containers: {"x": {"x": ... ["bottom"]}}."""
    value = ["bottom"]
    for _ in range(depth - 1):
        value = {"x": value}
    return value


@pytest.fixture
async def api(settings, nursery, plugins):
    settings.http_addr = "127.0.0.1:0"
    settings.max_frame_bytes = 8 * 1024 * 1024
    host = Host(settings, services=[http_service])
    await nursery.start(host.serve)
    plugins.scripted("good", "--priority", "1")
    await wait_registered(host, "good")
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=30) as client:
        client.host = host
        yield client
    host.request_stop()


def heavy(plugins, plugin_id: str, mode: str, *args: str):
    return plugins.start([sys.executable, HEAVY, "--id", plugin_id, "--mode", mode, *args])


def test_check_depth_bounds_and_path():
    check_depth(nested(MAX_JSON_DEPTH))  # exactly at the limit: fine
    with pytest.raises(ValidationError) as info:
        check_depth({"data": {"rows": [nested(300)]}})
    assert "nested deeper than 64 levels" in str(info.value)
    assert info.value.path.startswith("data.rows[0].x") and info.value.path.count("x") == MAX_JSON_DEPTH - 3
    with pytest.raises(ValidationError):
        check_depth(nested(100_000))  # iterative: no RecursionError
    assert check_size({"a": list(range(10))}, max_nodes=11) is True
    assert check_size({"a": list(range(10))}, max_nodes=5) is False


@pytest.mark.parametrize("mode", ["deep-row", "deep-error"])
async def test_deep_plugin_answer_is_that_plugins_error_only(api, plugins, mode):
    heavy(plugins, "deep", mode, "--depth", "300")
    await wait_registered(api.host, "good", "deep")
    fan_out = await api.post("/plugins/visitor-panel/render", json={"visitor_id": "v1"})
    assert fan_out.status_code == 200, fan_out.text
    body = fan_out.json()
    assert [p["plugin_id"] for p in body["panels"]] == ["good"]
    [error] = body["errors"]
    assert error["plugin_id"] == "deep" and error["error"] == "invalid_result"
    assert "nested deeper than 64 levels" in error["message"]
    single = await api.post("/plugins/deep/render", json={"visitor_id": "v1"})
    assert single.status_code == 502, single.text
    assert single.json()["error"]["type"] == "invalid_plugin_result"
    where = "error.data.x" if mode == "deep-error" else "data.rows[0].x"
    assert where in single.json()["error"]["validation"]
    # the plugin's session is untouched: it is the answer that was refused
    assert api.host.registry.get("deep") is not None


async def test_nesting_within_the_limit_passes(api, plugins):
    heavy(plugins, "deep", "deep-row", "--depth", str(MAX_JSON_DEPTH - 8))
    await wait_registered(api.host, "good", "deep")
    single = await api.post("/plugins/deep/render", json={"visitor_id": "v1", "context": nested(40)})
    assert single.status_code == 200, single.text


@pytest.mark.parametrize("path", ["/plugins/good/render", "/plugins/visitor-panel/render", "/plugins/good/event"])
async def test_deep_http_body_is_422(api, path):
    body = {"visitor_id": "v1", "event_type": "x", "context": nested(300)}
    response = await api.post(path, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request" and error["path"].startswith("context.x")
    assert "nested deeper than 64 levels" in error["message"]


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(int(len(ordered) * 0.99) - 1, 0)]


async def test_large_result_does_not_stall_other_renders(api, plugins):
    """A 3 MB legal result (250,000 table rows) is handled while another plugin is rendered every 10 ms.

    The other plugin's p99 must stay under 50 ms. Two costs no thread can take
    off the event loop are added to that bound when this machine makes them
    larger: its p99 measured just before (twice it, plus 20 ms; a loaded machine
    is slow before any large result arrives), and one ``orjson.loads`` of the
    frame, a single C call that holds the GIL (bounded by ``max_frame_bytes``).
    """
    api.host.settings.render_timeout = 20.0  # the point is the other plugin's latency, not this one's deadline
    heavy(plugins, "big", "big", "--rows", "250000")
    await wait_registered(api.host, "good", "big")
    dispatcher = api.host.dispatcher
    baseline: list[float] = []
    latencies: list[float] = []
    big_sizes: list[int] = []
    stalls: list[float] = []

    async def ticker():
        """How late the event loop wakes a 1 ms sleeper."""
        while True:
            start = trio.current_time()
            await trio.sleep(0.001)
            stalls.append(trio.current_time() - start - 0.001)

    async def small_renders(into: list[float], done: trio.Event):
        while not done.is_set():
            start = trio.current_time()
            ui = await dispatcher.render("good", "visitor_panel", {"visitor_id": "v"})
            assert ui["template"] == "key_value"
            into.append(trio.current_time() - start)
            await trio.sleep(0.01)

    async def big_renders(done: trio.Event):
        for _ in range(4):
            response = await api.post("/plugins/big/render", json={"visitor_id": "v"})
            assert response.status_code == 200, response.text[:300]
            big_sizes.append(len(response.content))
        done.set()

    async with trio.open_nursery() as nursery:
        warm = trio.Event()
        nursery.start_soon(small_renders, baseline, warm)
        await trio.sleep(2.0)
        warm.set()
    done = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        nursery.start_soon(small_renders, latencies, done)
        await big_renders(done)
        nursery.cancel_scope.cancel()
    frame = orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": {"template": "table", "data": {
        "columns": [{"key": "n", "label": "N"}], "rows": [{"n": i} for i in range(250_000)]}}})
    started = time.perf_counter()
    orjson.loads(frame)
    decode = time.perf_counter() - started
    bound = max(0.050, 2 * p99(baseline) + 0.020 + decode)
    record("nesting.large_result", big_result_bytes=big_sizes[0], big_renders=len(big_sizes),
           baseline_p99_ms=round(p99(baseline) * 1000, 2), small_renders=len(latencies),
           small_p50_ms=round(statistics.median(latencies) * 1000, 2), small_p99_ms=round(p99(latencies) * 1000, 2),
           small_max_ms=round(max(latencies) * 1000, 2), loop_max_stall_ms=round(max(stalls) * 1000, 2),
           decode_ms=round(decode * 1000, 2), bound_ms=round(bound * 1000, 2))
    assert big_sizes[0] > 3_000_000
    assert p99(latencies) < bound, f"p99 of the other plugin's renders was {p99(latencies) * 1000:.1f} ms"
