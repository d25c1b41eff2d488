"""Per-test time limit that also works inside a trio run (a pytest plugin, loaded by conftest.py).

pytest-timeout gives every test a limit (``timeout`` in pyproject.toml, ``@pytest.mark.timeout(N)``
for the few that need longer). Its default action raises from a SIGALRM handler; inside a running
trio loop that exception lands in trio's I/O wait, corrupts the run and makes the *next* trio test
fail with "Attempted to call run() from inside a run()". So when the alarm fires during a trio run,
this plugin instead asks trio (``TrioToken.run_sync_soon``, signal-safe) to record every task's
stack and cancel the test's task tree; fixtures then tear down normally and the test fails with
``Timeout`` and those stacks. If the run has not ended ``ESCALATE_AFTER`` seconds later (a task
blocking the loop), it falls back to pytest-timeout's own action. Outside a trio run (sync tests,
sync fixtures) pytest-timeout acts as usual.
"""

from __future__ import annotations

import os
import signal
import traceback

import pytest
import pytest_timeout
import pytest_trio
import trio

ESCALATE_AFTER = 15.0  # seconds from the trio-level cancel to the hard fallback

_timed_out: dict[str, str] = {}  # nodeid -> report (task stacks)


_MACHINERY = (os.path.dirname(trio.__file__), os.path.dirname(pytest_trio.__file__))


def _task_tree(task: trio.lowlevel.Task, depth: int = 0) -> list[str]:
    """Each task with the frames it is awaiting in (trio's and pytest-trio's own frames left out)."""
    lines = [f"{'  ' * depth}task {task.name!r}:"]
    for frame, lineno in task.iter_await_frames():
        code = frame.f_code
        if not code.co_filename.startswith(_MACHINERY):
            lines.append(f"{'  ' * depth}  {code.co_filename}:{lineno} in {code.co_name}")
    for nursery in task.child_nurseries:
        for child in nursery.child_tasks:
            lines.extend(_task_tree(child, depth + 1))
    return lines


def _cancel_trio_test(item: pytest.Item, timeout: float) -> None:
    """Runs inside the trio loop: record the task tree, then cancel every user nursery."""
    root = trio.lowlevel.current_root_task()
    this = trio.lowlevel.current_task()
    report = "\n".join(_task_tree(root))
    _timed_out[item.nodeid] = f"Timeout (>{timeout:g}s): the trio test was cancelled; its tasks were:\n{report}"
    for system_nursery in root.child_nurseries:
        for task in system_nursery.child_tasks:
            if task is this:
                continue
            for nursery in task.child_nurseries:
                nursery.cancel_scope.cancel()


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item, settings):
    """Arm SIGALRM; on expiry cancel a running trio test cleanly, else do what pytest-timeout does."""
    if settings.method != "signal":
        return None  # thread method: pytest-timeout's own (dumps stacks, exits)

    def fallback(signum, frame):
        __tracebackhide__ = True
        pytest_timeout.timeout_sigalrm(item, settings)

    def handler(signum, frame):
        __tracebackhide__ = True
        try:
            token = trio.lowlevel.current_trio_token()
        except RuntimeError:  # no trio run in this thread
            token = None
        if token is None:
            pytest_timeout.timeout_sigalrm(item, settings)
            return
        token.run_sync_soon(_cancel_trio_test, item, settings.timeout)
        signal.signal(signal.SIGALRM, fallback)
        signal.setitimer(signal.ITIMER_REAL, ESCALATE_AFTER)

    def cancel():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout)
    return True


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_call(item):
    outcome = yield
    report = _timed_out.pop(item.nodeid, None)
    if report is not None:
        cause = outcome.exception
        if isinstance(cause, BaseExceptionGroup):  # keep what is not a consequence of the cancel
            cause = cause.split(lambda e: isinstance(e, trio.Cancelled) or "cancelled the test" in str(e))[1]
        if cause is not None and not isinstance(cause, trio.Cancelled):
            report += "\nthe test then raised:\n" + "".join(traceback.format_exception(cause))
        outcome.force_exception(pytest.fail.Exception(report, pytrace=False))
