"""Installing, upgrading and forgetting plugins in ``managed_plugins_dir``, with progress events.

:class:`Marketplace` owns the installs the host made (their records in an
:class:`~.store.InstalledStore`) and their project bindings. An install::

    fetch (cloning | downloading | copying) → building → put the host's plugin.yml →
    record "installing" → move into place → starting (the supervisor) → registered → complete

runs in a hidden staging directory inside the managed directory
(``.staging-<id>-…``, skipped by plugin discovery) and is moved into
``<managed>/<id>`` only once fetched and built. Any failure or cancellation
(the client of a stream disconnecting) stops the process it started and
removes every file and the record, in a shielded cleanup; a host killed in
the middle leaves a staging directory or an ``installing`` record, both
removed by :meth:`Marketplace.restore` at the next start.

Progress goes to an ``emit(stage, message)`` callback; errors are
:class:`InstallFailed` (the message says what failed and where).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from functools import partial
from typing import Any, Callable

import trio
import yaml

from ..errors import HostError
from ..model import RegisterParams
from ..plugins.auth import Grant
from ..plugins.manifest import ManifestError, load_manifest
from ..plugins.installing import remove_plugin_files
from ..plugins.managed import ManagedPlugin
from ..plugins.supervisor import Supervisor
from ..plugins.supervisor_errors import SupervisorError, UnknownPlugin
from ..settings import Settings
from .build import BuildError, build, run_step
from .models import ConfigError, PluginConfig, PluginInstallRequest, as_json, complete
from .sources import Fetcher, SourceError, check_source, fetch_info, git_clone_url, local_source_allowed, substitute_platform
from .store import InstalledRecord, InstalledStore, StoreError, now_iso
from .unpack import UnpackError, archive_kind, unpack
from .versions import is_newer

log = logging.getLogger("tgo_host.marketplace")

Emit = Callable[[str, str], None]
STAGING_PREFIX = ".staging-"
OLD_PREFIX = ".old-"
SHOWN_LINES = 20  # build output lines per step shown in the stream (all of them go to the plugin's log)
CLEANUP_TIMEOUT = 30.0


class InstallFailed(HostError):
    """An install or upgrade that did not complete (nothing of it is left behind)."""

    kind = "install_failed"
    status_hint = 400


def install_type(config: PluginConfig) -> str:
    source = config.source
    for kind in ("github", "gitee", "binary", "local"):
        if getattr(source, kind) is not None:
            return kind
    return "local"


class Marketplace:
    """Installs from the marketplace flow, their persistence and project bindings.

    ``supervisor`` launches what is installed; ``store`` keeps the records.
    :meth:`restore` runs before the supervisor launches anything, and
    :meth:`bind_registration` at each registration (the :class:`~tgo_host.host.Host`
    built with this marketplace wires both).
    """

    def __init__(self, settings: Settings, supervisor: Supervisor, store: InstalledStore, fetcher: Fetcher | None = None) -> None:
        self.settings = settings
        self.supervisor = supervisor
        self.store = store
        self.fetcher = fetcher or Fetcher(settings)
        self.records: dict[str, InstalledRecord] = {}
        self._busy: set[str] = set()  # plugin ids being installed or upgraded
        self.listeners: list[Callable[[str, InstalledRecord], None]] = []  # ("installed"|"removed", record)

    # -- lookups ------------------------------------------------------------------

    @property
    def root(self) -> str:
        root = self.settings.managed_plugins_dir
        if not root:
            raise InstallFailed("cannot install: managed_plugins_dir is not set (config file or TGO_MANAGED_PLUGINS_DIR)")
        return os.path.abspath(root)

    def project_of(self, plugin_id: str) -> str | None:
        """The project an installed plugin is bound to (None: global)."""
        record = self.records.get(plugin_id)
        return record.project_id if record is not None else None

    def bind_registration(self, grant: Grant, params: RegisterParams) -> Grant:
        """``grant``, except that a connection registering as an installed plugin's id joins its
        project (a dev-mode plugin keeps its token's)."""
        project = self.project_of(params.id or "")
        if project and not grant.dev_mode:
            return Grant(project_id=project)
        return grant

    # -- start-up ------------------------------------------------------------------

    async def restore(self, supervisor: Supervisor) -> None:
        """Load the records; roll back what a killed host left half-done; keep stopped plugins stopped."""
        root = self.settings.managed_plugins_dir
        if root and os.path.isdir(root):
            await trio.to_thread.run_sync(_clean_leftovers, os.path.abspath(root))
        for record in await self.store.all():
            if record.status == "installing" or not os.path.isdir(record.install_path):
                log.warning("removing the unfinished install of %s (%s)", record.plugin_id, record.install_path)
                if record.plugin_id in supervisor:
                    supervisor.discard(record.plugin_id)
                await remove_plugin_files(record.install_path)
                await self.store.delete(record.plugin_id)
                continue
            self.records[record.plugin_id] = record
            if record.plugin_id not in supervisor:  # its directory came back from an interrupted upgrade
                try:
                    supervisor.add(load_manifest(record.install_path), installed_at=record.installed_at)
                except (ManifestError, SupervisorError) as exc:
                    log.error("installed plugin %s cannot be launched: %s", record.plugin_id, exc)
                    continue
            if record.plugin_id in supervisor:
                plugin = supervisor.get(record.plugin_id)
                plugin.installed_at = record.installed_at
                plugin.updated_at = record.updated_at
                plugin.autostart = record.status != "stopped"

    # -- install -------------------------------------------------------------------

    async def forget(self, plugin_id: str) -> None:
        """Drop the record of an uninstalled plugin (the supervisor removed files and process)."""
        record = self.records.pop(plugin_id, None)
        await self.store.delete(plugin_id)
        if record is not None:
            for listener in self.listeners:
                listener("removed", record)

    async def note_status(self, plugin_id: str, status: str) -> None:
        """Remember that a plugin was started or stopped on purpose (a restarted host keeps it so)."""
        record = self.records.get(plugin_id)
        if record is not None and record.status != status:
            record.status, record.updated_at = status, now_iso()
            await self.store.save(record)

    async def install(self, request: PluginInstallRequest, emit: Emit) -> ManagedPlugin:
        """Install ``request`` and start it; returns once it has registered. Raises :class:`InstallFailed`."""
        try:
            config = complete(request)
        except ConfigError as exc:
            raise InstallFailed(str(exc)) from None
        plugin_id = config.id
        root = self.root
        if plugin_id in self.supervisor or plugin_id in self._busy:
            raise InstallFailed(f"plugin {plugin_id!r} is already installed (or being installed); uninstall or upgrade it")
        target = os.path.join(root, plugin_id)
        if os.path.lexists(target):
            raise InstallFailed(f"cannot install {plugin_id!r}: {target} already exists")
        self._busy.add(plugin_id)
        os.makedirs(root, mode=0o750, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{plugin_id}-", dir=root)
        record: InstalledRecord | None = None
        moved = False
        done = False
        try:
            build_log: list[str] = []
            directory = await self._prepare(config, staging, emit, build_log)
            record = InstalledRecord(
                plugin_id=plugin_id, project_id=getattr(request, "project_id", None) or None, name=config.name,
                version=config.version, description=config.description, author=config.author,
                source_url=config.source_url, install_type=install_type(config),
                source_config=as_json(config.source), build_config=as_json(config.build) if config.build else None,
                runtime_config=as_json(config.runtime), status="installing", install_path=target,
            )
            await self._save(record)
            await trio.to_thread.run_sync(os.rename, directory, target)
            moved = True
            self.records[plugin_id] = record
            emit("starting", f"starting {plugin_id}")
            try:
                manifest = load_manifest(target)
                plugin = await self.supervisor.adopt(manifest, installed_at=record.installed_at, log_lines=build_log)
            except (ManifestError, SupervisorError) as exc:
                raise InstallFailed(f"cannot start {plugin_id}: {exc}") from None
            await self.wait_registered(plugin)
            record.status, record.pid, record.updated_at = plugin.status, plugin.pid, now_iso()
            await self._save(record)
            done = True
            for listener in self.listeners:
                listener("installed", record)
            emit("complete", f"{config.name} {config.version} installed and running (pid {plugin.pid})")
            log.info("installed plugin %s %s from %s", plugin_id, config.version, record.source_url or record.install_type)
            return plugin
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(CLEANUP_TIMEOUT):
                if not done:
                    self.records.pop(plugin_id, None)
                    if plugin_id in self.supervisor:
                        try:
                            await self.supervisor.stop(plugin_id, grace=1.0)
                            self.supervisor.discard(plugin_id)
                        except SupervisorError:
                            log.exception("cleaning up the failed install of %s", plugin_id)
                    if moved:
                        await remove_plugin_files(target)
                    if record is not None:
                        try:
                            await self.store.delete(plugin_id)
                        except StoreError:
                            log.exception("cleaning up the failed install of %s", plugin_id)
                await remove_plugin_files(staging)
                self._busy.discard(plugin_id)

    # -- updates ---------------------------------------------------------------------

    async def check_update(self, plugin_id: str) -> dict[str, Any]:
        """``GET /plugins/{id}/check-update``: re-resolve the plugin's ``source_url`` and compare versions.

        Never raises for a source problem: the answer carries ``has_update``
        false and a ``message`` (as the gateway expects). The latest version
        seen is remembered in the record (``latest_version``).
        """
        record = self.records.get(plugin_id)
        current = record.version if record is not None else None
        if record is None or not record.source_url:
            return {"has_update": False, "current_version": current, "latest_version": None,
                    "message": f"plugin {plugin_id!r} was not installed from a URL: nothing to check"}
        try:
            config = await fetch_info(record.source_url, self.settings, self.fetcher)
        except SourceError as exc:
            return {"has_update": False, "current_version": current, "latest_version": None, "message": str(exc)}
        if config.id != plugin_id:
            return {"has_update": False, "current_version": current, "latest_version": config.version,
                    "message": f"{record.source_url} now holds plugin {config.id!r}, not {plugin_id!r}"}
        has_update = is_newer(config.version, current)
        if record.latest_version != config.version:
            record.latest_version = config.version
            try:
                await self.store.save(record)
            except StoreError:
                log.exception("remembering the latest version of %s", plugin_id)
        return {"has_update": has_update, "current_version": current, "latest_version": config.version,
                "latest_config": as_json(config),
                "message": f"{config.version} is available" if has_update else f"{current} is up to date"}

    async def upgrade(self, plugin_id: str, latest: PluginConfig | None, emit: Emit) -> ManagedPlugin:
        """Stop → install the new version beside the old → swap → start → registered.

        Any failure (or cancellation) rolls back: the new files go, the old
        directory and manifest come back and the old version is started
        again. Raises :class:`InstallFailed` saying what failed and that the
        old version runs.
        """
        record = self.records.get(plugin_id)
        if record is None or plugin_id not in self.supervisor:
            raise InstallFailed(f"plugin {plugin_id!r} was not installed through the marketplace: nothing to upgrade")
        if plugin_id in self._busy:
            raise InstallFailed(f"plugin {plugin_id!r} is being installed or upgraded already")
        self._busy.add(plugin_id)
        try:
            if latest is None:
                if not record.source_url:
                    raise InstallFailed(f"plugin {plugin_id!r} has no source_url to upgrade from")
                try:
                    latest = await fetch_info(record.source_url, self.settings, self.fetcher)
                except SourceError as exc:
                    raise InstallFailed(str(exc)) from None
            try:
                config = complete(latest)
            except ConfigError as exc:
                raise InstallFailed(f"latest_config.{exc}") from None
            if config.id != plugin_id:
                raise InstallFailed(f"latest_config.id is {config.id!r}, not {plugin_id!r}")
            return await self._upgrade(record, config, emit)
        finally:
            self._busy.discard(plugin_id)

    async def _upgrade(self, record: InstalledRecord, config: PluginConfig, emit: Emit) -> ManagedPlugin:
        plugin_id = record.plugin_id
        supervisor = self.supervisor
        plugin = supervisor.get(plugin_id)
        live = record.install_path
        old_manifest = plugin.manifest
        old_version = record.version
        root = self.root
        staging = tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{plugin_id}-", dir=root)
        aside = os.path.join(root, f"{OLD_PREFIX}{plugin_id}-{os.path.basename(staging).rsplit('-', 1)[-1]}")
        swapped = False
        done = False
        try:
            emit("stopping", f"stopping {plugin_id} {old_version}")
            await supervisor.stop(plugin_id)
            build_log: list[str] = [f"-- upgrade {old_version} → {config.version}"]
            directory = await self._prepare(config, staging, emit, build_log)
            await trio.to_thread.run_sync(os.rename, live, aside)
            swapped = True
            await trio.to_thread.run_sync(os.rename, directory, live)
            try:
                supervisor.replace_manifest(plugin_id, load_manifest(live))
            except (ManifestError, SupervisorError) as exc:
                raise InstallFailed(f"cannot start {plugin_id} {config.version}: {exc}") from None
            plugin.logs.extend(build_log)
            emit("starting", f"starting {plugin_id} {config.version}")
            await supervisor.start(plugin_id)
            await self.wait_registered(plugin)
            record.name, record.version, record.description, record.author = (
                config.name, config.version, config.description, config.author)
            record.source_url = config.source_url or record.source_url
            record.source_config = as_json(config.source)
            record.build_config = as_json(config.build) if config.build else None
            record.runtime_config = as_json(config.runtime)
            record.latest_version, record.status, record.pid, record.updated_at = (
                config.version, plugin.status, plugin.pid, now_iso())
            await self._save(record)
            done = True
            emit("complete", f"{plugin_id} upgraded from {old_version} to {config.version} (pid {plugin.pid})")
            log.info("upgraded plugin %s from %s to %s", plugin_id, old_version, config.version)
            return plugin
        except BaseException as exc:
            failure = str(exc) if isinstance(exc, InstallFailed) else (
                "cancelled" if isinstance(exc, trio.Cancelled) else f"{type(exc).__name__}: {exc}")
            with trio.CancelScope(shield=True), trio.move_on_after(CLEANUP_TIMEOUT):
                restored = await self._roll_back(plugin, old_manifest, live, aside, swapped)
            message = f"upgrade of {plugin_id} to {config.version} failed: {failure}; {restored}"
            log.error("%s", message)
            if not isinstance(exc, Exception):
                raise
            raise InstallFailed(message) from None
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(CLEANUP_TIMEOUT):
                if done:
                    await remove_plugin_files(aside)
                await remove_plugin_files(staging)

    async def _roll_back(self, plugin: ManagedPlugin, old_manifest: Any, live: str, aside: str, swapped: bool) -> str:
        """Put the old version back and start it; returns what happened, for the error message."""
        supervisor = self.supervisor
        try:
            await supervisor.stop(plugin.id, grace=1.0)
            if swapped:
                await remove_plugin_files(live)
                await trio.to_thread.run_sync(os.rename, aside, live)
            supervisor.replace_manifest(plugin.id, old_manifest)
            await supervisor.start(plugin.id)
            await self.wait_registered(plugin)
        except (InstallFailed, SupervisorError, OSError) as exc:
            return f"rolling back failed too: {exc}"
        record = self.records.get(plugin.id)
        return f"rolled back: {plugin.id} {record.version if record else ''} is running again (pid {plugin.pid})"

    async def wait_registered(self, plugin: ManagedPlugin) -> None:
        """Until ``plugin``'s process registers; :class:`InstallFailed` if it exits or is too slow."""
        timeout = self.settings.register_timeout + 5.0
        with trio.move_on_after(timeout):
            while not plugin.registered:
                if plugin.last_error is not None or plugin.status in ("error", "stopped"):
                    raise InstallFailed(f"plugin {plugin.id} did not start: {plugin.last_error or plugin.status}")
                await trio.sleep(0.05)
            return
        tail = "\n".join(list(plugin.logs)[-10:])
        raise InstallFailed(f"plugin {plugin.id} did not register within {timeout:g} s" + (f"; last output:\n{tail}" if tail else ""))

    async def _save(self, record: InstalledRecord) -> None:
        try:
            await self.store.save(record)
        except StoreError as exc:
            raise InstallFailed(str(exc)) from None

    async def _prepare(self, config: PluginConfig, staging: str, emit: Emit, build_log: list[str]) -> str:
        """Fetch and build ``config`` inside ``staging``; returns the plugin directory (with the host's plugin.yml)."""
        try:
            directory, command = await self._fetch(config, staging, emit)
            if config.build is not None:
                shown = [0]

                def on_line(line: str) -> None:
                    build_log.append(line)
                    shown[0] += 1
                    if shown[0] <= SHOWN_LINES:
                        emit("building", line)
                    elif shown[0] == SHOWN_LINES + 1:
                        emit("building", "… (more output in the plugin's log)")

                def on_step(step: str) -> None:
                    shown[0] = 0
                    build_log.append(f"$ {step}")
                    emit("building", step)

                await build(config.build, directory, self.settings.build_timeout, on_line, on_step)
            await trio.to_thread.run_sync(write_manifest, config, directory, command)
            load_manifest(directory)
        except (SourceError, BuildError, UnpackError) as exc:
            raise InstallFailed(str(exc)) from None
        except ManifestError as exc:
            raise InstallFailed(f"the plugin cannot be run: {exc.field}: {exc.reason}") from None
        except OSError as exc:
            raise InstallFailed(f"cannot prepare the plugin files: {exc}") from None
        return directory

    async def _fetch(self, config: PluginConfig, staging: str, emit: Emit) -> tuple[str, str | None]:
        """Put the plugin's files in ``staging/src``; returns (plugin directory, executable or None)."""
        source = config.source
        src = os.path.join(staging, "src")
        settings = self.settings
        git = source.github or source.gitee
        if git is not None:
            host = "github" if source.github is not None else "gitee"
            url = git_clone_url(host, git.repo, settings)
            check_source(url, settings, "repository")
            emit("cloning", f"cloning {url} at {git.ref}")
            os.makedirs(src)
            on_line = partial(_quiet, emit, "cloning")
            git_cmd = ["git", "-c", "http.followRedirects=false", "-c", "protocol.allow=never",
                       "-c", "protocol.http.allow=always", "-c", "protocol.https.allow=always"]
            env = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
            timeout = settings.build_timeout
            await run_step("git init", [*git_cmd, "init", "-q"], src, timeout, on_line, env)
            await run_step(f"git fetch {url} {git.ref}", [*git_cmd, "fetch", "-q", "--depth", "1", "--", url, git.ref],
                           src, timeout, on_line, env)
            await run_step("git checkout", [*git_cmd, "checkout", "-q", "FETCH_HEAD"], src, timeout, on_line, env)
            await trio.to_thread.run_sync(partial(shutil.rmtree, os.path.join(src, ".git")))
            directory = _subdir(src, git.path)
            return directory, None
        if source.binary is not None:
            url = substitute_platform(source.binary.url)
            emit("downloading", f"downloading {url}")
            name = os.path.basename(url.split("?", 1)[0].rstrip("/")) or "plugin"
            if name.startswith("."):
                name = "plugin" + name
            download = os.path.join(staging, name)
            final, digest = await self.fetcher.download(url, download, settings.max_download_bytes)
            size = os.path.getsize(download)
            expected = (source.binary.sha256 or "").lower().strip()
            if expected and digest != expected:
                raise SourceError(f"{final}: sha256 is {digest}, expected {expected}")
            emit("downloading", f"downloaded {size} bytes" + (" (sha256 verified)" if expected else ""))
            os.makedirs(src)
            if archive_kind(name) is not None:
                emit("copying", f"unpacking {name}")
                await trio.to_thread.run_sync(partial(unpack, download, src, max_bytes=settings.max_unpacked_bytes,
                                                      max_files=settings.max_archive_files))
                entries = [e for e in os.listdir(src) if not e.startswith(".")]
                directory = src
                if len(entries) == 1 and os.path.isdir(os.path.join(src, entries[0])) \
                        and not os.path.islink(os.path.join(src, entries[0])):
                    directory = os.path.join(src, entries[0])  # release archives often hold one top directory
                return directory, None
            executable = os.path.join(src, name)
            os.rename(download, executable)
            os.chmod(executable, 0o755)
            return src, name
        if source.local is not None:
            path = os.path.abspath(source.local.path)
            if not local_source_allowed(path, settings.install_sources):
                raise SourceError(f"local directory {path} is not inside an allowed install source (install_sources)")
            if not os.path.isdir(path):
                raise SourceError(f"local directory {path} does not exist")
            emit("copying", f"copying {path}")
            await trio.to_thread.run_sync(partial(
                shutil.copytree, path, src, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", ".git", ".venv", "node_modules")))
            return src, None
        raise SourceError("source: one of github, gitee, binary or local is required")


def _quiet(emit: Emit, stage: str, line: str) -> None:
    if line.strip():
        emit(stage, line)


def _subdir(src: str, path: str) -> str:
    directory = os.path.normpath(os.path.join(src, path.strip("/")))
    real = os.path.realpath(directory)
    if real != os.path.realpath(src) and not real.startswith(os.path.realpath(src) + os.sep):
        raise SourceError(f"source path {path!r} leaves the repository")
    if not os.path.isdir(directory):
        raise SourceError(f"source path {path!r} is not a directory in the repository")
    return directory


def write_manifest(config: PluginConfig, directory: str, executable: str | None) -> None:
    """Write the host's ``plugin.yml`` for ``config`` into ``directory`` (the plugin's own is replaced).

    A single downloaded executable (``executable``) runs as ``./NAME`` unless a
    build language or ``runtime.command`` says otherwise.
    """
    runtime = as_json(config.runtime)
    data: dict[str, Any] = {"id": config.id, "name": config.name, "version": config.version}
    for key in ("description", "author"):
        if getattr(config, key):
            data[key] = getattr(config, key)
    data["source"] = as_json(config.source)
    if config.build is not None and config.build.language != "binary":
        data["build"] = as_json(config.build)
    elif not runtime.get("command"):
        if executable is None:
            raise ManifestError(os.path.join(directory, "plugin.yml"), "runtime.command",
                                "required: there is no build.language and the download is not a single executable")
        runtime["command"] = f"./{executable}"
    data["runtime"] = runtime
    for stale in ("plugin.yml", "plugin.json"):
        path = os.path.join(directory, stale)
        if os.path.lexists(path):
            os.replace(path, path + ".orig")
    with open(os.path.join(directory, "plugin.yml"), "w", encoding="utf-8") as fh:
        fh.write("# written by tgo-host from the install request; the plugin's own manifest is plugin.yml.orig\n")
        yaml.safe_dump(data, fh, sort_keys=False, allow_unicode=True)


def _clean_leftovers(root: str) -> None:
    """Remove staging directories; put back an old version a killed upgrade had moved aside."""
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if name.startswith(STAGING_PREFIX):
            log.warning("removing leftover staging directory %s", path)
            shutil.rmtree(path, ignore_errors=True)
        elif name.startswith(OLD_PREFIX):
            plugin_id = name[len(OLD_PREFIX):].rsplit("-", 1)[0]
            live = os.path.join(root, plugin_id)
            if os.path.isdir(live):
                shutil.rmtree(path, ignore_errors=True)
            else:
                log.warning("restoring %s from an interrupted upgrade", plugin_id)
                os.rename(path, live)


STORE_FILE = ".tgo-installed.db"


def open_marketplace(settings: Settings, supervisor: Supervisor) -> Marketplace:
    """The marketplace of ``settings.managed_plugins_dir``, its records in ``<managed>/.tgo-installed.db``."""
    from .store import SqliteStore

    root = os.path.abspath(settings.managed_plugins_dir or ".")
    return Marketplace(settings, supervisor, SqliteStore(os.path.join(root, STORE_FILE)))

