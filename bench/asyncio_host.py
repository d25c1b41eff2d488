"""The asyncio reference host: the upstream TGO runtime's pattern, same framing, same plugin.

``python -m bench.asyncio_host --levels 1@1,1@2,16,64,256 --duration 1 --warmup 0.2``

The pattern (what a user would otherwise pick): ``asyncio.start_unix_server``,
one ``StreamReader``/``StreamWriter`` per plugin, a reader task that does
``readexactly(4)`` + ``readexactly(n)`` per frame and resolves a dict of
futures by id, and a ``request()`` that does one ``writer.write`` (+
``drain``) per request and waits with ``asyncio.wait_for`` under the render
deadline. JSON is orjson, as in tgo-host, so the comparison is about the
event loop and I/O structure, not the codec.

Two APIs, each paired with tgo-host's:

* ``call``: the raw round trip (pairs with ``session.call``);
* ``render``: the round trip plus the very JSON-UI validation tgo-host's
  dispatcher runs (``tgo_host.plugins.dispatch._ui``, i.e.
  ``ui_to_json(parse_ui(result))``), so both sides pay the same for it
  (pairs with ``host.dispatcher.render``).

Level N: N tasks each awaiting one request at a time, for ``--duration`` s.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import struct
import time

import orjson

from tgo_host.plugins.dispatch import _ui as validate_ui  # the same validation as the host's dispatcher

from .common import (
    RENDER_METHOD,
    RENDER_PARAMS,
    CpuMeter,
    emit,
    parse_level,
    pin,
    short_tmpdir,
    spawn_plugin,
    stop_processes,
    summarize,
)

HEADER = struct.Struct(">I")


class PluginConnection:
    """One plugin, as the upstream runtime holds it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future] = {}
        self.ids = itertools.count(1000)
        self.registered = asyncio.get_running_loop().create_future()
        self.registration: dict = {}  # the plugin's ``register`` params (its capabilities)

    def _write(self, obj) -> None:
        body = orjson.dumps(obj)
        self.writer.write(HEADER.pack(len(body)) + body)

    async def read_loop(self) -> None:
        reader = self.reader
        try:
            while True:
                header = await reader.readexactly(4)
                (length,) = HEADER.unpack(header)
                body = await reader.readexactly(length)
                message = orjson.loads(body)
                if "method" in message:
                    if message["method"] == "register":
                        self.registration = message["params"]
                        self._write({"jsonrpc": "2.0", "id": message["id"],
                                     "result": {"success": True, "plugin_id": message["params"]["id"]}})
                        await self.writer.drain()
                        if not self.registered.done():
                            self.registered.set_result(message["params"]["id"])
                    continue
                future = self.pending.pop(message.get("id"), None)
                if future is not None and not future.done():
                    future.set_result(message)
        except (asyncio.IncompleteReadError, ConnectionError):
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("plugin disconnected"))

    async def request(self, method: str, params, timeout: float):
        request_id = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        try:
            self._write({"jsonrpc": "2.0", "method": method, "id": request_id, "params": params})
            await self.writer.drain()
            message = await asyncio.wait_for(future, timeout)
        finally:
            self.pending.pop(request_id, None)
        if "error" in message:
            raise RuntimeError(message["error"])
        return message["result"]


async def run_level(conn: PluginConnection, level: int, duration: float, validate: bool) -> tuple[list[int], float]:
    samples: list[int] = []
    now = time.perf_counter_ns
    end = time.perf_counter() + duration

    async def worker() -> None:
        request = conn.request
        append = samples.append
        while time.perf_counter() < end:
            t0 = now()
            result = await request(RENDER_METHOD, RENDER_PARAMS, 5.0)
            if validate:
                validate_ui(result)
            append(now() - t0)

    begin = time.perf_counter()
    if level == 1:
        await worker()
    else:
        await asyncio.gather(*(worker() for _ in range(level)))
    return samples, time.perf_counter() - begin


async def amain(levels: list[str], duration: float, warmup: float, apis: list[str]) -> dict:
    path = os.path.join(short_tmpdir(), "aio.sock")
    connected: asyncio.Future = asyncio.get_running_loop().create_future()
    tasks = []

    async def on_connect(reader, writer) -> None:
        conn = PluginConnection(reader, writer)
        if not connected.done():
            connected.set_result(conn)
        try:
            await conn.read_loop()
        except asyncio.CancelledError:  # the server closing at the end of the run
            pass

    server = await asyncio.start_unix_server(on_connect, path)
    proc = spawn_plugin(path, "--id", "bench")
    try:
        conn: PluginConnection = await asyncio.wait_for(connected, 10)
        await asyncio.wait_for(conn.registered, 10)
        results: dict = {}
        for api in apis:
            results[api] = {}
            for spec in levels:
                level, cores = parse_level(spec)
                unpin = pin(cores, proc.pid)
                try:
                    await run_level(conn, level, warmup, api == "render")
                    meter = CpuMeter().start()
                    samples, elapsed = await run_level(conn, level, duration, api == "render")
                finally:
                    unpin()
                results[api][spec] = summarize(samples, elapsed, cpu=meter.stop())
        try:
            await conn.request("shutdown", None, 2.0)
        except Exception:
            pass
        conn.writer.close()
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        stop_processes([proc])
        try:
            os.unlink(path)
            os.rmdir(os.path.dirname(path))
        except OSError:
            pass
    return {"impl": "asyncio", "apis": results}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", default="1@1,1@2,16,64,256")
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--warmup", type=float, default=0.2)
    parser.add_argument("--apis", default="render,call")
    args = parser.parse_args()
    emit(asyncio.run(amain(args.levels.split(","), args.duration, args.warmup, args.apis.split(","))))


if __name__ == "__main__":
    main()
