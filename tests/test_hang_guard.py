"""The suite cannot hang: a hung test fails with a traceback within its limit, and the next one runs.

Runs pytest in a subprocess on a few deliberately hanging tests, with this repository's
plugins (pytest-timeout + tests/hangguard.py) and a 2-second limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from support.paths import ROOT

HANGING = textwrap.dedent('''
    import time
    import trio

    async def test_hung_trio_test(nursery):
        nursery.start_soon(trio.sleep_forever, name="helper-that-hangs")
        await trio.Event().wait()  # never set

    async def test_next_trio_test_still_runs():
        await trio.sleep(0.01)

    async def test_hung_on_a_mock_clock(autojump_clock):
        await trio.to_thread.run_sync(time.sleep, 60, abandon_on_cancel=True)

    def test_hung_sync_test():
        time.sleep(60)

    def test_last_one_runs():
        pass
''')


@pytest.mark.timeout(120)
def test_a_hung_test_fails_with_its_stack_and_the_suite_goes_on(short_dir):
    with open(os.path.join(short_dir, "test_hanging.py"), "w") as fh:
        fh.write(HANGING)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests"))
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "hangguard", "-p", "no:cacheprovider", "-o", "trio_mode=true",
         "-o", "timeout=2", "--rootdir", short_dir, "-c", os.devnull, "-rA", short_dir],
        capture_output=True, text=True, env=env, cwd=short_dir, timeout=110,
    )
    elapsed = time.monotonic() - start
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "3 failed, 2 passed" in text, text
    for name in ("test_hung_trio_test", "test_hung_on_a_mock_clock", "test_hung_sync_test"):
        assert f"FAILED test_hanging.py::{name} - Failed: Timeout (>2" in text, text
    for name in ("test_next_trio_test_still_runs", "test_last_one_runs"):
        assert f"PASSED test_hanging.py::{name}" in text, text
    # the report names the line each task was stuck on
    assert "test_hanging.py:7 in test_hung_trio_test" in text, text
    assert "task 'helper-that-hangs'" in text, text
    assert "test_hanging.py:13 in test_hung_on_a_mock_clock" in text, text
    assert "time.sleep(60)" in text, text
    # three 2 s limits plus interpreter start-up, nowhere near the 60 s sleeps
    assert elapsed < 100, text
