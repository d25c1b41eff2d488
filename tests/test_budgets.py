"""Budgets for the whole host: small frames before registration, per-listener pools of unregistered
connections, accept errors that back off, ``max_connections`` sized to the fd limit.

The floods use real sockets (the Unix socket and the TCP debug listener) against
the in-process host; each test closes every socket it opened.
"""

from __future__ import annotations

import errno
import os
import struct
import subprocess
import sys

import httpx
import pytest
import trio

from chaoslib import Traffic, rss_bytes
from support.paths import PLUGINS
from support.rawclient import RawClient
from support.waiting import wait_for, wait_registered
from reliability_stats import record
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.memory import CHECK_INTERVAL
from tgo_host.plugins.fds import connection_budget
from tgo_host.plugins.listener import serve_listener

MiB = 1024 * 1024


async def test_frames_are_small_until_register_succeeds(settings, nursery):
    settings.max_frame_bytes = 1 * MiB
    host = Host(settings)
    await nursery.start(host.serve)
    early = await RawClient.connect(settings.socket_path)
    await early.send_raw(struct.pack(">I", 65 * 1024))  # over max_unregistered_frame_bytes (64 KiB)
    reply = await early.recv()
    assert reply["error"]["code"] == -32600 and "limit of 65536 bytes" in reply["error"]["message"]
    assert await early.recv() is None
    plugin = await RawClient.connect(settings.socket_path)
    assert (await plugin.register("big-frames"))["result"]["success"] is True
    # registered: the full max_frame_bytes applies (a 200 KiB notification is read and ignored)
    await plugin.send({"jsonrpc": "2.0", "method": "note", "params": {"x": "y" * (200 * 1024)}})
    await plugin.send({"jsonrpc": "2.0", "id": 7, "method": "nope"})
    assert (await plugin.recv())["error"]["code"] == -32601
    await early.aclose()
    await plugin.aclose()
    host.request_stop()


async def test_pending_pool_drops_the_oldest_and_never_takes_plugin_slots(settings, nursery):
    settings.max_pending_connections = 4
    settings.max_connections = 2
    host = Host(settings)
    await nursery.start(host.serve)
    silent = [await RawClient.connect(settings.socket_path) for _ in range(4)]
    await wait_for(lambda: host.connection_count == 4)
    newcomer = await RawClient.connect(settings.socket_path)
    reply = await silent[0].recv()
    assert reply["error"]["code"] == -32000 and "too many connections waiting to register" in reply["error"]["message"]
    assert await silent[0].recv() is None
    # registered plugins do not count against the pool, and the pool does not count against them
    a, b = await RawClient.connect(settings.socket_path), await RawClient.connect(settings.socket_path)
    assert (await a.register("a"))["result"]["success"] is True
    assert (await b.register("b"))["result"]["success"] is True
    await wait_for(lambda: len(host.registry) == 2)
    # a and b passed through the pool too (pushing out older silent ones); now they hold plugin slots
    [pool] = host._pools.values()
    await wait_for(lambda: host.connection_count == 2 + len(pool))
    assert 2 <= len(pool) <= 4 and pool.dropped >= 1
    third = await RawClient.connect(settings.socket_path)
    assert "limit of 2" in (await third.recv())["error"]["message"]
    for client in (*silent, newcomer, a, b, third):
        await client.aclose()
    host.request_stop()


def test_connection_budget_leaves_fds_for_http_and_plugins():
    assert connection_budget(1024, 1024, pending=128, launched=5) == 1024 - 64 - 128 - 20 - 128
    assert connection_budget(1024, 1 << 20, pending=128, launched=5) == 1024
    assert connection_budget(1024, 100, pending=128, launched=5) == 16


async def test_accept_backs_off_on_emfile_and_fails_loudly_on_other_errors(nursery):
    class Listener:
        family = trio.socket.AF_UNIX

        def __init__(self, errors):
            self.errors = errors
            self.calls = 0

        async def accept(self):
            self.calls += 1
            await trio.lowlevel.checkpoint()
            raise OSError(self.errors[min(self.calls - 1, len(self.errors) - 1)], "injected")

    exhausted = Listener([errno.EMFILE])
    async with trio.open_nursery() as inner:
        await inner.start(lambda task_status: serve_listener(exhausted, None, inner, max_connections=1,
                                                             active=lambda: 0, task_status=task_status))
        await trio.sleep(0.35)
        inner.cancel_scope.cancel()
    assert 2 <= exhausted.calls <= 5  # 0.1 s apart: no spinning
    broken = Listener([errno.ECONNABORTED, errno.EBADF])
    with pytest.raises(OSError) as info:
        await serve_listener(broken, None, nursery, max_connections=1, active=lambda: 0)
    assert info.value.errno == errno.EBADF and broken.calls == 2


# -- the unauthenticated flood ----------------------------------------------------------------


