"""The HTTP API's guard (docs/security.md): Host, Origin, Content-Type, trusted networks, the control plane,
install sources, confined manifests and query parameters — over real HTTP against a real host."""

from __future__ import annotations

import os
import socket
import sys

import httpx
import trio
import pytest

from support.launched import manifest, records  # noqa: F401  (records is a fixture)
from support.paths import PLUGINS
from support.waiting import wait_for, wait_registered
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.plugins.supervisor import Supervisor

ADMIN = "admin-token-0123456789"
HTTP_TOKEN = "http-token-0123456789"


async def start(settings, nursery, *, supervisor_manifests=None, admin=None, token=None):
    settings.http_addr = "127.0.0.1:0"
    launched = None
    if supervisor_manifests is not None:
        launched = lambda registry: Supervisor(settings, registry, supervisor_manifests)  # noqa: E731
    host = Host(settings, services=[http_service], admin_token=admin, http_token=token, supervisor_factory=launched)
    await nursery.start(host.serve)
    return host


def error_type(response: httpx.Response) -> str:
    return response.json()["error"]["type"]


# -- Host header (DNS rebinding) ------------------------------------------------------------


async def test_foreign_host_header_is_refused_on_a_loopback_bound_host(settings, nursery, caplog):
    host = await start(settings, nursery)
    port = host.http_binds[0].rsplit(":", 1)[1]
    async with httpx.AsyncClient(base_url=host.http_binds[0]) as http:
        refused = await http.get("/plugins", headers={"Host": f"attacker.example:{port}"})
        assert refused.status_code == 403 and error_type(refused) == "forbidden_host"
        assert "http_allowed_hosts" in refused.json()["detail"]
        for name in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "localhost", "127.0.0.1"):
            assert (await http.get("/plugins", headers={"Host": name})).status_code == 200, name
        for bad in ("", "attacker.example", "127.0.0.1.nip.io", "localhost.attacker.example", "[::1", "a:b:c"):
            response = await http.get("/plugins", headers={"Host": bad})
            assert response.status_code == 403 and error_type(response) == "forbidden_host", bad
        # probes answer whatever the Host (kubelets send the pod IP)
        assert (await http.get("/healthz", headers={"Host": "10.1.2.3:8090"})).status_code == 200
    assert any("refused GET /plugins from 127.0.0.1:" in r.getMessage() and "attacker.example" in r.getMessage()
               for r in caplog.records)


async def test_allowed_hosts_are_served_and_star_turns_the_check_off(settings, nursery):
    settings.http_allowed_hosts = ["attacker.example", "tgo-host:8090"]
    host = await start(settings, nursery)
    async with httpx.AsyncClient(base_url=host.http_binds[0]) as http:
        assert (await http.get("/plugins", headers={"Host": "attacker.example:1234"})).status_code == 200
        assert (await http.get("/plugins", headers={"Host": "ATTACKER.example"})).status_code == 200
        assert (await http.get("/plugins", headers={"Host": "tgo-host:8090"})).status_code == 200
        assert (await http.get("/plugins", headers={"Host": "tgo-host:9999"})).status_code == 403
        assert (await http.get("/plugins", headers={"Host": "other.example"})).status_code == 403
    host.request_stop()
    settings.socket_path += "2"  # a second host alongside the first, which is still stopping
    settings.http_allowed_hosts = ["*"]
    host = await start(settings, nursery)
    async with httpx.AsyncClient(base_url=host.http_binds[0]) as http:
        assert (await http.get("/plugins", headers={"Host": "anything.example"})).status_code == 200


# -- Origin and Content-Type ------------------------------------------------------------------


