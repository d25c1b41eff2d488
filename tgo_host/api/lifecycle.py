"""The routes of http-api.md "Plugin processes": installed list, start/stop/restart, logs, status, install, uninstall.

Thin handlers over :class:`~tgo_host.plugins.supervisor.Supervisor`. A host
without a supervisor lists nothing and knows no launched plugin (404).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..plugins.confinement import SourceNotAllowed
from ..plugins.manifest import ManifestError
from ..marketplace.installer import Marketplace
from ..plugins.supervisor import InstallError, InstallSourceError, Supervisor, SupervisorError, UnknownPlugin
from ..model import ValidationError, parse_body
from ..model.fields import model
from .bodies import read_json
from .errors import ApiError, JSONResponse, from_exception, invalid_body
from .guard import control_route
from .installed import installed_plugins
from .rendering import project_of
from .marketplace import MarketplaceRoutes
from .storegate import require_store
from .params import int_param
from .hostview import HostView

MAX_LOG_LIMIT = 10_000  # lines one /logs call may ask for (the ring buffer holds log_lines)


@model
class InstallRequest:
    """Body of ``POST /plugins/install``: a local directory holding ``plugin.yml``."""

    path: str


class LifecycleRoutes:
    def __init__(self, host: HostView) -> None:
        self.host = host

    def routes(self) -> list[Route]:
        # control_route: the control plane (admin_token when set; api/guard.py)
        return [
            Route("/plugins/installed", self.installed, methods=["GET"]),
            control_route("/plugins/install", self.install, methods=["POST"]),
            control_route("/plugins/{plugin_id}/start", self.start, methods=["POST"]),
            control_route("/plugins/{plugin_id}/stop", self.stop, methods=["POST"]),
            control_route("/plugins/{plugin_id}/restart", self.restart, methods=["POST"]),
            Route("/plugins/{plugin_id}/logs", self.logs, methods=["GET"]),
            Route("/plugins/{plugin_id}/status", self.status, methods=["GET"]),
            control_route("/plugins/{plugin_id}/uninstall", self.uninstall, methods=["DELETE"]),
        ]

    @property
    def supervisor(self) -> Supervisor | None:
        return self.host.supervisor

    @property
    def marketplace(self) -> Marketplace | None:
        return self.host.marketplace

    def _visible(self, plugin_id: str, project_id: str | None) -> bool:
        """Installed plugins bound to another project are invisible to a caller scoped to ``project_id``."""
        bound = self.marketplace.project_of(plugin_id) if self.marketplace is not None else None
        return not project_id or bound is None or bound == project_id

    def _known(self, plugin_id: str, request: Request | None = None) -> Supervisor:
        project_id = request.query_params.get("project_id") if request is not None else None
        if self.supervisor is None or plugin_id not in self.supervisor or not self._visible(plugin_id, project_id):
            raise ApiError(404, "plugin_not_managed", f"plugin {plugin_id!r} is not launched by this host", plugin_id=plugin_id)
        return self.supervisor

    async def installed(self, request: Request) -> JSONResponse:
        plugins = installed_plugins(self.host, project_of(request))
        return JSONResponse({"plugins": plugins, "total": len(plugins)})

    async def _operate(self, request: Request, verb: str) -> JSONResponse:
        plugin_id = request.path_params["plugin_id"]
        supervisor = self._known(plugin_id, request)
        await require_store(self.host)
        try:
            plugin = await getattr(supervisor, verb)(plugin_id)
        except UnknownPlugin as exc:  # gone since _known: the same answer
            raise from_exception(exc, message=f"plugin {plugin_id!r} is not launched by this host") from None
        except SupervisorError as exc:
            raise from_exception(exc, plugin_id, message=f"cannot {verb} {plugin_id!r}: {exc}") from None
        if self.marketplace is not None and verb in ("start", "stop"):
            await self.marketplace.note_status(plugin_id, "stopped" if verb == "stop" else plugin.status)
        ok = plugin.status != "error"
        message = f"{plugin_id} {verb}ed" if verb != "stop" else f"{plugin_id} stopped"
        if not ok:
            message = f"{verb} failed: {plugin.last_error}"
        return JSONResponse({"success": ok, "message": message, "status": plugin.status, "pid": plugin.pid})

    async def start(self, request: Request) -> JSONResponse:
        return await self._operate(request, "start")

    async def stop(self, request: Request) -> JSONResponse:
        return await self._operate(request, "stop")

    async def restart(self, request: Request) -> JSONResponse:
        return await self._operate(request, "restart")

    async def logs(self, request: Request) -> JSONResponse:
        plugin_id = request.path_params["plugin_id"]
        supervisor = self._known(plugin_id, request)
        limit = int_param(request, "limit", default=200, low=1, high=MAX_LOG_LIMIT)
        return JSONResponse({"plugin_id": plugin_id, "logs": supervisor.logs(plugin_id, limit)})

    async def status(self, request: Request) -> JSONResponse:
        plugin_id = request.path_params["plugin_id"]
        return JSONResponse(self._known(plugin_id, request).status(plugin_id))

    async def install(self, request: Request) -> JSONResponse:
        """A gateway ``PluginInstallRequest`` (see marketplace.py), or ``{"path": DIR}`` (a local directory)."""
        data = await read_json(request, self.host.settings.max_http_body_bytes)
        if isinstance(data, dict) and "id" in data and "path" not in data:
            return await MarketplaceRoutes(self.host).install(request, data)
        try:
            body = parse_body(data, InstallRequest)
        except ValidationError as exc:
            raise invalid_body(exc) from None
        if self.supervisor is None:
            raise ApiError(503, "supervisor_unavailable", "this host does not launch plugins")
        try:
            plugin = await self.supervisor.install(body.path)
        except (InstallSourceError, SourceNotAllowed, ManifestError) as exc:  # what ``path`` names is refused
            raise from_exception(exc, path="path") from None
        except SupervisorError as exc:
            raise from_exception(exc) from None
        return JSONResponse(
            {"success": plugin.status != "error", "message": f"installed {plugin.id}", "plugin_id": plugin.id,
             "status": plugin.status, "pid": plugin.pid},
            status_code=201,
        )

    async def uninstall(self, request: Request) -> JSONResponse:
        plugin_id = request.path_params["plugin_id"]
        supervisor = self._known(plugin_id, request)
        await require_store(self.host)
        try:
            await supervisor.uninstall(plugin_id)
            if self.marketplace is not None:
                await self.marketplace.forget(plugin_id)
        except InstallError as exc:
            raise ApiError(409, "uninstall_failed", str(exc), plugin_id=plugin_id) from None
        except SupervisorError as exc:
            raise from_exception(exc, plugin_id) from None
        return JSONResponse({"success": True, "message": f"uninstalled {plugin_id}"})
