"""Fixtures for every test: short socket paths, an in-process host, real plugin subprocesses.

Helpers that only some test modules share live in ``tests/support/`` (its ``__init__`` lists them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tgo_host.settings import Settings

pytest_plugins = ["hangguard"]  # per-test time limits that work inside trio (tests/hangguard.py)

# The host also reads the upstream runtime's names (HOST, PORT, DATABASE_URL, ...: tgo_host/upstream_env.py);
# one set in the environment running the suite (PORT on a CI runner) must not reconfigure every host started.
from tgo_host.upstream_env import UPSTREAM_NAMES  # noqa: E402

for _name in UPSTREAM_NAMES:
    os.environ.pop(_name, None)

from support.paths import EXAMPLES, PLUGINS, ROOT, short_tempdir  # noqa: E402,F401
from support.rawclient import RawClient  # noqa: E402,F401
from support.waiting import wait_for, wait_registered  # noqa: E402,F401
# (re-exported: tests import these from ``support``; a module still importing them from conftest keeps working)


@pytest.fixture
def short_dir():
    """A short temp directory (AF_UNIX paths are limited to 107 bytes)."""
    path = short_tempdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def settings(short_dir):
    return Settings(
        socket_path=os.path.join(short_dir, "h.sock"),
        http_addr="off",
        render_timeout=2.0,
        event_timeout=2.0,
        call_timeout=2.0,
        ping_interval=30.0,
        ping_timeout=2.0,
        register_timeout=2.0,
        shutdown_grace=2.0,
        max_frame_bytes=64 * 1024,
        partial_frame_timeout=2.0,
    )


@pytest.fixture
async def host(settings, nursery):
    """A running in-process host; stopped gracefully at teardown."""
    from tgo_host.host import Host

    h = Host(settings)
    await nursery.start(h.serve)
    yield h
    h.request_stop()


class Plugins:
    """Starts plugin subprocesses and guarantees they are killed (by pid) afterwards."""

    def __init__(self, socket_path: str, workdir: str) -> None:
        self.socket_path = socket_path
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["TGO_SOCKET_PATH"] = self.socket_path
        env["PYTHONPATH"] = str(ROOT)
        env.update(extra)
        return env

    def start(self, argv: list[str], **env: str) -> subprocess.Popen:
        proc = subprocess.Popen(argv, env=self.env(**env), stdin=subprocess.DEVNULL, cwd=self.workdir)
        self.procs.append(proc)
        return proc

    def scripted(self, plugin_id: str, *args: str, record: bool = False) -> subprocess.Popen:
        argv = [sys.executable, str(PLUGINS / "scripted.py"), "--id", plugin_id, *args]
        if record:
            argv += ["--record", self.record_path(plugin_id)]
        return self.start(argv)

    def record_path(self, plugin_id: str) -> str:
        return os.path.join(self.workdir, f"{plugin_id}.log")

    def recorded(self, plugin_id: str) -> list[str]:
        try:
            return Path(self.record_path(plugin_id)).read_text().splitlines()
        except FileNotFoundError:
            return []

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def plugins(settings, short_dir):
    p = Plugins(settings.socket_path, short_dir)
    yield p
    p.kill_all()


@pytest.fixture
def reap():
    """Processes a test starts; at teardown (also after a timeout) any still running is SIGKILLed, by pid."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