async def test_cross_origin_requests_are_refused_and_same_origin_served(settings, nursery, plugins):
    settings.http_allowed_origins = ["https://tgo.example.com"]
    host = await start(settings, nursery)
    plugins.scripted("crm")
    await wait_registered(host, "crm")
    base = host.http_binds[0]
    async with httpx.AsyncClient(base_url=base) as http:
        for origin in ("http://evil.example", "null", "http://127.0.0.1:1", base.replace("http:", "https:"), "garbage"):
            response = await http.post("/plugins/crm/render", json={}, headers={"Origin": origin})
            assert response.status_code == 403 and error_type(response) == "forbidden_origin", origin
            response = await http.get("/plugins", headers={"Origin": origin})
            assert response.status_code == 403, origin
        assert (await http.post("/plugins/crm/render", json={}, headers={"Origin": base})).status_code == 200
        assert (await http.post("/plugins/crm/render", json={}, headers={"Origin": base.upper()})).status_code == 200
        allowed = await http.post("/plugins/crm/render", json={}, headers={"Origin": "https://TGO.example.com:443"})
        assert allowed.status_code == 200
        assert (await http.post("/plugins/crm/render", json={})).status_code == 200  # no Origin: not a browser


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "application/jsonx", "text/json", None],
)
async def test_bodies_that_are_not_json_get_415(settings, nursery, plugins, content_type):
    host = await start(settings, nursery)
    plugins.scripted("crm", "--extras", record=True)
    await wait_registered(host, "crm")
    headers = {"Content-Type": content_type} if content_type else {}
    async with httpx.AsyncClient(base_url=host.http_binds[0]) as http:
        for path in ("/plugins/crm/render", "/plugins/install", "/plugins/crm/channel/send"):
            response = await http.post(path, content=b'{"path": "/tmp"}', headers=headers)
            assert response.status_code == 415 and error_type(response) == "unsupported_media_type", path
        assert plugins.recorded("crm").count("visitor_panel/render") == 0
        for ok in ("application/json", "application/json; charset=utf-8", "application/vnd.api+json"):
            response = await http.post("/plugins/crm/render", content=b"{}", headers={"Content-Type": ok})
            assert response.status_code == 200, ok


# -- who may call: trusted networks and tokens ----------------------------------------------


def _can_bind(address: str) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


@pytest.mark.skipif(not _can_bind("127.0.0.2"), reason="127.0.0.2 is not usable on this machine")
async def test_trusted_networks_serve_their_peers_and_refuse_others(settings, nursery, plugins):
    """The real gateway's call (JSON, no token, no Origin) from a trusted network works; 127.0.0.2 outside gets 403."""
    settings.trusted_networks = ["127.0.0.1/32"]
    host = await start(settings, nursery)
    plugins.scripted("crm")
    await wait_registered(host, "crm")
    gateway_headers = {"Content-Type": "application/json"}
    inside = httpx.AsyncHTTPTransport(local_address="127.0.0.1")
    outside = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=host.http_binds[0], transport=inside) as gateway:
        rendered = await gateway.post("/plugins/crm/render", content=b'{"visitor_id": "v1"}', headers=gateway_headers)
        assert rendered.status_code == 200
    async with httpx.AsyncClient(base_url=host.http_binds[0], transport=outside) as stranger:
        for method, path in (("GET", "/plugins"), ("POST", "/plugins/crm/render"), ("GET", "/metrics")):
            response = await stranger.request(method, path, content=b"{}", headers=gateway_headers)
            assert response.status_code == 403 and error_type(response) == "forbidden_network", path
            assert "127.0.0.2" not in response.text
        assert (await stranger.get("/healthz")).status_code == 200
    host.request_stop()
    # with a bearer token as well, a stranger holding it is served; without it: 401
    settings.socket_path += "2"  # a second host alongside the first, which is still stopping
    host = await start(settings, nursery, token=HTTP_TOKEN)
    async with httpx.AsyncClient(base_url=host.http_binds[0], transport=httpx.AsyncHTTPTransport(
            local_address="127.0.0.2")) as stranger:
        assert (await stranger.get("/plugins")).status_code == 401
        assert (await stranger.get("/plugins", headers={"Authorization": f"Bearer {HTTP_TOKEN}"})).status_code == 200
    async with httpx.AsyncClient(base_url=host.http_binds[0], transport=httpx.AsyncHTTPTransport(
            local_address="127.0.0.1")) as gateway:
        assert (await gateway.get("/plugins")).status_code == 200


