"""The restart policy (tgo_host/plugins/restart_policy.py): exact back-off and crash-loop numbers.

Pure decisions first (time passed in), then the same table driven through trio's
``autojump_clock``: a plugin that runs, exits and is respawned after each announced
delay, in virtual time, so every respawn and the give-up happen at an exact instant.
The supervisor's own tests (test_supervisor.py) check the same numbers on real processes.
"""

from __future__ import annotations

import textwrap

import trio

from tgo_host.plugins.manifest import load_manifest
from tgo_host.plugins.restart_policy import GiveUp, Restart, RestartPolicy
from tgo_host.settings import Settings


def policy(**overrides: object) -> RestartPolicy:
    numbers: dict[str, object] = dict(base_delay=0.2, max_delay=0.6, healthy_run=30.0, crash_loop_window=30.0,
                                      crash_loop_restarts=5, auto_restart=True)
    numbers.update(overrides)
    return RestartPolicy(**numbers)  # type: ignore[arg-type]


def exits(p: RestartPolicy, times: list[float], ran: float = 0.1) -> list[Restart | GiveUp]:
    return [p.on_exit(now, ran) for now in times]


def test_the_delay_doubles_up_to_the_cap_then_a_crash_loop_gives_up() -> None:
    decisions = exits(policy(), [1.0, 2.0, 3.0, 4.0, 5.0])
    assert decisions == [
        Restart(0.2), Restart(0.4), Restart(0.6), Restart(0.6),
        GiveUp("5 exits within 30 s: not restarting",
               error="crash loop: 5 unexpected exits within 30 s, not restarting (start it again once fixed)"),
    ]


def test_a_healthy_run_starts_the_back_off_over() -> None:
    p = policy(base_delay=1.0, max_delay=60.0, healthy_run=30.0, crash_loop_restarts=100)
    assert [p.on_exit(t, ran) for t, ran in [(10, 1), (20, 1), (30, 1), (100, 30.0), (110, 29.9), (200, 45)]] == [
        Restart(1.0), Restart(2.0), Restart(4.0), Restart(1.0), Restart(2.0), Restart(1.0),
    ]


def test_every_run_healthy_keeps_the_first_delay() -> None:
    p = policy(healthy_run=0.3, max_delay=5.0, crash_loop_restarts=100)
    assert exits(p, [1.0, 2.0, 3.0], ran=0.4) == [Restart(0.2)] * 3


def test_auto_restart_off_gives_up_at_the_first_exit_with_the_exit_as_the_error() -> None:
    assert exits(policy(auto_restart=False), [1.0]) == [GiveUp("auto_restart is off")]


def test_exits_older_than_the_window_are_forgotten_and_one_on_its_edge_is_not() -> None:
    p = policy(crash_loop_window=10.0, crash_loop_restarts=3, max_delay=60.0)
    assert exits(p, [0.0, 5.0, 11.0]) == [Restart(0.2), Restart(0.4), Restart(0.8)]  # 0.0 fell out at 11.0
    assert p.recent_crashes == 2
    assert exits(p, [15.0]) == [GiveUp("3 exits within 10 s: not restarting",
                                       error="crash loop: 3 unexpected exits within 10 s, not restarting "
                                             "(start it again once fixed)")]
    edge = policy(crash_loop_window=10.0, crash_loop_restarts=2)
    assert exits(edge, [0.0, 10.0])[1] == GiveUp("2 exits within 10 s: not restarting",
                                                  error="crash loop: 2 unexpected exits within 10 s, not restarting "
                                                        "(start it again once fixed)")


def test_forgive_clears_the_crash_history_but_not_the_delay() -> None:
    p = policy(crash_loop_restarts=3, max_delay=60.0)
    assert exits(p, [1.0, 2.0]) == [Restart(0.2), Restart(0.4)]
    p.forgive()
    assert p.recent_crashes == 0
    assert exits(p, [3.0, 4.0]) == [Restart(0.8), Restart(1.6)]
    assert isinstance(p.on_exit(5.0, 0.1), GiveUp)


