"""Plugin directories: ``plugin.yml`` (and the older ``plugin.json``), parsed into attrs models.

A plugin directory carries a manifest (protocol §7)::

    id: com.example.my-plugin      # required in plugin.yml
    name: my-plugin
    version: 1.0.0
    build:
      language: python             # python | nodejs | go | binary
      python: {entrypoint: main.py}
    runtime:
      command: ./my-plugin-bin     # optional; wins over build.*
      args: []
      env: {KEY: value}
      working_directory: .         # relative to the plugin directory
      auto_restart: true
      restart_delay: 5

The older ``plugin.json`` has the same shape (only ``runtime`` is expected);
its ``id`` is optional and defaults to ``name``, then the directory name.

:func:`load_manifest` reads one directory; :func:`discover` reads every
immediate subdirectory of some plugin dirs and collects the errors instead of
stopping at the first. Errors are :class:`ManifestError` naming the file and
the field path. Nothing here starts processes: :meth:`Manifest.command` only
says what would run. The host does not build plugins (``build.go`` names the
binary the plugin's own build produced).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from typing import Any, Literal, NamedTuple, NewType

import attrs
import yaml

from ..errors import HostError
from ..model import ValidationError, structure
from ..model.converter import converter
from ..model.fields import model
from .printable import unprintable_reason

MANIFEST_FILES = ("plugin.yml", "plugin.json")
LANGUAGES = ("python", "nodejs", "go", "binary")


class ManifestError(HostError):
    """A manifest that cannot be used: names the file, the field path and the reason.

    ``str(error)`` reads ``"/plugins/x/plugin.yml: build.language: must be one of ..."``.
    """

    kind = "invalid_manifest"
    status_hint = 422

    def __init__(self, file: str, field: str, reason: str) -> None:
        super().__init__(f"{file}: {field}: {reason}" if field else f"{file}: {reason}")
        self.file = file
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[type[ManifestError], tuple[str, str, str]]:
        return (type(self), (self.file, self.field, self.reason))


# -- lenient leaf types (YAML turns `version: 1.0` into a float) ----------------

#: A string; a number (not a bool) is accepted and kept as its text.
Text = NewType("Text", str)
#: ``{NAME: value}``; scalar values become strings (``true`` → ``"true"``).
EnvMap = NewType("EnvMap", dict[str, str])


def _text(value: Any, _: Any) -> str:
    if value.__class__ is str:
        return value
    if value.__class__ in (int, float):
        return str(value)
    if value.__class__ is bool:
        raise ValidationError("", "expected a string (quote it: YAML reads true/false/yes/no as booleans)")
    raise ValidationError("", "expected a string")


def _env(value: Any, _: Any) -> dict[str, str]:
    if value.__class__ is not dict:
        raise ValidationError("", "expected a mapping of NAME: value")
    env: dict[str, str] = {}
    for key, item in value.items():
        if key.__class__ is not str or not key or "=" in key or "\0" in key:
            raise ValidationError(str(key), "not a valid environment variable name")
        if item.__class__ is bool:
            env[key] = "true" if item else "false"
        elif item.__class__ in (str, int, float):
            env[key] = str(item)
        else:
            raise ValidationError(key, "expected a string, number or boolean")
        if "\0" in env[key]:
            raise ValidationError(key, "must not contain NUL")
    return env


converter.register_structure_hook(Text, _text)
converter.register_structure_hook(EnvMap, _env)


# -- the models ------------------------------------------------------------------


@model
class PythonBuild:
    entrypoint: Text = Text("main.py")


@model
class NodeBuild:
    entrypoint: Text = Text("index.js")


@model
class GoBuild:
    main: Text = Text("./cmd/plugin")  # informational: the host does not build
    output: Text = Text("plugin")  # the binary, relative to the plugin directory


@model
class BinaryBuild:
    path: Text | None = None  # the executable, relative to the plugin directory


@model
class Build:
    language: Literal["python", "nodejs", "go", "binary"]
    python: PythonBuild | None = None
    nodejs: NodeBuild | None = None
    go: GoBuild | None = None
    binary: BinaryBuild | None = None


@model
class Runtime:
    command: Text | None = None
    args: list[Text] = attrs.Factory(list)
    env: EnvMap = attrs.Factory(lambda: EnvMap({}))
    working_directory: Text | None = None
    auto_restart: bool = True
    restart_delay: float | None = None  # seconds; None → the host's restart_delay


class Launch(NamedTuple):
    """What :meth:`Manifest.command` would run."""

    argv: list[str]
    cwd: str
    env: dict[str, str]  # the manifest's own variables (the supervisor adds os.environ and the socket)


@model
class Manifest:
    id: Text
    name: Text | None = None
    version: Text | None = None
    description: Text | None = None
    author: Text | None = None
    source: dict[str, Any] | None = None  # free-form (where upstream installs from)
    build: Build | None = None
    runtime: Runtime = attrs.Factory(Runtime)
    #: the plugin directory (absolute) and the manifest file; set by `load_manifest`
    directory: str = attrs.field(default="", init=False)
    file: str = attrs.field(default="", init=False)

    @property
    def display_name(self) -> str:
        return self.name or self.id

    def command(self, host_python: str | None = None) -> Launch:
        """``(argv, cwd, env)`` for this plugin; raises :class:`ManifestError` if there is none.

        ``runtime.command`` wins (a relative path containing ``/`` is resolved
        against the plugin directory; a bare name is looked up on ``PATH``),
        followed by ``runtime.args``. Otherwise by ``build.language``:
        python → ``<dir>/.venv/bin/python`` if present, else ``host_python``
        (default: the host's interpreter), then the entrypoint; nodejs →
        ``node <entrypoint>``; go → ``<dir>/<build.go.output>``; binary →
        ``<dir>/<build.binary.path>``.
        """
        directory = self.directory or os.getcwd()
        runtime = self.runtime
        args = [str(a) for a in runtime.args]
        cwd = directory
        if runtime.working_directory:
            cwd = os.path.normpath(os.path.join(directory, runtime.working_directory))
        env = dict(runtime.env)

        def local(path: str) -> str:
            return os.path.normpath(os.path.join(directory, path))

        if runtime.command:
            command: str = runtime.command
            if os.sep in command and not os.path.isabs(command):
                command = local(command)
            return Launch([command, *args], cwd, env)
        build = self.build
        if build is None:
            raise ManifestError(self.file, "runtime.command", "required when there is no build section")
        if build.language == "python":
            entry = (build.python or PythonBuild()).entrypoint
            venv_python = os.path.join(directory, ".venv", "bin", "python")
            python = venv_python if os.path.exists(venv_python) else (host_python or sys.executable)
            return Launch([python, local(entry), *args], cwd, env)
        if build.language == "nodejs":
            entry = (build.nodejs or NodeBuild()).entrypoint
            return Launch(["node", local(entry), *args], cwd, env)
        if build.language == "go":
            return Launch([local((build.go or GoBuild()).output), *args], cwd, env)
        path = build.binary.path if build.binary is not None else None
        if not path:
            raise ManifestError(self.file, "runtime.command", "required for language binary (or build.binary.path)")
        return Launch([local(path), *args], cwd, env)

    @property
    def source_url(self) -> str | None:
        """A URL for ``source`` (github/gitee repo or binary url), if it names one."""
        source = self.source or {}
        for host, base in (("github", "https://github.com/"), ("gitee", "https://gitee.com/")):
            entry = source.get(host)
            repo = entry.get("repo") if isinstance(entry, dict) else None
            if isinstance(repo, str):
                return base + repo
        binary = source.get("binary")
        binary_url = binary.get("url") if isinstance(binary, dict) else None
        if isinstance(binary_url, str):
            return binary_url
        url = source.get("url")
        return url if isinstance(url, str) else None

    def modified_at(self) -> str | None:
        """The manifest file's modification time, ISO 8601 UTC."""
        try:
            mtime = os.stat(self.file).st_mtime
        except OSError:
            return None
        return datetime.fromtimestamp(mtime, timezone.utc).isoformat()


# -- loading -----------------------------------------------------------------------


def manifest_file(plugin_dir: str) -> str | None:
    """The manifest in ``plugin_dir`` (``plugin.yml`` preferred), or None."""
    for name in MANIFEST_FILES:
        path = os.path.join(plugin_dir, name)
        if os.path.isfile(path):
            return path
    return None


def _read(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(path, "", f"cannot read: {exc}") from None
    if path.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(path, "", f"not valid JSON: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(path, "", f"not valid YAML: {problem}{where}") from None


def load_manifest(plugin_dir: str) -> Manifest:
    """Read and check the manifest of ``plugin_dir``; raises :class:`ManifestError`."""
    directory = os.path.abspath(plugin_dir)
    path = manifest_file(directory)
    if path is None:
        raise ManifestError(directory, "", "no plugin.yml or plugin.json in this directory")
    data = _read(path)
    if not isinstance(data, dict):
        raise ManifestError(path, "", "expected a mapping at the top level")
    if path.endswith(".json") and data.get("id") in (None, ""):
        name = data.get("name")
        data = {**data, "id": name if isinstance(name, str) and name else os.path.basename(directory)}
    try:
        manifest = structure(data, Manifest)
    except ValidationError as exc:
        raise ManifestError(path, exc.path or "", exc.reason) from None
    if not manifest.id.strip() or any(c in manifest.id for c in "/\\\0") or manifest.id in (".", ".."):
        raise ManifestError(path, "id", "must be a non-empty name without slashes")
    for field in ("id", "name"):
        value = getattr(manifest, field)
        reason = unprintable_reason(value) if value is not None else None
        if reason is not None:
            raise ManifestError(path, field, reason)
    delay = manifest.runtime.restart_delay
    if delay is not None and delay < 0:
        raise ManifestError(path, "runtime.restart_delay", "must be 0 or more seconds")
    manifest.directory = directory
    manifest.file = path
    manifest.command()  # no runnable command is a manifest error too
    return manifest


def discover(dirs: list[str]) -> tuple[list[Manifest], list[ManifestError]]:
    """Load every immediate subdirectory of ``dirs`` that holds a manifest.

    Returns ``(manifests, errors)``: a bad manifest becomes an error and does
    not stop the others; a plugin id seen before is an error for the later
    directory (the first one wins). Hidden directories and directories
    without a manifest are skipped; a plugin dir that does not exist is an error.
    """
    manifests: list[Manifest] = []
    errors: list[ManifestError] = []
    seen: dict[str, Manifest] = {}
    for base in dirs:
        base = os.path.abspath(base)
        try:
            names = sorted(os.listdir(base))
        except OSError as exc:
            errors.append(ManifestError(base, "", f"cannot read plugin directory: {exc.strerror or exc}"))
            continue
        for name in names:
            candidate = os.path.join(base, name)
            if name.startswith(".") or not os.path.isdir(candidate) or manifest_file(candidate) is None:
                continue
            try:
                manifest = load_manifest(candidate)
            except ManifestError as exc:
                errors.append(exc)
                continue
            first = seen.get(manifest.id)
            if first is not None:
                errors.append(
                    ManifestError(manifest.file, "id", f"duplicate plugin id {manifest.id!r} (already used by {first.file})")
                )
                continue
            seen[manifest.id] = manifest
            manifests.append(manifest)
    return manifests, errors