# -- the control plane ----------------------------------------------------------------------------


async def test_admin_token_guards_the_control_plane_on_loopback_too(settings, nursery, records, plugins, short_dir):  # noqa: F811
    settings.managed_plugins_dir = os.path.join(short_dir, "managed")
    settings.install_sources = [str(PLUGINS / "managed")]
    settings.shutdown_grace = 1.0
    host = await start(settings, nursery, supervisor_manifests=[manifest("good", "echo")], admin=ADMIN)
    echo = host.supervisor.get("test.echo")
    await wait_for(lambda: echo.registered, timeout=10)
    pid = echo.pid
    plugins.scripted("crm")
    await wait_registered(host, "crm")
    source = str(PLUGINS / "managed" / "install" / "hello")
    control = [
        ("POST", "/plugins/test.echo/stop", None), ("POST", "/plugins/test.echo/restart", None),
        ("POST", "/plugins/test.echo/start", None), ("DELETE", "/plugins/test.echo/uninstall", None),
        ("POST", "/plugins/install", {"path": source}),
    ]
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=20) as http:
        for method, path, body in control:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {HTTP_TOKEN}"}):
                response = await http.request(method, path, json=body, headers=headers)
                assert response.status_code == 401 and error_type(response) == "admin_token_required", (path, headers)
                assert "control-plane" in response.json()["detail"]
        assert echo.pid == pid and echo.status == "running"
        assert not os.path.exists(os.path.join(settings.managed_plugins_dir, "test.hello"))
        # the data plane stays open on loopback: listing, render, status, logs
        assert (await http.get("/plugins")).status_code == 200
        assert (await http.post("/plugins/crm/render", json={})).status_code == 200
        assert (await http.get("/plugins/installed")).status_code == 200
        assert (await http.get("/plugins/test.echo/status")).status_code == 200
        admin = {"Authorization": f"Bearer {ADMIN}"}
        stopped = await http.post("/plugins/test.echo/stop", headers=admin)
        assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
        installed = await http.post("/plugins/install", json={"path": source}, headers=admin)
        assert installed.status_code == 201, installed.text
        assert (await http.get("/plugins", headers=admin)).status_code == 200  # the admin token opens the data plane


def test_every_mutating_route_is_on_the_control_plane(settings):
    """A new mutating route must be declared with control_route (api/guard.py) — checked here for all routes."""
    from tgo_host.api.app import build_app
    from tgo_host.api.guard import ControlRoute

    data_plane_posts = {  # mutating methods that only talk to a connected plugin
        "/plugins/chat-toolbar/{plugin_id}/render", "/plugins/chat-toolbar/{plugin_id}/event",
        "/plugins/visitor-panel/render", "/plugins/tools/execute/{plugin_id}/{tool_name}",
        "/plugins/{plugin_id}/render", "/plugins/{plugin_id}/event", "/plugins/{plugin_id}/channel/send",
    }
    app = build_app(Host(settings))
    control = set()
    for route in app.routes:
        methods = getattr(route, "methods", None) or set()
        if methods & {"POST", "PUT", "PATCH", "DELETE"} and route.path not in data_plane_posts:
            assert isinstance(route, ControlRoute), f"{route.path} mutates but is not a control_route"
        if isinstance(route, ControlRoute):
            control.add(route.path)
    assert {"/plugins/install", "/plugins/{plugin_id}/start", "/plugins/{plugin_id}/stop",
            "/plugins/{plugin_id}/restart", "/plugins/{plugin_id}/uninstall"} <= control


# -- install sources and confined manifests -------------------------------------------------------


