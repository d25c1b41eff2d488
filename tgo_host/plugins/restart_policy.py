"""When a launched plugin is respawned, and when the supervisor gives up: a pure decision table.

No I/O, no clock of its own: the supervisor passes the time (``trio.current_time()``)
and how long the run lasted, and does what the answer says. One policy
lives as long as one supervision task (from a start to a stop or a give-up)::

    unexpected exit  ─ on_exit(now, ran) ─┬─ auto_restart off                   → GiveUp
                                          ├─ crash_loop_restarts exits within
                                          │  crash_loop_window (this one too)  → GiveUp (a crash loop)
                                          └─ otherwise                          → Restart(delay)
    spawn failed for lack of fds/processes/memory ─ on_spawn_shortage() ───────→ Restart(delay)

The delay starts at the manifest's ``runtime.restart_delay`` (else the
``restart_delay`` setting), doubles after each restart (at least 0.01 s) up to
``restart_max_delay``, and starts over after a run of ``healthy_run`` seconds
or more. :meth:`RestartPolicy.forgive` (an explicit start) forgets the crash
history but not the current delay. A spawn shortage doubles the delay but is
not a crash.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ..settings import Settings
from .manifest import Manifest

MIN_DOUBLED_DELAY = 0.01  # a restart_delay of 0 still backs off after the first immediate restart


@dataclass(frozen=True)
class Restart:
    """Respawn after ``delay`` seconds."""

    delay: float


@dataclass(frozen=True)
class GiveUp:
    """Do not respawn: status ``"error"``.

    ``reason`` completes the log line (``"auto_restart is off"``);
    ``error``, for a crash loop, is what ``last_error`` starts with (None:
    the exit itself is the error).
    """

    reason: str
    error: str | None = None


Decision = Restart | GiveUp


class RestartPolicy:
    """The back-off and crash-loop state of one supervised plugin (see the module doc)."""

    def __init__(
        self,
        *,
        base_delay: float,
        max_delay: float,
        healthy_run: float,
        crash_loop_window: float,
        crash_loop_restarts: int,
        auto_restart: bool = True,
    ) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.healthy_run = healthy_run
        self.crash_loop_window = crash_loop_window
        self.crash_loop_restarts = crash_loop_restarts
        self.auto_restart = auto_restart
        self.delay = base_delay  # the next back-off
        self._crashes: deque[float] = deque()  # times of recent unexpected exits

    @classmethod
    def for_plugin(cls, settings: Settings, manifest: Manifest) -> RestartPolicy:
        """The policy of ``manifest``'s plugin: its ``runtime`` overrides the host's settings."""
        runtime = manifest.runtime
        return cls(
            base_delay=settings.restart_delay if runtime.restart_delay is None else runtime.restart_delay,
            max_delay=settings.restart_max_delay,
            healthy_run=settings.healthy_run,
            crash_loop_window=settings.crash_loop_window,
            crash_loop_restarts=settings.crash_loop_restarts,
            auto_restart=runtime.auto_restart,
        )

    @property
    def recent_crashes(self) -> int:
        """Unexpected exits within the window, as of the last :meth:`on_exit`."""
        return len(self._crashes)

    def on_exit(self, now: float, ran: float) -> Decision:
        """An unexpected exit at ``now`` after a run of ``ran`` seconds: respawn, or give up."""
        crashes = self._crashes
        crashes.append(now)
        while crashes and crashes[0] < now - self.crash_loop_window:
            crashes.popleft()
        if not self.auto_restart:
            return GiveUp("auto_restart is off")
        if len(crashes) >= self.crash_loop_restarts:
            window = self.crash_loop_window
            return GiveUp(
                f"{len(crashes)} exits within {window:g} s: not restarting",
                error=f"crash loop: {len(crashes)} unexpected exits within {window:g} s, "
                "not restarting (start it again once fixed)",
            )
        if ran >= self.healthy_run:
            self.delay = self.base_delay
        return self._restart()

    def on_spawn_shortage(self) -> Restart:
        """The spawn failed for lack of fds, processes or memory: retry after the back-off (not a crash)."""
        return self._restart()

    def forgive(self) -> None:
        """Forget the crash history (an explicit start: the operator says it is fixed)."""
        self._crashes.clear()

    def _restart(self) -> Restart:
        decision = Restart(self.delay)
        self.delay = min(max(self.delay * 2, MIN_DOUBLED_DELAY), self.max_delay)
        return decision
