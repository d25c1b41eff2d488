"""Soak: connection churn and continuous renders, then nothing left behind.

A real in-process host with its HTTP API and a well-behaved plugin (``good``, pinged
every second). For ``TGO_SOAK_SECONDS`` (default 45; ``make soak`` runs 600):

* churn workers open raw connections in five ways, round robin — register, get
  rendered over HTTP, answer, close; register and vanish with a render in flight;
  send garbage; send half a frame and vanish; connect and close — each checked for
  its documented outcome (200 / 502 / an error frame then close);
* every few seconds a real plugin process is started, rendered and SIGKILLed;
* :class:`~chaoslib.Traffic` renders ``good`` and the visitor-panel fan-out the
  whole time, and must see no error.

The host logs at INFO throughout, to /dev/null rather than into pytest's report.
Open file descriptors, live trio tasks and memory (VmRSS after ``gc.collect()``)
are measured after a warm-up phase of the same load and again after the soak, each
time with churn and traffic stopped, HTTP clients closed and the server's keep-alive
connections drained; they must be back to the starting level (fds +3, tasks +2,
memory +20 MiB at most).
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import struct
from contextlib import contextmanager

import httpx
import pytest
import trio

from chaoslib import MARGIN, Traffic, http_connections, live_tasks, open_fds, rss_bytes
from support.rawclient import RawClient
from support.waiting import wait_for, wait_registered
from reliability_stats import record
from tgo_host.api.server import http_service
from tgo_host.host import Host

SOAK_SECONDS = float(os.environ.get("TGO_SOAK_SECONDS", "40"))
WARM_UP_SECONDS = min(8.0, max(4.0, SOAK_SECONDS / 5))
CHURN_WORKERS = 6
FD_SLACK, TASK_SLACK, RSS_SLACK = 3, 2, 20 * 1024 * 1024


class Churn:
    """Connection churn against ``host``, each cycle checked; counts by kind."""

    def __init__(self, host: Host, client: httpx.AsyncClient, plugins, settings) -> None:
        self.host = host
        self.client = client
        self.plugins = plugins
        self.settings = settings
        self.counts: dict[str, int] = {}
        self.failures: list[str] = []
        self.max_fds = 0
        self.max_connections = 0
        self._ids = itertools.count()
        self._stop = False

    async def run(self, seconds: float) -> None:
        """Churn for ``seconds``; then let every cycle in progress finish."""
        async with trio.open_nursery() as nursery:
            for _ in range(CHURN_WORKERS):
                nursery.start_soon(self._worker)
            nursery.start_soon(self._processes)
            nursery.start_soon(self._gauges)
            await trio.sleep(seconds)
            self._stop = True

    def _count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    async def _gauges(self) -> None:
        while not self._stop:
            self.max_fds = max(self.max_fds, open_fds())
            self.max_connections = max(self.max_connections, self.host.connection_count)
            await trio.sleep(0.25)

    async def _worker(self) -> None:
        kinds = itertools.cycle([self._clean, self._vanish_in_flight, self._garbage, self._half_frame, self._drop])
        while not self._stop:
            cycle = next(kinds)
            n = next(self._ids)
            client = await RawClient.connect(self.settings.socket_path)
            try:
                with trio.fail_after(self.settings.render_timeout + MARGIN + 2):
                    await cycle(client, f"soak{n}")
            except Exception as exc:  # noqa: BLE001 — recorded, asserted empty
                self.failures.append(f"{cycle.__name__} soak{n}: {exc!r}")
            finally:
                await trio.aclose_forcefully(client.stream)
            self._count(cycle.__name__.lstrip("_"))
            await trio.sleep(0.01)

    async def _register(self, client: RawClient, plugin_id: str) -> None:
        await client.send({"jsonrpc": "2.0", "id": 1, "method": "register", "params": {
            "id": plugin_id, "name": plugin_id, "capabilities": [{"type": "chat_toolbar", "title": "Soak"}]}})
        reply = await client.recv()
        assert reply["result"]["success"] is True, reply

    @staticmethod
    async def _next_render(client: RawClient) -> dict:
        """The next render request, answering the heartbeat's pings on the way."""
        while True:
            request = await client.recv()
            if request.get("method") != "ping":
                assert request["method"] == "chat_toolbar/render", request
                return request
            await client.send({"jsonrpc": "2.0", "id": request["id"], "result": {"pong": True}})

    async def _render(self, plugin_id: str, outcome: list) -> None:
        start = trio.current_time()
        response = await self.client.post(f"/plugins/{plugin_id}/render", json={"visitor_id": plugin_id})
        assert trio.current_time() - start <= self.settings.render_timeout + MARGIN
        outcome.append(response)

    async def _clean(self, client: RawClient, plugin_id: str) -> None:
        """Register, be rendered over HTTP, answer, close."""
        await self._register(client, plugin_id)
        outcome: list = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._render, plugin_id, outcome)
            request = await self._next_render(client)
            await client.send({"jsonrpc": "2.0", "id": request["id"], "result": {
                "template": "text", "data": {"text": request["params"]["visitor_id"]}}})
        assert outcome[0].status_code == 200 and outcome[0].json()["data"]["text"] == plugin_id, outcome[0].text

    async def _vanish_in_flight(self, client: RawClient, plugin_id: str) -> None:
        """Register, receive a render, close without answering: the caller gets 502 at once."""
        await self._register(client, plugin_id)
        outcome: list = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._render, plugin_id, outcome)
            await self._next_render(client)
            await client.aclose()
        assert outcome[0].status_code == 502, outcome[0].text
        assert outcome[0].json()["error"]["type"] == "plugin_disconnected"

    async def _garbage(self, client: RawClient, plugin_id: str) -> None:
        """A first frame that is not JSON: one -32600 error frame, then the host closes."""
        await client.send_raw(struct.pack(">I", 5) + b"\xffjunk")
        reply = await client.recv()
        assert reply["error"]["code"] == -32600 and reply["id"] is None, reply
        assert await client.recv() is None

    async def _half_frame(self, client: RawClient, plugin_id: str) -> None:
        """Register, then half a frame, then gone."""
        await self._register(client, plugin_id)
        await client.send_raw(struct.pack(">I", 100) + b'{"jsonrpc": "2.0", "id"')

    async def _drop(self, client: RawClient, plugin_id: str) -> None:
        """Connect, then gone."""

    async def _processes(self) -> None:
        """A real plugin process every few seconds: registered, rendered, SIGKILLed."""
        for k in itertools.count():
            if self._stop:
                return
            plugin_id = f"soakproc{k}"
            proc = self.plugins.scripted(plugin_id, "--priority", "5")
            try:
                await wait_registered(self.host, plugin_id)
                response = await self.client.post(f"/plugins/{plugin_id}/render", json={"visitor_id": "p"})
                if response.status_code != 200:
                    self.failures.append(f"process {plugin_id}: {response.status_code} {response.text[:200]}")
            finally:
                os.kill(proc.pid, signal.SIGKILL)
                await trio.to_thread.run_sync(proc.wait, 10)
                self.plugins.procs.remove(proc)
            self._count("process")
            await trio.sleep(2.0)


