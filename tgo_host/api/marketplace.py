"""The marketplace routes of gateway.md: fetch-info, install(-stream), check-update, upgrade.

Thin handlers over :mod:`tgo_host.marketplace`. Streams are
``text/event-stream`` with one ``data: {"stage", "message"}`` event per step;
the last one is ``complete`` or ``error``. A client that disconnects cancels
the work (the installer leaves nothing behind).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Awaitable, Callable

import orjson
import trio
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..marketplace.installer import Emit, InstallFailed, Marketplace
from ..marketplace.models import FetchInfoRequest, PluginInstallRequest, UpgradeRequest, as_json
from ..marketplace.sources import SourceError, fetch_info
from ..model import ValidationError, parse_body
from .bodies import read_body, read_json
from .storegate import require_store
from .errors import ApiError, JSONResponse, from_exception, invalid_body
from .installed import installed_plugins
from .rendering import project_of
from .guard import control_route
from .hostview import HostView

log = logging.getLogger("tgo_host.api.marketplace")


class EventStream:
    """An ASGI response running ``work(emit)`` and streaming its events as SSE ``data:`` lines.

    ``InstallFailed`` (or any other exception) becomes a final ``error``
    event. The client disconnecting cancels ``work``.
    """

    def __init__(self, work: Callable[[Emit], Awaitable[Any]]) -> None:
        self.work = work

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sender, events = trio.open_memory_channel[tuple[str, str]](math.inf)

        async def run() -> None:
            with sender:
                try:
                    await self.work(lambda stage, message: sender.send_nowait((stage, message)))
                except InstallFailed as exc:
                    sender.send_nowait(("error", str(exc)))
                except Exception as exc:  # noqa: BLE001 - the stream must end with an error event
                    log.exception("install stream failed")
                    sender.send_nowait(("error", f"internal error: {type(exc).__name__}: {exc}"))

        finished = False

        async def watch_disconnect(scope: trio.CancelScope) -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            if not finished:
                log.warning("stream client disconnected: cancelling")
            scope.cancel()

        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no")]})
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_disconnect, nursery.cancel_scope)
            nursery.start_soon(run)
            async for stage, message in events:
                line = b"data: " + orjson.dumps({"stage": stage, "message": message}) + b"\n\n"
                await send({"type": "http.response.body", "body": line, "more_body": True})
            finished = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            nursery.cancel_scope.cancel()


class MarketplaceRoutes:
    def __init__(self, host: HostView) -> None:
        self.host = host

    def routes(self) -> list[Route]:
        return [
            control_route("/plugins/fetch-info", self.fetch_info, methods=["POST"]),  # control plane: api/guard.py
            control_route("/plugins/install-stream", self.install_stream, methods=["POST"]),
            Route("/plugins/{plugin_id}/check-update", self.check_update, methods=["GET"]),
            control_route("/plugins/{plugin_id}/upgrade", self.upgrade, methods=["POST"]),
        ]

    @property
    def marketplace(self) -> Marketplace:
        marketplace = self.host.marketplace
        if marketplace is None:
            raise ApiError(503, "marketplace_unavailable",
                           "this host does not install plugins by URL (set managed_plugins_dir)")
        return marketplace

    async def fetch_info(self, request: Request) -> JSONResponse:
        settings = self.host.settings
        body = await read_body(request, FetchInfoRequest, settings.max_http_body_bytes)
        try:
            config = await fetch_info(body.url, settings)
        except SourceError as exc:
            raise from_exception(exc, path="url") from None
        return JSONResponse(as_json(config))

    async def install_request(self, request: Request) -> PluginInstallRequest:
        data = await read_json(request, self.host.settings.max_http_body_bytes)
        try:
            return parse_body(data, PluginInstallRequest)
        except ValidationError as exc:
            raise invalid_body(exc) from None

    async def install_stream(self, request: Request) -> EventStream:
        body = await self.install_request(request)
        marketplace = self.marketplace
        await require_store(self.host)
        return EventStream(lambda emit: marketplace.install(body, emit))

    def _installed(self, request: Request) -> str:
        """The path's plugin id, if this host launches it and the caller's project may see it (else 404)."""
        plugin_id: str = request.path_params["plugin_id"]
        supervisor = self.host.supervisor
        project_id = project_of(request)
        bound = self.marketplace.project_of(plugin_id)
        if supervisor is None or plugin_id not in supervisor or (project_id and bound and bound != project_id):
            raise ApiError(404, "plugin_not_managed", f"plugin {plugin_id!r} is not launched by this host", plugin_id=plugin_id)
        return plugin_id

    async def check_update(self, request: Request) -> JSONResponse:
        marketplace = self.marketplace
        plugin_id = self._installed(request)
        return JSONResponse(await marketplace.check_update(plugin_id))

    async def upgrade(self, request: Request) -> EventStream:
        marketplace = self.marketplace
        plugin_id = self._installed(request)
        data = await read_json(request, self.host.settings.max_http_body_bytes)
        try:
            body = parse_body(data, UpgradeRequest)
        except ValidationError as exc:
            raise invalid_body(exc) from None
        await require_store(self.host)
        return EventStream(lambda emit: marketplace.upgrade(plugin_id, body.latest_config, emit))

    async def install(self, request: Request, data: Any) -> JSONResponse:
        """``POST /plugins/install`` with a ``PluginInstallRequest`` (called by the lifecycle route)."""
        try:
            body = parse_body(data, PluginInstallRequest)
        except ValidationError as exc:
            raise invalid_body(exc) from None
        marketplace = self.marketplace
        await require_store(self.host)
        try:
            plugin = await marketplace.install(body, lambda stage, message: None)
        except InstallFailed as exc:
            raise from_exception(exc, body.id) from None
        return JSONResponse(self.installed_item(plugin.id))

    def installed_item(self, plugin_id: str) -> dict[str, Any]:
        """The ``InstalledPluginInfo`` of one launched plugin (as ``/plugins/installed`` lists it)."""
        return next((item for item in installed_plugins(self.host) if item["plugin_id"] == plugin_id), {})
