"""One launched plugin's state: :class:`ManagedPlugin` and its :class:`PluginStatus`.

The supervisor (:mod:`.supervisor`) changes this state; the HTTP API and the
marketplace read it. The status changes only through
:meth:`ManagedPlugin.set_status`, which logs each transition::

    stopped, error   → starting   start (an API call, or the supervisor launching it); after an
                                  error the crash history starts over
    starting         → running    its process registered, or is still silent after register_timeout
    starting/running → starting   an unexpected exit: backing off before the respawn
    any              → stopped    stop, host shutdown, an acknowledged shutdown, a cancelled supervision
    any              → error      cannot start, auto_restart off, a crash loop, a supervisor bug
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TypedDict

import trio

from .launch import LaunchedProcess
from .manifest import Manifest
from .restart_policy import RestartPolicy

if TYPE_CHECKING:
    from .session import PluginSession

log = logging.getLogger("tgo_host.supervisor")


class PluginStatus(enum.StrEnum):
    """A launched plugin's status; its value is what the HTTP API shows (``"running"``…)."""

    STOPPED = "stopped"
    STARTING = "starting"  # spawned (or backing off before a respawn), not registered yet
    RUNNING = "running"  # registered, or still silent after register_timeout
    ERROR = "error"  # not restarted until someone starts it; last_error says why


class StatusSnapshot(TypedDict):
    """A plugin's status at one moment (:meth:`ManagedPlugin.snapshot`)."""

    id: str
    status: PluginStatus
    pid: int | None
    restart_count: int
    last_error: str | None
    registered: bool


def now_iso() -> str:
    """The current UTC time, ISO 8601."""
    return datetime.now(timezone.utc).isoformat()


class Control:
    """How the supervisor drives one plugin's supervision task (no one else touches it)."""

    def __init__(self) -> None:
        self.lock = trio.Lock()  # serialises start/stop/restart/uninstall
        self.task_done: trio.Event | None = None  # None: never supervised; set: no task
        self.wake = trio.Event()  # cuts a back-off short (stop, start)
        self.stop_requested = False
        self.policy: RestartPolicy | None = None  # back-off and crash history of the current supervision


