"""The plugin-process routes of http-api.md over real HTTP, with real supervised subprocesses."""

from __future__ import annotations

import os

import httpx
import pytest

from support.launched import gone, manifest, records  # noqa: F401  (records is a fixture)
from support.paths import PLUGINS
from support.waiting import wait_for
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.plugins.supervisor import Supervisor


@pytest.fixture
async def api(settings, nursery, records, short_dir):  # noqa: F811
    settings.http_addr = "127.0.0.1:0"
    settings.restart_delay = 0.2
    settings.shutdown_grace = 1.0
    settings.managed_plugins_dir = os.path.join(short_dir, "managed")
    settings.install_sources = [str(PLUGINS / "managed")]  # where the install tests' sources live
    host = Host(settings, services=[http_service],
                supervisor_factory=lambda registry: Supervisor(settings, registry, [manifest("good", "echo")]))
    await nursery.start(host.serve)
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=20) as client:
        client.host = host
        yield client
    host.request_stop()


async def test_installed_status_logs_restart_stop_start(api):
    plugin = api.host.supervisor.get("test.echo")
    await wait_for(lambda: plugin.registered, timeout=10)
    listing = (await api.get("/plugins/installed")).json()
    assert listing["total"] == 1 and listing["plugins"][0]["plugin_id"] == "test.echo"
    assert listing["plugins"][0]["status"] == "running" and listing["plugins"][0]["pid"] == plugin.pid
    status = (await api.get("/plugins/test.echo/status")).json()
    assert status["status"] == "running" and status["restart_count"] == 0 and status["last_error"] is None
    first = status["pid"]
    await wait_for(lambda: any("echo started" in line for line in api.host.supervisor.logs("test.echo")))
    logs = (await api.get("/plugins/test.echo/logs")).json()
    assert logs["plugin_id"] == "test.echo" and f"echo started pid={first}" in logs["logs"]
    assert len((await api.get("/plugins/test.echo/logs?limit=1")).json()["logs"]) == 1

    restarted = (await api.post("/plugins/test.echo/restart")).json()
    assert restarted["success"] is True and restarted["status"] in ("starting", "running")
    assert restarted["pid"] != first and gone(first)
    await wait_for(lambda: plugin.registered, timeout=10)
    assert (await api.get("/plugins/test.echo/status")).json()["restart_count"] == 1
    assert "tgo_supervisor_restarts_total 1.0" in (await api.get("/metrics")).text

    stopped = (await api.post("/plugins/test.echo/stop")).json()
    assert stopped == {"success": True, "message": "test.echo stopped", "status": "stopped", "pid": None}
    assert (await api.get("/plugins")).json()["total"] == 0  # its session is gone too
    started = (await api.post("/plugins/test.echo/start")).json()
    assert started["success"] is True and started["pid"]
    await wait_for(lambda: plugin.registered, timeout=10)
    assert (await api.post("/plugins/echo/render", json={"visitor_id": "v"})).status_code == 200


async def test_unknown_plugin_is_404(api):
    for method, path in (("POST", "/plugins/nope/start"), ("POST", "/plugins/nope/stop"),
                         ("POST", "/plugins/nope/restart"), ("GET", "/plugins/nope/logs"),
                         ("GET", "/plugins/nope/status"), ("DELETE", "/plugins/nope/uninstall")):
        response = await api.request(method, path)
        assert response.status_code == 404 and response.json()["error"]["type"] == "plugin_not_managed", path


async def test_install_and_uninstall_local_directory(api):
    source = str(PLUGINS / "managed" / "install" / "hello")
    created = await api.post("/plugins/install", json={"path": source})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["plugin_id"] == "test.hello" and body["success"] is True
    assert os.path.exists(os.path.join(api.host.settings.managed_plugins_dir, "test.hello", "plugin.yml"))
    await wait_for(lambda: api.host.supervisor.get("test.hello").registered, timeout=10)
    again = await api.post("/plugins/install", json={"path": source})
    assert again.status_code == 409 and again.json()["error"]["type"] == "install_failed"
    bad = await api.post("/plugins/install", json={"path": str(PLUGINS / "managed" / "bad" / "bad-language")})
    assert bad.status_code == 422 and "build.language" in bad.json()["detail"]
    assert (await api.post("/plugins/install", json={})).json()["error"]["path"] == "path"
    for nowhere in (str(PLUGINS / "managed" / "no-such-dir"), str(PLUGINS / "managed" / "bad" / "no-manifest")):
        missing = await api.post("/plugins/install", json={"path": nowhere})
        assert missing.status_code == 422, missing.text
        assert missing.json()["error"] | {"message": ""} == {"type": "invalid_request", "path": "path", "message": ""}
        assert nowhere in missing.json()["detail"]
    removed = await api.delete("/plugins/test.hello/uninstall")
    assert removed.json() == {"success": True, "message": "uninstalled test.hello"}
    assert not os.path.exists(os.path.join(api.host.settings.managed_plugins_dir, "test.hello"))
    assert all(p["plugin_id"] != "test.hello" for p in (await api.get("/plugins/installed")).json()["plugins"])
