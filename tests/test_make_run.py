"""``make run`` serves the plugin socket where the official Go SDK looks for it.

The Go SDK ignores ``TGO_SOCKET_PATH`` and always dials ``/var/run/tgo/tgo.sock``.
``make run`` serves that path when it can (root, or the directory writable) and
falls back to ``$(RUN_DIR)/tgo.sock`` with a note otherwise. These tests run the
real ``make run`` with a plugin launched from its ``plugin.yml`` that hard-codes
its socket path (tests/plugins/fixed_socket_plugin.py). The decision is tested
with ``SOCKET=`` pointing into a temp directory, so nothing touches a real
``/var/run/tgo/tgo.sock``; one test uses the real default path, and only when
nothing is there.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request

import pytest

from support.net import free_port
from support.paths import PLUGINS, ROOT

DEFAULT_SOCKET = "/var/run/tgo/tgo.sock"
FIXED = PLUGINS / "fixed_socket_plugin.py"
GATEWAY_PLUGIN = PLUGINS / "gateway_plugin.py"

pytestmark = pytest.mark.timeout(150)


def write_plugin(plugins_dir: str, name: str, entrypoint, args: list[str]) -> None:
    directory = os.path.join(plugins_dir, name)
    os.makedirs(directory)
    with open(os.path.join(directory, "plugin.yml"), "w") as fh:
        fh.write(textwrap.dedent(f"""\
            id: test.{name}
            name: {name}
            version: 1.0.0
            build:
              language: python
              python: {{entrypoint: {entrypoint}}}
            runtime:
              args: {json.dumps(args)}
              restart_delay: 0.2
            """))


def session_pids(sid: int) -> list[int]:
    """Processes whose session id is ``sid`` (make, its shell and the host it execs)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                pids.append(int(entry))
    return pids


class MakeRun:
    """``make run VAR=…`` in its own session; output collected; stopped with SIGTERM to its process group."""

    def __init__(self, **variables: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        argv = ["make", "--no-print-directory", "-C", str(ROOT), "run", f"HTTP=127.0.0.1:{self.port}",
                *(f"{k}={v}" for k, v in variables.items())]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def plugins(self) -> list[str]:
        with urllib.request.urlopen(self.base + "/plugins", timeout=5) as response:
            return [p["id"] for p in json.load(response)["plugins"]]

    def wait_registered(self, plugin_id: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"make run exited with {self.proc.returncode}:\n{self.output}"
            try:
                if plugin_id in self.plugins():
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"{plugin_id} never registered:\n{self.output}"
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM to make's process group (the host stops its plugins); SIGKILL if it is not gone in 30 s."""
        sid = self.proc.pid
        try:
            os.killpg(sid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 30
        while session_pids(sid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if session_pids(sid):
            os.killpg(sid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)


@pytest.fixture
def workdir(short_dir):
    plugins_dir = os.path.join(short_dir, "plugins")
    run_dir = os.path.join(short_dir, "state")
    os.makedirs(plugins_dir)
    return short_dir, plugins_dir, run_dir


def test_make_run_serves_the_documented_path_when_it_can(workdir):
    """SOCKET stands in for /var/run/tgo/tgo.sock: its directory does not exist yet but can be created."""
    root, plugins_dir, run_dir = workdir
    preferred = os.path.join(root, "var", "tgo", "tgo.sock")
    write_plugin(plugins_dir, "fixed", FIXED, ["--socket", preferred])
    run = MakeRun(SOCKET=preferred, RUN_DIR=run_dir, PLUGINS_DIR=plugins_dir)
    try:
        run.wait_registered("test.fixed-socket")
        assert f"tgo-host: plugin socket {preferred}" in run.output
        assert os.path.exists(preferred) and not os.path.exists(os.path.join(run_dir, "tgo.sock"))
    finally:
        run.stop()
    assert not os.path.exists(preferred)  # removed on shutdown


@pytest.mark.parametrize("obstacle", ["not a directory", "a live host"])
def test_make_run_falls_back_to_the_run_dir_and_says_why(workdir, obstacle):
    root, plugins_dir, run_dir = workdir
    listener = None
    if obstacle == "not a directory":
        blocker = os.path.join(root, "var")
        open(blocker, "w").close()  # a file where the directory would have to be
        preferred = os.path.join(blocker, "tgo", "tgo.sock")
        why = f"{blocker} is not a directory"
    else:  # someone else's live socket at the preferred path: left alone
        preferred = os.path.join(root, "other.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(preferred)
        listener.listen(1)
        why = "another process is listening on it"
    fallback = os.path.join(run_dir, "tgo.sock")
    # a plugin that follows TGO_SOCKET_PATH reaches the fallback; one hard-coding the preferred path cannot
    write_plugin(plugins_dir, "follows-env", GATEWAY_PLUGIN, ["--id", "test.follows-env"])
    run = MakeRun(SOCKET=preferred, RUN_DIR=run_dir, PLUGINS_DIR=plugins_dir)
    try:
        run.wait_registered("test.follows-env")
        assert f"tgo-host: plugin socket {fallback} (not {preferred}: {why})" in run.output
        assert "the official Go SDK" in run.output
        assert os.path.exists(fallback)
        if listener is not None:
            listener.settimeout(5)
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.connect(preferred)  # still ours, still listening
            listener.accept()[0].close()
            probe.close()
    finally:
        run.stop()
        if listener is not None:
            listener.close()
    assert not os.path.exists(fallback)


def _default_path_usable() -> str | None:
    if os.path.lexists(DEFAULT_SOCKET):
        return f"{DEFAULT_SOCKET} exists (a real host may be using it): left alone"
    directory = os.path.dirname(DEFAULT_SOCKET)
    parent = directory if os.path.isdir(directory) else os.path.dirname(directory)
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{parent} is not writable by this user (run the suite as root)"
    return None


@pytest.mark.skipif(_default_path_usable() is not None, reason=str(_default_path_usable()))
def test_make_run_registers_a_plugin_that_hard_codes_the_documented_path(workdir):
    """The real default: a plugin dialling /var/run/tgo/tgo.sock, launched from its plugin.yml, registers."""
    _, plugins_dir, run_dir = workdir
    directory = os.path.dirname(DEFAULT_SOCKET)
    created_directory = not os.path.isdir(directory)
    write_plugin(plugins_dir, "fixed", FIXED, [])  # no --socket: the hard-coded path
    run = MakeRun(RUN_DIR=run_dir, PLUGINS_DIR=plugins_dir)
    try:
        deadline = time.monotonic() + 30
        while "tgo-host: plugin socket" not in run.output:
            assert run.proc.poll() is None and time.monotonic() < deadline, run.output
            time.sleep(0.1)
        if f"tgo-host: plugin socket {DEFAULT_SOCKET}" not in run.output:
            pytest.skip(f"another host took {DEFAULT_SOCKET} meanwhile:\n{run.output}")
        run.wait_registered("test.fixed-socket")
        with urllib.request.urlopen(urllib.request.Request(
                run.base + "/plugins/visitor-panel/render", data=b'{"visitor_id": "v"}',
                headers={"Content-Type": "application/json"}), timeout=10) as response:
            panels = json.load(response)["panels"]
        assert {"plugin_id": "test.fixed-socket", "text": f"via {DEFAULT_SOCKET}"} in [
            {"plugin_id": p["plugin_id"], "text": p["ui"]["data"].get("text")} for p in panels]
    finally:
        run.stop()
        if created_directory:
            try:
                os.rmdir(directory)  # only if we made it and it is empty again
            except OSError:
                pass
    assert not os.path.exists(DEFAULT_SOCKET)
