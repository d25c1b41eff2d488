"""What an installed plugin may ask the host to run, and where installs may come from.

Plugins from the operator's own ``plugin_dirs`` are trusted as written.
Plugins *installed* through the API (copied into ``managed_plugins_dir``)
are confined by :func:`confine`:

- the program run (``runtime.command``, or what ``build.*`` names) must
  resolve, symlinks followed, inside the plugin directory — except the
  interpreter the host picks for ``build.language`` (``python``/``python3``,
  the host's Python or the plugin's own ``.venv``; ``node``);
- ``runtime.working_directory`` must stay inside the plugin directory;
- ``runtime.env`` may not set variables that change how programs load code
  or find the host (:data:`FORBIDDEN_ENV`, :data:`FORBIDDEN_ENV_PREFIXES`).

A refusal is :class:`ManifestNotAllowed` naming the file and the field.

:func:`allowed_local_source` checks a local install path against the
``install_sources`` allow-list (:class:`SourceNotAllowed` naming the
setting); :func:`allowed_url_source` does the same for URLs.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..errors import HostError
from .manifest import Manifest, ManifestError

#: Environment variables an installed plugin's manifest may not set (compared upper-cased).
FORBIDDEN_ENV = frozenset({
    "PATH", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONWARNINGS",
    "NODE_OPTIONS", "NODE_PATH", "GODEBUG", "GCONV_PATH", "BASH_ENV", "ENV",
})
FORBIDDEN_ENV_PREFIXES = ("LD_", "DYLD_", "TGO_")
PYTHON_NAMES = ("python", "python3")


class ManifestNotAllowed(ManifestError):
    """An installed plugin's manifest asks for something outside its directory (or a forbidden variable)."""

    kind = "manifest_not_allowed"
    status_hint = 403

    def error_fields(self, plugin_id: str | None = None) -> dict[str, Any]:
        return {"field": self.field, "file": self.file}


class SourceNotAllowed(HostError):
    """An install source outside every entry of ``install_sources`` (the setting it names)."""

    kind = "install_source_not_allowed"
    status_hint = 403

    def error_fields(self, plugin_id: str | None = None) -> dict[str, Any]:
        return {"setting": "install_sources"}


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _contained(path: str, directory: str, real_directory: str) -> bool:
    """``path`` lies inside the plugin directory both as written and with symlinks followed."""
    return _inside(os.path.normpath(path), directory) and _inside(os.path.realpath(path), real_directory)


def confine(manifest: Manifest, host_python: str | None = None) -> None:
    """Raise :class:`ManifestNotAllowed` unless ``manifest`` keeps to its own directory (see the module doc)."""
    file = manifest.file
    directory = os.path.normpath(manifest.directory)
    real_directory = os.path.realpath(directory)
    runtime = manifest.runtime
    for name in runtime.env:
        upper = name.upper()
        if upper in FORBIDDEN_ENV or upper.startswith(FORBIDDEN_ENV_PREFIXES):
            raise ManifestNotAllowed(
                file, f"runtime.env.{name}",
                "an installed plugin may not set this variable (it changes which code programs load or which host "
                "they reach)",
            )
    if runtime.working_directory and not _contained(
        os.path.join(directory, runtime.working_directory), directory, real_directory
    ):
        raise ManifestNotAllowed(
            file, "runtime.working_directory", f"{runtime.working_directory!r} leaves the plugin directory"
        )
    argv, _, _ = manifest.command(host_python)
    language = manifest.build.language if manifest.build is not None else None
    interpreters = _interpreters(directory, language, host_python)
    if runtime.command:
        if runtime.command in interpreters or argv[0] in interpreters:
            return
        if os.sep not in runtime.command:
            raise ManifestNotAllowed(
                file, "runtime.command",
                f"{runtime.command!r} would be looked up on PATH: an installed plugin runs a program inside its "
                "own directory (./NAME)" + (f" or {', '.join(sorted(interpreters))}" if interpreters else ""),
            )
        if not _contained(argv[0], directory, real_directory):
            raise ManifestNotAllowed(file, "runtime.command", f"{runtime.command!r} is outside the plugin directory")
        return
    field, program = {
        "python": ("build.python.entrypoint", argv[1] if len(argv) > 1 else ""),
        "nodejs": ("build.nodejs.entrypoint", argv[1] if len(argv) > 1 else ""),
        "go": ("build.go.output", argv[0]),
    }.get(language or "", ("build.binary.path", argv[0]))
    if not _contained(program, directory, real_directory):
        raise ManifestNotAllowed(file, field, f"{os.path.relpath(program, directory)!r} is outside the plugin directory")


def _interpreters(directory: str, language: str | None, host_python: str | None) -> set[str]:
    """The programs the host itself would pick for ``language``: allowed as ``runtime.command``."""
    if language == "python":
        venv = os.path.join(directory, ".venv", "bin")
        return {*PYTHON_NAMES, host_python or sys.executable, *(os.path.join(venv, n) for n in PYTHON_NAMES)}
    if language == "nodejs":
        return {"node"}
    return set()


def allowed_local_source(path: str, install_sources: list[str]) -> str:
    """The real path of ``path`` if it lies inside a local directory of ``install_sources``.

    Raises :class:`SourceNotAllowed` naming the setting otherwise (symlinks are
    followed before comparing, so a link cannot lead outside).
    """
    real = os.path.realpath(path)
    for entry in install_sources:
        if "://" in entry:
            continue
        if _inside(real, os.path.realpath(entry)):
            return real
    local = [e for e in install_sources if "://" not in e]
    listed = ", ".join(local) if local else "none"
    raise SourceNotAllowed(
        f"{path} is not inside a directory listed in install_sources (local directories allowed: {listed}); "
        "add it with --install-source DIR, TGO_INSTALL_SOURCES or install_sources in the config file"
    )


def allowed_url_source(url: str, install_sources: list[str]) -> str:
    """``url`` if it starts with a URL prefix of ``install_sources``; :class:`SourceNotAllowed` otherwise."""
    for entry in install_sources:
        if "://" in entry and url.startswith(entry) and ".." not in url[len(entry):].split("?", 1)[0].split("/"):
            return url
    prefixes = ", ".join(e for e in install_sources if "://" in e) or "none"
    raise SourceNotAllowed(f"{url} does not start with a URL prefix listed in install_sources (allowed: {prefixes})")
