"""Launched plugins kept running: spawn → watch → back off → respawn, and stopped in order.

::

    Supervisor.run                     its own nursery (a child of the host's root nursery)
    └─ one supervision task per plugin (supervision.Supervision.run)
       ├─ the process watched to its exit (process_watch.watch_to_exit: stdout/stderr lines
       │                                   → ring buffer + logger "tgo_host.plugin.<id>")
       ├─ registration deadline        starting → running after register_timeout
       └─ after an exit                intended (stop, host shutdown, acknowledged shutdown)?
                                          stopped : RestartPolicy.on_exit → back off, respawn
                                                    or error (auto_restart off, crash loop)

This module owns the operations (start, stop, restart, install, uninstall),
the supervision tasks' nursery and matching registrations to processes. The
other pieces: which plugins exist and the read side (:mod:`.catalog`, the base
class), each plugin's state and status (:mod:`.managed`), one plugin's life
(:mod:`.supervision`), when to respawn (:mod:`.restart_policy`, pure), plugin
directories (:mod:`.installing`), a process's environment, output and
kill-and-reap (:mod:`.process_watch`), forking so plugins die with the host
(:mod:`.launch`) and stopping what a killed host left behind (:mod:`.stale`).
A registered session is matched to its process by the ``SO_PEERCRED`` pid
(or a pid in its process group).

Stopping, in order: ``shutdown`` over the plugin's session (if it
registered), wait for the exit until the grace period ends, ``SIGTERM`` to
its process group, 2 s, ``SIGKILL``. Plugins run in their own session so a
terminal's Ctrl-C reaches only the host. No plugin process outlives
:meth:`Supervisor.run`: cancelled (the host's hard stop), every supervision
task kills its process group and reaps it in a shielded ``finally``;
processes are signalled by pid / process group only, never by name. A spawn
that fails for lack of fds, processes or memory is retried with the back-off.
"""

from __future__ import annotations

import logging
import signal
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable

import trio

from ..settings import Settings
from .catalog import PluginCatalog
from .installing import check_source, copy_plugin, managed_root, remove_plugin_files
from .managed import ManagedPlugin, PluginStatus, now_iso
from .manifest import Manifest
from .process_watch import KILL_WAIT as KILL_WAIT
from .process_watch import TERM_WAIT as TERM_WAIT
from .process_watch import escalate
from .processes import signal_group
from .stale import PluginRecords, state_file_for, stop_stale_plugins
from .supervision import Supervision
from .supervisor_errors import InstallError as InstallError
from .supervisor_errors import InstallSourceError as InstallSourceError
from .supervisor_errors import SupervisorError as SupervisorError
from .supervisor_errors import UnknownPlugin as UnknownPlugin

if TYPE_CHECKING:
    from .registry import Registry
    from .session import PluginSession

log = logging.getLogger("tgo_host.supervisor")


