"""The asyncio HTTP reference: the upstream runtime's HTTP pattern, steered like ``bench.host_server``.

``python -m bench.asyncio_http [--render-timeout S]``

What a user would otherwise run in front of the same plugins: a FastAPI app
with pydantic request and response models on uvicorn (uvloop event loop,
httptools parser, no access log), plugins held by
:class:`bench.asyncio_host.PluginConnection` (``asyncio.start_unix_server``,
``readexactly`` per frame, a dict of futures, ``wait_for`` deadlines), and the
visitor-panel fan-out as ``asyncio.gather`` over every plugin's
``wait_for``-wrapped request. It serves what the HTTP rows of ``bench.run``
drive: ``POST /plugins/visitor-panel/render`` (``{panels: [...]}`` in priority
order; a plugin that fails or is late is left out, as upstream does) and
``GET /healthz``. Validation is what upstream does: pydantic on the request
body, on each plugin's ``{template, data}`` and on the response; not the host's
JSON-UI validation.

Needs the packages of ``bench/requirements.lock`` (fastapi, uvicorn, uvloop,
httptools); without them it prints ``{"skipped": REASON}`` and exits 3.

The control protocol is ``bench.host_server``'s: one JSON line on start
(``{"socket", "http", "pid"}``), then ``stats`` / ``wait N TIMEOUT`` / ``quit``
on stdin, one JSON line answered per command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sys
import time
from typing import Any

try:
    import uvicorn
    import uvloop
    from fastapi import FastAPI
    from pydantic import BaseModel, ConfigDict
except ImportError as exc:  # the reference is optional: bench.run reports it as skipped
    MISSING: str | None = f"{exc.name} is not installed (pip install -r bench/requirements.lock)"
else:
    MISSING = None

from .asyncio_host import PluginConnection
from .common import RENDER_METHOD, cpu_seconds, raise_fd_limit, short_tmpdir, vm_rss_kib


def reply(obj: Any) -> None:
    print(json.dumps(obj), flush=True)


if MISSING is None:

    class VisitorInfo(BaseModel):
        model_config = ConfigDict(extra="allow")
        name: str | None = None
        email: str | None = None
        phone: str | None = None
        avatar: str | None = None

    class VisitorPanelRenderRequest(BaseModel):
        visitor_id: str
        session_id: str | None = None
        visitor: VisitorInfo | None = None
        language: str | None = None
        context: dict[str, Any] | None = None

    class PluginRenderResponse(BaseModel):
        template: str
        data: dict[str, Any] = {}

    class VisitorPanel(BaseModel):
        plugin_id: str
        title: str
        icon: str | None = None
        priority: int = 10
        ui: PluginRenderResponse

    class VisitorPanelsResponse(BaseModel):
        panels: list[VisitorPanel]


def build_app(plugins: dict[str, PluginConnection], render_timeout: float) -> "FastAPI":
    """The reference's routes over ``plugins`` (registered connections by plugin id)."""
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/plugins/visitor-panel/render", response_model=VisitorPanelsResponse)
    async def render_visitor_panels(body: VisitorPanelRenderRequest) -> VisitorPanelsResponse:
        params = body.model_dump()

        async def render_one(plugin_id: str, conn: PluginConnection) -> VisitorPanel | None:
            capability = next(c for c in conn.registration["capabilities"] if c["type"] == "visitor_panel")
            try:
                result = await conn.request(RENDER_METHOD, params, render_timeout)  # asyncio.wait_for inside
                ui = PluginRenderResponse(**result)
            except Exception:
                return None
            return VisitorPanel(plugin_id=plugin_id, title=capability.get("title") or plugin_id,
                                icon=capability.get("icon"), priority=capability.get("priority", 10), ui=ui)

        results = await asyncio.gather(*(render_one(pid, conn) for pid, conn in list(plugins.items())))
        panels = sorted((p for p in results if p is not None), key=lambda p: p.priority)
        return VisitorPanelsResponse(panels=panels)

    return app


async def serve(args: argparse.Namespace) -> None:
    directory = short_tmpdir()
    path = os.path.join(directory, "r.sock")
    plugins: dict[str, PluginConnection] = {}
    connections: set[PluginConnection] = set()

    async def on_plugin(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = PluginConnection(reader, writer)
        connections.add(conn)
        conn.registered.add_done_callback(lambda f: plugins.__setitem__(f.result(), conn))
        try:
            await conn.read_loop()
        except asyncio.CancelledError:
            pass
        finally:
            connections.discard(conn)
            for plugin_id, held in list(plugins.items()):
                if held is conn:
                    del plugins[plugin_id]

    plugin_server = await asyncio.start_unix_server(on_plugin, path)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(build_app(plugins, args.render_timeout), loop="uvloop", http="httptools",
                            lifespan="off", access_log=False, log_level="warning")
    server = uvicorn.Server(config)
    http_task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if http_task.done():
                http_task.result()
            await asyncio.sleep(0.01)
        host, port = sock.getsockname()[:2]
        reply({"socket": path, "http": f"http://{host}:{port}", "pid": os.getpid()})
        stdin = asyncio.StreamReader()
        await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        while True:
            words = (await stdin.readline()).decode().split() or ["quit"]
            if words[0] == "stats":
                reply({"rss_kib": vm_rss_kib(), "cpu_s": cpu_seconds(), "registered": len(plugins),
                       "connections": len(connections)})
            elif words[0] == "wait":
                want, timeout = int(words[1]), float(words[2])
                start = time.perf_counter()
                deadline = start + timeout
                while len(plugins) < want and time.perf_counter() < deadline:
                    await asyncio.sleep(0.005)
                reply({"registered": len(plugins), "seconds": round(time.perf_counter() - start, 4)})
            elif words[0] == "quit":
                break
            else:
                reply({"error": f"unknown command {words[0]!r}"})
    finally:
        server.should_exit = True
        for conn in list(plugins.values()):  # plugins exit on shutdown
            try:
                await conn.request("shutdown", None, 2.0)
            except Exception:
                pass
            conn.writer.close()
        plugin_server.close()
        try:
            await asyncio.wait_for(http_task, 10)
        except Exception:
            pass
        shutil.rmtree(directory, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--render-timeout", type=float, default=5.0)
    args = parser.parse_args()
    if MISSING is not None:
        reply({"skipped": MISSING})
        return 3
    raise_fd_limit()
    uvloop.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
