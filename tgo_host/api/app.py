"""The ASGI application: routes, the one error shape, shutdown refusal, operations endpoints.

Who may call which route is :mod:`.guard`'s job (middleware and control-plane routes).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import __version__
from ..marketplace.store import StoreError
from .console import console_routes
from .errors import ApiError, JSONResponse
from .guard import HttpGuard
from .metrics import HostMetrics
from .openapi import build_openapi, render_docs
from .lifecycle import LifecycleRoutes
from .marketplace import MarketplaceRoutes
from .rendering import RenderingRoutes
from .routing import IndexedRouter
from .storegate import store_error
from .hostview import HostView

log = logging.getLogger("tgo_host.api")

SERVICE_NAME = "tgo-host"
ALWAYS_SERVED = ("/healthz", "/readyz", "/health", "/metrics")


class RefuseWhileStopping:
    """ASGI middleware: once the host is stopping, new API requests get 503 (operations endpoints still answer)."""

    def __init__(self, app: ASGIApp, host: HostView) -> None:
        self.app = app
        self.host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.host.stopping.is_set() and scope["path"] not in ALWAYS_SERVED:
            response = ApiError(503, "shutting_down", "tgo-host is shutting down", headers={"Retry-After": "5"}).response()
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_app(host: HostView) -> Starlette:
    """The Starlette app serving ``host``'s HTTP API. Also installs the metrics hook on its dispatcher."""
    metrics = HostMetrics(host)
    host.dispatcher.observe = metrics.observe
    document = build_openapi()
    docs_html = render_docs(document)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def health(request: Request) -> JSONResponse:
        """Upstream's liveness probe (docker-compose: ``curl -f http://127.0.0.1:8090/health``)."""
        return JSONResponse({"status": "healthy"})

    async def service_info(request: Request) -> JSONResponse:
        return JSONResponse({"service": SERVICE_NAME, "version": __version__})

    async def readyz(request: Request) -> JSONResponse:
        if host.ready and not host.stopping.is_set():
            return JSONResponse({"status": "ready", "plugins": len(host.registry)})
        reason = "shutting down" if host.stopping.is_set() else "not listening yet"
        raise ApiError(503, "not_ready", f"tgo-host is not ready: {reason}")

    async def metrics_route(request: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def openapi_route(request: Request) -> JSONResponse:
        return JSONResponse(document)

    async def docs_route(request: Request) -> HTMLResponse:
        return HTMLResponse(docs_html)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        detail = getattr(exc, "detail", "") or "error"
        kind = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
        return ApiError(status, kind, f"{detail}: {request.method} {request.url.path}").response()

    async def store_failure(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StoreError)
        return store_error(exc).response()

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        return ApiError(500, "internal_error", f"internal error: {type(exc).__name__}: {exc}").response()

    from starlette.exceptions import HTTPException

    routes = [
        Route("/", service_info, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_route, methods=["GET"]),
        Route("/openapi.json", openapi_route, methods=["GET"]),
        Route("/docs", docs_route, methods=["GET"]),
        *console_routes(host),
        *MarketplaceRoutes(host).routes(),
        *LifecycleRoutes(host).routes(),  # before RenderingRoutes' /plugins/{plugin_id}
        *RenderingRoutes(host).routes(),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={ApiError: api_error, HTTPException: http_error, StoreError: store_failure,
                            Exception: internal_error},
    )
    app.router = IndexedRouter(routes)  # Starlette's routing, literal paths found without the scan (api/routing.py)
    app.state.admin_token = host.admin_token  # read by the control-plane routes
    app.add_middleware(HttpGuard, host=host)  # Host, Origin, who, Content-Type (api/guard.py)
    app.add_middleware(RefuseWhileStopping, host=host)  # outermost: a stopping host answers 503 first
    return app
