"""No plugin outlives its host: SIGKILL of the host, stale plugins from a previous host, spawns that fail for lack of fds.

The hosts here are real ``python -m tgo_host run`` processes (SIGKILLed for
real) or the in-process host; plugins are the real test plugins of
``tests/plugins/managed``. Every process a test starts is killed by pid at
the end.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time

import httpx
import pytest
import trio

from support.paths import ROOT
from support.waiting import wait_for
from reliability_stats import record
from support.launched import gone, MANAGED, manifest, Records, start_host, stubborn_plugin
from support.net import free_port
from tgo_host.plugins.stale import state_file_for, start_ticks


@pytest.fixture
def records(short_dir, monkeypatch):
    directory = os.path.join(short_dir, "rec")
    os.mkdir(directory)
    monkeypatch.setenv("TGO_TEST_RECORD_DIR", directory)
    recs = Records(directory)
    yield recs
    for pid in recs.all_pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class HostProcess:
    """``python -m tgo_host run`` launching the plugins of tests/plugins/managed/good (and ``extra_dirs``)."""

    def __init__(self, socket_path: str, port: int, extra_dirs: tuple[str, ...] = ()) -> None:
        self.socket_path = socket_path
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, PYTHONPATH=str(ROOT), TGO_SHUTDOWN_GRACE="1", TGO_RESTART_DELAY="0.2")
        dirs = [arg for d in (str(MANAGED / "good"), *extra_dirs) for arg in ("--plugins-dir", d)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tgo_host", "run", "--socket", socket_path, "--http", f"127.0.0.1:{port}", *dirs],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    async def registered(self) -> dict[str, int]:
        """Plugin id -> pid of the launched plugins that registered (empty until the API answers)."""
        try:
            async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
                installed = (await client.get("/plugins/installed")).json()["plugins"]
        except (httpx.HTTPError, ValueError, KeyError):
            return {}
        return {p["plugin_id"]: p["pid"] for p in installed if p["capabilities"] and p["pid"]}

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


async def test_sigkilled_host_takes_its_plugins_and_a_new_host_launches_its_own(short_dir, records, reap):
    """Among the plugins, one that keeps running when its connection drops and ignores SIGTERM (stubborn)."""
    socket_path = os.path.join(short_dir, "h.sock")
    extra = os.path.join(short_dir, "plugins")
    stubborn_plugin(extra)
    first = HostProcess(socket_path, free_port(), (extra,))
    reap.append(first.proc)
    second = None
    try:
        await wait_for(lambda: all(records.pids(name) for name in ("echo", "legacy", "stubborn")), timeout=20)
        ids: dict[str, int] = {}

        async def both_registered(host: HostProcess) -> None:
            with trio.fail_after(20):
                while len(ids) < 3:
                    ids.clear()
                    ids.update(await host.registered())
                    await trio.sleep(0.1)

        await both_registered(first)
        old = dict(ids)
        state = json.loads(open(state_file_for(socket_path)).read())
        assert {e["pid"] for e in state["plugins"].values()} == set(old.values())
        first.proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await wait_for(lambda: all(gone(pid) for pid in old.values()), timeout=2.0)
        died_within = time.monotonic() - killed_at
        first.proc.wait(timeout=5)
        second = HostProcess(socket_path, free_port(), (extra,))
        reap.append(second.proc)
        ids.clear()
        await both_registered(second)
        assert set(ids) == set(old) and not set(ids.values()) & set(old.values())
        record("orphans.host_sigkill", plugins=len(old), all_plugins_gone_within_s=round(died_within, 3),
               new_host_registered=sorted(ids))
    finally:
        first.kill()
        if second is not None:
            second.proc.send_signal(signal.SIGTERM)
            try:
                second.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                second.kill()


async def test_a_starting_host_stops_stale_plugins_of_a_previous_one(settings, nursery, short_dir):
    """What the state file names and is still that process is stopped; a reused pid is left alone."""
    stale = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        await wait_for(lambda: start_ticks(stale.pid) is not None and start_ticks(stranger.pid) is not None)
        boot_id = open("/proc/sys/kernel/random/boot_id").read().strip()
        path = state_file_for(settings.socket_path)
        with open(path, "w") as fh:
            json.dump({"boot_id": boot_id, "host_pid": 1, "plugins": {
                "test.stale": {"pid": stale.pid, "start": start_ticks(stale.pid)},
                "test.reused": {"pid": stranger.pid, "start": start_ticks(stranger.pid) - 1},  # another process now
            }}, fh)
        host = await start_host(settings, nursery, [])
        assert stale.wait(timeout=5) == -signal.SIGTERM
        assert stranger.poll() is None
        assert not os.path.exists(path)
        host.request_stop()
    finally:
        for proc in (stale, stranger):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)


async def test_spawn_without_free_fds_is_retried_not_an_error(settings, nursery, records):
    """A plugin that crashes while the host has no free fd restarts once fds are back (EMFILE is transient)."""
    settings.restart_delay = 0.1
    settings.restart_max_delay = 0.4
    host = await start_host(settings, nursery, [manifest("good", "echo")])
    plugin = host.supervisor.get("test.echo")
    await wait_for(lambda: plugin.registered, timeout=15)
    first = plugin.pid
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hogs: list[int] = []
    seen: list[str] = []
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 64, hard))
        try:
            while True:
                hogs.append(os.open("/dev/null", os.O_RDONLY))
        except OSError:
            pass
        os.kill(first, signal.SIGKILL)
        with trio.fail_after(10):
            while "Too many open files" not in (plugin.last_error or ""):
                await trio.sleep(0.02)
        for _ in range(10):  # a few back-off rounds without fds: still retrying, never "error"
            seen.append(plugin.status)
            await trio.sleep(0.05)
    finally:
        for fd in hogs:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert set(seen) == {"starting"}, seen
    await wait_for(lambda: plugin.registered and plugin.pid not in (None, first), timeout=15)
    assert plugin.status == "running"
    host.request_stop()


@pytest.mark.timeout(180)
async def test_fd_exhaustion_with_a_1024_limit_keeps_the_host_responsive(short_dir, records, reap):
    """A host limited to 1,024 fds, flooded by 1,100 plugins that register: HTTP answers, a killed plugin restarts."""
    socket_path = os.path.join(short_dir, "h.sock")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), TGO_SHUTDOWN_GRACE="1", TGO_RESTART_DELAY="0.2",
               TGO_TEST_RECORD_DIR=records.directory)
    limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))  # noqa: E731
    host = subprocess.Popen(
        [sys.executable, "-m", "tgo_host", "run", "--socket", socket_path, "--http", f"127.0.0.1:{port}",
         "--plugins-dir", str(MANAGED / "good")],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.path.join(short_dir, "host.log"), "wb"),
        preexec_fn=limit,
    )
    reap.append(host)
    flood = None
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:

            async def launched() -> dict[str, dict]:
                try:
                    return {p["plugin_id"]: p for p in (await client.get("/plugins/installed")).json()["plugins"]}
                except (httpx.HTTPError, ValueError, KeyError):
                    return {}

            with trio.fail_after(30):
                while not all(p["status"] == "running" and p["capabilities"] for p in (await launched()).values()) \
                        or len(await launched()) < 2:
                    await trio.sleep(0.1)
            flood = subprocess.Popen(
                [sys.executable, str(ROOT / "tests" / "plugins" / "chaos" / "noreader.py"), "--count", "1100",
                 "--requests", "0", "--size", "1"],
                env=dict(env, TGO_SOCKET_PATH=socket_path), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )
            reap.append(flood)
            line = await trio.to_thread.run_sync(flood.stdout.readline)
            assert line.startswith("sent"), line
            fds = len(os.listdir(f"/proc/{host.pid}/fd"))
            latencies = []
            for _ in range(20):
                started = time.monotonic()
                assert (await client.get("/healthz")).status_code == 200
                latencies.append(time.monotonic() - started)
                await trio.sleep(0.02)
            victim = (await launched())["test.echo"]["pid"]
            os.kill(victim, signal.SIGKILL)
            with trio.fail_after(30):
                while True:
                    echo = (await launched()).get("test.echo", {})
                    if echo.get("status") == "running" and echo.get("pid") not in (None, victim) and echo["capabilities"]:
                        break
                    assert echo.get("status") != "error", echo
                    await trio.sleep(0.1)
            plugins = (await client.get("/plugins")).json()["total"]
        latencies.sort()
        record("orphans.fd_exhaustion", fd_limit=1024, flood_connections=1100, host_fds_during=fds,
               registered_during=plugins, healthz_p50_ms=round(latencies[10] * 1000, 1),
               healthz_max_ms=round(latencies[-1] * 1000, 1), killed_plugin_restarted=True)
        assert fds < 1024 and plugins < 1024
        assert latencies[10] < 0.100, latencies
    finally:
        if flood is not None:
            flood.stdin.close()
            try:
                flood.wait(timeout=10)
            except subprocess.TimeoutExpired:
                flood.kill()
                flood.wait()
        host.send_signal(signal.SIGTERM)
        try:
            host.wait(timeout=20)
        except subprocess.TimeoutExpired:
            host.kill()
            host.wait()
