"""A launched plugin process watched to its exit: its environment, its output as lines, kill-and-reap.

:func:`plugin_env` is what a plugin process starts with. :func:`watch_to_exit`
reads its stdout and stderr line by line until it exits, kills what is left
of its process group, and -- however it ends, cancellation included -- kills
and reaps the process in a shielded ``finally`` and closes its pipes, so the
caller never owns a live process or an open fd afterwards. :func:`escalate`
is the end of a stop: ``SIGTERM`` to the process group, 2 s, ``SIGKILL``.

Why not ``nursery.start(trio.run_process, …, check=False, deliver_cancel=…)``:
trio forks in one of its worker threads, and ``PR_SET_PDEATHSIG`` (which
makes a plugin die with a SIGKILLed host, :mod:`.launch`) fires when the
*forking thread* ends -- trio's idle worker threads end after a few seconds,
taking the plugin with them. :mod:`.launch` forks on one long-lived thread
instead, so the kill-and-reap for its :class:`~.launch.LaunchedProcess` is
here, with the same escalation ``deliver_cancel`` would do.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Callable, Mapping

import trio

from .launch import LaunchedProcess
from .processes import kill_leftovers, signal_group

log = logging.getLogger("tgo_host.supervisor")

TERM_WAIT = 2.0  # seconds between SIGTERM and SIGKILL
KILL_WAIT = 5.0  # seconds to wait for a SIGKILLed process to be reaped
OUTPUT_DRAIN = 1.0  # seconds to finish reading output after the process exited
MAX_LINE = 8192  # bytes without a newline held before they are handed on as a piece of a line
READ_SIZE = 65536


def plugin_env(socket_path: str, extra_env: Mapping[str, str]) -> dict[str, str]:
    """The host's environment, minus systemd's socket, plus ``TGO_SOCKET_PATH`` and the manifest's ``extra_env``."""
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)  # systemd's socket is the host's, not the plugins'
    env.setdefault("PYTHONUNBUFFERED", "1")  # output lines as they are written
    env["TGO_SOCKET_PATH"] = os.path.abspath(socket_path)  # plugins run in their own cwd
    env.update(extra_env)
    return env


async def watch_to_exit(proc: LaunchedProcess, plugin_id: str, on_line: Callable[[str], None]) -> int:
    """Hand each output line of ``proc`` to ``on_line`` until it exits; returns its exit status.

    Output still buffered when it exits is read for up to :data:`OUTPUT_DRAIN`
    seconds (children holding the pipes are killed first). Cancelled: the
    process group is SIGKILLed and reaped (up to :data:`KILL_WAIT` s) before
    this returns. The pipes are closed either way.
    """
    assert proc.stdout is not None and proc.stderr is not None
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_lines, proc.stdout, on_line)
            nursery.start_soon(read_lines, proc.stderr, on_line)
            returncode = await proc.wait()
            kill_leftovers(plugin_id, proc)  # children that outlived it would hold the pipes
            nursery.cancel_scope.deadline = trio.current_time() + OUTPUT_DRAIN
        return returncode
    finally:
        with trio.CancelScope(shield=True):
            if proc.returncode is None:
                signal_group(proc, signal.SIGKILL)
                with trio.move_on_after(KILL_WAIT):
                    await proc.wait()
                kill_leftovers(plugin_id, proc)
            for stream in (proc.stdout, proc.stderr):
                await stream.aclose()


async def read_lines(stream: trio.abc.ReceiveStream, on_line: Callable[[str], None]) -> None:
    """``on_line`` for each line of ``stream`` (UTF-8, errors replaced, ``\\r\\n`` too) until its end or closing.

    Bytes still waiting for their newline are held up to :data:`MAX_LINE`,
    then handed on in pieces of that size (what one reader buffers stays
    bounded; a longer line that arrives whole within one read is handed on
    whole). An unterminated last line is handed on when the stream ends or
    the reading is cancelled.
    """
    pending = b""
    try:
        while True:
            chunk = await stream.receive_some(READ_SIZE)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                on_line(_decode(line))
            while len(pending) > MAX_LINE:
                on_line(_decode(pending[:MAX_LINE]))
                pending = pending[MAX_LINE:]
    except (trio.ClosedResourceError, trio.BrokenResourceError):
        pass
    finally:
        if pending:
            on_line(_decode(pending))


def _decode(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", "replace")


async def escalate(plugin_id: str, current: Callable[[], LaunchedProcess | None], exited: trio.Event) -> bool:
    """``SIGTERM`` the process group of ``current()``, wait :data:`TERM_WAIT` s for ``exited``, then ``SIGKILL``.

    Returns whether ``exited`` was set (at most :data:`KILL_WAIT` s after the
    ``SIGKILL``); ``current()`` is asked again before each signal.
    """
    for sig, wait in ((signal.SIGTERM, TERM_WAIT), (signal.SIGKILL, KILL_WAIT)):
        if exited.is_set():
            break
        proc = current()
        if proc is not None:
            log.warning(
                "plugin %s (pid %d) still running after %s; sending %s to its process group",
                plugin_id, proc.pid, "its grace period" if sig == signal.SIGTERM else "SIGTERM", sig.name,
            )
            signal_group(proc, sig)
        with trio.move_on_after(wait):
            await exited.wait()
    return exited.is_set()
