"""Command line: ``tgo-host run`` starts the host; ``tgo-host check`` validates the configuration."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import sys
from functools import partial
from typing import TypeVar

import attrs
import trio

from . import __version__
from .api.server import HttpBindError, http_service, unguarded_refusal
from .config import ConfigError, convert_list, load_settings, read_admin_token, read_http_token, read_secret
from .host import Host, MarketplaceFactory, Service
from .plugins.auth import mint_dev_token
from .plugins.listener import ListenerFailed, SocketPathError, socket_path_problem
from .plugins.manifest import ManifestError, discover
from .marketplace.installer import Marketplace, open_marketplace
from .marketplace.pgstore import open_postgres_store
from .marketplace.rowsync import rowsync_service
from .marketplace.store import StoreError
from .marketplace.toolsync import ToolSync
from .netaddr import serves_off_loopback
from .plugins.supervisor import Supervisor
from .settings import Settings
from .upstream_env import compose_trusted_networks

_RUN_FLAGS = {
    # flag: (settings field, help)
    "--socket": ("socket_path", "plugin socket path (default /var/run/tgo/tgo.sock; env TGO_SOCKET_PATH)"),
    "--http": ("http_addr", "HTTP API address HOST:PORT or 'off' (default 127.0.0.1:8090; env TGO_HTTP_ADDR)"),
    "--render-timeout": ("render_timeout", "seconds a */render may take (default 5; env TGO_RENDER_TIMEOUT)"),
    "--event-timeout": ("event_timeout", "seconds a */event may take (default 10; env TGO_EVENT_TIMEOUT)"),
    "--call-timeout": ("call_timeout", "seconds for tool/execute, iframe config, channel calls (default 30)"),
    "--ping-interval": ("ping_interval", "seconds between heartbeats (default 30; env TGO_PING_INTERVAL)"),
    "--ping-timeout": ("ping_timeout", "seconds a ping may take before the plugin is dropped (default 10)"),
    "--register-timeout": ("register_timeout", "seconds a new connection has to register (default 10)"),
    "--shutdown-grace": ("shutdown_grace", "seconds plugins get to acknowledge shutdown (default 5)"),
    "--max-frame-bytes": ("max_frame_bytes", "largest accepted frame in bytes (default 4194304)"),
    "--max-connections": ("max_connections", "most concurrent plugin connections (default 1024)"),
    "--max-in-flight": ("max_in_flight", "most requests in flight per plugin (default 256)"),
    "--socket-mode": ("socket_mode", "socket file mode, octal (default 0660; never world-accessible)"),
    "--socket-group": ("socket_group", "group owning the socket file (default: the host's)"),
    "--managed-plugins-dir": ("managed_plugins_dir", "where installed plugins are copied (and launched from)"),
    "--admin-token-file": ("admin_token_file", "file holding the control-plane token (or env TGO_ADMIN_TOKEN)"),
    "--dev-tcp": ("dev_tcp_addr", "TCP debug listener HOST:PORT for dev-mode plugins (off by default; dev_token required)"),
    "--web-profile": ("web_profile", "JSON-UI answers: full (every template) or tgo-web (the TGO web app's 7; default full)"),
    "--log-level": ("log_level", "debug, info, warning or error (default info; env TGO_LOG_LEVEL)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tgo-host",
        description="Plugin host for the TGO customer-service system. Settings come from defaults, "
        "then --config FILE (TOML), then TGO_* environment variables, then flags.",
    )
    parser.add_argument("--version", action="version", version=f"tgo-host {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("run", "start the host"), ("check", "validate the configuration and print it")):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--config", metavar="FILE", help="TOML config file; keys are the setting names")
        for flag, (field, flag_help) in _RUN_FLAGS.items():
            sub.add_argument(flag, dest=field, metavar=field.split("_")[-1].upper(), help=flag_help)
        sub.add_argument(
            "--plugins-dir", dest="extra_plugin_dirs", action="append", default=[], metavar="DIR",
            help="launch and supervise every plugin directory (with a plugin.yml) inside DIR; repeatable, "
            "added to TGO_PLUGIN_DIRS (a list separated by ':')",
        )
        sub.add_argument(
            "--socket-fallback", metavar="PATH",
            help="serve the plugin socket at PATH instead when --socket's path cannot be used (directory not "
            "writable, another host listening there); a note says so (make run: /var/run/tgo/tgo.sock, else .run/)",
        )
        sub.add_argument(
            "--install-source", dest="extra_install_sources", action="append", default=[], metavar="DIR_OR_URL",
            help="allow installing plugins from this local directory or URL prefix; repeatable, added to "
            "install_sources (TGO_INSTALL_SOURCES, separated by spaces)",
        )
        sub.add_argument(
            "--trusted-network", dest="extra_trusted_networks", action="append", default=[], metavar="CIDR",
            help="serve the HTTP API without a token to this network; repeatable, added to trusted_networks "
            "(TGO_TRUSTED_NETWORKS, separated by spaces)",
        )
    token = commands.add_parser(
        "dev-token", help="mint a dev_token for a plugin in debug mode",
        description="Print an HS256 dev token signed with the host's secret (TGO_SECRET or secret_file).",
    )
    token.add_argument("--config", metavar="FILE", help="TOML config file (for secret_file)")
    token.add_argument("--project", required=True, help="project the dev plugin is bound to")
    token.add_argument("--user", required=True, help="developer's user id")
    token.add_argument("--ttl", default="8h", help="lifetime: seconds, or with a unit s/m/h/d (default 8h)")
    return parser


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``8h``, ``2d`` → seconds; ValueError otherwise."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    seconds = float(number) * units[unit]
    if seconds <= 0:
        raise ValueError("must be positive")
    return seconds


def mint_token_command(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
        secret = read_secret(settings)
        ttl = parse_duration(args.ttl)
        if ttl > settings.dev_token_max_ttl:
            raise ValueError(
                f"exceeds dev_token_max_ttl ({settings.dev_token_max_ttl:g} s); the host would refuse the token"
            )
    except ConfigError as exc:
        print(f"tgo-host: configuration error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"tgo-host: --ttl {args.ttl!r}: {exc}", file=sys.stderr)
        return 2
    if not secret:
        print("tgo-host: no secret: set TGO_SECRET or secret_file (never a built-in default)", file=sys.stderr)
        return 2
    print(mint_dev_token(secret, args.project, args.user, ttl))
    return 0


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def describe(settings: Settings) -> str:
    """One ``name = value`` line per setting, as a config file would spell it (modes in octal)."""
    def shown(name: str, value: object) -> str:
        return f"0{value:o}" if name == "socket_mode" and isinstance(value, int) else repr(value)

    return "\n".join(f"{name} = {shown(name, value)}" for name, value in sorted(attrs.asdict(settings).items()))


def security_warnings(settings: Settings) -> list[str]:
    """What ``check`` should point out about who can reach the control plane (docs/security.md)."""
    warnings = []
    off_loopback = serves_off_loopback(settings.http_addr)
    if off_loopback and not settings.admin_token_file and not os.environ.get("TGO_ADMIN_TOKEN"):
        warnings.append(
            f"http_addr {settings.http_addr} is not loopback and there is no admin token: every caller the API "
            "serves can install, start and stop plugins (set admin_token_file or TGO_ADMIN_TOKEN)"
        )
    if off_loopback and not settings.http_allowed_hosts:
        warnings.append("http_allowed_hosts is empty: the Host header is not checked off loopback (DNS rebinding)")
    if "*" in settings.http_allowed_hosts:
        warnings.append("http_allowed_hosts contains '*': the Host header is not checked (DNS rebinding)")
    if os.geteuid() == 0 and settings.managed_plugins_dir:
        warnings.append("running as root: installed plugins run as root too; run the host as an unprivileged user")
    return warnings


def check_plugins(settings: Settings) -> bool:
    """Print what would be launched and every manifest error; False if any manifest is bad."""
    dirs = list(settings.plugin_dirs)
    if settings.managed_plugins_dir and os.path.isdir(settings.managed_plugins_dir):
        dirs.append(settings.managed_plugins_dir)
    manifests, errors = discover(dirs)
    for manifest in manifests:
        try:
            argv, cwd, _ = manifest.command()
        except ManifestError as exc:  # load_manifest checks this already
            errors.append(exc)
            continue
        print(f"plugin {manifest.id}: {shlex.join(argv)}  (cwd {cwd})")
        if os.sep in argv[0] and not os.access(argv[0], os.X_OK):
            print(f"  warning: {argv[0]} is not an executable file (yet)")
        elif os.sep not in argv[0] and shutil.which(argv[0]) is None:
            print(f"  warning: {argv[0]} is not on PATH")
    for error in errors:
        print(f"manifest error: {error}")
    if dirs:
        print(f"{len(manifests)} plugin(s) to launch, {len(errors)} manifest error(s)")
    return not errors


def choose_socket_path(preferred: str, fallback: str) -> str:
    """``preferred`` if the plugin socket can be served there, else ``fallback``, with a note on stderr.

    ``make run`` prefers the documented default ``/var/run/tgo/tgo.sock``:
    the official Go SDK ignores ``TGO_SOCKET_PATH`` and always dials it.
    """
    problem = socket_path_problem(preferred)
    if problem is None:
        print(f"tgo-host: plugin socket {preferred}", file=sys.stderr)
        return preferred
    advice = (f" Run as root, or make {os.path.dirname(preferred)} writable, to serve {preferred}."
              if "writable" in problem else "")
    print(
        f"tgo-host: plugin socket {fallback} (not {preferred}: {problem}).\n"
        f"          Plugins launched here get TGO_SOCKET_PATH={os.path.abspath(fallback)}; plugins that always dial "
        f"{preferred} (the official Go SDK) cannot reach this host.{advice}",
        file=sys.stderr,
    )
    return fallback


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "dev-token":
        return mint_token_command(args)
    overrides = {field: getattr(args, field) for field, _ in _RUN_FLAGS.values()}
    try:
        settings = load_settings(args.config, overrides)
    except ConfigError as exc:
        print(f"tgo-host: configuration error: {exc}", file=sys.stderr)
        return 2
    settings.plugin_dirs = [*settings.plugin_dirs, *args.extra_plugin_dirs]
    if args.command == "run" and args.socket_fallback:
        settings.socket_path = choose_socket_path(settings.socket_path, args.socket_fallback)
    try:
        settings.install_sources = [
            *settings.install_sources, *convert_list("install_sources", args.extra_install_sources, "--install-source")
        ]
        settings.trusted_networks = [
            *settings.trusted_networks,
            *convert_list("trusted_networks", args.extra_trusted_networks, "--trusted-network"),
        ]
    except ConfigError as exc:
        print(f"tgo-host: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        print(describe(settings))
        for warning in security_warnings(settings):
            print(f"security warning: {warning}")
        return 0 if check_plugins(settings) else 1
    try:
        secret = read_secret(settings)
        http_token = read_http_token(settings)
        admin_token = read_admin_token(settings)
        implied = compose_trusted_networks(
            os.environ, settings, has_http_token=bool(http_token),
            off_loopback=serves_off_loopback(settings.http_addr),
        )
        if implied:
            settings.trusted_networks = implied
            print(f"tgo-host: HOST/PORT without a token or trusted_networks: trusting this machine's private "
                  f"networks {' '.join(implied)} (README: Replacing the TGO plugin runtime)", file=sys.stderr)
        refusal = unguarded_refusal(settings, http_token)
        if refusal is not None:
            raise ConfigError(refusal)
        if settings.dev_tcp_addr and not secret:
            raise ConfigError("dev_tcp_addr is set but there is no secret for dev tokens (TGO_SECRET or secret_file)")
    except ConfigError as exc:
        print(f"tgo-host: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        store = open_postgres_store(settings)
    except (ConfigError, StoreError) as exc:
        print(f"tgo-host: cannot start: database_url: {exc}", file=sys.stderr)
        return 2
    marketplace: MarketplaceFactory | None = None
    services: list[Service] = []
    if store is not None:
        marketplace = partial(Marketplace, settings, store=store)
        services.append(rowsync_service)
    elif settings.managed_plugins_dir:
        marketplace = partial(open_marketplace, settings)
    if settings.http_addr != "off":
        services.append(http_service)
    host = Host(
        settings, secret=secret, http_token=http_token, admin_token=admin_token, services=services,
        supervisor_factory=partial(Supervisor, settings), marketplace_factory=marketplace,
        toolsync_factory=partial(ToolSync, settings) if settings.ai_service_url else None,
    )
    try:
        trio.run(lambda: host.serve(handle_signals=True))
    except BaseException as exc:  # noqa: BLE001 - only start-up failures are handled; the rest re-raised
        failure = startup_failure(exc)
        if failure is None:
            broken = held(exc, ListenerFailed)
            if broken is None:
                raise
            print(f"tgo-host: stopped: {broken.strerror}", file=sys.stderr)
            return 1
        setting = failure.setting
        print(f"tgo-host: cannot start: {setting} {getattr(settings, setting)}: {failure}", file=sys.stderr)
        return 2
    return 1 if host.forced else 0


E = TypeVar("E", bound=BaseException)

#: Exceptions that mean "this configuration cannot start here"; each names its ``setting``.
STARTUP_FAILURES = (SocketPathError, HttpBindError)


def startup_failure(exc: BaseException) -> SocketPathError | HttpBindError | None:
    """The start-up failure ``exc`` is, or holds (nurseries wrap it in groups); None for anything else."""
    if isinstance(exc, STARTUP_FAILURES):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        leaves = [startup_failure(e) for e in exc.exceptions]
        if all(leaf is not None for leaf in leaves):  # Cancelled siblings are not in the group
            return leaves[0]
    return None


def held(exc: BaseException, kind: type[E]) -> E | None:
    """``exc`` if it is a ``kind``, or the one ``kind`` its nested groups hold and nothing else; else None."""
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        leaves = [held(e, kind) for e in exc.exceptions]
        if len(leaves) == 1:
            return leaves[0]
    return None


if __name__ == "__main__":
    sys.exit(main())