def start_flood(plugins, settings, host, count: int, announce: int, send: int):
    """The flooder process (tests/plugins/chaos/flooder.py) on the socket and the TCP debug listener."""
    tcp = "%s:%d" % host.dev_tcp_address
    return subprocess.Popen(
        [sys.executable, str(PLUGINS / "chaos" / "flooder.py"), "--unix", settings.socket_path, "--tcp", tcp,
         "--count", str(count), "--announce", str(announce), "--send", str(send)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )


@pytest.mark.timeout(180)
async def test_unauthenticated_flood_is_bounded_and_memory_returns(settings, nursery, plugins, reap):
    """1,000 connections announcing 4 MiB frames and 1,000 holding 60 KiB partial frames (socket and TCP)."""
    n = int(os.environ.get("TGO_FLOOD_CONNECTIONS", "1000"))
    settings.http_addr = "127.0.0.1:0"
    settings.dev_tcp_addr = "127.0.0.1:0"
    settings.register_timeout = 10.0
    host = Host(settings, services=[http_service])
    await nursery.start(host.serve)
    plugins.scripted("good", "--priority", "1")
    await wait_registered(host, "good")
    addresses = [settings.socket_path, host.dev_tcp_address]
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=30) as client:
        traffic = Traffic(client, settings.render_timeout)
        async with trio.open_nursery() as background:
            await background.start(traffic.run)
            await wait_for(lambda: traffic.renders >= 3 and traffic.fan_outs >= 1)
            async with traffic.paused():
                rss_before = rss_bytes()
            peak = [rss_before]

            async def sample():
                while True:
                    with open("/proc/self/status") as fh:
                        for line in fh:
                            if line.startswith("VmRSS:"):
                                peak[0] = max(peak[0], int(line.split()[1]) * 1024)
                    await trio.sleep(0.05)

            background.start_soon(sample)
            renders_before = traffic.renders
            floods = [start_flood(plugins, settings, host, n, 4 * MiB, MiB),  # refused at the header
                      start_flood(plugins, settings, host, n, 60 * 1024, 60 * 1024 - 1)]  # slow partial frames
            reap.extend(floods)
            try:
                await trio.sleep(1.0)
                # a good plugin registers in the middle of the flood, on the same socket
                plugins.scripted("late", "--priority", "5")
                await wait_registered(host, "good", "late", timeout=20)
                late_ui = await client.post("/plugins/late/render", json={"visitor_id": "during"})
                assert late_ui.status_code == 200, late_ui.text
                pending_peak = sum(len(p) for p in host._pools.values())
                opened = 0
                for proc in floods:
                    line = await trio.to_thread.run_sync(proc.stdout.readline)
                    opened += int(line.split()[1])
                pending_peak = max(pending_peak, sum(len(p) for p in host._pools.values()))
            finally:
                for proc in floods:
                    proc.stdin.close()
                    try:
                        await trio.to_thread.run_sync(proc.wait, 10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            renders_during = traffic.renders - renders_before
            await wait_for(lambda: host.connection_count == 2, timeout=30)  # good and late
            async with traffic.paused():
                await trio.sleep(2 * CHECK_INTERVAL + 0.5)  # the host returns free memory at its next check
                rss_after = rss_bytes()
            traffic.stop()
            background.cancel_scope.cancel()
    traffic.check()
    record("budgets.unauthenticated_flood", connections=2 * n, opened=opened,
           rss_before_mib=round(rss_before / MiB, 1), rss_peak_mib=round(peak[0] / MiB, 1),
           rss_after_mib=round(rss_after / MiB, 1), pending_at_peak=pending_peak,
           dropped_by_pools=sum(p.dropped for p in host._pools.values()),
           renders_during=renders_during, traffic_failures=len(traffic.failures))
    assert peak[0] - rss_before < 300 * MiB
    assert renders_during > 0
    assert rss_after - rss_before < 30 * MiB
    host.request_stop()


@pytest.mark.timeout(180)
async def test_registered_plugins_that_never_read_stay_within_the_buffer_budget(settings, nursery, plugins, reap):
    """100 registered plugins flood requests with 60 KB answers and never read: the budget sheds the worst."""
    count = int(os.environ.get("TGO_NOREADER_PLUGINS", "100"))
    settings.http_addr = "127.0.0.1:0"
    settings.max_frame_bytes = 1 * MiB  # a 4 MiB send queue per connection: 400 MiB for 100 without the budget
    settings.max_buffered_bytes = 32 * MiB
    host = Host(settings, services=[http_service])
    await nursery.start(host.serve)
    plugins.scripted("good", "--priority", "1")
    await wait_registered(host, "good")
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=30) as client:
        traffic = Traffic(client, settings.render_timeout)
        async with trio.open_nursery() as background:
            await background.start(traffic.run)
            await wait_for(lambda: traffic.renders >= 3 and traffic.fan_outs >= 1)
            async with traffic.paused():
                rss_before = rss_bytes()
            peak = [rss_before]

            async def sample():
                while True:
                    with open("/proc/self/status") as fh:
                        for line in fh:
                            if line.startswith("VmRSS:"):
                                peak[0] = max(peak[0], int(line.split()[1]) * 1024)
                    await trio.sleep(0.05)

            background.start_soon(sample)
            renders_before = traffic.renders
            proc = subprocess.Popen(
                [sys.executable, str(PLUGINS / "chaos" / "noreader.py"), "--count", str(count),
                 "--requests", os.environ.get("TGO_NOREADER_REQUESTS", "40"), "--size", str(60 * 1024)],
                env=plugins.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )
            reap.append(proc)
            try:
                line = await trio.to_thread.run_sync(proc.stdout.readline)
                sent = int(line.split()[1])
                budget_peak = host.buffers.peak
            finally:
                proc.stdin.close()
                try:
                    await trio.to_thread.run_sync(proc.wait, 20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            renders_during = traffic.renders - renders_before
            await wait_for(lambda: host.connection_count == 1, timeout=30)
            traffic.stop()
            background.cancel_scope.cancel()
    traffic.check()
    record("budgets.noreader_flood", plugins=count, requests_sent=sent, answer_bytes=60 * 1024,
           max_buffered_mib=32, shed=host.buffers.shed_count, budget_total_after=host.buffers.total,
           rss_before_mib=round(rss_before / MiB, 1), rss_peak_mib=round(peak[0] / MiB, 1),
           renders_during=renders_during)
    assert host.buffers.shed_count > 0 and host.buffers.total == 0
    assert peak[0] - rss_before < 32 * MiB + 64 * MiB, "RSS grew past the budget plus overheads"
    assert renders_during > 0
    host.request_stop()