def write_plugin(directory: str, plugin_id: str, runtime: str, marker: str, *, extra_files: dict | None = None) -> str:
    """A plugin directory whose main.py would write ``marker`` if it ever ran."""
    os.makedirs(directory)
    with open(os.path.join(directory, "main.py"), "w") as fh:
        fh.write(f"open({marker!r}, 'w').write('ran')\n")
    with open(os.path.join(directory, "plugin.yml"), "w") as fh:
        fh.write(f"id: {plugin_id}\nbuild:\n  language: python\n  python: {{entrypoint: main.py}}\n{runtime}")
    for name, target in (extra_files or {}).items():
        os.symlink(target, os.path.join(directory, name))
    return directory


async def test_installs_are_confined(settings, nursery, short_dir):
    allowed = os.path.join(short_dir, "allowed")
    elsewhere = os.path.join(short_dir, "elsewhere")
    marker = os.path.join(short_dir, "MARKER")
    settings.managed_plugins_dir = os.path.join(short_dir, "managed")
    settings.install_sources = ["https://github.com/", allowed]
    host = await start(settings, nursery, supervisor_manifests=[])
    sh_payload = f"  args: [-c, 'touch {marker}']\n"
    cases = [
        # (directory, runtime section, expected error type, field)
        (os.path.join(elsewhere, "outside"), "", "install_source_not_allowed", None),
        (os.path.join(allowed, "shell"), "runtime:\n  command: /bin/sh\n" + sh_payload, "manifest_not_allowed",
         "runtime.command"),
        (os.path.join(allowed, "bare"), "runtime:\n  command: sh\n" + sh_payload, "manifest_not_allowed",
         "runtime.command"),
        (os.path.join(allowed, "preload"), "runtime:\n  env: {LD_PRELOAD: /tmp/evil.so}\n", "manifest_not_allowed",
         "runtime.env.LD_PRELOAD"),
        (os.path.join(allowed, "path"), "runtime:\n  env: {PATH: /tmp/evil}\n", "manifest_not_allowed",
         "runtime.env.PATH"),
        (os.path.join(allowed, "tgo"), "runtime:\n  env: {TGO_SOCKET_PATH: /tmp/other.sock}\n",
         "manifest_not_allowed", "runtime.env.TGO_SOCKET_PATH"),
        (os.path.join(allowed, "cwd"), "runtime:\n  working_directory: ../..\n", "manifest_not_allowed",
         "runtime.working_directory"),
        (os.path.join(allowed, "climb"), "runtime:\n  command: ../../../bin/sh\n" + sh_payload,
         "manifest_not_allowed", "runtime.command"),
    ]
    for directory, runtime, kind, field in cases:
        write_plugin(directory, "sec." + os.path.basename(directory), runtime, marker)
    # a symlink inside the plugin pointing at /bin/sh is outside once resolved
    write_plugin(os.path.join(allowed, "link"), "sec.link", "runtime:\n  command: ./run\n" + sh_payload, marker,
                 extra_files={"run": "/bin/sh"})
    cases.append((os.path.join(allowed, "link"), "", "manifest_not_allowed", "runtime.command"))
    # a symlink inside an allowed source leading outside it
    os.symlink(os.path.join(elsewhere, "outside"), os.path.join(allowed, "sneaky"))
    cases.append((os.path.join(allowed, "sneaky"), "", "install_source_not_allowed", None))
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=20) as http:
        for directory, _, kind, field in cases:
            response = await http.post("/plugins/install", json={"path": directory})
            assert response.status_code == 403 and error_type(response) == kind, (directory, response.text)
            detail = response.json()["detail"]
            if field is None:
                assert "install_sources" in detail
            else:
                assert response.json()["error"]["field"] == field and field in detail and "plugin.yml" in detail
        assert not os.path.exists(marker)
        assert not os.path.exists(settings.managed_plugins_dir) or os.listdir(settings.managed_plugins_dir) == []
        assert host.supervisor.plugins() == []
        # the same plugin with a confined manifest, from the allowed directory, installs and runs
        good = write_plugin(os.path.join(allowed, "good"), "sec.good", "runtime:\n  env: {GREETING: hi}\n", marker)
        response = await http.post("/plugins/install", json={"path": good})
        assert response.status_code == 201, response.text
        await wait_for(lambda: os.path.exists(marker), timeout=10)


