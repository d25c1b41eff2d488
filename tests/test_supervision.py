"""One plugin's back-off between respawns (tgo_host/plugins/supervision.py) on trio's autojump clock.

The wait is exactly the policy's delay unless a start cuts it short (respawn now) or a
stop / host shutdown ends it (no respawn, status "stopped"); virtual time makes each
instant exact. The respawn loop itself runs on real processes in test_supervisor.py.
"""

from __future__ import annotations

import trio

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
