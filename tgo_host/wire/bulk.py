"""Python-level work on large values (validating a huge result) off the event loop.

:func:`run_bulk` runs a function in a worker thread, at most two at a time,
with Python's cyclic garbage collector paused while it runs. The thread
gives the GIL back to the event loop every few milliseconds (Python code
switches threads every 5 ms); a single C call such as ``orjson.loads`` would
not, so only Python-level work belongs here. Without the pause, walking a
value of hundreds of thousands of nodes triggers collection after
collection, each of which walks the large young containers while holding
the GIL. Decoded JSON holds no reference cycles, so nothing is lost by not
looking for them while the job runs; the collector resumes as soon as the
last bulk job ends.
"""

from __future__ import annotations

import gc
import threading
from functools import partial
from typing import Any, Callable, TypeVar

import trio

T = TypeVar("T")

_threads = trio.CapacityLimiter(2)
_lock = threading.Lock()
_paused = 0  # bulk jobs running with the collector paused
_was_enabled = False


def _pause() -> None:
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1


def _resume() -> None:
    global _paused
    with _lock:
        _paused -= 1
        if _paused == 0 and _was_enabled:
            gc.enable()


def _paused_call(fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    _pause()
    try:
        return fn(*args)
    finally:
        _resume()


async def run_bulk(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker thread with the garbage collector paused; raises what ``fn`` raises.

    Waits for the job even when cancelled (the thread cannot be interrupted;
    jobs are bounded by the frame size limit).
    """
    return await trio.to_thread.run_sync(partial(_paused_call, fn, args), limiter=_threads)
