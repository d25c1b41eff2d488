"""The process supervisor with real plugin subprocesses and the real in-process host.

Every test records the pids its plugins report (``start <pid>`` lines in
``$TGO_TEST_RECORD_DIR``) and the ``reaper`` fixture kills any of them still
alive afterwards, by pid.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import textwrap
from functools import partial

import pytest
import trio

from support.launched import gone, MANAGED, manifest, records, start_host  # noqa: F401  (records is a fixture)
from support.paths import PLUGINS
from support.waiting import wait_for
from tgo_host.api.installed import installed_plugins
from tgo_host.host import Host
from tgo_host.plugins.manifest import ManifestError, discover, load_manifest
from tgo_host.plugins.registry import Registry
from tgo_host.plugins.supervisor import TERM_WAIT, InstallError, Supervisor, SupervisorError, UnknownPlugin
from tgo_host.wire.errors import ConnectionLost

@pytest.fixture
def fast(settings):
    """Short supervisor timings."""
    settings.restart_delay = 0.2
    settings.restart_max_delay = 0.6
    settings.crash_loop_restarts = 5
    settings.crash_loop_window = 30.0
    settings.healthy_run = 30.0
    settings.shutdown_grace = 1.0
    return settings


# -- crashes and back-off ------------------------------------------------------------


def back_offs(caplog, plugin_id: str) -> list[tuple[float, float]]:
    """``(announced delay, measured wait)`` per restart, both from the host's own log records.

    The wait runs from the "restarting in" record to the next "started plugin" record, so it
    holds the back-off plus one fork/exec, and no interpreter start-up (the plugin's own clock
    would include that: 0.05-0.5 s on a loaded machine).
    """
    restarting = re.compile(rf"plugin {re.escape(plugin_id)} .*; restarting in ([0-9.]+) s$")
    result, pending = [], None
    for record in caplog.records:
        message = record.getMessage()
        match = restarting.search(message)
        if match:
            pending = (float(match.group(1)), record.created)
        elif pending is not None and message.startswith(f"started plugin {plugin_id} pid "):
            result.append((pending[0], record.created - pending[1]))
            pending = None
    return result


SPAWN_SLACK = 1.0  # seconds a respawn may take beyond its back-off (scheduling + fork/exec; 0.74 s seen at load ~5 on 2 cores)


async def test_crash_on_start_backs_off_then_stops_with_the_output(fast, nursery, records, caplog):
    caplog.set_level(logging.INFO, logger="tgo_host.supervisor")
    host = await start_host(fast, nursery, [manifest("faulty", "crash-start")])
    sup = host.supervisor
    await wait_for(lambda: sup.status("test.crash-start")["status"] == "error", timeout=15)
    assert len(records.starts("crash-start")) == fast.crash_loop_restarts
    # 0.2 doubling, capped at 0.6: announced exactly, and waited for (never less)
    waits = back_offs(caplog, "test.crash-start")
    assert [delay for delay, _ in waits] == [0.2, 0.4, 0.6, 0.6]
    for delay, waited in waits:
        assert delay <= waited < delay + SPAWN_SLACK, waits
    status = sup.status("test.crash-start")
    assert status["pid"] is None and status["restart_count"] == 4 and status["registered"] is False
    error = status["last_error"]
    assert "crash loop: 5 unexpected exits" in error and "exited with status 3" in error
    assert "crash-start: loading configuration" in error and "crash-start: fatal: cannot reach the CRM" in error
    await trio.sleep(1.0)
    assert len(records.starts("crash-start")) == 5  # no further restarts
    # an explicit start tries again, with a fresh crash history
    await sup.start("test.crash-start")
    assert sup.status("test.crash-start")["status"] in ("starting", "running", "error")
    await wait_for(lambda: len(records.starts("crash-start")) >= 6, timeout=5)
    await sup.stop("test.crash-start")
    assert sup.status("test.crash-start")["status"] == "stopped"
    assert all(gone(pid) for pid in records.pids("crash-start"))


async def test_crash_after_requests_is_restarted_and_serves_again(fast, nursery, records):
    host = await start_host(fast, nursery, [manifest("faulty", "crash-after")])
    plugin = host.supervisor.get("test.crash-after")
    await wait_for(lambda: plugin.registered, timeout=10)
    first = plugin.pid
    assert plugin.session.peer.pid == first and plugin.session_plugin_id == "crash-after"
    for n in (1, 2):
        ui = await host.dispatcher.render("crash-after", "visitor_panel", {"visitor_id": "v"})
        assert {"label": "renders", "value": n} in ui["data"]["items"]
    with pytest.raises(ConnectionLost):
        await host.dispatcher.render("crash-after", "visitor_panel", {"visitor_id": "v"})
    await wait_for(lambda: plugin.registered and plugin.pid not in (None, first), timeout=10)
    ui = await host.dispatcher.render("crash-after", "visitor_panel", {"visitor_id": "v"})
    assert {"label": "pid", "value": plugin.pid} in ui["data"]["items"]
    status = host.supervisor.status("test.crash-after")
    assert status["status"] == "running" and status["restart_count"] == 1
    assert "exited with status 5" in status["last_error"] and "crashing after 2 renders" in status["last_error"]
    assert gone(first)


async def test_healthy_run_resets_the_back_off(fast, nursery, records, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="tgo_host.supervisor")
    fast.healthy_run = 0.3
    fast.restart_max_delay = 5.0
    fast.crash_loop_restarts = 100
    (tmp_path / "plugin.yml").write_text(textwrap.dedent(f"""\
        id: test.flaky
        runtime:
          command: {sys.executable}
          args: ["-c", "import os, time; open(os.environ['TGO_TEST_RECORD_DIR'] + '/flaky.log', 'a').write('start %d %f\\\\n' % (os.getpid(), time.time())); time.sleep(0.4); raise SystemExit(1)"]
    """))
    host = await start_host(fast, nursery, [load_manifest(str(tmp_path))])
    await wait_for(lambda: len(records.starts("flaky")) >= 4, timeout=10)
    await host.supervisor.stop("test.flaky")
    # every run lasts 0.4 s > healthy_run: the delay stays 0.2 (instead of 0.2, 0.4, 0.8)
    waits = back_offs(caplog, "test.flaky")[:3]
    assert [delay for delay, _ in waits] == [0.2, 0.2, 0.2]
    for delay, waited in waits:
        assert delay <= waited < delay + SPAWN_SLACK, waits
    assert all(gone(pid) for pid in records.pids("flaky"))


async def test_no_auto_restart_and_spawn_failure_are_errors(fast, nursery, records, tmp_path):
    once = tmp_path / "once"
    once.mkdir()
    (once / "plugin.yml").write_text(
        f"id: test.once\nruntime:\n  command: {sys.executable}\n"
        "  args: ['-c', 'print(\"bye\"); raise SystemExit(2)']\n  auto_restart: false\n"
    )
    missing = tmp_path / "missing"
    missing.mkdir()
    (missing / "plugin.yml").write_text("id: test.missing\nbuild: {language: go, go: {output: not-built}}\n")
    host = await start_host(fast, nursery, [load_manifest(str(once)), load_manifest(str(missing))])
    sup = host.supervisor
    await wait_for(lambda: sup.status("test.once")["status"] == "error", timeout=5)
    assert sup.status("test.once")["restart_count"] == 0
    assert sup.status("test.once")["last_error"].startswith("exited with status 2")
    assert sup.logs("test.once") == ["bye"]
    assert sup.status("test.missing")["status"] == "error"
    assert "cannot start" in sup.status("test.missing")["last_error"] and "not-built" in sup.status("test.missing")["last_error"]
    with pytest.raises(UnknownPlugin, match="nope"):
        await sup.start("nope")
    with pytest.raises(UnknownPlugin):
        sup.status("nope")


# -- stopping ------------------------------------------------------------------------


async def test_plugin_ignoring_shutdown_and_sigterm_is_killed_within_grace(fast, nursery, records):
    host = await start_host(fast, nursery, [manifest("faulty", "stubborn")])
    plugin = host.supervisor.get("test.stubborn")
    await wait_for(lambda: plugin.registered, timeout=10)
    pid = plugin.pid
    start = trio.current_time()
    await host.supervisor.stop("test.stubborn", 1.0)
    elapsed = trio.current_time() - start
    assert 1.0 + TERM_WAIT - 0.2 <= elapsed < 1.0 + TERM_WAIT + 1.5
    assert gone(pid)
    assert host.supervisor.status("test.stubborn") == {
        "id": "test.stubborn", "status": "stopped", "pid": None, "restart_count": 0,
        "last_error": None, "registered": False,
    }
    assert "shutdown" in records.lines("stubborn")  # it was asked first
    await trio.sleep(0.5)
    assert len(records.starts("stubborn")) == 1  # and not restarted


async def test_logs_status_installed_and_restart(fast, nursery, records, caplog):
    caplog.set_level(logging.INFO, logger="tgo_host.plugin")
    host = await start_host(fast, nursery, [manifest("good", "echo")])
    sup = host.supervisor
    plugin = sup.get("test.echo")
    await wait_for(lambda: plugin.registered, timeout=10)
    first = plugin.pid
    assert host.registry.get("echo").peer.pid == first  # the session is matched to the process
    assert sup.status("test.echo") == {
        "id": "test.echo", "status": "running", "pid": first, "restart_count": 0,
        "last_error": None, "registered": True,
    }
    await wait_for(lambda: "echo stderr check" in sup.logs("test.echo"), timeout=5)
    logs = sup.logs("test.echo")
    assert f"echo started pid={first}" in logs  # stdout and stderr, line by line
    assert sup.logs("test.echo", limit=1) == logs[-1:]
    host_log = [r.getMessage() for r in caplog.records if r.name == "tgo_host.plugin.test.echo"]
    assert f"[test.echo] echo started pid={first}" in host_log
    [entry] = installed_plugins(host)
    assert entry["plugin_id"] == "test.echo" and entry["name"] == "echo" and entry["version"] == "1.0.0"
    assert entry["status"] == "running" and entry["pid"] == first and entry["install_type"] == "local"
    assert entry["source_url"] == "https://github.com/example/echo" and entry["is_dev_mode"] is False
    assert entry["installed_at"] and entry["updated_at"] and entry["last_error"] is None
    assert entry["capabilities"] == [{"type": "visitor_panel", "title": "Panel echo", "icon": "user",
                                       "priority": 10, "refresh_on": []}]
    assert set(entry) == {"id", "plugin_id", "name", "version", "description", "author", "status", "install_type",
                          "source_url", "latest_version", "installed_at", "updated_at", "pid", "last_error",
                          "is_dev_mode", "capabilities"}

    await sup.restart("test.echo")
    assert plugin.pid is not None and plugin.pid != first
    assert gone(first)
    assert records.lines("echo")[1:3] == ["registered", "shutdown"]  # the first one was asked to shut down
    await wait_for(lambda: plugin.registered, timeout=10)
    assert sup.status("test.echo")["restart_count"] == 1
    ui = await host.dispatcher.render("echo", "visitor_panel", {"visitor_id": "v"})
    assert {"label": "pid", "value": plugin.pid} in ui["data"]["items"]
    second = plugin.pid
    await sup.stop("test.echo")
    assert gone(second) and sup.status("test.echo")["status"] == "stopped" and not plugin.registered
    assert installed_plugins(host)[0]["capabilities"] == []


async def test_malformed_manifests_are_reported_and_the_others_run(fast, nursery, records):
    fast.plugin_dirs = [str(MANAGED / "bad")]
    host = Host(fast, supervisor_factory=partial(Supervisor, fast))
    errors = [str(e) for e in host.supervisor.manifest_errors]
    assert len(errors) == 5 and any("build.language: must be one of" in e for e in errors)
    assert [p.id for p in host.supervisor.plugins()] == ["test.bad-ok", "test.dup"]
    await nursery.start(host.serve)
    await wait_for(lambda: all(p.registered for p in host.supervisor.plugins()), timeout=10)
    assert host.registry.get("bad-ok") is not None and host.registry.get("dup-a") is not None


async def test_host_stop_leaves_no_child_and_sends_shutdown_once(fast, records):
    good, errors = discover([str(MANAGED / "good")])
    assert errors == []
    host = Host(fast, supervisor_factory=lambda registry: Supervisor(
        fast, registry, [*good, manifest("faulty", "stubborn"), manifest("faulty", "crash-start")]))
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(host.serve)
            sup = host.supervisor
            await wait_for(lambda: all(sup.get(i).registered for i in ("test.echo", "test.legacy", "test.stubborn")))
            assert sup.get("test.legacy").session_plugin_id == "legacy"  # plugin.json, python3 from PATH
            pids = records.all_pids()
            start = trio.current_time()
            host.request_stop()
        elapsed = trio.current_time() - start
    assert elapsed < fast.shutdown_grace + TERM_WAIT + 1.5
    pids = records.all_pids()
    assert len(pids) >= 4
    assert all(gone(pid) for pid in pids), [p for p in pids if not gone(p)]
    for name in ("echo", "legacy"):
        assert records.lines(name).count("shutdown") == 1, records.lines(name)  # the host's, not a second one
    assert {p.status for p in sup.plugins()} == {"stopped"}
    assert not os.path.exists(fast.socket_path)


async def test_hard_stop_kills_every_plugin(fast, records):
    host = Host(fast, supervisor_factory=lambda registry: Supervisor(
        fast, registry, [manifest("good", "echo"), manifest("faulty", "stubborn")]))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(host.serve)
            await wait_for(lambda: all(p.registered for p in host.supervisor.plugins()))
            host.force_stop()
    pids = records.all_pids()
    assert len(pids) == 2 and all(gone(pid) for pid in pids)


# -- install / uninstall ---------------------------------------------------------------


async def test_install_and_uninstall_a_local_directory(fast, nursery, records, short_dir, tmp_path):
    host = await start_host(fast, nursery, [])
    sup = host.supervisor
    with pytest.raises(InstallError, match="managed_plugins_dir is not set"):
        await sup.install(str(MANAGED / "install" / "hello"))
    fast.managed_plugins_dir = os.path.join(short_dir, "installed")
    fast.install_sources = [str(MANAGED), str(tmp_path)]
    (tmp_path / "plugin.yml").write_text("id: x\nbuild: {language: rust}\n")
    with pytest.raises(ManifestError, match="build.language"):
        await sup.install(str(tmp_path))
    plugin = await sup.install(str(MANAGED / "install" / "hello"))
    copy = os.path.join(fast.managed_plugins_dir, "test.hello")
    assert plugin.manifest.directory == copy and os.path.isfile(os.path.join(copy, "main.py"))
    assert plugin.pid is not None
    await wait_for(lambda: plugin.registered, timeout=10)
    pid = plugin.pid
    assert "hello plugin up" in sup.logs("test.hello")
    [entry] = installed_plugins(host)
    assert entry["plugin_id"] == "test.hello" and entry["version"] == "2.0.0" and entry["status"] == "running"
    with pytest.raises(InstallError, match="already installed"):
        await sup.install(str(MANAGED / "install" / "hello"))
    # a host started later finds the installed copy
    assert "test.hello" in Supervisor(fast, Registry())
    await sup.uninstall("test.hello")
    assert not os.path.exists(copy) and gone(pid)
    with pytest.raises(UnknownPlugin):
        sup.status("test.hello")


async def test_uninstall_refuses_plugins_it_did_not_install(fast, nursery, records, short_dir):
    fast.managed_plugins_dir = os.path.join(short_dir, "installed")
    host = await start_host(fast, nursery, [manifest("good", "echo")])
    with pytest.raises(InstallError, match="not installed by the host"):
        await host.supervisor.uninstall("test.echo")
    assert os.path.isdir(MANAGED / "good" / "echo")
    host.request_stop()
    await wait_for(lambda: host.supervisor.get("test.echo").status == "stopped", timeout=10)
    with pytest.raises(SupervisorError, match="shutting down"):
        await host.supervisor.start("test.echo")


async def test_plugin_behind_a_wrapper_script_is_matched_by_process_group(fast, nursery, records, tmp_path):
    (tmp_path / "plugin.yml").write_text(
        f"id: test.wrapped\nruntime:\n  command: /bin/sh\n"
        f"  args: ['-c', '{sys.executable} {PLUGINS / 'lifecycle.py'} --id wrapped; echo wrapper done']\n"
    )
    host = await start_host(fast, nursery, [load_manifest(str(tmp_path))])
    plugin = host.supervisor.get("test.wrapped")
    await wait_for(lambda: plugin.registered, timeout=10)
    [python_pid] = records.pids("wrapped")
    assert plugin.session.peer.pid == python_pid != plugin.pid  # sh forked python
    assert os.getpgid(python_pid) == plugin.pid
    await host.supervisor.stop("test.wrapped")
    assert "shutdown" in records.lines("wrapped") and "wrapper done" in host.supervisor.logs("test.wrapped")
    assert gone(python_pid) and plugin.status == "stopped"
