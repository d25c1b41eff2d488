"""Launched plugins: spawn → read output → wait → back off → respawn, and stop them in order.

::

    Supervisor.run                     its own nursery (a child of the host's root nursery)
    └─ one supervision task per plugin
       ├─ stdout reader                lines → ring buffer + logger "tgo_host.plugin.<id>"
       ├─ stderr reader
       ├─ registration watch           "starting" → "running"
       └─ wait for exit                → intended (stop, host shutdown, acknowledged shutdown)?
                                          done : back off (doubling, capped) → respawn, or
                                          "error" after a crash loop

Each plugin is a :class:`ManagedPlugin` whose state the HTTP API reads
(:meth:`Supervisor.status`, :meth:`Supervisor.plugins`,
:meth:`Supervisor.logs`) and changes (:meth:`Supervisor.start`,
:meth:`Supervisor.stop`, :meth:`Supervisor.restart`, :meth:`Supervisor.install`,
:meth:`Supervisor.uninstall`). A registered session is matched to its process
by the ``SO_PEERCRED`` pid (or a pid in the plugin's process group, for a
plugin started through a wrapper script).

Stopping, in order: ``shutdown`` over the plugin's session (if it registered),
then wait for the process to exit until the grace period ends, then
``SIGTERM`` to its process group, 2 s, then ``SIGKILL``. Plugins run in their
own session (``start_new_session``) so a terminal's Ctrl-C reaches only the
host, which then stops them in that order.

Resource handling: no plugin process outlives :meth:`Supervisor.run`, nor
the host process itself: plugins are started by :mod:`.launch` to die with
the host even when it is SIGKILLed, and a starting supervisor first stops
what a previous host left running (:mod:`.stale`). A spawn that fails for
lack of fds, processes or memory is retried with the normal back-off. If the
supervisor is cancelled (the host's hard stop), every supervision task kills
its process group with ``SIGKILL`` and reaps it in a shielded ``finally``;
processes are signalled by pid / process group only, never by name.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import trio

from ..settings import Settings
from .confinement import confine
from .launch import LaunchedProcess, launch
from .installing import check_source, copy_plugin, is_managed, launchable, managed_root, remove_plugin_files
from .managed import ManagedPlugin, PluginStatus, StatusSnapshot, now_iso
from .manifest import Manifest, ManifestError
from .process_watch import KILL_WAIT as KILL_WAIT
from .process_watch import plugin_env, watch_to_exit
from .processes import describe_exit, same_process_group, signal_group
from .restart_policy import GiveUp, RestartPolicy
from .stale import PluginRecords, state_file_for, stop_stale_plugins
from .supervisor_errors import InstallError as InstallError
from .supervisor_errors import InstallSourceError as InstallSourceError
from .supervisor_errors import SupervisorError as SupervisorError
from .supervisor_errors import UnknownPlugin as UnknownPlugin

if TYPE_CHECKING:
    from .registry import Registry
    from .session import PluginSession

log = logging.getLogger("tgo_host.supervisor")

TERM_WAIT = 2.0  # seconds between SIGTERM and SIGKILL
ERROR_TAIL = 10  # output lines quoted in last_error
# A spawn failing with one of these is a shortage that passes (fds, processes, memory): retried
# with the normal back-off, never a reason for status "error".
TRANSIENT_SPAWN_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.EAGAIN, errno.ENOMEM})


class Supervisor:
    """Launches the plugins of some manifests and keeps them running.

    Args:
      settings: back-off, crash-loop, log and socket settings.
      registry: the host's registry; its connect/disconnect events tell which
        launched process has registered.
      manifests: what to launch; ``None`` discovers ``settings.plugin_dirs``
        and ``settings.managed_plugins_dir`` (errors kept in
        :attr:`manifest_errors`, the good manifests still launch).

    :meth:`run` must be running (it owns the processes) for
    :meth:`start`, :meth:`restart` and :meth:`install`.
    """

    def __init__(self, settings: Settings, registry: "Registry", manifests: list[Manifest] | None = None) -> None:
        self.settings = settings
        self.registry = registry
        accepted, self.manifest_errors = launchable(settings, manifests)
        self._plugins = {
            m.id: ManagedPlugin(m, settings.log_lines, managed=is_managed(settings, m)) for m in accepted
        }
        self._nursery: trio.Nursery | None = None
        self._stopping_all = False
        self._installing: set[str] = set()
        self._records = PluginRecords(state_file_for(settings.socket_path))
        #: awaited by :meth:`run` before anything is launched (the marketplace restores its state here)
        self.before_launch: Callable[["Supervisor"], Awaitable[None]] | None = None

    # -- lookups -------------------------------------------------------------

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

    # -- the supervisor task ---------------------------------------------------

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
                    nursery.start_soon(self._supervise, plugin)
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
        async with plugin._lock:
            await self._start(plugin)
        return plugin

    async def stop(self, plugin_id: str, grace: float | None = None, *, send_shutdown: bool = True) -> ManagedPlugin:
        """Stop a plugin: ``shutdown``, wait ``grace`` s, ``SIGTERM``, 2 s, ``SIGKILL``.

        ``grace`` defaults to ``settings.shutdown_grace``. The plugin is not
        restarted afterwards; its status is ``"stopped"``.
        """
        plugin = self.get(plugin_id)
        async with plugin._lock:
            await self._stop(plugin, self._grace(grace), send_shutdown=send_shutdown)
        return plugin

    async def restart(self, plugin_id: str, grace: float | None = None) -> ManagedPlugin:
        """Stop the plugin (as :meth:`stop`) and start it again with a new process."""
        plugin = self.get(plugin_id)
        async with plugin._lock:
            was_supervised = plugin.supervised
            await self._stop(plugin, self._grace(grace), send_shutdown=True)
            if was_supervised:
                plugin.restart_count += 1
            await self._start(plugin)
        return plugin

    async def stop_all(self, grace: float, *, send_shutdown: bool = True) -> None:
        """Stop every running plugin concurrently under one ``grace``; no restarts after this.

        Used by the host's shutdown cascade, which sends ``shutdown`` to every
        session itself: it passes ``send_shutdown=False`` and this only waits
        for the processes to exit, then escalates. With ``send_shutdown=True``
        a session that is already being shut down is tolerated (the second
        request simply fails when the connection closes).
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
        """Copy the plugin directory ``path`` into ``managed_plugins_dir``, then start it.

        Raises :class:`SourceNotAllowed` when ``path`` is outside ``install_sources``,
        :class:`InstallSourceError` when it is not a directory holding a manifest,
        :class:`ManifestError` for a bad manifest (:class:`ManifestNotAllowed`
        when it reaches outside its directory), :class:`InstallError`
        when ``managed_plugins_dir`` is unset, the id is already known, or the
        copy fails; :class:`SupervisorError` when the supervisor is not running.
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
            manifest = await copy_plugin(source, root, plugin_id)
            plugin = ManagedPlugin(manifest, self.settings.log_lines, managed=True, installed_at=now_iso())
            self._plugins[plugin_id] = plugin
        finally:
            self._installing.discard(plugin_id)
        log.info("installed plugin %s from %s into %s", plugin_id, source, manifest.directory)
        await self.start(plugin_id)
        return plugin

    async def adopt(self, manifest: Manifest, *, installed_at: str | None = None, log_lines: list[str] = ()) -> ManagedPlugin:
        """Launch a plugin directory that is already in place in ``managed_plugins_dir``.

        For installers that put the files there themselves. ``log_lines``
        (e.g. its build output) start the plugin's log. Raises
        :class:`InstallError` when the id is already known or the directory is
        not in ``managed_plugins_dir``, :class:`ManifestNotAllowed` when the
        manifest reaches outside it, :class:`SupervisorError` when the
        supervisor is not running.
        """
        self._check_running()
        if manifest.id in self._plugins:
            raise InstallError(f"plugin {manifest.id!r} is already installed; uninstall it first")
        if not is_managed(self.settings, manifest):
            raise InstallError(f"cannot adopt {manifest.directory}: not in managed_plugins_dir")
        confine(manifest)  # ManifestNotAllowed: installed plugins keep to their directory
        plugin = ManagedPlugin(manifest, self.settings.log_lines, managed=True, installed_at=installed_at or now_iso())
        plugin.logs.extend(log_lines)
        self._plugins[manifest.id] = plugin
        await self.start(manifest.id)
        return plugin

    def add(self, manifest: Manifest, *, installed_at: str | None = None) -> ManagedPlugin:
        """Know one more installed plugin without starting it (:meth:`run` launches it if it has not begun yet).

        Raises :class:`InstallError` for a known id, :class:`ManifestNotAllowed` when it reaches outside its directory.
        """
        if manifest.id in self._plugins:
            raise InstallError(f"plugin {manifest.id!r} is already known")
        if is_managed(self.settings, manifest):
            confine(manifest)
        plugin = ManagedPlugin(manifest, self.settings.log_lines, managed=is_managed(self.settings, manifest),
                               installed_at=installed_at or now_iso())
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

    async def uninstall(self, plugin_id: str, grace: float | None = None) -> None:
        """Stop an installed plugin and delete its copy in ``managed_plugins_dir``.

        Plugins found in ``plugin_dirs`` are not the host's to delete:
        :class:`InstallError`.
        """
        plugin = self.get(plugin_id)
        if not plugin.managed:
            raise InstallError(
                f"plugin {plugin_id!r} was not installed by the host (it lives in {plugin.manifest.directory}); "
                "remove it from its plugin directory instead"
            )
        async with plugin._lock:
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
        plugin._stop_requested = False
        plugin._wake = trio.Event()
        plugin._task_done = trio.Event()

    async def _start(self, plugin: ManagedPlugin) -> None:
        self._check_running()
        assert self._nursery is not None
        if self._plugins.get(plugin.id) is not plugin:  # uninstalled meanwhile
            raise UnknownPlugin(plugin.id)
        if plugin._policy is not None:
            plugin._policy.forgive()  # an explicit start: the crash history starts over
        if plugin.supervised:
            plugin._wake.set()  # running: no-op; backing off: restart now
            return
        plugin.last_error = None
        self._prepare(plugin)
        await self._nursery.start(self._supervise, plugin)

    async def _stop_locked(self, plugin: ManagedPlugin, grace: float, send_shutdown: bool) -> None:
        async with plugin._lock:
            await self._stop(plugin, grace, send_shutdown=send_shutdown)

    async def _stop(self, plugin: ManagedPlugin, grace: float, *, send_shutdown: bool) -> None:
        plugin._stop_requested = True
        plugin._wake.set()
        done = plugin._task_done
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
        for sig, wait in ((signal.SIGTERM, TERM_WAIT), (signal.SIGKILL, KILL_WAIT)):
            if done.is_set():
                break
            proc = plugin.process
            if proc is not None:
                log.warning(
                    "plugin %s (pid %d) still running after %s; sending %s to its process group",
                    plugin.id, proc.pid, "its grace period" if sig == signal.SIGTERM else "SIGTERM", sig.name,
                )
                signal_group(proc, sig)
            with trio.move_on_after(wait):
                await done.wait()
        if not done.is_set():
            log.error("plugin %s could not be stopped (pid %s)", plugin.id, plugin.pid)
            return
        plugin.set_status(PluginStatus.STOPPED)

    # -- internals: one plugin's life ----------------------------------------------

    async def _supervise(self, plugin: ManagedPlugin, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Spawn, watch, and respawn ``plugin`` until stopped or failed.

        A bug here is contained: the plugin gets status "error", its siblings
        and the host carry on.
        """
        started = _Started(task_status)
        try:
            await self._supervise_loop(plugin, started)
        except Exception as exc:
            log.exception("supervision of plugin %s failed", plugin.id)
            plugin.set_status(PluginStatus.ERROR)
            plugin.last_error = f"internal error in the supervisor: {exc!r}"
        started()  # not on cancellation: then `nursery.start` raises Cancelled itself

    async def _supervise_loop(self, plugin: ManagedPlugin, started: "_Started") -> None:
        done = plugin._task_done
        assert done is not None
        policy = plugin._policy = RestartPolicy.for_plugin(self.settings, plugin.manifest)
        try:
            while True:
                if plugin.managed:
                    try:
                        confine(plugin.manifest)  # every launch of an installed plugin, however it was installed
                    except ManifestError as exc:
                        return self._cannot_start(plugin, exc)
                try:
                    proc = await self._spawn(plugin)
                except OSError as exc:
                    if exc.errno not in TRANSIENT_SPAWN_ERRNOS:
                        return self._cannot_start(plugin, exc)
                    started()
                    retry = policy.on_spawn_shortage()
                    plugin.set_status(PluginStatus.STARTING)
                    plugin.last_error = f"cannot start yet: {exc}; retrying in {retry.delay:g} s"
                    log.warning("plugin %s: %s", plugin.id, plugin.last_error)
                    if not await self._back_off(plugin, retry.delay):
                        return
                    continue
                except (ManifestError, ValueError) as exc:
                    return self._cannot_start(plugin, exc)
                started()
                began = trio.current_time()
                returncode = await self._watch(plugin, proc)
                now = trio.current_time()
                ran = now - began
                exit_text = describe_exit(returncode)
                if self._exit_was_intended(plugin):
                    plugin.set_status(PluginStatus.STOPPED)
                    log.info("plugin %s stopped (%s)", plugin.id, exit_text)
                    return
                # an unexpected exit
                tail = plugin.run_output_tail(ERROR_TAIL)
                plugin.last_error = f"{exit_text} after {ran:.1f} s" + (
                    "; last output:\n" + "\n".join(tail) if tail else "; no output"
                )
                decision = policy.on_exit(now, ran)
                if isinstance(decision, GiveUp):
                    plugin.set_status(PluginStatus.ERROR)
                    if decision.error is not None:
                        plugin.last_error = f"{decision.error}; last: {plugin.last_error}"
                    log.error("plugin %s %s; %s", plugin.id, exit_text, decision.reason)
                    return
                plugin.set_status(PluginStatus.STARTING)
                log.warning("plugin %s %s; restarting in %g s", plugin.id, exit_text, decision.delay)
                if not await self._back_off(plugin, decision.delay):
                    return
                plugin.restart_count += 1
        finally:
            proc = plugin.process
            if proc is not None:  # only when cancelled between spawn and watch
                signal_group(proc, signal.SIGKILL)
            plugin.pid = None
            plugin.registered = False
            plugin.session = None
            if plugin.status in (PluginStatus.STARTING, PluginStatus.RUNNING):  # cancelled (host hard stop)
                plugin.set_status(PluginStatus.STOPPED)
            done.set()

    @staticmethod
    def _cannot_start(plugin: ManagedPlugin, exc: Exception) -> None:
        plugin.set_status(PluginStatus.ERROR)
        plugin.last_error = f"cannot start: {exc}"
        log.error("plugin %s: %s", plugin.id, plugin.last_error)

    async def _back_off(self, plugin: ManagedPlugin, delay: float) -> bool:
        """Wait ``delay`` s (cut short by start/stop); False, with status "stopped", if it should not respawn."""
        plugin._wake = trio.Event()
        if not (plugin._stop_requested or self._stopping_all):
            with trio.move_on_after(delay):
                await plugin._wake.wait()
        if plugin._stop_requested or self._stopping_all:
            plugin.set_status(PluginStatus.STOPPED)
            return False
        return True

    def _exit_was_intended(self, plugin: ManagedPlugin) -> bool:
        session = plugin._run_session
        return (
            plugin._stop_requested
            or self._stopping_all
            or (session is not None and session.shutdown_acknowledged)
        )

    async def _spawn(self, plugin: ManagedPlugin) -> LaunchedProcess:
        argv, cwd, extra_env = plugin.manifest.command()
        env = plugin_env(self.settings.socket_path, extra_env)
        plugin.set_status(PluginStatus.STARTING)
        plugin.registered = False
        plugin.session = None
        plugin._run_session = None
        plugin._run_lines = 0
        proc = await launch(argv, cwd=cwd, env=env)
        plugin.process = proc
        plugin.pid = proc.pid
        self._records.add(plugin.id, proc.pid)
        plugin.started_at = now_iso()
        log.info("started plugin %s pid %d: %s (cwd %s)", plugin.id, proc.pid, " ".join(argv), cwd)
        return proc

    async def _watch(self, plugin: ManagedPlugin, proc: LaunchedProcess) -> int:
        """Watch ``proc`` to its exit (:func:`.process_watch.watch_to_exit`); returns its exit status."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._registration_deadline, plugin, proc)
                returncode = await watch_to_exit(proc, plugin.id, plugin.output_line)
                nursery.cancel_scope.cancel()
            return returncode
        finally:
            if proc.returncode is not None:
                self._records.remove(plugin.id, proc.pid)
            if plugin.process is proc:
                plugin.process = None

    async def _registration_deadline(self, plugin: ManagedPlugin, proc: LaunchedProcess) -> None:
        """A process still starting after ``register_timeout`` counts as running (with a warning)."""
        await trio.sleep(self.settings.register_timeout)
        if plugin.process is proc and proc.returncode is None and plugin.status is PluginStatus.STARTING:
            plugin.set_status(PluginStatus.RUNNING)
            log.warning("plugin %s (pid %d) has not registered within %g s", plugin.id, proc.pid,
                        self.settings.register_timeout)

    # -- internals: registration matching --------------------------------------------

    def _on_registry_event(self, event: str, session: "PluginSession") -> None:
        if event == "disconnected":
            for plugin in self._plugins.values():
                if plugin.session is session:
                    plugin.registered = False
                    plugin.session = None
                    log.info("plugin %s (pid %s) disconnected", plugin.id, plugin.pid)
            return
        peer_pid = session.peer.pid
        if event != "connected" or not peer_pid:
            return
        for plugin in self._plugins.values():
            proc = plugin.process
            if proc is not None and same_process_group(peer_pid, proc.pid):
                plugin.registered = True
                plugin.session = session
                plugin._run_session = session
                plugin.session_plugin_id = session.plugin_id
                if plugin.status is PluginStatus.STARTING:
                    plugin.set_status(PluginStatus.RUNNING)
                log.info("launched plugin %s (pid %d) registered as %s", plugin.id, proc.pid, session.plugin_id)
                return

    def _kill_remaining(self) -> None:
        for plugin in self._plugins.values():
            proc = plugin.process
            if proc is not None and proc.returncode is None:
                log.warning("killing plugin %s (pid %d)", plugin.id, proc.pid)
                signal_group(proc, signal.SIGKILL)


class _Started:
    """``task_status.started()`` at most once."""

    def __init__(self, task_status: trio.TaskStatus[None]) -> None:
        self._task_status = task_status
        self._done = False

    def __call__(self) -> None:
        if not self._done:
            self._done = True
            self._task_status.started()

