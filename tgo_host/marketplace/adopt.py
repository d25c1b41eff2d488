"""Make plugin directories left by the upstream TGO runtime launchable: the host's ``plugin.yml`` from the record.

Upstream keeps a plugin's configuration in ``pg_installed_plugins`` and its
files in ``PLUGIN_BASE_PATH/<plugin_id>/``. Before the supervisor discovers
manifests, :func:`write_upstream_manifests` writes a ``plugin.yml`` (the
host's format, from the row's ``source_config``/``build_config``/
``runtime_config``) into every such directory that has none written by
tgo-host; a plugin's own manifest is kept as ``plugin.yml.orig``. Nothing
else in the directory changes, so the upstream runtime can take it back.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import yaml

from ..plugins.manifest import ManifestError, load_manifest
from .store import InstalledRecord

log = logging.getLogger("tgo_host.marketplace.adopt")

MARK = "# written by tgo-host"


def _written_by_host(directory: str) -> bool:
    try:
        with open(os.path.join(directory, "plugin.yml"), encoding="utf-8") as fh:
            return fh.readline().startswith(MARK)
    except OSError:
        return False


def _single_executable(directory: str) -> str | None:
    found = [name for name in sorted(os.listdir(directory))
             if not name.startswith(".") and os.path.isfile(os.path.join(directory, name))
             and not os.path.islink(os.path.join(directory, name)) and os.access(os.path.join(directory, name), os.X_OK)]
    return found[0] if len(found) == 1 else None


def manifest_data(record: InstalledRecord) -> dict[str, Any]:
    """The host's manifest for ``record`` (files in ``record.install_path``)."""
    directory = record.install_path
    runtime = dict(record.runtime_config or {})
    data: dict[str, Any] = {"id": record.plugin_id, "name": record.name, "version": record.version}
    for key in ("description", "author"):
        if getattr(record, key):
            data[key] = getattr(record, key)
    if record.source_config:
        data["source"] = record.source_config
    build = record.build_config or None
    language = (build or {}).get("language")
    if build and language == "python" and not os.path.exists(os.path.join(directory, ".venv", "bin", "python")) \
            and os.path.exists(os.path.join(directory, "venv", "bin", "python")) and not runtime.get("command"):
        entry = (build.get("python") or {}).get("entrypoint") or "main.py"
        runtime["command"] = "./venv/bin/python"
        runtime["args"] = [entry, *runtime.get("args", [])]
    if build and language not in (None, "binary"):
        data["build"] = build
    elif not runtime.get("command"):
        executable = _single_executable(directory)
        if executable is not None:
            runtime["command"] = f"./{executable}"
    data["runtime"] = runtime
    return data


def write_upstream_manifests(records: list[InstalledRecord]) -> int:
    """Write the host's ``plugin.yml`` where upstream left a plugin directory without one; returns how many.

    A directory that still cannot be loaded is logged (the record is kept,
    the plugin is not launched).
    """
    written = 0
    for record in records:
        directory = record.install_path
        if record.status == "installing" or not os.path.isdir(directory) or _written_by_host(directory):
            continue
        manifest = os.path.join(directory, "plugin.yml")
        try:
            for name in ("plugin.yml", "plugin.json"):
                path = os.path.join(directory, name)
                if os.path.lexists(path) and not os.path.lexists(path + ".orig"):
                    os.replace(path, path + ".orig")
            with open(manifest, "w", encoding="utf-8") as fh:
                fh.write(f"{MARK} from pg_installed_plugins row {record.id}; the plugin's own is plugin.yml.orig\n")
                yaml.safe_dump(manifest_data(record), fh, sort_keys=False, allow_unicode=True)
            load_manifest(directory)
            written += 1
            log.info("adopted %s from the upstream runtime's directory %s", record.plugin_id, directory)
        except (OSError, ManifestError) as exc:
            log.error("cannot adopt %s from %s: %s", record.plugin_id, directory, exc)
    return written
