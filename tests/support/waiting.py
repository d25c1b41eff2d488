"""Waiting, from a thread that is not in trio (browser tests, subprocess hosts), for a condition to hold.

Inside trio, use ``conftest.wait_for`` (an async poll under ``trio.move_on_after``).
"""

from __future__ import annotations

import time
from typing import Callable


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 50 ms; fail the test naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