class Supervisor(PluginCatalog):
    """Launches the plugins of a :class:`~.catalog.PluginCatalog` and keeps them running.

    ``settings``: back-off, crash-loop, log and socket settings; ``registry``:
    its connect/disconnect events tell which launched process has registered;
    ``manifests``: what to launch (None: discovered, see the catalog).
    :meth:`run` must be running (it owns the processes) for :meth:`start`,
    :meth:`restart`, :meth:`install` and :meth:`adopt`.
    """

    def __init__(self, settings: Settings, registry: "Registry[PluginSession]", manifests: list[Manifest] | None = None) -> None:
        super().__init__(settings, manifests)
        self.registry = registry
        self._nursery: trio.Nursery | None = None
        self._stopping_all = False
        self._installing: set[str] = set()
        self._records = PluginRecords(state_file_for(settings.socket_path))
        self._supervision = Supervision(settings, self._records, lambda: self._stopping_all)
        #: awaited by :meth:`run` before anything is launched (the marketplace restores its state here)
        self.before_launch: Callable[["Supervisor"], Awaitable[None]] | None = None

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Launch every plugin and supervise them until cancelled.

        Reports readiness via ``task_status`` as soon as the launches are
        scheduled (it does not wait for plugins to register). On exit, by
        cancellation or otherwise, every plugin process still alive is killed.
        """
        for error in self.manifest_errors:
            log.error("manifest error: %s", error)
        stale = await stop_stale_plugins(self._records.path)
        if stale:
            log.warning("stopped %d plugin(s) left running by a previous host", stale)
        unsubscribe = self.registry.subscribe(self._on_registry_event)
        try:
            if self.before_launch is not None:
                await self.before_launch(self)
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                launching = [plugin for plugin in self.plugins() if plugin.autostart]
                for plugin in launching:
                    self._prepare(plugin)
                    nursery.start_soon(self._supervision.run, plugin)
                if launching:
                    log.info("launching %d plugin(s): %s", len(launching), ", ".join(p.id for p in launching))
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None
            unsubscribe()
            self._kill_remaining()
            self._records.clear()

    # -- operations ------------------------------------------------------------

    async def start(self, plugin_id: str) -> ManagedPlugin:
        """Start a stopped (or failed) plugin; returns once its process is spawned.

        A plugin already running is left alone; one waiting to be restarted
        is restarted now. The crash-loop history is cleared. If the process
        cannot be spawned, the plugin's status is ``"error"`` with the reason
        in ``last_error``. Raises :class:`UnknownPlugin`, or
        :class:`SupervisorError` while the host shuts down.
        """
        plugin = self.get(plugin_id)
        async with plugin.control.lock:
            await self._start(plugin)
        return plugin

    async def stop(self, plugin_id: str, grace: float | None = None, *, send_shutdown: bool = True) -> ManagedPlugin:
        """Stop a plugin: ``shutdown``, wait ``grace`` s (default ``shutdown_grace``), ``SIGTERM``, 2 s, ``SIGKILL``.

        The plugin is not restarted afterwards; its status is ``"stopped"``.
        """
        plugin = self.get(plugin_id)
        async with plugin.control.lock:
            await self._stop(plugin, self._grace(grace), send_shutdown=send_shutdown)
        return plugin

    async def restart(self, plugin_id: str, grace: float | None = None) -> ManagedPlugin:
        """Stop the plugin (as :meth:`stop`) and start it again with a new process."""
        plugin = self.get(plugin_id)
        async with plugin.control.lock:
            was_supervised = plugin.supervised
            await self._stop(plugin, self._grace(grace), send_shutdown=True)
            if was_supervised:
                plugin.restart_count += 1
            await self._start(plugin)
        return plugin

    async def stop_all(self, grace: float, *, send_shutdown: bool = True) -> None:
        """Stop every running plugin concurrently under one ``grace``; no restarts after this.

        The host's shutdown cascade sends ``shutdown`` to every session itself
        and passes ``send_shutdown=False``: this then only waits for the
        processes to exit, and escalates.
        """
        self._stopping_all = True
        running = [p for p in self.plugins() if p.supervised]
        if not running:
            return
        log.info("stopping %d launched plugin(s), grace %g s", len(running), grace)
        async with trio.open_nursery() as nursery:
            for plugin in running:
                nursery.start_soon(self._stop_locked, plugin, grace, send_shutdown)

    async def install(self, path: str) -> ManagedPlugin:
        """Copy the plugin directory ``path`` into ``managed_plugins_dir`` (:mod:`.installing`), then start it.

        Raises what :func:`~.installing.check_source` and
        :func:`~.installing.copy_plugin` raise, :class:`InstallError` when
        ``managed_plugins_dir`` is unset or the id is known,
        :class:`SupervisorError` when the supervisor is not running.
        """
        root = managed_root(self.settings)
        if root is None:
            raise InstallError("cannot install: managed_plugins_dir is not set (config file or TGO_MANAGED_PLUGINS_DIR)")
        self._check_running()
        source, manifest = check_source(path, self.settings.install_sources)
        plugin_id = manifest.id
        if plugin_id in self._plugins or plugin_id in self._installing:
            where = self._plugins[plugin_id].manifest.directory if plugin_id in self._plugins else "an install in progress"
            raise InstallError(f"plugin {plugin_id!r} is already installed ({where}); uninstall it first")
        self._installing.add(plugin_id)
        try:
            plugin = self._add_installed(await copy_plugin(source, root, plugin_id), now_iso())
        finally:
            self._installing.discard(plugin_id)
        log.info("installed plugin %s from %s into %s", plugin_id, source, plugin.manifest.directory)
        await self.start(plugin_id)
        return plugin

    async def adopt(self, manifest: Manifest, *, installed_at: str | None = None, log_lines: Iterable[str] = ()) -> ManagedPlugin:
        """Launch a plugin directory already in place in ``managed_plugins_dir`` (an installer put it there).

        ``log_lines`` (e.g. its build output) start its log. Raises
        :class:`InstallError` for a known id or a directory elsewhere,
        :class:`ManifestNotAllowed`, :class:`SupervisorError` when not running.
        """
        self._check_running()
        plugin = self._add_installed(manifest, installed_at, log_lines)
        await self.start(manifest.id)
        return plugin

    async def uninstall(self, plugin_id: str, grace: float | None = None) -> None:
        """Stop an installed plugin and delete its copy; one from ``plugin_dirs`` is not the host's (:class:`InstallError`)."""
        plugin = self.get(plugin_id)
        if not plugin.managed:
            raise InstallError(
                f"plugin {plugin_id!r} was not installed by the host (it lives in {plugin.manifest.directory}); "
                "remove it from its plugin directory instead"
            )
        async with plugin.control.lock:
            await self._stop(plugin, self._grace(grace), send_shutdown=True)
            if self._plugins.get(plugin_id) is plugin:
                del self._plugins[plugin_id]
        await remove_plugin_files(plugin.manifest.directory)
        log.info("uninstalled plugin %s (removed %s)", plugin_id, plugin.manifest.directory)

    # -- internals: start/stop ---------------------------------------------------

    def _grace(self, grace: float | None) -> float:
        return self.settings.shutdown_grace if grace is None else grace

    def _check_running(self) -> None:
        if self._stopping_all:
            raise SupervisorError("the host is shutting down")
        if self._nursery is None:
            raise SupervisorError("the plugin supervisor is not running")

    def _prepare(self, plugin: ManagedPlugin) -> None:
        plugin.control.stop_requested = False
        plugin.control.wake = trio.Event()
        plugin.control.task_done = trio.Event()

    async def _start(self, plugin: ManagedPlugin) -> None:
        self._check_running()
        assert self._nursery is not None
        if self._plugins.get(plugin.id) is not plugin:  # uninstalled meanwhile
            raise UnknownPlugin(plugin.id)
        if plugin.control.policy is not None:
            plugin.control.policy.forgive()  # an explicit start: the crash history starts over
        if plugin.supervised:
            plugin.control.wake.set()  # running: no-op; backing off: restart now
            return
        plugin.last_error = None
        self._prepare(plugin)
        await self._nursery.start(self._supervision.run, plugin)

    async def _stop_locked(self, plugin: ManagedPlugin, grace: float, send_shutdown: bool) -> None:
        async with plugin.control.lock:
            await self._stop(plugin, grace, send_shutdown=send_shutdown)

    async def _stop(self, plugin: ManagedPlugin, grace: float, *, send_shutdown: bool) -> None:
        plugin.control.stop_requested = True
        plugin.control.wake.set()
        done = plugin.control.task_done
        if done is None or done.is_set():
            plugin.set_status(PluginStatus.STOPPED)
            return
        deadline = trio.current_time() + grace
        session = plugin.session
        if send_shutdown and session is not None and session.conn.close_reason is None:
            log.info("stopping plugin %s: sending shutdown (grace %g s)", plugin.id, grace)
            with trio.move_on_at(deadline):
                await session.shutdown(max(deadline - trio.current_time(), 0.0))
        with trio.move_on_at(deadline):
            await done.wait()
        if not await escalate(plugin.id, lambda: plugin.process, done):
            log.error("plugin %s could not be stopped (pid %s)", plugin.id, plugin.pid)
            return
        plugin.set_status(PluginStatus.STOPPED)

    def _on_registry_event(self, event: str, session: "PluginSession") -> None:
        """Registration matching: a session connected from a launched process (by peer pid), or gone."""
        if event == "disconnected":
            for plugin in self._plugins.values():
                if plugin.session is session:
                    plugin.disconnected()
        elif event == "connected" and session.peer.pid:
            launched = self._of_process(session.peer.pid)
            if launched is not None:
                launched.registered_as(session)

    def _kill_remaining(self) -> None:
        for plugin in self._plugins.values():
            proc = plugin.process
            if proc is not None and proc.returncode is None:
                log.warning("killing plugin %s (pid %d)", plugin.id, proc.pid)
                signal_group(proc, signal.SIGKILL)

