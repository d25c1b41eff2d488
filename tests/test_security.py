"""Who may connect and what limits hold: dev tokens over TCP, uid allow-lists, bearer tokens, limits."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import jwt
import pytest
import trio

from support.paths import ROOT
from support.rawclient import RawClient
from support.waiting import wait_for, wait_registered
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.plugins.auth import mint_dev_token

SECRET = "test-secret-0123456789abcdef0123456789"


@pytest.fixture
async def dev_host(settings, nursery):
    settings.dev_tcp_addr = "127.0.0.1:0"
    settings.http_addr = "127.0.0.1:0"
    host = Host(settings, secret=SECRET, services=[http_service])
    await nursery.start(host.serve)
    yield host
    host.request_stop()


async def tcp_client(host) -> RawClient:
    return RawClient(await trio.open_tcp_stream(*host.dev_tcp_address))


async def test_dev_plugin_with_valid_token_is_bound_to_its_project(dev_host):
    client = await tcp_client(dev_host)
    token = mint_dev_token(SECRET, "proj-7", "alice", 3600)
    reply = await client.register("dev.crm", dev_token=token)
    assert reply["result"]["success"] is True
    session = dev_host.registry.get("dev.crm", "proj-7")
    assert session.is_dev_mode and session.project_id == "proj-7" and str(session.peer).startswith("tcp 127.0.0.1:")
    async with httpx.AsyncClient(base_url=dev_host.http_binds[0]) as http:
        info = (await http.get("/plugins/dev.crm?project_id=proj-7")).json()
        assert info["is_dev_mode"] is True and info["project_id"] == "proj-7"
        assert (await http.get("/plugins/dev.crm?project_id=other")).status_code == 404
        assert (await http.get("/plugins/dev.crm")).status_code == 200  # unscoped (the gateway's tool calls): all
        assert (await http.get("/plugins?project_id=other")).json()["total"] == 0
        installed = (await http.get("/plugins/installed?project_id=proj-7")).json()
        [entry] = installed["plugins"]
        assert installed["total"] == 1 and entry["plugin_id"] == "dev.crm" and entry["install_type"] == "dev"
        assert entry["is_dev_mode"] is True and entry["status"] == "running"
        assert entry["installed_at"] == entry["updated_at"] == session.connected_at.isoformat()
        assert (await http.get("/plugins/installed?project_id=other")).json() == {"plugins": [], "total": 0}
    await client.aclose()


@pytest.mark.parametrize(
    "make_token, fragment",
    [
        (lambda: None, "must register with a dev_token"),
        (lambda: "", "must register with a dev_token"),
        (lambda: mint_dev_token("some-other-secret-0123456789abcdef", "p", "u", 3600), "signature is invalid"),
        (lambda: mint_dev_token(SECRET, "p", "u", 60, now=time.time() - 3600), "expired"),
        (lambda: jwt.encode({"type": "api", "project_id": "p", "user_id": "u", "exp": time.time() + 60}, SECRET, "HS256"), "type"),
        (lambda: jwt.encode({"type": "plugin_dev", "user_id": "u", "exp": time.time() + 60}, SECRET, "HS256"), "project_id"),
        (lambda: jwt.encode({"type": "plugin_dev", "project_id": "p", "user_id": "u"}, SECRET, "HS256"), "exp"),
        (lambda: "not.a.jwt", "not a valid token"),
    ],
)
async def test_bad_dev_tokens_are_refused_with_32001(dev_host, make_token, fragment):
    client = await tcp_client(dev_host)
    token = make_token()
    extra = {} if token is None else {"dev_token": token}
    reply = await client.register("dev.bad", **extra)
    assert reply["error"]["code"] == -32001
    assert fragment in reply["error"]["message"]
    assert await client.recv() is None
    assert dev_host.registry.all_sessions() == []


async def test_unix_socket_needs_no_token(dev_host):
    client = await RawClient.connect(dev_host.settings.socket_path)
    assert (await client.register("local"))["result"]["success"] is True
    assert dev_host.registry.get("local").is_dev_mode is False
    await client.aclose()


async def test_uid_allow_list(settings, nursery):
    settings.allowed_uids = [os.getuid() + 12345]
    host = Host(settings)
    await nursery.start(host.serve)
    client = await RawClient.connect(settings.socket_path)
    reply = await client.recv()
    assert reply["error"]["code"] == -32002 and f"uid {os.getuid()}" in reply["error"]["message"]
    assert await client.recv() is None
    settings.allowed_uids = [os.getuid()]
    client = await RawClient.connect(settings.socket_path)
    assert (await client.register("ok"))["result"]["success"] is True
    host.request_stop()


async def test_connection_limit_refuses_with_clear_error(settings, nursery):
    settings.max_connections = 2
    host = Host(settings)
    await nursery.start(host.serve)
    first = await RawClient.connect(settings.socket_path)
    second = await RawClient.connect(settings.socket_path)
    await first.register("a")
    await second.register("b")
    third = await RawClient.connect(settings.socket_path)
    reply = await third.recv()
    assert reply["error"]["code"] == -32000 and "limit of 2" in reply["error"]["message"]
    assert await third.recv() is None
    assert len(host.registry) == 2
    host.request_stop()


async def test_in_flight_limit_answers_busy_at_once(settings, nursery, plugins):
    settings.max_in_flight = 2
    settings.http_addr = "127.0.0.1:0"
    host = Host(settings, services=[http_service])
    await nursery.start(host.serve)
    plugins.scripted("hang", "--mode", "hang")
    await wait_registered(host, "hang")
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=10) as http:
        statuses = []

        async def call():
            statuses.append((await http.post("/plugins/hang/render", json={})).status_code)

        async with trio.open_nursery() as n:
            n.start_soon(call)
            n.start_soon(call)
            await wait_for(lambda: host.registry.get("hang").conn.in_flight == 2)
            start = trio.current_time()
            busy = await http.post("/plugins/hang/render", json={})
            assert trio.current_time() - start < 1.0
            assert busy.status_code == 503 and busy.json()["error"]["type"] == "plugin_busy"
            assert busy.headers["retry-after"] == "1"
        assert statuses == [504, 504]
    host.request_stop()


async def test_http_bearer_token(settings, nursery, plugins):
    settings.http_addr = "127.0.0.1:0"
    host = Host(settings, services=[http_service], http_token="s3cret-token")
    await nursery.start(host.serve)
    async with httpx.AsyncClient(base_url=host.http_binds[0]) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200
        missing = await http.get("/plugins")
        assert missing.status_code == 401 and missing.json()["error"]["type"] == "unauthorized"
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = await http.get("/plugins", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "invalid" in wrong.json()["detail"]
        ok = await http.get("/plugins", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200
        assert (await http.get("/metrics")).status_code == 401
    host.request_stop()


def run_cli(*args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TGO_")}
    full_env.update(PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "tgo_host", *args], capture_output=True, text=True, env=full_env, timeout=20)


def test_non_loopback_http_without_token_refuses_to_start(short_dir):
    out = run_cli("run", "--socket", os.path.join(short_dir, "h.sock"), "--http", "0.0.0.0:18090")
    assert out.returncode == 2 and "bearer token is required" in out.stderr
    assert not os.path.exists(os.path.join(short_dir, "h.sock"))


def test_dev_tcp_without_secret_refuses_to_start(short_dir):
    out = run_cli("run", "--socket", os.path.join(short_dir, "h.sock"), "--http", "off", "--dev-tcp", "127.0.0.1:0")
    assert out.returncode == 2 and "no secret" in out.stderr


def test_dev_token_command_uses_secret_file(short_dir):
    secret_file = os.path.join(short_dir, "secret")
    with open(secret_file, "w") as fh:
        fh.write(SECRET + "\n")
    config = os.path.join(short_dir, "host.toml")
    with open(config, "w") as fh:
        fh.write(f'secret_file = "{secret_file}"\n')
    out = run_cli("dev-token", "--config", config, "--project", "P", "--user", "U", "--ttl", "2h")
    assert out.returncode == 0, out.stderr
    claims = jwt.decode(out.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["type"] == "plugin_dev" and claims["project_id"] == "P" and claims["user_id"] == "U"
    assert 7100 < claims["exp"] - time.time() <= 7200
    assert run_cli("dev-token", "--project", "P", "--user", "U").returncode == 2  # no secret, no default


async def test_console_pages_open_but_console_data_needs_the_token(settings, nursery):
    settings.http_addr = "127.0.0.1:0"
    host = Host(settings, services=[http_service], http_token="s3cret-token")
    await nursery.start(host.serve)
    async with httpx.AsyncClient(base_url=host.http_binds[0]) as http:
        for path in ("/console", "/console/gallery", "/console/plugins"):
            assert (await http.get(path)).status_code == 200, path
        assert (await http.get("/console/events")).status_code == 401
        assert (await http.get("/console/../plugins")).status_code == 401
    host.request_stop()
