"""What one request's wait costs in trio, without sockets: ``python -m bench.wait_cost``.

Prints CPU µs (``time.process_time``) per operation, median of 3 runs:

* ``scope``: entering and leaving ``trio.move_on_after(5)`` around nothing;
* ``Event()``: creating a ``trio.Event``;
* 64 tasks each waiting for one wake-up at a time, woken in order by one
  resolver task (the shape of 64 requests in flight on one connection):
  ``park`` = ``wait_task_rescheduled`` with no cancel scope (the old
  per-connection-timer design), ``scope+park`` = the same inside
  ``move_on_after`` (tgo-host's ``RpcConnection.request``), ``scope+Event``
  = ``Event.wait()`` inside ``move_on_after`` (the textbook shape).
"""

from __future__ import annotations

import collections
import statistics
import time

import trio

WAITERS = 64
ROUNDS = 2000
LOOPS = 50_000


async def empty_scopes() -> float:
    t0 = time.process_time()
    for _ in range(LOOPS):
        with trio.move_on_after(5):
            pass
    return (time.process_time() - t0) / LOOPS * 1e6


async def events() -> float:
    t0 = time.process_time()
    for _ in range(LOOPS):
        trio.Event()
    return (time.process_time() - t0) / LOOPS * 1e6


async def waits(kind: str) -> float:
    wake: collections.deque = collections.deque()
    finished = 0

    def abort(_: object) -> trio.lowlevel.Abort:
        return trio.lowlevel.Abort.SUCCEEDED

    async def waiter() -> None:
        nonlocal finished
        task = trio.lowlevel.current_task()
        for _ in range(ROUNDS):
            if kind == "scope+Event":
                event = trio.Event()
                wake.append(event.set)
                with trio.move_on_after(5):
                    await event.wait()
            elif kind == "scope+park":
                wake.append(lambda: trio.lowlevel.reschedule(task))
                with trio.move_on_after(5):
                    await trio.lowlevel.wait_task_rescheduled(abort)
            else:
                wake.append(lambda: trio.lowlevel.reschedule(task))
                await trio.lowlevel.wait_task_rescheduled(abort)
        finished += 1

    async def resolver() -> None:
        while finished < WAITERS:
            while wake:
                wake.popleft()()
            await trio.lowlevel.checkpoint()

    t0 = time.process_time()
    async with trio.open_nursery() as nursery:
        for _ in range(WAITERS):
            nursery.start_soon(waiter)
        nursery.start_soon(resolver)
    return (time.process_time() - t0) / (WAITERS * ROUNDS) * 1e6


def main() -> None:
    rows = {
        "scope (move_on_after enter+exit)": lambda: trio.run(empty_scopes),
        "Event()": lambda: trio.run(events),
        "64 waiting: park": lambda: trio.run(waits, "park"),
        "64 waiting: scope+park": lambda: trio.run(waits, "scope+park"),
        "64 waiting: scope+Event": lambda: trio.run(waits, "scope+Event"),
    }
    for name, run in rows.items():
        print(f"{name:34} {statistics.median(run() for _ in range(3)):6.2f} µs CPU per operation")


if __name__ == "__main__":
    main()
