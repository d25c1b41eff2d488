"""The security settings as operators give them: config file, environment, flags; bad values named."""

from __future__ import annotations

import os

import pytest

from support.cli import run_cli
from tgo_host.config import ConfigError, load_settings
from tgo_host.settings import DEFAULT_INSTALL_SOURCES


def test_defaults():
    settings = load_settings(environ={})
    assert settings.install_sources == list(DEFAULT_INSTALL_SOURCES)
    assert settings.install_sources == ["https://github.com/", "https://gitee.com/", "https://raw.githubusercontent.com/"]
    assert settings.trusted_networks == [] and settings.http_allowed_origins == [] and settings.http_allowed_hosts == []
    assert settings.admin_token_file is None
    assert settings.dev_token_max_ttl == 30 * 86400


def test_environment_lists_are_space_separated_and_normalised():
    settings = load_settings(environ={
        "TGO_INSTALL_SOURCES": "https://github.com/acme/ relative/dir",
        "TGO_TRUSTED_NETWORKS": "172.18.0.1/16 fd00::/8,10.0.0.0/8",
        "TGO_HTTP_ALLOWED_ORIGINS": "HTTPS://Console.Example.com/",
        "TGO_HTTP_ALLOWED_HOSTS": "tgo-host tgo-host:8090",
        "TGO_DEV_TOKEN_MAX_TTL": "3600",
    })
    assert settings.install_sources == ["https://github.com/acme/", os.path.abspath("relative/dir")]
    assert settings.trusted_networks == ["172.18.0.0/16", "fd00::/8", "10.0.0.0/8"]
    assert settings.http_allowed_origins == ["https://console.example.com"]
    assert settings.http_allowed_hosts == ["tgo-host", "tgo-host:8090"]
    assert settings.dev_token_max_ttl == 3600.0


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"TGO_TRUSTED_NETWORKS": "not-a-net"}, "TGO_TRUSTED_NETWORKS: trusted_networks: 'not-a-net' is not a network"),
        ({"TGO_INSTALL_SOURCES": "file:///etc"}, "install_sources: 'file:///etc': only local directories"),
        ({"TGO_HTTP_ALLOWED_ORIGINS": "console.example.com"}, "http_allowed_origins: 'console.example.com' is not an origin"),
        ({"TGO_HTTP_ALLOWED_HOSTS": "http://x"}, "http_allowed_hosts: 'http://x' is not a host name"),
        ({"TGO_DEV_TOKEN_MAX_TTL": "-1"}, "dev_token_max_ttl: must be greater than 0"),
    ],
)
def test_bad_values_are_named(env, fragment):
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert fragment in str(info.value)


def test_flags_add_install_sources_and_trusted_networks(short_dir):
    out = run_cli(
        "check", "--install-source", short_dir, "--install-source", "https://example.com/plugins/",
        "--trusted-network", "192.168.5.0/24", env={"TGO_SOCKET_PATH": ""},
    )
    assert out.returncode == 0, out.stderr
    lines = set(out.stdout.splitlines())
    expected = [*DEFAULT_INSTALL_SOURCES, short_dir, "https://example.com/plugins/"]
    assert f"install_sources = {expected!r}" in lines
    assert "trusted_networks = ['192.168.5.0/24']" in lines
    bad = run_cli("check", "--trusted-network", "nonsense", env={"TGO_SOCKET_PATH": ""})
    assert bad.returncode == 2 and "--trusted-network" in bad.stderr and "nonsense" in bad.stderr


def test_off_loopback_needs_a_token_or_trusted_networks(short_dir):
    """Refuses to start before binding anything: no real network is touched."""
    socket_path = os.path.join(short_dir, "h.sock")
    out = run_cli("run", "--socket", socket_path, "--http", "0.0.0.0:0", env={"TGO_HTTP_TOKEN": ""})
    assert out.returncode == 2
    assert "trusted_networks" in out.stderr and "token" in out.stderr
    assert not os.path.exists(socket_path)


def test_dev_token_command_refuses_a_ttl_past_the_maximum():
    out = run_cli("dev-token", "--project", "p", "--user", "u", "--ttl", "31d", env={"TGO_SECRET": "s" * 32})
    assert out.returncode == 2 and "dev_token_max_ttl" in out.stderr
    ok = run_cli("dev-token", "--project", "p", "--user", "u", "--ttl", "30d", env={"TGO_SECRET": "s" * 32})
    assert ok.returncode == 0, ok.stderr


def test_check_warns_about_an_open_control_plane():
    out = run_cli("check", "--http", "0.0.0.0:8090", env={"TGO_SOCKET_PATH": "", "TGO_ADMIN_TOKEN": ""})
    assert out.returncode == 0, out.stderr
    assert "security warning: http_addr 0.0.0.0:8090 is not loopback and there is no admin token" in out.stdout
    assert "http_allowed_hosts is empty" in out.stdout
    quiet = run_cli("check", "--http", "0.0.0.0:8090", env={
        "TGO_SOCKET_PATH": "", "TGO_ADMIN_TOKEN": "a" * 32, "TGO_HTTP_ALLOWED_HOSTS": "tgo-host"})
    assert "no admin token" not in quiet.stdout and "http_allowed_hosts is empty" not in quiet.stdout
    loopback = [line for line in run_cli("check", env={"TGO_SOCKET_PATH": ""}).stdout.splitlines()
                if line.startswith("security warning") and "running as root" not in line]
    assert loopback == []


@pytest.mark.parametrize("source", ["TGO_ADMIN_TOKEN", "admin_token_file"])
def test_cli_configured_admin_token_guards_the_control_plane(short_dir, source):
    """The admin token as operators set it (environment, or a file named in the config), through `tgo-host run`."""
    import httpx
    from support.hostprocess import HostProcess, clean_env

    admin = "admin-" + source.lower()
    env = clean_env()
    args = ["--http", "127.0.0.1:0", "--trusted-network", "127.0.0.1/32"]
    if source == "TGO_ADMIN_TOKEN":
        env["TGO_ADMIN_TOKEN"] = admin
    else:
        token_file = os.path.join(short_dir, "admin.token")
        with open(token_file, "w") as fh:
            fh.write(admin + "\n")
        config = os.path.join(short_dir, "host.toml")
        with open(config, "w") as fh:
            fh.write(f'admin_token_file = "{token_file}"\n')
        args += ["--config", config]
    host = HostProcess(short_dir, *args, env=env)
    try:
        base = host.wait_log(r"HTTP API on (http://127\.0\.0\.1:\d+)").group(1)
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/plugins").status_code == 200  # data plane: the trusted network needs no token
            refused = http.post("/plugins/some.plugin/stop")
            assert refused.status_code == 401 and refused.json()["error"]["type"] == "admin_token_required"
            allowed = http.post("/plugins/some.plugin/stop", headers={"Authorization": f"Bearer {admin}"})
            assert allowed.status_code == 404  # past the guard: this host launches no such plugin
        assert "refused POST /plugins/some.plugin/stop from 127.0.0.1:" in host.log()
    finally:
        assert host.stop() == 0
