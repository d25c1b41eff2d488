"""The marketplace routes of gateway.md: fetch-info, install(-stream), check-update, upgrade.

Thin handlers over :mod:`tgo_host.marketplace`. Streams are
``text/event-stream`` with one ``data: {"stage", "message"}`` event per step;
the last one is ``complete`` or ``error``. A client that disconnects cancels
the work (the installer leaves nothing behind).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..marketplace.models import as_json
from ..marketplace.sources import SourceError, fetch_info
from ..model.fields import model
from .bodies import read_body
from .errors import ApiError, JSONResponse
from .guard import control_route


@model
class FetchInfoRequest:
    url: str


class MarketplaceRoutes:
    def __init__(self, host: Any) -> None:
        self.host = host

    def routes(self) -> list[Route]:
        return [
            control_route("/plugins/fetch-info", self.fetch_info, methods=["POST"]),  # control plane: api/guard.py
        ]

    async def fetch_info(self, request: Request) -> JSONResponse:
        settings = self.host.settings
        body = await read_body(request, FetchInfoRequest, settings.max_http_body_bytes)
        try:
            config = await fetch_info(body.url, settings)
        except SourceError as exc:
            raise ApiError(400, "fetch_failed", str(exc), path="url") from None
        return JSONResponse(as_json(config))
