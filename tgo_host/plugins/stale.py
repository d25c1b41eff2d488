"""The record of launched plugin processes, and stopping those a previous host left behind.

While the host runs, :class:`PluginRecords` keeps a small JSON file next to
the plugin socket (``<socket_path>.plugins.json``) listing each running
plugin's pid and its start time in clock ticks since boot (field 22 of
``/proc/<pid>/stat``). A pid alone could have been reused by an unrelated
process; pid + start time cannot.

A host that starts reads the file first (:func:`stop_stale_plugins`). For
each record still alive -- the same pid with the same start time, or
processes left in its process group after the leader died (a wrapper
script's children) -- it sends ``SIGTERM``, waits up to 2 s, then
``SIGKILL``. A file from before a reboot (another ``boot_id``) is ignored.
Only processes named in the file are touched, by pid and process group.
"""

from __future__ import annotations

import json
import logging
import os
import signal
from typing import Any

import trio

log = logging.getLogger("tgo_host.supervisor")

STALE_TERM_WAIT = 2.0


def state_file_for(socket_path: str) -> str:
    """Where the host records its plugins: next to its socket, in its run directory."""
    return os.path.abspath(socket_path) + ".plugins.json"


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _stat(pid: int) -> tuple[str, int, int] | None:
    """``(state, pgrp, start_ticks)`` of ``pid`` from /proc, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[2]), int(fields[19])


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot; None when it does not exist."""
    stat = _stat(pid)
    return None if stat is None else stat[2]


class PluginRecords:
    """The state file of one running host: ``{plugin id: {pid, start}}``, rewritten on every change.

    Writing is best effort: a failure is logged once and never stops a plugin.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._entries: dict[str, dict[str, int]] = {}
        self._boot_id = _boot_id()
        self._warned = False

    def add(self, plugin_id: str, pid: int) -> None:
        ticks = start_ticks(pid)
        if ticks is not None:
            self._entries[plugin_id] = {"pid": pid, "start": ticks}
            self._write()

    def remove(self, plugin_id: str, pid: int) -> None:
        entry = self._entries.get(plugin_id)
        if entry is not None and entry["pid"] == pid:
            del self._entries[plugin_id]
            self._write()

    def clear(self) -> None:
        self._entries.clear()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            self._warn(exc)

    def _write(self) -> None:
        data = {"boot_id": self._boot_id, "host_pid": os.getpid(), "plugins": self._entries}
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w") as fh:
                json.dump(data, fh)
            os.replace(tmp, self.path)
        except OSError as exc:
            self._warn(exc)

    def _warn(self, exc: OSError) -> None:
        if not self._warned:
            self._warned = True
            log.warning("cannot keep the plugin state file %s: %s (stale plugins cannot be found after a crash)",
                        self.path, exc)


def _read(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable plugin state file %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def _live(state: str | None) -> bool:
    return state is not None and state not in ("Z", "X")


def _group_members(group: int) -> list[int]:
    """Running (not zombie) processes whose process group is ``group``."""
    members = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _stat(int(name))
            if stat is not None and stat[1] == group and _live(stat[0]):
                members.append(int(name))
    return members


def _survivors(pid: int, start: int) -> list[int]:
    """Processes of the recorded plugin still running: its process group, if it is still ours."""
    stat = _stat(pid)
    if stat is not None and stat[2] != start:
        # The pid was reused, so the old group is gone (Linux does not reuse the id of a live process group).
        return []
    return _group_members(pid)


async def stop_stale_plugins(path: str) -> int:
    """Stop the plugin processes a previous host recorded in ``path``; returns how many were found.

    SIGTERM to each survivor's process group, up to 2 s, then SIGKILL. The
    file is removed afterwards.
    """
    data = _read(path)
    if data is None:
        return 0
    plugins = data.get("plugins") if data.get("boot_id") == _boot_id() else None
    found: dict[int, str] = {}  # process group -> plugin id
    if isinstance(plugins, dict):
        for plugin_id, entry in plugins.items():
            try:
                pid, start = int(entry["pid"]), int(entry["start"])
            except (KeyError, TypeError, ValueError):
                continue
            if pid != os.getpid() and _survivors(pid, start):
                found[pid] = str(plugin_id)
    for group, plugin_id in found.items():
        log.warning("stopping plugin %s left running by a previous host (process group %d)", plugin_id, group)
        _signal_group(group, signal.SIGTERM)
    with trio.move_on_after(STALE_TERM_WAIT):
        while any(_group_alive(group) for group in found):
            await trio.sleep(0.05)
    for group, plugin_id in found.items():
        if _group_alive(group):
            log.warning("plugin %s (process group %d) ignored SIGTERM; sending SIGKILL", plugin_id, group)
            _signal_group(group, signal.SIGKILL)
    try:
        os.unlink(path)
    except OSError:
        pass
    return len(found)


def _signal_group(group: int, sig: signal.Signals) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(group: int) -> bool:
    return bool(_group_members(group))
