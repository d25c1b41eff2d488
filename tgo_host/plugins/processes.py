"""Process-level helpers for launched plugins: signalling process groups, describing exits.

Plugins run in their own session (``start_new_session``), so each is the
leader of a process group whose id is its pid; everything here addresses
processes by pid or process group, never by name.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

log = logging.getLogger("tgo_host.supervisor")


def describe_exit(returncode: int) -> str:
    """``"exited with status 3"`` / ``"killed by signal SIGKILL"``."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"killed by signal {name}"
    return f"exited with status {returncode}"


def same_process_group(peer_pid: int, leader_pid: int) -> bool:
    """Whether ``peer_pid`` is the plugin's process or one in its process group."""
    if peer_pid == leader_pid:
        return True
    try:
        return os.getpgid(peer_pid) == leader_pid
    except OSError:
        return False


def signal_group(proc: Any, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group led by ``proc`` (its own session), if not yet reaped."""
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def kill_leftovers(plugin_id: str, proc: Any) -> None:
    """After the plugin's process exited: SIGKILL what is left of its process group.

    The group id is the (just reaped) leader's pid; Linux does not reuse a
    pid while a process group of that id exists.
    """
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    log.warning("plugin %s: killed processes left in its process group %d", plugin_id, proc.pid)