async def test_an_installed_copy_that_reaches_outside_is_not_launched(settings, short_dir, records):  # noqa: F811
    """A manifest edited after install is checked again when the host starts: reported, not launched."""
    from tgo_host.plugins.registry import Registry

    managed = os.path.join(short_dir, "managed")
    marker = os.path.join(short_dir, "MARKER")
    write_plugin(os.path.join(managed, "sec.evil"), "sec.evil", "runtime:\n  command: /bin/sh\n", marker)
    trusted = os.path.join(short_dir, "trusted")
    write_plugin(os.path.join(trusted, "sec.ops"), "sec.ops", f"runtime:\n  command: {sys.executable}\n"
                 "  args: [main.py]\n  env: {PYTHONPATH: /opt/ops}\n", marker)
    settings.managed_plugins_dir = managed
    settings.plugin_dirs = [trusted]
    supervisor = Supervisor(settings, Registry())
    assert "sec.evil" not in supervisor and "sec.ops" in supervisor  # the operator's own dirs stay trusted
    [error] = supervisor.manifest_errors
    assert error.field == "runtime.command" and error.file.endswith("sec.evil/plugin.yml")


# -- query parameters: 422 naming the parameter, never 500 ---------------------------------------


async def test_query_parameters_are_validated_and_nothing_answers_500(settings, nursery, records):  # noqa: F811
    host = await start(settings, nursery, supervisor_manifests=[manifest("good", "echo")])
    await wait_for(lambda: host.supervisor.get("test.echo").registered, timeout=10)
    async with httpx.AsyncClient(base_url=host.http_binds[0]) as http:
        for bad in ("²", "١٢", "-1", "0", "1.5", "abc", "", " ", "9" * 5000, "10001", "1e3", "0x10", "%00"):
            response = await http.get("/plugins/test.echo/logs", params={"limit": bad})
            assert response.status_code == 422, (bad, response.text)
            assert response.json()["error"]["path"] == "limit" and "limit" in response.json()["detail"]
        ok = await http.get("/plugins/test.echo/logs", params={"limit": "10000"})
        assert ok.status_code == 200
        assert len((await http.get("/plugins/test.echo/logs?limit=1")).json()["logs"]) == 1
        weird = ["²", "\x00", "\n", "%ff", "a" * 5000, "../..", "' OR 1=1", "\ud7ff", "🙂"]
        paths = ["/plugins", "/plugins/echo", "/plugins/installed", "/plugins/chat-toolbar/buttons",
                 "/plugins/test.echo/status", "/plugins/echo/iframe", "/plugins/echo/channel/manifest", "/metrics",
                 "/openapi.json", "/console/events"]
        for path in paths:
            for value in weird:
                for name in ("project_id", "limit", "extension_type", "x"):
                    if path == "/console/events":
                        continue  # a stream: checked below with a bounded read
                    response = await http.get(path, params={name: value})
                    assert response.status_code < 500, (path, name, value, response.text)
        for value in weird:
            response = await http.post("/plugins/echo/render", params={"extension_type": value}, json={})
            assert response.status_code < 500, (value, response.text)
        raw = await http.get("/plugins/test.echo/logs?limit=%FF%FE")
        assert raw.status_code == 422


