"""Shared by the chaos and soak tests: background traffic, and the process's resource gauges."""

from __future__ import annotations

import gc
import itertools
import os
from contextlib import asynccontextmanager

import httpx
import trio

from support.waiting import wait_for

MARGIN = 1.0  # what "answered within its deadline" allows beyond render_timeout


def open_fds() -> int:
    """File descriptors open in this process."""
    return len(os.listdir("/proc/self/fd"))


def task_names() -> list[str]:
    """Names of the trio tasks alive in this run: the root task and every task under its nurseries, recursively."""
    names = []
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        names.append(task.name)
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return names


def live_tasks() -> int:
    """Number of trio tasks alive in this run."""
    return len(task_names())


def http_connections() -> int:
    """Server-side HTTP connections still open (api/http1.py runs one ``HttpServer.serve_connection`` task each).

    An idle keep-alive connection stays open until its keep-alive timeout (5 s in
    tgo-host), so gauges must be read after these have drained.
    """
    return sum(1 for name in task_names() if name.endswith("HttpServer.serve_connection"))


def rss_bytes() -> int:
    """Resident set size (VmRSS) after a full garbage collection."""
    gc.collect()
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class Traffic:
    """Renders of the good plugin, and fan-outs, from the start of a test to its end."""

    def __init__(self, client: httpx.AsyncClient, deadline: float, plugin_id: str = "good") -> None:
        self.client = client
        self.deadline = deadline
        self.plugin_id = plugin_id
        self.renders = 0
        self.fan_outs = 0
        self.failures: list[str] = []
        self.max_latency = {"render": 0.0, "fan_out": 0.0}
        self._ids = itertools.count()
        self._stop = False
        self._paused = False
        self._resume = trio.Event()
        self._active = 0

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._worker, self._render)
            nursery.start_soon(self._worker, self._render)
            nursery.start_soon(self._worker, self._fan_out)
            task_status.started()

    def stop(self) -> None:
        self._stop = True
        self._resume.set()

    @asynccontextmanager
    async def paused(self):
        """No traffic request in flight inside the block."""
        self._paused = True
        self._resume = trio.Event()
        try:
            await wait_for(lambda: self._active == 0, timeout=self.deadline + 5)
            yield
        finally:
            self._paused = False
            self._resume.set()

    def check(self) -> None:
        assert not self.failures, f"{len(self.failures)} failed traffic requests, first: {self.failures[:3]}"
        assert self.renders > 0 and self.fan_outs > 0

    async def _worker(self, op) -> None:
        while not self._stop:
            if self._paused:
                await self._resume.wait()
                continue
            self._active += 1
            try:
                await op(f"v{next(self._ids)}")
            finally:
                self._active -= 1
            await trio.sleep(0.005)

    async def _post(self, path: str, visitor: str, kind: str):
        start = trio.current_time()
        try:
            response = await self.client.post(path, json={"visitor_id": visitor})
        except httpx.HTTPError as exc:
            self.failures.append(f"{path} {visitor}: {exc!r}")
            return None
        elapsed = trio.current_time() - start
        self.max_latency[kind] = max(self.max_latency[kind], elapsed)
        if elapsed > self.deadline + MARGIN:
            self.failures.append(f"{path} {visitor}: answered after {elapsed:.2f} s")
        return response

    async def _render(self, visitor: str) -> None:
        response = await self._post(f"/plugins/{self.plugin_id}/render", visitor, "render")
        if response is None:
            return
        if response.status_code != 200 or visitor not in response.text:
            self.failures.append(f"render {visitor}: {response.status_code} {response.text[:200]}")
        else:
            self.renders += 1

    async def _fan_out(self, visitor: str) -> None:
        response = await self._post("/plugins/visitor-panel/render", visitor, "fan_out")
        if response is None:
            return
        panels = response.json().get("panels", []) if response.status_code == 200 else []
        mine = [p for p in panels if p["plugin_id"] == self.plugin_id]
        if response.status_code != 200 or not mine or visitor not in str(mine[0]["ui"]):
            self.failures.append(f"fan-out {visitor}: {response.status_code} {response.text[:300]}")
        else:
            self.fan_outs += 1


