"""One plugin's back-off between respawns (tgo_host/plugins/supervision.py) on trio's autojump clock.

The wait is exactly the policy's delay unless a start cuts it short (respawn now) or a
stop / host shutdown ends it (no respawn, status "stopped"); virtual time makes each
instant exact. The respawn loop itself runs on real processes in test_supervisor.py; the
last test here runs a real plugin whose spawn the supervisor learns of late.
"""

from __future__ import annotations

import trio

from support.launched import gone, manifest, records, start_host  # noqa: F401  (records is a fixture)
from support.waiting import wait_for
from tgo_host.plugins import supervision as supervision_module
from tgo_host.plugins.managed import ManagedPlugin, PluginStatus
from tgo_host.plugins.manifest import load_manifest
from tgo_host.plugins.stale import PluginRecords
from tgo_host.plugins.supervision import Supervision
from tgo_host.settings import Settings


def setup(tmp_path, stopping: list[bool]) -> tuple[Supervision, ManagedPlugin]:
    (tmp_path / "plugin.yml").write_text("id: test.backoff\nruntime:\n  command: ./run\n")
    plugin = ManagedPlugin(load_manifest(str(tmp_path)), 10)
    plugin.set_status(PluginStatus.STARTING)
    supervision = Supervision(Settings(), PluginRecords(str(tmp_path / "state.json")), lambda: stopping[0])
    return supervision, plugin


async def test_the_back_off_lasts_exactly_the_delay(tmp_path, autojump_clock) -> None:
    supervision, plugin = setup(tmp_path, [False])
    t0 = trio.current_time()
    assert await supervision.back_off(plugin, 5.0) is True
    assert trio.current_time() - t0 == 5.0
    assert plugin.status is PluginStatus.STARTING


async def test_a_start_cuts_the_back_off_short(tmp_path, autojump_clock) -> None:
    supervision, plugin = setup(tmp_path, [False])
    t0 = trio.current_time()
    outcome: list[bool] = []
    async with trio.open_nursery() as nursery:
        async def back_off() -> None:
            outcome.append(await supervision.back_off(plugin, 5.0))
        nursery.start_soon(back_off)
        await trio.sleep(1.5)
        plugin.control.wake.set()  # what Supervisor.start does to a plugin backing off
    assert outcome == [True] and trio.current_time() - t0 == 1.5


async def test_a_stop_during_the_back_off_ends_it_without_a_respawn(tmp_path, autojump_clock) -> None:
    supervision, plugin = setup(tmp_path, [False])
    t0 = trio.current_time()
    outcome: list[bool] = []
    async with trio.open_nursery() as nursery:
        async def back_off() -> None:
            outcome.append(await supervision.back_off(plugin, 5.0))
        nursery.start_soon(back_off)
        await trio.sleep(2.0)
        plugin.control.stop_requested = True  # what Supervisor.stop does
        plugin.control.wake.set()
    assert outcome == [False] and trio.current_time() - t0 == 2.0
    assert plugin.status is PluginStatus.STOPPED


async def test_no_back_off_at_all_once_the_host_is_stopping(tmp_path, autojump_clock) -> None:
    supervision, plugin = setup(tmp_path, [True])
    t0 = trio.current_time()
    assert await supervision.back_off(plugin, 5.0) is False
    assert trio.current_time() == t0 and plugin.status is PluginStatus.STOPPED


# -- a process that connects before the supervisor has recorded it -------------------------


async def test_a_plugin_registering_before_its_spawn_is_recorded_is_still_matched(settings, nursery, records, monkeypatch):
    """On a busy host the supervision task may resume after ``launch`` only once the new process
    has already connected and registered. The process is known from the spawning thread on
    (``on_pid``), so it is matched to its plugin, and its own id is not refused as reserved."""
    real_launch = supervision_module.launch
    late = 2.0  # the test plugin connects and registers well within this

    async def late_launch(*args, **kwargs):
        proc = await real_launch(*args, **kwargs)
        with trio.CancelScope(shield=True):
            await trio.sleep(late)
        return proc

    monkeypatch.setattr(supervision_module, "launch", late_launch)
    settings.restart_delay, settings.shutdown_grace = 0.2, 1.0
    host = await start_host(settings, nursery, [manifest("good", "echo")])
    plugin = host.supervisor.get("test.echo")
    await wait_for(lambda: plugin.registered, timeout=late + 10)
    first = plugin.pid
    assert plugin.session_plugin_id == "echo" and plugin.session.peer.pid == first
    # a restart: "echo" is now the id of a launched plugin, reserved for its own process
    await host.supervisor.restart("test.echo")
    await wait_for(lambda: plugin.registered and plugin.pid != first, timeout=late + 10)
    assert plugin.session.peer.pid == plugin.pid and host.registry.get("echo") is plugin.session
    assert plugin.restart_count == 1 and plugin.status == "running"
    await host.supervisor.stop("test.echo")
    assert all(gone(pid) for pid in records.pids("echo"))