class ManagedPlugin:
    """One launched plugin: its manifest, its current process and what happened to it.

    Public, read-only for callers: ``id``, ``manifest``, ``status`` (a
    :class:`PluginStatus`), ``pid`` (None unless a process is running),
    ``restart_count``, ``last_error``, ``registered`` (a session from this
    process has registered), ``session`` / ``session_plugin_id`` (that
    session and the id it registered under), ``started_at`` (ISO 8601),
    ``installed_at``, ``updated_at``, ``managed`` (installed into
    ``managed_plugins_dir``) and ``logs`` (the last output lines).
    :attr:`control` is the supervisor's.
    """

    def __init__(self, manifest: Manifest, log_lines: int, *, managed: bool = False, installed_at: str | None = None) -> None:
        self.manifest = manifest
        self.id = manifest.id
        self.managed = managed
        self._status = PluginStatus.STOPPED
        self.pid: int | None = None
        self.restart_count = 0
        self.last_error: str | None = None
        self.registered = False
        self.session: PluginSession | None = None
        self.session_plugin_id: str | None = None
        self.started_at: str | None = None
        self.installed_at = installed_at or manifest.modified_at()
        self.updated_at = manifest.modified_at()
        self.logs: deque[str] = deque(maxlen=log_lines)
        self.process: LaunchedProcess | None = None
        self._spawned_pid: int | None = None  # from the spawning thread, until `process` is set
        self.autostart = True  # launched when the supervisor starts (a plugin stopped on purpose is not)
        self.control = Control()  # the supervisor's
        self._run_lines = 0  # output lines of the current run
        self._run_session: PluginSession | None = None  # the session of the current run, kept after it ends
        self._output_log = logging.getLogger(f"tgo_host.plugin.{self.id}")

    @property
    def status(self) -> PluginStatus:
        """The current status; changed only by :meth:`set_status`."""
        return self._status

    def set_status(self, status: PluginStatus) -> None:
        """Move to ``status`` (logged at debug level when it changes)."""
        if status is not self._status:
            log.debug("plugin %s: %s → %s", self.id, self._status.value, status.value)
            self._status = status

    @property
    def supervised(self) -> bool:
        """A supervision task is alive (the process runs, is starting or is backing off)."""
        done = self.control.task_done
        return done is not None and not done.is_set()

    def snapshot(self) -> StatusSnapshot:
        """``{id, status, pid, restart_count, last_error, registered}`` as of now."""
        return {
            "id": self.id,
            "status": self._status,
            "pid": self.pid,
            "restart_count": self.restart_count,
            "last_error": self.last_error,
            "registered": self.registered,
        }

    def cannot_start(self, exc: Exception) -> None:
        """Its process cannot be started (``exc`` says why): status ``"error"``."""
        self.set_status(PluginStatus.ERROR)
        self.last_error = f"cannot start: {exc}"
        log.error("plugin %s: %s", self.id, self.last_error)

    def run_starting(self) -> None:
        """A new process is about to be spawned: status ``"starting"``, no session, no output yet."""
        self.set_status(PluginStatus.STARTING)
        self.registered = False
        self.session = None
        self._run_session = None
        self._run_lines = 0
        self._spawned_pid = None

    def note_spawned(self, pid: int) -> None:
        """The pid of the process just started, before :attr:`process` is set (called on the spawning thread)."""
        self._spawned_pid = self.pid = pid

    def run_spawned(self, proc: LaunchedProcess) -> None:
        """The new process is started: it is :attr:`process` from now on."""
        self.process, self.pid, self.started_at = proc, proc.pid, now_iso()
        self._spawned_pid = None

    @property
    def leader_pid(self) -> int | None:
        """The pid of its running process (which leads its process group), known from the moment it is spawned."""
        proc = self.process
        return proc.pid if proc is not None else self._spawned_pid

    def registered_as(self, session: PluginSession) -> None:
        """A session from its process registered: status ``"running"`` (if it was starting)."""
        self.registered = True
        self.session = self._run_session = session
        self.session_plugin_id = session.plugin_id
        if self._status is PluginStatus.STARTING:
            self.set_status(PluginStatus.RUNNING)
        log.info("launched plugin %s (pid %s) registered as %s", self.id, self.pid, session.plugin_id)

    def disconnected(self) -> None:
        """Its session's connection closed (the process may still run)."""
        self.registered = False
        self.session = None
        log.info("plugin %s (pid %s) disconnected", self.id, self.pid)

    @property
    def shutdown_acknowledged(self) -> bool:
        """The current run's session acknowledged a ``shutdown`` (its exit is intended)."""
        return self._run_session is not None and self._run_session.shutdown_acknowledged

    def supervision_ended(self) -> None:
        """Its supervision task ends: no process, no session; ``"stopped"`` unless it ended in ``"error"``."""
        self.pid = None
        self._spawned_pid = None
        self.registered = False
        self.session = None
        if self._status in (PluginStatus.STARTING, PluginStatus.RUNNING):  # cancelled (host hard stop)
            self.set_status(PluginStatus.STOPPED)

    def output_line(self, line: str) -> None:
        """One line of the current run's output: kept in :attr:`logs`, logged to ``tgo_host.plugin.<id>``."""
        self.logs.append(line)
        self._run_lines += 1
        self._output_log.info("[%s] %s", self.id, line)

    def run_output_tail(self, limit: int) -> list[str]:
        """The last ``limit`` output lines of the current run (fewer if it wrote fewer)."""
        if not self._run_lines or limit <= 0:
            return []
        return list(self.logs)[-min(self._run_lines, limit):]

    def __repr__(self) -> str:
        return f"<ManagedPlugin {self.id} {self._status.value} pid={self.pid}>"
