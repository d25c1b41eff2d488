"""Build :class:`~tgo_host.settings.Settings` from defaults < TOML file < environment < flags.

Every field of ``Settings`` can be set in the config file under its own
name (``render_timeout = 5.0``), in the environment as ``TGO_`` + its name
upper-cased (``TGO_RENDER_TIMEOUT=5``), and on the command line where a flag
exists. ``TGO_SOCKET_PATH`` is also what plugins read, so it doubles as the
socket setting. The upstream TGO runtime's names (``HOST``, ``PORT``,
``PLUGIN_SOCKET_PATH``, …; :mod:`.upstream_env`) are read too, below
everything else. Errors name the source and the field.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from typing import Any, Mapping

import attrs

from .errors import HostError
from .netaddr import parse_addr
from .settings import Settings
from .upstream_env import UPSTREAM, upstream_values


class ConfigError(HostError):
    """A configuration value is missing, unknown or of the wrong type."""

    kind = "invalid_config"


_FIELDS = {f.name: f for f in attrs.fields(Settings)}

#: List settings whose entries may contain ':' (URLs, IPv6): separated by spaces (or commas) in the environment.
SPACE_SEPARATED = ("install_sources", "trusted_networks", "http_allowed_origins", "http_allowed_hosts")


def _kind(name: str) -> type:
    annotation = str(_FIELDS[name].type)
    if annotation == "bool":
        return bool
    if "list" in annotation:
        return list
    if "float" in annotation:
        return float
    if "int" in annotation:
        return int
    return str


def _convert(name: str, value: Any, source: str) -> Any:
    """Check/convert one value for field ``name``; raise :class:`ConfigError` naming ``source``."""
    kind = _kind(name)
    where = f"{source}: {name}"
    if name == "socket_mode":
        if isinstance(value, str):
            try:
                value = int(value, 8)
            except ValueError:
                raise ConfigError(f"{where}: expected an octal mode like 0660, got {value!r}") from None
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0o777:
            raise ConfigError(f"{where}: expected a file mode between 0 and 0777")
        if value & 0o007:
            raise ConfigError(f"{where}: mode {value:04o} would make the socket world-accessible; refusing")
        return value
    if isinstance(value, str) and source.startswith(("environment", "command line")) and kind in (int, float):
        try:
            value = kind(value)
        except ValueError:
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if kind is bool:
        if isinstance(value, str):
            if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ConfigError(f"{where}: expected true or false, got {value!r}")
            value = value.lower() in ("1", "true", "yes")
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number of seconds, got {value!r}")
        if value <= 0:
            raise ConfigError(f"{where}: must be greater than 0, got {value!r}")
        return float(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if value <= 0:
            raise ConfigError(f"{where}: must be greater than 0, got {value!r}")
        return value
    if kind is list and "int" in str(_FIELDS[name].type):
        if isinstance(value, str):
            try:
                value = [int(v) for v in value.replace(",", " ").split()]
            except ValueError:
                raise ConfigError(f"{where}: expected a list of integers, got {value!r}") from None
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{where}: expected a list of integers")
        return value
    if kind is list:
        if isinstance(value, str):
            separators = value.replace(",", " ").split() if name in SPACE_SEPARATED else value.split(os.pathsep)
            value = [v for v in separators if v]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings")
        return [_list_entry(name, v, where) for v in value]
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if name == "dev_tcp_addr" or (name == "http_addr" and value != "off"):
        try:
            parse_addr(value)
        except ValueError:
            raise ConfigError(f"{where}: expected HOST:PORT or 'off', got {value!r}") from None
    if name == "log_level" and value.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"{where}: expected one of debug, info, warning, error")
    if name == "web_profile" and value not in ("full", "tgo-web"):
        raise ConfigError(f"{where}: expected full or tgo-web, got {value!r}")
    return value


def _list_entry(name: str, entry: str, where: str) -> str:
    """Check/normalise one entry of a list setting (CIDRs, origins, hosts, install sources)."""
    if name == "trusted_networks":
        try:
            return str(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"{where}: {entry!r} is not a network in CIDR notation (like 172.18.0.0/16)") from None
    if name == "http_allowed_origins":
        origin = entry.strip().rstrip("/").lower()
        scheme, sep, rest = origin.partition("://")
        if scheme not in ("http", "https") or not sep or not rest or any(c in rest for c in "/?#@ "):
            raise ConfigError(f"{where}: {entry!r} is not an origin like https://console.example.com[:PORT]")
        return origin
    if name == "http_allowed_hosts":
        host = entry.strip().lower()
        if not host or any(c in host for c in "/?#@ ") or "://" in host:
            raise ConfigError(f"{where}: {entry!r} is not a host name (like tgo-host or tgo-host:8090), or '*'")
        return host
    if name == "install_sources":
        if entry.startswith(("https://", "http://")):
            if len(entry.split("://", 1)[1].split("/", 1)[0]) == 0:
                raise ConfigError(f"{where}: {entry!r} names no host")
            return entry if "/" in entry.split("://", 1)[1] else entry + "/"  # a prefix ends its host name
        if "://" in entry:
            raise ConfigError(f"{where}: {entry!r}: only local directories and http(s):// URL prefixes can be sources")
        if not entry.strip():
            raise ConfigError(f"{where}: empty entry")
        return os.path.abspath(entry)
    return entry


def convert_list(name: str, values: list[str], source: str) -> list[str]:
    """Check the entries of list setting ``name`` given on the command line (``source`` names the flag)."""
    return _convert(name, list(values), f"command line {source}") if values else []


def read_config_file(path: str) -> dict[str, Any]:
    """Parse a TOML config file into field values; unknown keys are errors."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    values = {}
    for key, value in data.items():
        if key not in _FIELDS:
            raise ConfigError(f"{path}: {key}: unknown setting (known: {', '.join(sorted(_FIELDS))})")
        values[key] = _convert(key, value, path)
    return values


