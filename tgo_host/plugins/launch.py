"""Starting plugin processes so that none outlives the host, not even a SIGKILLed one.

Each plugin is started with ``PR_SET_PDEATHSIG = SIGKILL``: the kernel kills
it when the thread that forked it ends. That thread must therefore live as
long as the host process -- trio's worker threads do not (an idle one exits
after a few seconds), so every ``fork`` happens on one dedicated daemon
thread, :data:`_spawner`, which only ends when the process does. A
SIGKILLed host takes its plugins with it at once.

:class:`LaunchedProcess` offers the part of ``trio.Process`` the supervisor
uses (``pid``, ``returncode``, ``wait``, ``send_signal``, ``stdout``,
``stderr``), built on public APIs: ``subprocess.Popen``, pidfds and
``trio.lowlevel.FdStream``.

Limits: the signal reaches the plugin's own process only. Children it starts
(a wrapper script's interpreter) are in its process group, which the
supervisor kills on every exit, and a host that was killed stops what is
left at its next start (:mod:`.stale`); a plugin that double-forks into a
new session escapes both (docs/reliability.md).
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import logging
import os
import queue
import signal
import subprocess
import threading
from typing import Any, Callable, Mapping, Sequence

import trio

log = logging.getLogger("tgo_host.supervisor")

PR_SET_PDEATHSIG = 1
EXIT_HOST_GONE = 70  # the child found its host already dead before it could arm the signal


def _load_prctl() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()


def _die_with_host(host_pid: int) -> Callable[[], None]:
    """The ``preexec_fn``: arm SIGKILL on the parent thread's death; exit if the host is already gone."""
    prctl = _prctl

    def setup() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != host_pid:  # the host died between fork and prctl
            os._exit(EXIT_HOST_GONE)

    return setup


class _SpawnThread:
    """One daemon thread, alive until the process ends, that runs every ``fork`` (see the module doc)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], Callable[[], Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tgo-plugin-spawner", daemon=True)
                self._thread.start()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._jobs.put((future, fn))
        return future

    def _run(self) -> None:
        while True:
            future, fn = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the awaiting task
                future.set_exception(exc)


_spawner = _SpawnThread()


class LaunchedProcess:
    """A started plugin process: its pid, output streams, exit status."""

    def __init__(self, popen: subprocess.Popen[bytes], stdout: trio.lowlevel.FdStream, stderr: trio.lowlevel.FdStream) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.args = popen.args
        self.stdin = None
        self.stdout = stdout
        self.stderr = stderr
        self._wait_lock = trio.Lock()
        try:
            self._pidfd: int | None = os.pidfd_open(popen.pid)
        except (AttributeError, OSError):  # old kernel: poll instead
            self._pidfd = None

    @property
    def returncode(self) -> int | None:
        """The exit status once reaped (negative: killed by that signal), else None."""
        return self._popen.returncode

    def poll(self) -> int | None:
        return self._popen.poll()

    async def wait(self) -> int:
        """Wait for the process to exit and reap it; returns its exit status."""
        async with self._wait_lock:
            while self._popen.poll() is None:
                if self._pidfd is not None:
                    await trio.lowlevel.wait_readable(self._pidfd)
                else:
                    await trio.sleep(0.05)
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
            return self._popen.returncode

    def send_signal(self, sig: int) -> None:
        """Signal the process itself (not its group); nothing once it is reaped."""
        self._popen.send_signal(sig)

    def __del__(self) -> None:
        pidfd = getattr(self, "_pidfd", None)
        if pidfd is not None:
            os.close(pidfd)


async def launch(
    argv: Sequence[str], *, cwd: str, env: Mapping[str, str], on_pid: Callable[[int], None] | None = None,
) -> LaunchedProcess:
    """Start ``argv`` in its own session, stdin from /dev/null, stdout/stderr piped, dying with the host.

    Raises the ``OSError`` of ``pipe``/``fork``/``exec`` (EMFILE, ENOENT, …).
    Once started the process is returned even if the caller was cancelled
    meanwhile (the next checkpoint delivers the cancellation), so the caller
    always owns what was started. ``on_pid`` is called with the new pid on
    the spawning thread the moment ``exec`` succeeded, before this returns
    (a busy host may resume the caller only after the process has already
    connected); it must be thread-safe, and an exception from it is logged.
    """
    out_r, out_w = os.pipe()
    try:
        err_r, err_w = os.pipe()
    except OSError:
        os.close(out_r)
        os.close(out_w)
        raise
    try:
        host_pid = os.getpid()

        def spawn() -> subprocess.Popen[bytes]:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                cwd=cwd,
                env=dict(env),
                start_new_session=True,
                preexec_fn=_die_with_host(host_pid),
            )
            if on_pid is not None:
                try:
                    on_pid(popen.pid)
                except Exception:  # the process is started: it must reach its owner whatever on_pid does
                    log.exception("launch: on_pid failed for pid %d", popen.pid)
            return popen

        future = _spawner.submit(spawn)
        popen = await trio.to_thread.run_sync(future.result)
    except BaseException:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        os.close(out_w)
        os.close(err_w)
    return LaunchedProcess(popen, trio.lowlevel.FdStream(out_r), trio.lowlevel.FdStream(err_r))
