"""The launched plugins a host knows, by id: lookups and bookkeeping, no processes.

:class:`PluginCatalog` holds one :class:`~.managed.ManagedPlugin` per id
(found by :func:`~.installing.launchable`, or added later by an install) and
answers the read side the HTTP API and the marketplace use. The
:class:`~.supervisor.Supervisor` is a catalog that also runs the plugins; a
plugin it is supervising cannot be replaced or forgotten here
(:class:`~.supervisor_errors.SupervisorError`).
"""

from __future__ import annotations

from typing import Iterable

from ..settings import Settings
from .confinement import confine
from .installing import is_managed, launchable
from .managed import ManagedPlugin, StatusSnapshot, now_iso
from .manifest import Manifest, ManifestError
from .processes import same_process_group
from .supervisor_errors import InstallError, SupervisorError, UnknownPlugin


class PluginCatalog:
    """The known launched plugins (see the module doc).

    ``manifests`` None discovers ``settings.plugin_dirs`` and
    ``settings.managed_plugins_dir``; the manifests refused are in
    :attr:`manifest_errors` (the good ones are still known).
    """

    def __init__(self, settings: Settings, manifests: list[Manifest] | None = None) -> None:
        self.settings = settings
        accepted, errors = launchable(settings, manifests)
        self.manifest_errors: list[ManifestError] = errors
        self._plugins: dict[str, ManagedPlugin] = {
            m.id: ManagedPlugin(m, settings.log_lines, managed=is_managed(settings, m)) for m in accepted
        }

    def plugins(self) -> list[ManagedPlugin]:
        """Every launched plugin, by id."""
        return [self._plugins[k] for k in sorted(self._plugins)]

    def get(self, plugin_id: str) -> ManagedPlugin:
        """The plugin ``plugin_id``; raises :class:`UnknownPlugin`."""
        try:
            return self._plugins[plugin_id]
        except KeyError:
            raise UnknownPlugin(plugin_id) from None

    def __contains__(self, plugin_id: object) -> bool:
        return plugin_id in self._plugins

    def status(self, plugin_id: str) -> StatusSnapshot:
        """``{id, status, pid, restart_count, last_error, registered}``; raises :class:`UnknownPlugin`."""
        return self.get(plugin_id).snapshot()

    def total_restarts(self) -> int:
        """Restarts of launched plugins since the host started (crash restarts and API restarts)."""
        return sum(plugin.restart_count for plugin in self._plugins.values())

    def logs(self, plugin_id: str, limit: int = 200) -> list[str]:
        """The plugin's last ``limit`` output lines (stdout and stderr), oldest first."""
        lines = self.get(plugin_id).logs
        if limit <= 0:
            return []
        return list(lines)[-limit:]

    def add(self, manifest: Manifest, *, installed_at: str | None = None) -> ManagedPlugin:
        """Know one more installed plugin without starting it (:meth:`run` launches it if it has not begun yet).

        Raises :class:`InstallError` for a known id, :class:`ManifestNotAllowed` when it reaches outside its directory.
        """
        if manifest.id in self._plugins:
            raise InstallError(f"plugin {manifest.id!r} is already known")
        managed = is_managed(self.settings, manifest)
        if managed:
            confine(manifest)
        plugin = ManagedPlugin(manifest, self.settings.log_lines, managed=managed, installed_at=installed_at or now_iso())
        self._plugins[manifest.id] = plugin
        return plugin

    def replace_manifest(self, plugin_id: str, manifest: Manifest) -> ManagedPlugin:
        """Run ``plugin_id`` from ``manifest`` from its next start on (an upgrade; the plugin must be stopped)."""
        plugin = self.get(plugin_id)
        if plugin.supervised:
            raise SupervisorError(f"plugin {plugin_id!r} must be stopped before its files are replaced")
        if plugin.managed:
            confine(manifest)  # ManifestNotAllowed
        plugin.manifest = manifest
        plugin.updated_at = now_iso()
        return plugin

    def discard(self, plugin_id: str) -> None:
        """Forget a plugin that is not running (its files are the caller's business)."""
        plugin = self._plugins.get(plugin_id)
        if plugin is not None and plugin.supervised:
            raise SupervisorError(f"plugin {plugin_id!r} is running; stop it first")
        self._plugins.pop(plugin_id, None)

    def _add_installed(self, manifest: Manifest, installed_at: str | None, log_lines: Iterable[str] = ()) -> ManagedPlugin:
        """Know a plugin whose files are in place in ``managed_plugins_dir`` (checked and confined)."""
        if manifest.id in self._plugins:
            raise InstallError(f"plugin {manifest.id!r} is already installed; uninstall it first")
        if not is_managed(self.settings, manifest):
            raise InstallError(f"cannot adopt {manifest.directory}: not in managed_plugins_dir")
        confine(manifest)  # ManifestNotAllowed: installed plugins keep to their directory
        plugin = ManagedPlugin(manifest, self.settings.log_lines, managed=True, installed_at=installed_at or now_iso())
        plugin.logs.extend(log_lines)
        self._plugins[manifest.id] = plugin
        return plugin

    def _of_process(self, pid: int) -> ManagedPlugin | None:
        """The plugin whose running (or just spawned) process is ``pid`` or leads ``pid``'s process group."""
        for plugin in self._plugins.values():
            leader = plugin.leader_pid
            if leader is not None and same_process_group(pid, leader):
                return plugin
        return None
