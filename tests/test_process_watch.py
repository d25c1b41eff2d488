"""A launched process watched to its exit (tgo_host/plugins/process_watch.py), on real pipes and processes.

Output arrives as lines (split at MAX_LINE, ``\\r\\n`` and bad UTF-8 handled, an
unterminated last line kept); a watch that is cancelled kills and reaps the
process group before it returns; a stop escalates SIGTERM → SIGKILL.
"""

from __future__ import annotations

import os
import signal
import sys

import trio
import trio.testing

from tgo_host.plugins.launch import launch
from tgo_host.plugins.managed import ManagedPlugin, PluginStatus
from tgo_host.plugins.manifest import load_manifest
from tgo_host.plugins.process_watch import MAX_LINE, escalate, plugin_env, read_lines, watch_to_exit


async def lines_of(data: bytes, cancel_after_write: bool = False) -> list[str]:
    """Write ``data`` into a real pipe and read it back through :func:`read_lines` (to EOF, or cancelled)."""
    read_fd, write_fd = os.pipe()
    got: list[str] = []
    reader, writer = trio.lowlevel.FdStream(read_fd), trio.lowlevel.FdStream(write_fd)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(read_lines, reader, got.append)
        await writer.send_all(data)
        if cancel_after_write:
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        else:
            await writer.aclose()
    await reader.aclose()
    await writer.aclose()
    return got


async def test_output_is_split_into_lines() -> None:
    assert await lines_of(b"one\ntwo\r\n\nthree") == ["one", "two", "", "three"]


async def test_bad_utf8_is_replaced_not_fatal() -> None:
    assert await lines_of(b"caf\xc3\xa9 \xff\n") == ["café \ufffd"]


async def test_unterminated_output_is_held_up_to_max_line_then_handed_on_in_pieces() -> None:
    got = await lines_of(b"x" * (2 * MAX_LINE + 5), cancel_after_write=True)
    assert [len(line) for line in got] == [MAX_LINE, MAX_LINE, 5]


async def test_a_long_line_read_whole_in_one_chunk_is_handed_on_whole() -> None:
    assert [len(line) for line in await lines_of(b"x" * (2 * MAX_LINE + 5) + b"\nnext\n")] == [2 * MAX_LINE + 5, 4]


async def test_an_unterminated_line_is_kept_when_reading_is_cancelled() -> None:
    assert await lines_of(b"done\npartial", cancel_after_write=True) == ["done", "partial"]


def test_plugin_env_points_at_the_socket_and_drops_systemds(monkeypatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/systemd/notify")
    env = plugin_env("relative.sock", {"CRM_URL": "https://crm.example"})
    assert "NOTIFY_SOCKET" not in env
    assert env["TGO_SOCKET_PATH"] == os.path.abspath("relative.sock")
    assert env["CRM_URL"] == "https://crm.example" and env["PYTHONUNBUFFERED"] == "1"


async def test_a_watched_process_hands_over_its_output_and_exit_status(tmp_path) -> None:
    proc = await launch([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
                        cwd=str(tmp_path), env=dict(os.environ))
    got: list[str] = []
    with trio.fail_after(20):
        assert await watch_to_exit(proc, "test.exit", got.append) == 3
    assert sorted(got) == ["err", "out"]


async def test_a_cancelled_watch_kills_and_reaps_the_process_group(tmp_path) -> None:
    # the plugin starts a child in its process group; both must be gone once the watch returns
    script = "import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); " \
             "print(c.pid, flush=True); time.sleep(60)"
    proc = await launch([sys.executable, "-c", script], cwd=str(tmp_path), env=dict(os.environ))
    got: list[str] = []
    with trio.fail_after(20):
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                async def cancel_once_the_child_runs() -> None:
                    while not got:
                        await trio.sleep(0.02)
                    scope.cancel()
                nursery.start_soon(cancel_once_the_child_runs)
                await watch_to_exit(proc, "test.cancel", got.append)
    assert scope.cancelled_caught
    assert proc.returncode == -signal.SIGKILL
    child = int(got[0])
    with trio.fail_after(10):
        while _alive(child):  # killed with the group (a zombie until init reaps it counts as gone)
            await trio.sleep(0.02)


async def test_escalate_sends_sigterm_then_sigkill_to_a_process_ignoring_sigterm(tmp_path) -> None:
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    proc = await launch([sys.executable, "-c", script], cwd=str(tmp_path), env=dict(os.environ))
    exited = trio.Event()
    got: list[str] = []
    outcome: list[bool] = []

    async def watch() -> None:
        await watch_to_exit(proc, "test.stubborn", got.append)
        exited.set()

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            while not got:
                await trio.sleep(0.02)
            began = trio.current_time()
            outcome.append(await escalate("test.stubborn", lambda: proc, exited))
            took = trio.current_time() - began
    assert outcome == [True] and proc.returncode == -signal.SIGKILL
    assert took >= 2.0  # SIGTERM was ignored for the whole TERM_WAIT before the SIGKILL


def test_status_values_are_the_http_strings_and_change_in_one_place(tmp_path, caplog) -> None:
    assert [s.value for s in PluginStatus] == ["stopped", "starting", "running", "error"]
    (tmp_path / "plugin.yml").write_text("id: test.status\nruntime:\n  command: ./run\n")
    plugin = ManagedPlugin(load_manifest(str(tmp_path)), 10)
    caplog.set_level("DEBUG", logger="tgo_host.supervisor")
    assert plugin.status == "stopped" and plugin.snapshot()["status"] == "stopped"
    plugin.set_status(PluginStatus.STARTING)
    plugin.set_status(PluginStatus.STARTING)  # no transition, nothing logged
    plugin.set_status(PluginStatus.RUNNING)
    assert [r.getMessage() for r in caplog.records if r.name == "tgo_host.supervisor"] == [
        "plugin test.status: stopped → starting", "plugin test.status: starting → running"]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")