def test_a_zero_delay_restarts_at_once_then_backs_off_from_a_hundredth() -> None:
    p = policy(base_delay=0.0, max_delay=0.05, crash_loop_restarts=100)
    assert [d.delay for d in exits(p, [1.0, 2.0, 3.0, 4.0, 5.0]) if isinstance(d, Restart)] == [
        0.0, 0.01, 0.02, 0.04, 0.05,
    ]


def test_a_spawn_shortage_backs_off_but_is_not_a_crash() -> None:
    p = policy(base_delay=1.0, max_delay=4.0, crash_loop_restarts=2)
    assert [p.on_spawn_shortage() for _ in range(4)] == [Restart(1.0), Restart(2.0), Restart(4.0), Restart(4.0)]
    assert p.recent_crashes == 0
    assert p.on_exit(1.0, 0.1) == Restart(4.0)
    assert isinstance(p.on_exit(2.0, 0.1), GiveUp)


def test_the_manifest_overrides_the_settings(tmp_path) -> None:
    settings = Settings()
    settings.restart_delay, settings.restart_max_delay = 0.5, 8.0
    settings.crash_loop_restarts, settings.crash_loop_window, settings.healthy_run = 4, 20.0, 12.0
    (tmp_path / "plugin.yml").write_text("id: test.policy\nruntime:\n  command: ./run\n")
    p = RestartPolicy.for_plugin(settings, load_manifest(str(tmp_path)))
    assert (p.base_delay, p.max_delay, p.crash_loop_restarts, p.crash_loop_window, p.healthy_run, p.auto_restart) == (
        0.5, 8.0, 4, 20.0, 12.0, True)
    (tmp_path / "plugin.yml").write_text(textwrap.dedent("""\
        id: test.policy
        runtime:
          command: ./run
          auto_restart: false
          restart_delay: 3
    """))
    p = RestartPolicy.for_plugin(settings, load_manifest(str(tmp_path)))
    assert (p.base_delay, p.auto_restart) == (3.0, False)


async def supervise_in_virtual_time(p: RestartPolicy, runs: list[float]) -> tuple[list[float], float]:
    """Start, run ``runs[i]`` seconds, exit, back off as told; returns (start times, give-up time)."""
    starts: list[float] = []
    for ran in runs:
        starts.append(trio.current_time())
        await trio.sleep(ran)
        decision = p.on_exit(trio.current_time(), ran)
        if isinstance(decision, GiveUp):
            return starts, trio.current_time()
        await trio.sleep(decision.delay)
    raise AssertionError("never gave up")


async def test_a_crash_loop_in_virtual_time_respawns_and_gives_up_at_exact_instants(autojump_clock) -> None:
    p = policy(base_delay=1.0, max_delay=4.0, crash_loop_window=16.0, crash_loop_restarts=5)
    t0 = trio.current_time()
    starts, gave_up = await supervise_in_virtual_time(p, [0.5] * 10)
    # exits at 0.5, 2.0, 4.5, 9.0, 13.5 (back-offs 1, 2, 4, 4): five within 16 s
    assert [s - t0 for s in starts] == [0.0, 1.5, 4.0, 8.5, 13.0]
    assert gave_up - t0 == 13.5


async def test_exits_spread_wider_than_the_window_never_make_a_crash_loop(autojump_clock) -> None:
    p = policy(base_delay=1.0, max_delay=4.0, crash_loop_window=10.0, crash_loop_restarts=3)
    t0 = trio.current_time()
    # runs of 4 s spread the exits out: 4, 9, 15, 23, 31, 39 (back-offs 1, 2, 4, 4, …): never three within 10 s
    with trio.move_on_after(40.0):
        await supervise_in_virtual_time(p, [4.0] * 100)
    assert p.recent_crashes == 2
    assert trio.current_time() - t0 == 40.0
