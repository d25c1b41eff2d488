"""Command line: ``tgo-host run`` starts the host; ``tgo-host check`` validates the configuration."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import sys

import attrs
import trio

from . import __version__
from .config import ConfigError, load_settings
from .api.server import http_service
from .host import Host
from .plugins.listener import SocketPathError
from .plugins.manifest import ManifestError, discover
from .plugins.supervisor import Supervisor
from .settings import Settings

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
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def describe(settings: Settings) -> str:
    return "\n".join(f"{name} = {value!r}" for name, value in sorted(attrs.asdict(settings).items()))


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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {field: getattr(args, field) for field, _ in _RUN_FLAGS.values()}
    try:
        settings = load_settings(args.config, overrides)
    except ConfigError as exc:
        print(f"tgo-host: configuration error: {exc}", file=sys.stderr)
        return 2
    settings.plugin_dirs = [*settings.plugin_dirs, *args.extra_plugin_dirs]
    if args.command == "check":
        print(describe(settings))
        return 0 if check_plugins(settings) else 1
    configure_logging(settings.log_level)
    host = Host(settings)
    host.supervisor = Supervisor(settings, host.registry)
    if settings.http_addr != "off":
        host.services.append(http_service)
    try:
        trio.run(lambda: host.serve(handle_signals=True))
    except SocketPathError as exc:
        logging.getLogger("tgo_host").error("cannot start: %s", exc)
        return 1
    return 1 if host.forced else 0


if __name__ == "__main__":
    sys.exit(main())
