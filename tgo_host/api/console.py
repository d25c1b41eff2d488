"""The web console: agent workspace, template gallery, plugins page, their assets and a live event stream.

Routes (all under ``/console``; the pages call the ordinary HTTP API from the browser):

- ``/console``            the agent workspace (mock conversation, visitor panels, toolbar, iframe apps)
- ``/console/gallery``    every JSON-UI template and JSON-ACTION action with sample data
- ``/console/plugins``    connected plugins, and launched processes when a supervisor is present
- ``/console/static/…``   HTML/CSS/JS assets from ``console_static/`` (no build step)
- ``/console/fixups``     per plugin: what validation fixed up or refused in its output
                          (counts by kind, the last few examples, register-time fix-ups)
- ``/console/events``     server-sent events: ``snapshot`` once, then ``plugin`` on every
                          connect/disconnect (``resync`` if this client fell behind)

Pages are served with a strict Content-Security-Policy (scripts only from this
origin, no inline scripts, no plugins), as a second line of defence behind the
front end's own rule of building plugin text with ``textContent`` only.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import trio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from ..plugins.registry import visible_to
from ..plugins.session import PluginSession
from .errors import ApiError
from .rendering import plugin_info, project_of
from .hostview import HostView

log = logging.getLogger("tgo_host.api.console")

STATIC_DIR = Path(__file__).with_name("console_static")
PAGES = {"workspace": "workspace.html", "gallery": "gallery.html", "plugins": "plugins.html"}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",  # the full Lucide icon set, fetched on demand
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".md": "text/plain; charset=utf-8",
    ".LICENSE": "text/plain; charset=utf-8",
}
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' http: https: data:",
        "frame-src http: https:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
    ]
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

QUEUE_SIZE = 64  # events buffered per SSE client; beyond that the oldest are dropped
KEEPALIVE = 15.0  # seconds between comment lines on an idle stream
MAX_STREAMS = 64  # concurrent SSE clients


class ClientQueue:
    """A bounded per-client event queue over a trio memory channel that drops the oldest when full.

    ``push`` never blocks (it runs inside the registry's synchronous listener);
    ``dropped`` counts events lost since the client last caught up.
    """

    def __init__(self, size: int = QUEUE_SIZE) -> None:
        self._send, self._receive = trio.open_memory_channel[bytes](size)
        self.dropped = 0

    def push(self, item: bytes) -> None:
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            try:
                self._receive.receive_nowait()  # drop the oldest
            except trio.WouldBlock:  # pragma: no cover - a full channel always has one to drop
                pass
            self.dropped += 1
            self._send.send_nowait(item)

    async def get(self) -> bytes:
        return await self._receive.receive()

    def get_nowait(self) -> bytes:
        return self._receive.receive_nowait()


def sse(event: str, data: Any) -> bytes:
    """One server-sent event (``data`` as one line of JSON)."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def plugin_event(event: str, session: PluginSession) -> dict[str, Any]:
    """The ``plugin`` event payload for a registry ``connected``/``disconnected`` event."""
    info = plugin_info(session)
    info["status"] = "connected" if event == "connected" else "disconnected"
    if event != "connected":
        info["disconnected_at"] = _now()
    return {"event": event, "at": _now(), "plugin": info}


class EventStream(Response):
    """``text/event-stream`` of registry events until the client leaves or the host stops."""

    def __init__(self, console: "Console", project_id: str | None) -> None:
        super().__init__(status_code=200)
        self.console = console
        self.project_id = project_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = self.console.host
        queue = ClientQueue(self.console.queue_size)

        def listener(event: str, session: PluginSession) -> None:
            if visible_to(session, self.project_id):
                queue.push(sse("plugin", plugin_event(event, session)))

        self.console.streams += 1
        unsubscribe = host.registry.subscribe(listener)
        gone = False
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache"),
                        (b"x-accel-buffering", b"no"),
                        (b"x-content-type-options", b"nosniff"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": self._snapshot(), "more_body": True})

            async def pump() -> None:
                while True:
                    with trio.move_on_after(self.console.keepalive):
                        item = await queue.get()
                        if queue.dropped:
                            log.debug("SSE client fell behind: %d event(s) dropped", queue.dropped)
                            queue.dropped = 0
                            item = sse("resync", {"reason": "events dropped"}) + item
                        await send({"type": "http.response.body", "body": item, "more_body": True})
                        continue
                    await send({"type": "http.response.body", "body": b": keepalive\n\n", "more_body": True})

            async def until_disconnect(scope_: trio.CancelScope) -> None:
                nonlocal gone
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        gone = True
                        scope_.cancel()
                        return

            async def until_stopping(scope_: trio.CancelScope) -> None:
                await host.stopping.wait()
                scope_.cancel()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(until_disconnect, nursery.cancel_scope)
                nursery.start_soon(until_stopping, nursery.cancel_scope)
                nursery.start_soon(pump)
            if not gone:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away mid-send
            pass
        finally:
            unsubscribe()
            self.console.streams -= 1

    def _snapshot(self) -> bytes:
        sessions = self.console.host.registry.sessions(self.project_id)
        plugins = [plugin_info(s) for s in sessions]
        supervised = self.console.host.supervisor is not None
        return b"retry: 2000\n\n" + sse("snapshot", {"plugins": plugins, "at": _now(), "supervisor": supervised})


class Console:
    """The console's route handlers, bound to one host."""

    def __init__(self, host: HostView, *, queue_size: int = QUEUE_SIZE, keepalive: float = KEEPALIVE) -> None:
        self.host = host
        self.queue_size = queue_size
        self.keepalive = keepalive
        self.streams = 0
        self.static_root = STATIC_DIR.resolve()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/console", self.page("workspace"), methods=["GET"]),
            Route("/console/", self.redirect, methods=["GET"]),
            Route("/console/gallery", self.page("gallery"), methods=["GET"]),
            Route("/console/plugins", self.page("plugins"), methods=["GET"]),
            Route("/console/events", self.events, methods=["GET"]),
            Route("/console/fixups", self.fixups, methods=["GET"]),
            Route("/console/static/{path:path}", self.static, methods=["GET"]),
        ]

    def page(self, name: str) -> Any:
        async def handler(request: Request) -> Response:
            return await self._file(STATIC_DIR / PAGES[name], request, document=True)

        handler.__name__ = f"console_{name}"
        return handler

    async def redirect(self, request: Request) -> Response:
        query = request.url.query
        return RedirectResponse("/console" + (f"?{query}" if query else ""), status_code=307)

    async def static(self, request: Request) -> Response:
        relative = request.path_params["path"]
        target = (STATIC_DIR / relative).resolve()
        if (
            not target.is_relative_to(self.static_root)
            or target.suffix not in CONTENT_TYPES
            or not target.is_file()
        ):
            raise ApiError(404, "not_found", f"no console asset {relative!r}")
        return await self._file(target, request, document=False)

    async def events(self, request: Request) -> Response:
        if self.streams >= MAX_STREAMS:
            raise ApiError(503, "too_many_streams", f"at most {MAX_STREAMS} console event streams at once",
                           headers={"Retry-After": "5"})
        return EventStream(self, project_of(request))

    async def fixups(self, request: Request) -> Response:
        """``{plugins: {id: {total, counts, recent, registration}}}`` for plugins with any fix-up.

        ``registration`` lists what was fixed up in a connected plugin's register params
        (also counted in ``counts``; ``recent`` holds the last few of any kind).
        """
        report = self.host.dispatcher.fixups
        plugins: dict[str, Any] = {}
        for plugin_id in report.counts():
            plugins[plugin_id] = {**report.summary(plugin_id), "registration": []}
        for session in self.host.registry.all_sessions():
            if session.registration_fixups and session.plugin_id in plugins:
                plugins[session.plugin_id]["registration"] = [f.to_json() for f in session.registration_fixups]
        return Response(orjson.dumps({"plugins": plugins}), media_type="application/json", headers=SECURITY_HEADERS)

    async def _file(self, path: Path, request: Request, *, document: bool) -> Response:
        data = await trio.Path(path).read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        headers = dict(SECURITY_HEADERS, ETag=etag)
        if document:
            headers["Content-Security-Policy"] = CSP
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(data, media_type=CONTENT_TYPES[path.suffix], headers=headers)


def console_routes(host: HostView) -> list[BaseRoute]:
    """The console's routes for ``host`` (mounted by :func:`tgo_host.api.app.build_app`)."""
    return Console(host).routes()
