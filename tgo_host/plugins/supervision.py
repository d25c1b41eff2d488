"""One launched plugin's life: spawn → watch to its exit → ask the restart policy → back off → respawn.

:meth:`Supervision.run` is the supervision task the
:class:`~.supervisor.Supervisor` starts per plugin (in its nursery). It owns
the plugin's process while it runs and changes the plugin's state
(:class:`~.managed.ManagedPlugin`); what to do after an exit is the
:class:`~.restart_policy.RestartPolicy`'s decision, the process itself is
watched by :func:`~.process_watch.watch_to_exit`. An exit was intended (no
restart) when a stop was asked for, the host is stopping, or the plugin
acknowledged a ``shutdown``. It ends when the plugin is stopped, gives up
(status ``"error"``), or is cancelled: then the process group is killed and
reaped before the task ends.
"""

from __future__ import annotations

import errno
import logging
import signal
from typing import Callable

import trio

from ..settings import Settings
from .confinement import confine
from .launch import LaunchedProcess, launch
from .managed import ManagedPlugin, PluginStatus
from .manifest import ManifestError
from .process_watch import plugin_env, watch_to_exit
from .processes import describe_exit, signal_group
from .restart_policy import GiveUp, RestartPolicy
from .stale import PluginRecords

log = logging.getLogger("tgo_host.supervisor")

ERROR_TAIL = 10  # output lines quoted in last_error
# A spawn failing with one of these is a shortage that passes (fds, processes, memory): retried
# with the normal back-off, never a reason for status "error".
TRANSIENT_SPAWN_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.EAGAIN, errno.ENOMEM})


class Supervision:
    """Runs supervision tasks: ``settings`` (timeouts, policy numbers, socket), ``records`` (pids of
    running plugins, for :mod:`.stale`), ``stopping`` (True once the host stops: no more respawns)."""

    def __init__(self, settings: Settings, records: PluginRecords, stopping: Callable[[], bool]) -> None:
        self.settings = settings
        self.records = records
        self.stopping = stopping

    async def run(self, plugin: ManagedPlugin, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Spawn, watch, and respawn ``plugin`` until stopped or failed; started once the first spawn is tried.

        A bug here is contained: the plugin gets status "error", its siblings
        and the host carry on.
        """
        started = _Started(task_status)
        try:
            await self._loop(plugin, started)
        except Exception as exc:
            log.exception("supervision of plugin %s failed", plugin.id)
            plugin.set_status(PluginStatus.ERROR)
            plugin.last_error = f"internal error in the supervisor: {exc!r}"
        started()  # not on cancellation: then `nursery.start` raises Cancelled itself

    async def _loop(self, plugin: ManagedPlugin, started: _Started) -> None:
        done = plugin.control.task_done
        assert done is not None
        policy = plugin.control.policy = RestartPolicy.for_plugin(self.settings, plugin.manifest)
        try:
            while True:
                try:
                    if plugin.managed:
                        confine(plugin.manifest)  # every launch of an installed plugin, however it was installed
                    proc = await self._spawn(plugin)
                except OSError as exc:
                    if exc.errno not in TRANSIENT_SPAWN_ERRNOS:
                        return plugin.cannot_start(exc)
                    started()
                    retry = policy.on_spawn_shortage()
                    plugin.set_status(PluginStatus.STARTING)
                    plugin.last_error = f"cannot start yet: {exc}; retrying in {retry.delay:g} s"
                    log.warning("plugin %s: %s", plugin.id, plugin.last_error)
                    if not await self.back_off(plugin, retry.delay):
                        return
                    continue
                except (ManifestError, ValueError) as exc:
                    return plugin.cannot_start(exc)
                started()
                began = trio.current_time()
                returncode = await self._watch(plugin, proc)
                now = trio.current_time()
                exit_text = describe_exit(returncode)
                if plugin.control.stop_requested or self.stopping() or plugin.shutdown_acknowledged:
                    plugin.set_status(PluginStatus.STOPPED)
                    log.info("plugin %s stopped (%s)", plugin.id, exit_text)
                    return
                tail = plugin.run_output_tail(ERROR_TAIL)
                plugin.last_error = f"{exit_text} after {now - began:.1f} s" + (
                    "; last output:\n" + "\n".join(tail) if tail else "; no output"
                )
                decision = policy.on_exit(now, now - began)
                if isinstance(decision, GiveUp):
                    plugin.set_status(PluginStatus.ERROR)
                    if decision.error is not None:
                        plugin.last_error = f"{decision.error}; last: {plugin.last_error}"
                    log.error("plugin %s %s; %s", plugin.id, exit_text, decision.reason)
                    return
                plugin.set_status(PluginStatus.STARTING)
                log.warning("plugin %s %s; restarting in %g s", plugin.id, exit_text, decision.delay)
                if not await self.back_off(plugin, decision.delay):
                    return
                plugin.restart_count += 1
        finally:
            if plugin.process is not None:  # only when cancelled between spawn and watch
                signal_group(plugin.process, signal.SIGKILL)
            plugin.supervision_ended()
            done.set()

    async def back_off(self, plugin: ManagedPlugin, delay: float) -> bool:
        """Wait ``delay`` s (cut short by start/stop); False, with status "stopped", if it should not respawn."""
        plugin.control.wake = trio.Event()
        if not (plugin.control.stop_requested or self.stopping()):
            with trio.move_on_after(delay):
                await plugin.control.wake.wait()
        if plugin.control.stop_requested or self.stopping():
            plugin.set_status(PluginStatus.STOPPED)
            return False
        return True

    async def _spawn(self, plugin: ManagedPlugin) -> LaunchedProcess:
        argv, cwd, extra_env = plugin.manifest.command()
        env = plugin_env(self.settings.socket_path, extra_env)
        plugin.run_starting()
        proc = await launch(argv, cwd=cwd, env=env, on_pid=plugin.note_spawned)  # its first connection may come first
        plugin.run_spawned(proc)
        self.records.add(plugin.id, proc.pid)
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
                self.records.remove(plugin.id, proc.pid)
            if plugin.process is proc:
                plugin.process = None

    async def _registration_deadline(self, plugin: ManagedPlugin, proc: LaunchedProcess) -> None:
        """A process still starting after ``register_timeout`` counts as running (with a warning)."""
        await trio.sleep(self.settings.register_timeout)
        if plugin.process is proc and proc.returncode is None and plugin.status is PluginStatus.STARTING:
            plugin.set_status(PluginStatus.RUNNING)
            log.warning("plugin %s (pid %d) has not registered within %g s", plugin.id, proc.pid,
                        self.settings.register_timeout)


class _Started:
    """``task_status.started()`` at most once."""

    def __init__(self, task_status: trio.TaskStatus[None]) -> None:
        self._task_status = task_status
        self._done = False

    def __call__(self) -> None:
        if not self._done:
            self._done = True
            self._task_status.started()
