"""The upstream runtime's environment names (docker-compose), /health and /, through the real CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import attrs
import jwt
import pytest

from composehost import SECRET, ComposeHost, compose_environment, process_environment
from support.paths import PLUGINS
from tgo_host.config import ConfigError, load_settings, read_secret
from tgo_host.settings import Settings
from tgo_host.upstream_env import compose_trusted_networks, connected_private_networks, upstream_values

COMPOSE = {
    "HOST": "0.0.0.0", "PORT": "8090", "PLUGIN_SOCKET_PATH": "/var/run/tgo/tgo.sock", "PLUGIN_TCP_PORT": "8005",
    "PLUGIN_REQUEST_TIMEOUT": "30", "PLUGIN_PING_INTERVAL": "30", "AI_SERVICE_URL": "http://tgo-ai:8081",
    "AI_SERVICE_TIMEOUT": "30", "SECRET_KEY": "s3cret", "PLUGIN_BASE_PATH": "/var/lib/tgo/plugins", "LOG_LEVEL": "INFO",
}


def test_compose_environment_maps_onto_the_settings():
    settings = load_settings(environ=COMPOSE)
    assert settings.http_addr == "0.0.0.0:8090"
    assert settings.socket_path == "/var/run/tgo/tgo.sock"
    assert settings.dev_tcp_addr == "0.0.0.0:8005" and settings.dev_tcp_allow_remote is True
    assert settings.call_timeout == 30.0 and settings.ping_interval == 30.0
    assert settings.ai_service_url == "http://tgo-ai:8081" and settings.ai_service_timeout == 30.0
    assert settings.managed_plugins_dir == "/var/lib/tgo/plugins"
    assert settings.log_level == "info"
    assert read_secret(settings, COMPOSE) == "s3cret"


def test_unset_upstream_names_keep_the_defaults_and_port_alone_takes_host_default():
    assert load_settings(environ={}) == Settings()
    assert load_settings(environ={"PORT": "9000"}).http_addr == "0.0.0.0:9000"
    assert load_settings(environ={"HOST": "::1"}).http_addr == "[::1]:8090"
    assert load_settings(environ={"PLUGIN_TCP_PORT": ""}).dev_tcp_addr is None  # empty = unset (upstream: off)


def test_a_tgo_name_wins_over_the_upstream_name():
    env = {**COMPOSE, "TGO_HTTP_ADDR": "127.0.0.1:9999", "TGO_SOCKET_PATH": "/tmp/x.sock", "TGO_CALL_TIMEOUT": "7",
           "TGO_SECRET": "mine", "TGO_MANAGED_PLUGINS_DIR": "/srv/p", "TGO_LOG_LEVEL": "debug",
           "TGO_DEV_TCP_ALLOW_REMOTE": "false"}
    settings = load_settings(environ=env)
    assert (settings.http_addr, settings.socket_path, settings.call_timeout) == ("127.0.0.1:9999", "/tmp/x.sock", 7.0)
    assert (settings.managed_plugins_dir, settings.log_level, settings.dev_tcp_allow_remote) == ("/srv/p", "debug", False)
    assert read_secret(settings, env) == "mine"
    # flags win over both
    assert load_settings(overrides={"http_addr": "127.0.0.1:1"}, environ=env).http_addr == "127.0.0.1:1"


def test_a_bad_upstream_value_names_the_upstream_variable():
    with pytest.raises(ConfigError, match="PLUGIN_REQUEST_TIMEOUT"):
        load_settings(environ={"PLUGIN_REQUEST_TIMEOUT": "soon"})
    with pytest.raises(ConfigError, match="HOST/PORT"):
        load_settings(environ={"PORT": "http"})
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        load_settings(environ={"LOG_LEVEL": "chatty"})


ROUTES = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth1\t0014A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth2\t00336472\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""


def test_connected_private_networks_read_from_the_routing_table(tmp_path):
    routes = tmp_path / "route"
    routes.write_text(ROUTES)
    # the default route and the public 114.100.51.0/24 are not trusted
    assert connected_private_networks(str(routes)) == ["172.18.0.0/16", "192.168.20.0/24"]
    assert connected_private_networks(str(tmp_path / "missing")) == []


def test_compose_trust_is_implied_only_for_an_upstream_api_without_token_or_networks():
    nets = lambda: ["172.18.0.0/16"]  # noqa: E731
    settings = load_settings(environ=COMPOSE)
    assert compose_trusted_networks(COMPOSE, settings, off_loopback=True, has_http_token=False, networks=nets) == [
        "172.18.0.0/16"]
    assert compose_trusted_networks(COMPOSE, settings, off_loopback=True, has_http_token=True, networks=nets) is None
    assert compose_trusted_networks(COMPOSE, settings, off_loopback=False, has_http_token=False, networks=nets) is None
    explicit = load_settings(environ={**COMPOSE, "TGO_TRUSTED_NETWORKS": "10.9.0.0/16"})
    assert compose_trusted_networks(COMPOSE, explicit, off_loopback=True, has_http_token=False, networks=nets) is None
    overridden = load_settings(environ={**COMPOSE, "TGO_HTTP_ADDR": "10.1.1.1:8090"})
    assert compose_trusted_networks(COMPOSE, overridden, off_loopback=True, has_http_token=False, networks=nets) is None
    assert compose_trusted_networks({}, Settings(http_addr="0.0.0.0:1"), off_loopback=True, has_http_token=False,
                                    networks=nets) is None


def test_check_shows_the_compose_settings(short_dir):
    env = process_environment(compose_environment(short_dir))
    out = subprocess.run([sys.executable, "-m", "tgo_host", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"http_addr = '127.0.0.1:{env['PORT']}'" in out.stdout
    assert f"dev_tcp_addr = '127.0.0.1:{env['PLUGIN_TCP_PORT']}'" in out.stdout
    assert f"managed_plugins_dir = '{env['PLUGIN_BASE_PATH']}'" in out.stdout


def gateway_dev_token(project_id: str, user_id: str) -> str:
    """A dev token as the TGO gateway signs it: HS256 with SECRET_KEY, type plugin_dev."""
    now = int(time.time())
    claims = {"type": "plugin_dev", "project_id": project_id, "user_id": user_id, "iat": now, "exp": now + 3600}
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.mark.timeout(120)
def test_the_cli_serves_the_compose_contract(short_dir):
    compose = compose_environment(short_dir)
    host = ComposeHost(compose, os.path.join(short_dir, "host.log"))
    plugin = None
    try:
        host.wait_healthy()
        health = host.get("/health")
        assert health.status_code == 200 and health.json() == {"status": "healthy"}
        info = host.get("/").json()
        assert info["service"] == "tgo-host" and info["version"]
        assert host.get("/healthz").json() == {"status": "ok"}
        assert host.get("/readyz").status_code == 200
        sock_path = compose["PLUGIN_SOCKET_PATH"]
        with socket.socket(socket.AF_UNIX) as s:  # the plugin socket is served at PLUGIN_SOCKET_PATH
            s.connect(sock_path)
        # a dev-mode plugin with a gateway-signed token on PLUGIN_TCP_PORT
        project = "4b0e2d0a-6f0e-4a43-9a55-8f3c1b1d2e3f"
        env = {**os.environ, "TGO_TCP_ADDR": f"127.0.0.1:{compose['PLUGIN_TCP_PORT']}",
               "TGO_DEV_TOKEN": gateway_dev_token(project, "dev-user")}
        plugin = subprocess.Popen([sys.executable, str(PLUGINS / "scripted.py"), "--id", "compose-dev"], env=env)
        deadline = time.monotonic() + 20
        listed = []
        while time.monotonic() < deadline:
            listed = host.get("/plugins/installed", params={"project_id": project}).json()["plugins"]
            if listed:
                break
            time.sleep(0.1)
        assert [(p["plugin_id"], p["is_dev_mode"], p["status"]) for p in listed] == [("compose-dev", True, "running")]
        other = host.get("/plugins/installed", params={"project_id": "00000000-0000-0000-0000-000000000000"}).json()
        assert other["plugins"] == []
        rendered = host.post("/plugins/compose-dev/render", params={"project_id": project},
                             json={"visitor_id": "v1", "extension_type": "visitor_panel"})
        assert rendered.status_code == 200, rendered.text
        # a token signed with another secret is refused
        bad = jwt.encode({"type": "plugin_dev", "project_id": project, "user_id": "u", "exp": int(time.time()) + 60},
                         "another-secret-of-at-least-32-bytes!", algorithm="HS256")
        refused = subprocess.run([sys.executable, str(PLUGINS / "scripted.py"), "--id", "intruder"],
                                 env={**env, "TGO_DEV_TOKEN": bad}, capture_output=True, text=True, timeout=30)
        assert refused.returncode != 0
        assert "intruder" not in host.get("/plugins/installed").text
    finally:
        if plugin is not None:
            plugin.kill()
            plugin.wait(10)
        assert host.stop() == 0, host.stderr()
    assert not os.path.exists(compose["PLUGIN_SOCKET_PATH"])