def read_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values = {}
    for name in _FIELDS:
        env_name = "TGO_" + name.upper()
        if env_name in environ and environ[env_name] != "":
            values[name] = _convert(name, environ[env_name], f"environment {env_name}")
    return values


def _upstream_name(setting: str) -> str:
    """The upstream variable(s) a setting came from, for error messages."""
    names = [name for name, (field, _) in UPSTREAM.items() if field == setting]
    return names[0] if names else {"http_addr": "HOST/PORT"}.get(setting, "HOST/PLUGIN_TCP_PORT")


def load_settings(
    config_file: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge defaults, upstream names (:mod:`.upstream_env`), ``config_file``, ``TGO_*`` in ``environ``
    and flag ``overrides`` (None values ignored), later sources winning."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {
        name: _convert(name, value, f"environment {_upstream_name(name)}")
        for name, value in upstream_values(environ).items()
    }
    if config_file:
        values.update(read_config_file(config_file))
    values.update(read_environment(environ))
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _convert(name, value, "command line")
    return Settings(**values)


def _read_secret_value(env_name: str, file_setting: str | None, what: str, environ: Mapping[str, str]) -> str | None:
    value = environ.get(env_name, "")
    if value:
        return value
    if not file_setting:
        return None
    setting = what.replace(" ", "_") + "_file"  # secret_file, http_token_file, admin_token_file
    try:
        with open(file_setting, encoding="utf-8") as fh:
            value = fh.read().strip()
    except OSError as exc:
        raise ConfigError(f"{setting} {file_setting}: cannot read it: {exc.strerror or exc}") from None
    if not value:
        raise ConfigError(f"{setting} {file_setting}: is empty")
    return value


def read_secret(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """The dev-token signing secret: ``TGO_SECRET``, else ``secret_file``'s contents, else upstream's
    ``SECRET_KEY`` (the gateway signs dev tokens with it); None if none."""
    environ = os.environ if environ is None else environ
    return _read_secret_value("TGO_SECRET", settings.secret_file, "secret", environ) or environ.get("SECRET_KEY") or None


def read_admin_token(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """The control-plane token: ``TGO_ADMIN_TOKEN``, else the contents of ``admin_token_file``; None if neither."""
    return _read_secret_value(
        "TGO_ADMIN_TOKEN", settings.admin_token_file, "admin token", os.environ if environ is None else environ
    )


def read_http_token(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """The HTTP bearer token: ``TGO_HTTP_TOKEN``, else the contents of ``http_token_file``; None if neither."""
    return _read_secret_value(
        "TGO_HTTP_TOKEN", settings.http_token_file, "http token", os.environ if environ is None else environ
    )
