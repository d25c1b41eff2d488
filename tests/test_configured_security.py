"""Security settings as operators configure them: each one changes what the host does.

The HTTP token and the dev-token secret are set the way an operator sets them (environment
or file, through the real CLI), never by assigning the attribute a test could set directly.
"""

from __future__ import annotations

import grp
import os
import stat
import subprocess
import sys
import time

import httpx
import jwt
import pytest
import trio

from support.hostprocess import clean_env, HostProcess
from support.paths import PLUGINS
from support.rawclient import RawClient
from support.waiting import wait_registered
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.plugins.auth import mint_dev_token
from tgo_host.plugins.listener import SocketPathError, bind_unix_listener, open_dev_tcp_listener

SECRET = "configured-secret-0123456789abcdef0123"


@pytest.fixture
def host_process(short_dir):
    started: list[HostProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> HostProcess:
        started.append(HostProcess(short_dir, *args, env=env))
        return started[-1]

    yield start
    for process in started:
        process.stop()


def scripted_over_tcp(address: str, plugin_id: str, token: str, record: str, *args: str) -> subprocess.Popen:
    env = clean_env(TGO_TCP_ADDR=address, TGO_DEV_TOKEN=token)
    return subprocess.Popen([sys.executable, str(PLUGINS / "scripted.py"), "--id", plugin_id, "--record", record, *args],
                            env=env, stdin=subprocess.DEVNULL)


def wait_file_line(path: str, prefix: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as fh:
                for line in fh:
                    if line.startswith(prefix):
                        return line
        except FileNotFoundError:
            pass
        assert time.monotonic() < deadline, f"no {prefix!r} line in {path} within {timeout} s"
        time.sleep(0.05)


# -- the HTTP bearer token, configured through the CLI -------------------------------------------


@pytest.mark.parametrize("source", ["TGO_HTTP_TOKEN", "http_token_file"])
def test_cli_configured_http_token_refuses_tokenless_requests(host_process, short_dir, source):
    token = "op-token-" + source.lower()
    args: list[str] = ["--http", "127.0.0.1:0"]
    env = clean_env()
    if source == "TGO_HTTP_TOKEN":
        env["TGO_HTTP_TOKEN"] = token
    else:
        token_file = os.path.join(short_dir, "http.token")
        with open(token_file, "w") as fh:
            fh.write(token + "\n")
        config = os.path.join(short_dir, "host.toml")
        with open(config, "w") as fh:
            fh.write(f'http_token_file = "{token_file}"\n')
        args += ["--config", config]
    host = host_process(*args, env=env)
    base = host.wait_log(r"HTTP API on (http://127\.0\.0\.1:\d+)").group(1)
    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/healthz").status_code == 200  # probes stay open
        missing = http.get("/plugins")
        assert missing.status_code == 401 and missing.json()["error"]["type"] == "unauthorized"
        assert http.get("/plugins", headers={"Authorization": "Bearer not-it"}).status_code == 401
        assert http.post("/plugins/visitor-panel/render", json={"visitor_id": "v"}).status_code == 401
        assert http.get("/metrics").status_code == 401
        ok = http.get("/plugins", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and ok.json() == {"plugins": [], "total": 0}
    assert host.stop() == 0


# -- TGO_SECRET: the dev-token secret from the environment ---------------------------------------


def test_tgo_secret_signs_dev_tokens_the_host_accepts(host_process, short_dir):
    host = host_process("--http", "off", "--dev-tcp", "127.0.0.1:0", env=clean_env(TGO_SECRET=SECRET))
    address = "127.0.0.1:" + host.wait_log(r"dev TCP listener on 127\.0\.0\.1:(\d+)").group(1)
    good, bad = os.path.join(short_dir, "good.log"), os.path.join(short_dir, "bad.log")
    # the token minted by the CLI from the same TGO_SECRET
    minted = subprocess.run([sys.executable, "-m", "tgo_host", "dev-token", "--project", "P", "--user", "dev"],
                            capture_output=True, text=True, env=clean_env(TGO_SECRET=SECRET), timeout=60)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["project_id"] == "P"
    procs = [scripted_over_tcp(address, "dev.good", token, good),
             scripted_over_tcp(address, "dev.bad", mint_dev_token("another-secret-0123456789abcdef-0123456789", "P", "u", 60), bad)]
    try:
        assert '"success": true' in wait_file_line(good, "registered")
        refused = wait_file_line(bad, "registered")
        assert "-32001" in refused and "signature is invalid" in refused
        assert procs[1].wait(timeout=20) == 3
    finally:
        assert host.stop() == 0
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


# -- dev_tcp_allow_remote: the debug listener is loopback-only unless allowed -----------------------


@pytest.mark.parametrize("addr", ["0.0.0.0:0", "10.1.2.3:0", "[::]:0"])
async def test_dev_listener_refuses_non_loopback_by_default(addr):
    with pytest.raises(SocketPathError, match="not on loopback.*dev_tcp_allow_remote"):
        await open_dev_tcp_listener(addr, allow_remote=False)


@pytest.mark.parametrize("addr", ["127.0.0.1:0", "localhost:0"])
async def test_dev_listener_on_loopback_needs_no_permission(addr):
    sock = await open_dev_tcp_listener(addr, allow_remote=False)
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()


def test_cli_refuses_a_remote_dev_listener_and_leaves_no_socket(host_process):
    host = host_process("--http", "off", "--dev-tcp", "0.0.0.0:0", env=clean_env(TGO_SECRET=SECRET))
    assert host.proc.wait(timeout=60) == 2  # a start-up (configuration) failure
    assert "not on loopback" in host.log() and "dev_tcp_allow_remote" in host.log()
    assert not os.path.exists(host.socket)


async def test_allow_remote_binds_every_interface_and_still_requires_a_token(settings, nursery):
    settings.dev_tcp_addr = "0.0.0.0:0"
    settings.dev_tcp_allow_remote = True
    host = Host(settings, secret=SECRET)
    await nursery.start(host.serve)
    assert host.dev_tcp_address[0] == "0.0.0.0"
    client = RawClient(await trio.open_tcp_stream("127.0.0.1", host.dev_tcp_address[1]))
    assert (await client.register("dev.none"))["error"]["code"] == -32001
    client = RawClient(await trio.open_tcp_stream("127.0.0.1", host.dev_tcp_address[1]))
    reply = await client.register("dev.ok", dev_token=mint_dev_token(SECRET, "P", "u", 600))
    assert reply["result"]["success"] is True
    host.request_stop()


async def test_in_process_host_refuses_a_remote_dev_listener(settings):
    settings.dev_tcp_addr = "0.0.0.0:0"
    host = Host(settings, secret=SECRET)
    with pytest.raises(SocketPathError, match="not on loopback"):
        await host.serve()
    assert not os.path.exists(settings.socket_path)


# -- the socket file: group, mode, and the umask around bind ---------------------------------------


def other_group() -> grp.struct_group:
    """A group the socket can be given that is not the process's own (root may use any)."""
    candidates = os.getgroups() if os.geteuid() != 0 else [g.gr_gid for g in grp.getgrall()]
    for gid in candidates:
        if gid != os.getgid():
            return grp.getgrgid(gid)
    pytest.fail("no second group to give the socket to (run as root, or as a member of two groups)")


async def test_socket_group_is_applied(short_dir):
    group = other_group()
    path = os.path.join(short_dir, "g.sock")
    sock = bind_unix_listener(path, mode=0o660, group=group.gr_name)
    try:
        st = os.lstat(path)
        assert st.st_gid == group.gr_gid != os.getgid()
        assert stat.S_IMODE(st.st_mode) == 0o660
    finally:
        sock.close()


def test_cli_socket_group_flag(host_process):
    group = other_group()
    host = host_process("--http", "off", "--socket-group", group.gr_name)
    host.wait_log("listening for plugins")
    assert os.lstat(host.socket).st_gid == group.gr_gid
    assert host.stop() == 0


def test_unknown_socket_group_is_a_clear_error_and_leaves_no_file(short_dir):
    path = os.path.join(short_dir, "g.sock")
    with pytest.raises(SocketPathError, match="no-such-group-xyz"):
        bind_unix_listener(path, group="no-such-group-xyz")
    assert not os.path.exists(path)


async def test_socket_is_never_world_accessible_even_between_bind_and_chmod(short_dir, monkeypatch):
    """Under a permissive umask, the file bind() creates is already owner-only; the umask is restored."""
    path = os.path.join(short_dir, "u.sock")
    seen: list[int] = []
    real_chmod = os.chmod

    def chmod_spy(target, mode, *args, **kwargs):
        if target == path:
            seen.append(stat.S_IMODE(os.lstat(path).st_mode))  # what bind() left there
        return real_chmod(target, mode, *args, **kwargs)

    monkeypatch.setattr(os, "chmod", chmod_spy)
    previous = os.umask(0)
    try:
        sock = bind_unix_listener(path, mode=0o660)
        restored = os.umask(previous)
    finally:
        os.umask(previous)
    sock.close()
    assert seen == [0o600]  # before chmod: rw for the owner only
    assert restored == 0  # the host's umask is put back after bind
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o660


# -- allowed_gids ------------------------------------------------------------------------------------


async def test_gid_allow_list(settings, nursery):
    settings.allowed_gids = [os.getgid() + 12345]
    host = Host(settings)
    await nursery.start(host.serve)
    client = await RawClient.connect(settings.socket_path)
    reply = await client.recv()
    assert reply["error"]["code"] == -32002 and f"gid {os.getgid()}" in reply["error"]["message"]
    assert await client.recv() is None
    assert len(host.registry) == 0
    # the peer's gid on the list admits it, even though its uid is on no list
    settings.allowed_gids = [os.getgid()]
    settings.allowed_uids = [os.getuid() + 12345]
    client = await RawClient.connect(settings.socket_path)
    assert (await client.register("by-gid"))["result"]["success"] is True
    host.request_stop()


# -- ?project_id= on the tools, iframe and channel routes ----------------------------------------------


async def test_project_id_scopes_tools_iframe_and_channel_routes(settings, nursery, plugins, short_dir):
    settings.http_addr = "127.0.0.1:0"
    settings.dev_tcp_addr = "127.0.0.1:0"
    host = Host(settings, secret=SECRET, services=[http_service])
    await nursery.start(host.serve)
    address = "%s:%d" % host.dev_tcp_address
    dev = scripted_over_tcp(address, "crm", mint_dev_token(SECRET, "P", "u", 600), os.path.join(short_dir, "crm.log"), "--extras")
    plugins.procs.append(dev)  # killed at teardown
    plugins.scripted("shared", "--extras")  # global: on the Unix socket
    await wait_registered(host, "crm", "shared")
    assert host.registry.get("crm", "P").project_id == "P"
    send_body = {"channel_id": "c1", "to": {"id": "u7"}, "message": {"type": "text", "content": "hi"}}
    tool_body = {"arguments": {"order_id": "A-1"}, "context": {"visitor_id": "v1"}}

    async def calls(http, plugin_id, project):
        query = f"?project_id={project}"
        return [
            await http.post(f"/plugins/tools/execute/{plugin_id}/lookup_order{query}", json=tool_body),
            await http.get(f"/plugins/{plugin_id}/iframe{query}"),
            await http.get(f"/plugins/{plugin_id}/channel/manifest{query}"),
            await http.post(f"/plugins/{plugin_id}/channel/send{query}", json=send_body),
        ]

    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=20) as http:
        tool, iframe, manifest, sent = await calls(http, "crm", "P")
        assert tool.status_code == 200 and tool.json()["content"] == "order A-1"
        assert iframe.status_code == 200 and iframe.json()["url"] == "http://127.0.0.1:9/crm"
        assert manifest.status_code == 200 and manifest.json()["channel_type"] == "custom_im"
        assert sent.status_code == 200 and sent.json() == {"success": True, "message_id": "m-u7"}
        for response in await calls(http, "crm", "Q"):  # another project's plugin does not exist for Q
            assert response.status_code == 404, response.text
            assert response.json()["error"]["type"] == "plugin_not_found"
        for response in await calls(http, "shared", "Q"):  # a global plugin serves every project
            assert response.status_code == 200, response.text
    host.request_stop()