async def test_no_route_answers_500_to_odd_requests(settings, nursery, plugins, records, short_dir):  # noqa: F811
    """Seeded random requests (paths, ids, query values, bodies, content types) over every route: never a 500."""
    import random

    settings.managed_plugins_dir = os.path.join(short_dir, "managed")
    settings.install_sources = [short_dir]
    settings.render_timeout = settings.event_timeout = settings.call_timeout = 1.0
    host = await start(settings, nursery, supervisor_manifests=[manifest("good", "echo")])
    plugins.scripted("crm", "--extras")
    await wait_registered(host, "crm")
    rnd = random.Random(11)
    odd = ["", "x", "²", "%00", "%ff", "a" * 3000, "../..", "null", "[]", "1", "-1", "🙂", "%2e%2e", "\u202e"]
    ids = ["crm", "echo", "test.echo", "nope", "%00", "..", "a" * 300, "%0a", "%ff"]
    paths = ["/plugins", "/plugins/{id}", "/plugins/{id}/render", "/plugins/{id}/event", "/plugins/{id}/iframe",
             "/plugins/{id}/channel/manifest", "/plugins/{id}/channel/send", "/plugins/tools/execute/{id}/{odd}",
             "/plugins/chat-toolbar/buttons", "/plugins/chat-toolbar/{id}/render", "/plugins/chat-toolbar/{id}/event",
             "/plugins/visitor-panel/render", "/plugins/installed", "/plugins/install", "/plugins/{id}/start",
             "/plugins/{id}/logs", "/plugins/{id}/status", "/plugins/fetch-info", "/metrics", "/docs", "/openapi.json"]
    bodies = [b"", b"{}", b"[]", b"null", b"1", b'"x"', b'{"visitor_id": 1}', b'{"path": 5}', b'{"path": "\\u0000"}',
              b'{"path": ""}', b'{"path": "/nonexistent"}', b'{"url": "file:///etc/passwd"}', b'{"arguments": null}',
              b"\xff\xfe", b'{"visitor_id":"v","visitor":[1]}', b'{"event_type":"x","action_id":"y","extension_type":"z"}',
              b'{"channel_id":"c","to":{"id":"u"},"message":{"type":"text","content":"x"}}', b'{"url": "ftp://x/"}']
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=10) as http:
        for _ in range(400):
            path = rnd.choice(paths).replace("{id}", rnd.choice(ids)).replace("{odd}", rnd.choice(odd) or "t")
            params = {rnd.choice(["project_id", "limit", "extension_type"]): rnd.choice(odd)} if rnd.random() < 0.7 else {}
            method = rnd.choice(["GET", "POST", "DELETE", "PUT"])
            content_type = rnd.choice(["application/json", "application/json", "text/plain"])
            response = await http.request(method, path, params=params, content=rnd.choice(bodies),
                                          headers={"content-type": content_type})
            assert response.status_code < 500 or response.json()["error"]["type"] in (
                "plugin_timeout", "plugin_error", "invalid_plugin_result", "plugin_busy", "plugin_disconnected",
                "plugin_failure", "supervisor_unavailable"), (method, path, params, response.text)
        for body in bodies:  # every odd body on the install and fetch-info routes, as JSON
            for path in ("/plugins/install", "/plugins/fetch-info"):
                response = await http.post(path, content=body, headers={"content-type": "application/json"})
                assert response.status_code < 500, (path, body, response.text)


async def test_an_installed_plugin_is_checked_again_at_every_launch(settings, nursery, short_dir):
    """A symlink swapped in after install (the program now leads outside) stops the next launch."""
    allowed = os.path.join(short_dir, "allowed")
    marker = os.path.join(short_dir, "MARKER")
    settings.managed_plugins_dir = os.path.join(short_dir, "managed")
    settings.install_sources = [allowed]
    settings.shutdown_grace = 1.0
    host = await start(settings, nursery, supervisor_manifests=[])
    write_plugin(os.path.join(allowed, "swap"), "sec.swap", "", marker)
    plugin = await host.supervisor.install(os.path.join(allowed, "swap"))
    await wait_for(lambda: os.path.exists(marker), timeout=10)
    await host.supervisor.stop("sec.swap")
    os.remove(marker)
    installed_main = os.path.join(plugin.manifest.directory, "main.py")
    os.remove(installed_main)
    os.symlink(os.path.join(short_dir, "elsewhere.py"), installed_main)
    with open(os.path.join(short_dir, "elsewhere.py"), "w") as fh:
        fh.write(f"open({marker!r}, 'w').write('ran')\n")
    await host.supervisor.start("sec.swap")
    assert plugin.status == "error" and "build.python.entrypoint" in plugin.last_error
    await trio.sleep(0.5)
    assert not os.path.exists(marker)
