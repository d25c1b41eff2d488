"""Installs survive a restart of the host (a real `tgo-host run` process); a host killed mid-install
leaves nothing half-installed, listed or running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from functools import partial

import httpx
import pytest

from support.paths import ROOT
from marketplugins import python_tree
from marketserver import MarketServer
from support.launched import gone
from support.net import free_port


@pytest.fixture
def market(short_dir):
    with MarketServer(os.path.join(short_dir, "srv")) as server:
        yield server


class HostProcess:
    def __init__(self, short_dir: str, market: MarketServer) -> None:
        self.managed = os.path.join(short_dir, "managed")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, PYTHONPATH=str(ROOT), TGO_SOCKET_PATH=os.path.join(short_dir, "h.sock"),
                        TGO_INSTALL_SOURCES=f"{market.base}/", TGO_GITHUB_BASE_URL=f"{market.base}/gh",
                        TGO_GITHUB_RAW_BASE_URL=f"{market.base}/files/raw", TGO_REGISTER_TIMEOUT="15")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tgo_host", "run", "--http", f"127.0.0.1:{self.port}",
                                      "--managed-plugins-dir", self.managed, "--log-level", "warning"], env=self.env)
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and self.proc.poll() is None, "host did not become ready"
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def installed(self) -> dict[str, dict]:
        return {p["plugin_id"]: p for p in httpx.get(f"{self.base}/plugins/installed", timeout=10).json()["plugins"]}

    def wait(self, predicate, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "condition not met"
            time.sleep(0.1)

    def staging_left(self) -> list[str]:
        return [e for e in os.listdir(self.managed) if e.startswith((".staging", ".old"))] if os.path.isdir(self.managed) else []


@pytest.fixture
def host(short_dir, market):
    h = HostProcess(short_dir, market)
    yield h
    h.stop(signal.SIGKILL)


def stream_until(host: HostProcess, body: dict, stage: str) -> None:
    """POST install-stream from a thread that keeps the request open; return once a ``stage`` event arrived."""
    seen = threading.Event()

    def run() -> None:
        try:
            with httpx.stream("POST", f"{host.base}/plugins/install-stream", json=body, timeout=120) as response:
                for line in response.iter_lines():
                    if line.startswith("data: ") and json.loads(line[6:])["stage"] == stage:
                        seen.set()
        except httpx.HTTPError:
            pass  # the host was killed under it

    threading.Thread(target=run, daemon=True).start()
    assert seen.wait(120), f"no {stage} event"


def test_installed_plugins_survive_a_restart_and_stopped_ones_stay_stopped(host, market, short_dir):
    for name in ("keep", "parked"):
        market.git_repo(f"acme/{name}", python_tree(os.path.join(short_dir, "src", name), f"test.{name}", "1.0.0"))
    host.start()
    for name in ("keep", "parked"):
        info = httpx.post(f"{host.base}/plugins/fetch-info", json={"url": f"{market.base}/gh/acme/{name}"}, timeout=30).json()
        response = httpx.post(f"{host.base}/plugins/install", json={**info, "project_id": "p"}, timeout=120)
        assert response.status_code == 200, response.text
    assert httpx.post(f"{host.base}/plugins/test.parked/stop", timeout=30).json()["status"] == "stopped"
    before = host.installed()
    old_pid = before["test.keep"]["pid"]
    host.stop(signal.SIGTERM)
    assert gone(old_pid)
    host.start()
    host.wait(lambda: host.installed()["test.keep"]["status"] == "running")
    after = host.installed()
    assert set(after) == {"test.keep", "test.parked"}
    for key in ("id", "install_type", "source_url", "installed_at", "version"):
        assert after["test.keep"][key] == before["test.keep"][key], key
    assert after["test.keep"]["pid"] != old_pid and after["test.parked"]["status"] == "stopped"
    # still bound to its project
    assert "test.keep" not in {p["plugin_id"] for p in httpx.get(
        f"{host.base}/plugins/installed", params={"project_id": "other"}, timeout=10).json()["plugins"]}


def test_host_killed_mid_install_leaves_nothing_after_restart(host, market, short_dir):
    market.git_repo("acme/slow", python_tree(os.path.join(short_dir, "src", "slow"), "test.slow", "1.0.0", wheel=True))
    market.git_repo("acme/hang", python_tree(os.path.join(short_dir, "src", "hang"), "test.hang", "1.0.0", hang=True))
    host.start()
    # killed while building (the venv/pip steps die with it)
    info = httpx.post(f"{host.base}/plugins/fetch-info", json={"url": f"{market.base}/gh/acme/slow"}, timeout=30).json()
    stream_until(host, {**info, "project_id": "p"}, "building")
    host.stop(signal.SIGKILL)
    assert host.staging_left()  # the kill really left a half-done install behind
    host.start()
    assert host.installed() == {} and host.staging_left() == []
    assert sorted(os.listdir(host.managed)) == sorted(e for e in os.listdir(host.managed) if e.startswith(".tgo-installed.db"))
    # killed while the new plugin was starting (its files in place, its record "installing")
    info = httpx.post(f"{host.base}/plugins/fetch-info", json={"url": f"{market.base}/gh/acme/hang"}, timeout=30).json()
    stream_until(host, {**info, "project_id": "p"}, "starting")
    status_url = f"{host.base}/plugins/test.hang/status"
    host.wait(lambda: (httpx.get(status_url, timeout=10).json().get("pid") or 0) > 0, timeout=20)
    pid = httpx.get(status_url, timeout=10).json()["pid"]
    assert pid and os.path.isdir(os.path.join(host.managed, "test.hang"))
    host.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not gone(pid):
        assert time.monotonic() < deadline, f"plugin pid {pid} outlived its killed host"
        time.sleep(0.1)
    host.start()
    assert host.installed() == {} and not os.path.exists(os.path.join(host.managed, "test.hang"))


async def test_restore_rolls_back_half_done_work_and_brings_back_an_interrupted_upgrade(settings, nursery, short_dir):
    """What a killed host can leave: a staging dir, an "installing" record, an upgrade's old copy moved aside."""
    import trio  # noqa: F401  (pytest-trio test)

    from support.waiting import wait_for
    from tgo_host.host import Host
    from tgo_host.marketplace.installer import STORE_FILE, open_marketplace
    from tgo_host.marketplace.store import InstalledRecord, SqliteStore
    from tgo_host.plugins.supervisor import Supervisor

    managed = os.path.join(short_dir, "managed")
    settings.managed_plugins_dir = managed
    settings.register_timeout = 10.0
    os.makedirs(managed)
    python_tree(os.path.join(managed, ".old-test.moved-x1y2"), "test.moved", "1.0.0")  # swapped out, new copy never moved in
    python_tree(os.path.join(managed, "test.half"), "test.half", "1.0.0")  # moved in, never registered
    os.makedirs(os.path.join(managed, ".staging-test.other-abc", "src"))
    store = SqliteStore(os.path.join(managed, STORE_FILE))
    for plugin_id, status in (("test.moved", "running"), ("test.half", "installing")):
        await store.save(InstalledRecord(plugin_id=plugin_id, name=plugin_id, version="1.0.0", install_type="github",
                                         install_path=os.path.join(managed, plugin_id), status=status, project_id="p"))
    await store.close()
    host = Host(settings, supervisor_factory=partial(Supervisor, settings),
                marketplace_factory=partial(open_marketplace, settings))
    assert "test.half" in host.supervisor and "test.moved" not in host.supervisor  # what discovery found
    await nursery.start(host.serve)
    await wait_for(lambda: "test.moved" in host.supervisor and host.supervisor.get("test.moved").registered, timeout=20)
    assert "test.half" not in host.supervisor and not os.path.exists(os.path.join(managed, "test.half"))
    assert sorted(e for e in os.listdir(managed) if not e.startswith(STORE_FILE)) == ["test.moved"]
    assert [r.plugin_id for r in await host.marketplace.store.all()] == ["test.moved"]
    assert host.registry.get("test.moved", "p").project_id == "p"
    host.request_stop()
