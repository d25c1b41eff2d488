"""The upstream TGO plugin runtime's environment names, mapped onto :class:`~tgo_host.settings.Settings`.

TGO's docker-compose configures its ``tgo-plugin-runtime`` service only
through ``HOST``, ``PORT``, ``PLUGIN_SOCKET_PATH``, … (see :data:`UPSTREAM`).
They are the lowest-precedence source above the defaults: a config file, a
``TGO_*`` variable or a flag naming the same setting wins.

With ``HOST``/``PORT`` present (the compose case) and the API bound off
loopback, the callers are the other containers of the compose network, which
send no token. Unless the operator configured ``trusted_networks`` or an HTTP
token, :func:`compose_trusted_networks` trusts the private networks this
machine is directly attached to (its container networks), nothing wider.
"""

from __future__ import annotations

import ipaddress
from typing import Callable, Mapping

from .settings import Settings

#: upstream name → (setting, how the value is turned into the setting's text form)
UPSTREAM: dict[str, tuple[str, str]] = {
    "PLUGIN_SOCKET_PATH": ("socket_path", "plugin socket path"),
    "PLUGIN_REQUEST_TIMEOUT": ("call_timeout", "seconds for tool/execute, iframe config, channel calls"),
    "PLUGIN_PING_INTERVAL": ("ping_interval", "seconds between heartbeats"),
    "AI_SERVICE_URL": ("ai_service_url", "where plugins' MCP tools are announced"),
    "AI_SERVICE_TIMEOUT": ("ai_service_timeout", "seconds one call to the AI service may take"),
    "PLUGIN_BASE_PATH": ("managed_plugins_dir", "where installed plugins live (PLUGIN_BASE_PATH/<id>/)"),
    "DATABASE_URL": ("database_url", "PostgreSQL holding pg_installed_plugins"),
    "LOG_LEVEL": ("log_level", "debug, info, warning or error (any case)"),
}
#: Every upstream name read (SECRET_KEY by tgo_host.config.read_secret).
UPSTREAM_NAMES = (*UPSTREAM, "HOST", "PORT", "PLUGIN_TCP_PORT", "SECRET_KEY")
DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = "8090"
PROC_ROUTES = "/proc/net/route"


def _address(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def upstream_values(environ: Mapping[str, str]) -> dict[str, str | bool]:
    """Settings (as environment text) given by upstream names in ``environ``; empty values are unset.

    ``HOST``/``PORT`` → ``http_addr`` (either alone takes the other's upstream
    default); ``PLUGIN_TCP_PORT`` → ``dev_tcp_addr`` on ``HOST`` with
    ``dev_tcp_allow_remote`` (compose publishes that port; dev tokens guard it).
    ``SECRET_KEY`` is read by :func:`tgo_host.config.read_secret`.
    """
    given = {name: value for name, value in environ.items() if value != ""}
    values: dict[str, str | bool] = {}
    for name, (setting, _) in UPSTREAM.items():
        if name in given:
            values[setting] = given[name].lower() if setting == "log_level" else given[name]
    host = given.get("HOST", DEFAULT_HOST)
    if "HOST" in given or "PORT" in given:
        values["http_addr"] = _address(host, given.get("PORT", DEFAULT_PORT))
    if "PLUGIN_TCP_PORT" in given:
        values["dev_tcp_addr"] = _address(host, given["PLUGIN_TCP_PORT"])
        values["dev_tcp_allow_remote"] = True
    return values


def connected_private_networks(route_file: str = PROC_ROUTES) -> list[str]:
    """The private IPv4 networks this machine is directly attached to (its container networks), as CIDRs.

    Read from the kernel's routing table (routes without a gateway); an
    unreadable table gives an empty list.
    """
    try:
        with open(route_file, encoding="ascii") as fh:
            lines = fh.read().splitlines()[1:]
    except OSError:
        return []
    networks = []
    for line in lines:
        fields = line.split()
        if len(fields) < 8 or fields[2] != "00000000" or fields[1] == "00000000":
            continue
        try:
            address = ipaddress.IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
            mask = ipaddress.IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
            network = ipaddress.IPv4Network(f"{address}/{mask}", strict=False)
        except ValueError:
            continue
        if network.is_private and not network.is_loopback and not network.is_link_local and str(network) not in networks:
            networks.append(str(network))
    return networks


def compose_trusted_networks(
    environ: Mapping[str, str], settings: Settings, *, off_loopback: bool, has_http_token: bool,
    networks: Callable[[], list[str]] = connected_private_networks,
) -> list[str] | None:
    """The ``trusted_networks`` implied by an upstream-configured API off loopback; None when none is implied.

    Only when ``HOST``/``PORT`` gave ``settings.http_addr`` (nothing overrode
    it), that address is off loopback (``off_loopback``), and neither
    ``trusted_networks`` nor an HTTP token is configured.
    """
    upstream = upstream_values(environ).get("http_addr")
    if upstream is None or settings.http_addr != upstream or settings.trusted_networks or has_http_token:
        return None
    return networks() if off_loopback else None
