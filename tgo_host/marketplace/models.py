"""The gateway's marketplace bodies as attrs models: ``PluginFetchResponse`` and ``PluginInstallRequest``.

:class:`PluginConfig` is what ``fetch-info`` answers and what an install
request carries (plus ``project_id``): where the plugin comes from
(``source``), how it is built (``build``) and how it runs (``runtime``).
Values from a ``plugin.yml`` are lenient where YAML is (``version: 1.0``
is the text ``"1.0"``); :func:`plugin_config` fills the documented defaults
and raises :class:`ConfigError` naming the field path.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import attrs

from ..errors import HostError
from ..model import ValidationError, structure, unstructure
from ..model.fields import model
from ..plugins.manifest import EnvMap, Text


@model
class GitSource:
    repo: Text  # "OWNER/REPO"
    ref: Text = Text("main")
    path: Text = Text("/")


@model
class BinarySource:
    url: Text  # may hold ${os} and ${arch}
    sha256: Text | None = None


@model
class LocalSource:
    path: Text


@model
class Source:
    github: GitSource | None = None
    gitee: GitSource | None = None
    binary: BinarySource | None = None
    local: LocalSource | None = None


@model
class GoConfig:
    main: Text = Text("./cmd/plugin")
    output: Text = Text("plugin")


@model
class PythonConfig:
    entrypoint: Text = Text("main.py")
    requirements: Text = Text("requirements.txt")


@model
class NodeConfig:
    entrypoint: Text = Text("index.js")
    package: Text = Text("package.json")


@model
class BuildConfig:
    # The same order as the manifest's (plugins/manifest.py): typing treats the two Literals as one
    # type, so cattrs' hook (and its "must be one of …" message) is whichever was built first.
    language: Literal["python", "nodejs", "go", "binary"]
    go: GoConfig | None = None
    python: PythonConfig | None = None
    nodejs: NodeConfig | None = None


@model
class RuntimeConfig:
    args: list[Text] = attrs.Factory(list)
    env: EnvMap = attrs.Factory(lambda: EnvMap({}))
    auto_restart: bool = True
    restart_delay: float = 5.0
    command: Text | None = None  # tgo-host extension: the executable, relative to the plugin directory


@model
class PluginConfig:
    """``PluginFetchResponse``: a plugin's manifest as the marketplace sees it."""

    id: Text
    name: Text
    version: Text
    description: Text | None = None
    author: Text | None = None
    source: Source = attrs.Factory(Source)
    build: BuildConfig | None = None
    runtime: RuntimeConfig = attrs.Factory(RuntimeConfig)
    source_url: Text | None = None


@model
class PluginInstallRequest(PluginConfig):
    """``PluginInstallRequest``: a :class:`PluginConfig` plus the project it is installed for."""

    project_id: Text | None = None


@model
class FetchInfoRequest:
    """Body of ``POST /plugins/fetch-info``."""

    url: str


@model
class UpgradeRequest:
    latest_config: PluginConfig | None = None


class ConfigError(HostError):
    """A plugin config that cannot be used; ``path`` is the field path (``build.language``)."""

    kind = "invalid_plugin_config"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")


def complete(config: PluginConfig) -> PluginConfig:
    """Fill the per-language build defaults, check the id and the git repo/ref; raises :class:`ConfigError`.

    A repo is ``OWNER/REPO``; a ref is a branch, tag or commit name that does
    not start with ``-`` (it is passed to ``git fetch``).
    """
    for host in ("github", "gitee"):
        git = getattr(config.source, host)
        if git is None:
            continue
        if not _REPO.match(git.repo) or ".." in git.repo:
            raise ConfigError(f"source.{host}.repo", f"{git.repo!r} is not OWNER/REPO")
        if not _REF.match(git.ref) or ".." in git.ref:
            raise ConfigError(f"source.{host}.ref", f"{git.ref!r} is not a branch, tag or commit name")
    if not config.id.strip() or any(c in config.id for c in "/\\\0") or config.id in (".", "..") or config.id.startswith("."):
        raise ConfigError("id", "must be a non-empty name without slashes (and not starting with '.')")
    build = config.build
    if build is not None:
        if build.language == "go" and build.go is None:
            build.go = GoConfig()
        if build.language == "python" and build.python is None:
            build.python = PythonConfig()
        if build.language == "nodejs" and build.nodejs is None:
            build.nodejs = NodeConfig()
    if config.runtime.restart_delay < 0:
        raise ConfigError("runtime.restart_delay", "must be 0 or more seconds")
    return config


def plugin_config(data: Any, cls: type[PluginConfig] = PluginConfig) -> PluginConfig:
    """Validate ``data`` (a parsed plugin.yml or request body) into ``cls``; raises :class:`ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError("", "expected a mapping at the top level")
    try:
        config = structure(data, cls)
    except ValidationError as exc:
        raise ConfigError(exc.path or "", exc.reason) from None
    return complete(config)


def as_json(config: object) -> dict[str, Any]:
    """The JSON form of ``config`` (a plugin config or a part of one; None values left out)."""
    out: dict[str, Any] = unstructure(config)
    return out
