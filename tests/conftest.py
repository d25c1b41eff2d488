"""Fixtures for every test: short socket paths, an in-process host, real plugin subprocesses.

Helpers that only some test modules share live in ``tests/support/`` (its ``__init__`` lists them).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from tgo_host.settings import Settings

pytest_plugins = ["hangguard"]  # per-test time limits that work inside trio (tests/hangguard.py)

# The host also reads the upstream runtime's names (HOST, PORT, DATABASE_URL, ...: tgo_host/upstream_env.py);
# one set in the environment running the suite (PORT on a CI runner) must not reconfigure every host started.
from tgo_host.upstream_env import UPSTREAM_NAMES  # noqa: E402

for _name in UPSTREAM_NAMES:
    os.environ.pop(_name, None)

from support.paths import EXAMPLES, PLUGINS, ROOT, short_tempdir  # noqa: E402,F401  (re-exported for the tests)


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


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    with trio.move_on_after(timeout):
        while not predicate():
            await trio.sleep(interval)
        return
    raise AssertionError(f"condition not met within {timeout} s: {getattr(predicate, '__doc__', None) or predicate}")


async def wait_registered(host, *plugin_ids: str, timeout: float = 10.0) -> None:
    def registered():
        ids = {s.plugin_id for s in host.registry.all_sessions()}
        return all(p in ids for p in plugin_ids)

    await wait_for(registered, timeout)


class RawClient:
    """A plugin-side raw socket client for protocol tests."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    @classmethod
    async def connect(cls, path: str) -> "RawClient":
        return cls(await trio.open_unix_socket(path))

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def send_frame(self, payload: bytes) -> None:
        await self.stream.send_all(struct.pack(">I", len(payload)) + payload)

    async def send(self, obj) -> None:
        await self.send_frame(json.dumps(obj).encode())

    async def recv(self, timeout: float = 5.0):
        """Next frame as JSON; None at EOF; raises TooSlow after ``timeout``."""
        with trio.fail_after(timeout):
            while True:
                if len(self.buffer) >= 4:
                    (n,) = struct.unpack(">I", self.buffer[:4])
                    if len(self.buffer) >= 4 + n:
                        frame, self.buffer = self.buffer[4 : 4 + n], self.buffer[4 + n :]
                        return json.loads(frame)
                data = await self.stream.receive_some(65536)
                if not data:
                    return None
                self.buffer += data

    async def register(self, plugin_id: str = "raw", **extra):
        params = {"id": plugin_id, "name": plugin_id, "version": "1.0",
                  "capabilities": [{"type": "visitor_panel", "title": "Raw", "priority": 1}], **extra}
        await self.send({"jsonrpc": "2.0", "id": 1, "method": "register", "params": params})
        return await self.recv()

    async def aclose(self) -> None:
        await self.stream.aclose()


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
