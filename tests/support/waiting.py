"""Waiting for a condition to hold: inside trio (:func:`wait_for`, :func:`wait_registered`), and from a
thread that is not in trio (:func:`wait_until`: browser tests, subprocess hosts). Each fails the test
with what it waited for."""

from __future__ import annotations

import time
from typing import Callable

import trio


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 50 ms; fail the test naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    with trio.move_on_after(timeout):
        while not predicate():
            await trio.sleep(interval)
        return
    raise AssertionError(f"condition not met within {timeout} s: {getattr(predicate, '__doc__', None) or predicate}")


async def wait_registered(host, *plugin_ids: str, timeout: float = 10.0) -> None:
    def registered():
        ids = {s.plugin_id for s in host.registry.all_sessions()}
        return all(p in ids for p in plugin_ids)

    await wait_for(registered, timeout)