async def load_phase(host, settings, plugins, seconds: float) -> tuple[Traffic, Churn]:
    """Churn plus traffic for ``seconds``; returns with both stopped and the HTTP client closed."""
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=30) as client:
        traffic = Traffic(client, settings.render_timeout)
        churn = Churn(host, client, plugins, settings)
        async with trio.open_nursery() as nursery:
            await nursery.start(traffic.run)
            await churn.run(seconds)
            traffic.stop()
    return traffic, churn


async def quiesce(host) -> dict[str, int]:
    """Wait for churned connections to end, HTTP keep-alive connections to drain and the gauges
    to stop moving; return them."""
    await wait_for(lambda: host.connection_count == 1 and len(host.registry) == 1, timeout=15)
    assert all(s.conn.in_flight == 0 for s in host._connections)
    await wait_for(lambda: http_connections() == 0, timeout=15)
    previous = None
    with trio.move_on_after(10):
        while True:
            await trio.sleep(0.5)
            current = (open_fds(), live_tasks())
            if current == previous:
                break
            previous = current
    return {"fds": open_fds(), "tasks": live_tasks(), "rss": rss_bytes()}


@contextmanager
def host_logs_to_devnull():
    """The host logs at INFO as in production, to a sink that keeps nothing.

    Left to pytest, every record of the soak (tens of thousands) would be kept for the
    report, and that — not the host — is what the memory gauge would then measure.
    """
    logger = logging.getLogger("tgo_host")
    sink = open(os.devnull, "w")
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate, logger.level = saved
        sink.close()


@pytest.mark.timeout(SOAK_SECONDS * 2 + 180)  # the soak (make soak: 600 s), set-up and checks
async def test_soak_churn_and_renders_leave_nothing_behind(settings, nursery, plugins):
    with host_logs_to_devnull():
        await soak(settings, nursery, plugins)


async def soak(settings, nursery, plugins) -> None:
    settings.http_addr = "127.0.0.1:0"
    settings.ping_interval = 1.0
    settings.ping_timeout = 2.0
    settings.register_timeout = 5.0
    settings.partial_frame_timeout = 1.0
    host = Host(settings, services=[http_service])
    await nursery.start(host.serve)
    plugins.scripted("good", "--priority", "1")
    await wait_registered(host, "good")
    good = host.registry.get("good")

    warm_traffic, warm_churn = await load_phase(host, settings, plugins, WARM_UP_SECONDS)
    assert not warm_churn.failures and not warm_traffic.failures, (warm_churn.failures[:3], warm_traffic.failures[:3])
    before = await quiesce(host)

    start = trio.current_time()
    traffic, churn = await load_phase(host, settings, plugins, SOAK_SECONDS)
    duration = trio.current_time() - start
    after = await quiesce(host)

    traffic.check()
    assert not churn.failures, f"{len(churn.failures)} churn cycles failed, first: {churn.failures[:3]}"
    assert host.registry.get("good") is good, "the well-behaved plugin lost its session"
    cycles = sum(v for k, v in churn.counts.items() if k != "process")
    record("soak", seconds=round(duration, 1), churn_cycles=cycles, churn_by_kind=churn.counts,
           traffic_renders=traffic.renders, traffic_fan_outs=traffic.fan_outs, traffic_failures=0,
           traffic_max_render_s=round(traffic.max_latency["render"], 3),
           traffic_max_fan_out_s=round(traffic.max_latency["fan_out"], 3),
           peak_connections=churn.max_connections, peak_fds=churn.max_fds,
           fds_before=before["fds"], fds_after=after["fds"], tasks_before=before["tasks"], tasks_after=after["tasks"],
           rss_before_mib=round(before["rss"] / 2**20, 1), rss_after_mib=round(after["rss"] / 2**20, 1),
           protocol_violations=host.protocol_violations())
    assert after["fds"] <= before["fds"] + FD_SLACK, (before, after)
    assert after["tasks"] <= before["tasks"] + TASK_SLACK, (before, after)
    assert after["rss"] <= before["rss"] + RSS_SLACK, (before, after)
    assert cycles >= 100 and churn.counts.get("process", 0) >= 1
    host.request_stop()
