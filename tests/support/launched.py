"""Launched plugins in tests: the test plugins' manifests, what they record, whether a pid is gone, a supervising host.

The plugins under ``tests/plugins/managed`` write ``start <pid> <time>`` lines to
``$TGO_TEST_RECORD_DIR/<name>.log``; the ``records`` fixture points them at a fresh
directory and kills, by pid, whatever they left running.
"""

from __future__ import annotations

import os
import signal
import sys

import pytest

from support.paths import PLUGINS
from tgo_host.host import Host
from tgo_host.plugins.manifest import load_manifest
from tgo_host.plugins.supervisor import Supervisor

MANAGED = PLUGINS / "managed"


def manifest(group: str, name: str):
    return load_manifest(str(MANAGED / group / name))


def gone(pid: int) -> bool:
    """The process no longer exists (or is a zombie about to be reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


class Records:
    """What the test plugins wrote to ``$TGO_TEST_RECORD_DIR/<name>.log``."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def lines(self, name: str) -> list[str]:
        try:
            with open(os.path.join(self.directory, f"{name}.log")) as fh:
                return fh.read().splitlines()
        except FileNotFoundError:
            return []

    def starts(self, name: str) -> list[tuple[int, float]]:
        return [(int(p), float(t)) for _, p, t in (line.split() for line in self.lines(name) if line.startswith("start "))]

    def pids(self, name: str) -> list[int]:
        return [pid for pid, _ in self.starts(name)]

    def all_pids(self) -> list[int]:
        names = [f[:-4] for f in os.listdir(self.directory) if f.endswith(".log")]
        return [pid for name in names for pid in self.pids(name)]


@pytest.fixture
def records(short_dir, monkeypatch):
    directory = os.path.join(short_dir, "rec")
    os.mkdir(directory)
    monkeypatch.setenv("TGO_TEST_RECORD_DIR", directory)
    recs = Records(directory)
    yield recs
    # kill, by pid, anything a test plugin left behind (only processes carrying this record dir)
    marker = f"TGO_TEST_RECORD_DIR={directory}".encode()
    for pid in recs.all_pids():
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if marker in fh.read().split(b"\0"):
                    os.kill(pid, signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass


async def start_host(settings, nursery, manifests=None) -> Host:
    host = Host(settings, supervisor_factory=lambda registry: Supervisor(settings, registry, manifests))
    await nursery.start(host.serve)
    return host


def stubborn_plugin(parent: str) -> str:
    """A plugin directory (absolute paths) that ignores shutdown and SIGTERM."""
    directory = os.path.join(parent, "stubborn")
    os.makedirs(directory)
    with open(os.path.join(directory, "plugin.yml"), "w") as fh:
        fh.write(
            f"id: test.stubborn\nruntime:\n  command: {sys.executable}\n"
            f"  args: [{PLUGINS / 'lifecycle.py'}, --id, stubborn, --ignore-shutdown, --ignore-term]\n"
        )
    return directory
