"""The routes of http-api.md "Plugins and rendering": listing, render, event, fan-out, tools, iframe, channel.

Each handler validates its body into a model, calls the dispatcher and
returns the upstream 2xx shape; failures become :class:`ApiError` s.
"""

from __future__ import annotations

from typing import Any, cast

import attrs
from starlette.requests import Request
from starlette.routing import Route

from ..model import (
    ChannelSendMessageParams,
    ChatToolbarCapability,
    McpToolsCapability,
    ValidationError,
    EventRequest,
    FixUp,
    RenderRequest,
    ToolExecuteRequest,
    VisitorPanelRenderRequest,
    unstructure,
)
from ..plugins.dispatch import EXTENSION_POINTS, CapabilityMissing, Dispatcher, PluginNotFound
from ..plugins.session import PluginSession
from .bodies import read_body, read_body_and_json
from ..model.webprofile import restore_event
from .errors import ApiError, JSONResponse, from_exception
from .hostview import HostView
from .profile import action_for, profile_of, ui_for


def plugin_info(session: PluginSession) -> dict[str, Any]:
    """``PluginInfo`` of http-api.md for a connected session."""
    reg = session.registration
    assert reg is not None  # the registry holds registered sessions only
    return {
        "id": session.plugin_id,
        "name": reg.name,
        "version": reg.version,
        "description": reg.description,
        "author": reg.author,
        "capabilities": [unstructure(c) for c in session.capabilities],
        "connected_at": session.connected_at.isoformat(),
        "status": "connected",
        "is_dev_mode": session.is_dev_mode,
        "project_id": session.project_id,
    }


class RenderingRoutes:
    """Route handlers bound to one host's dispatcher and settings."""

    def __init__(self, host: HostView) -> None:
        self.host = host
        self.dispatcher: Dispatcher = host.dispatcher
        self.body_limit = host.settings.max_http_body_bytes
        self.web_profile = host.settings.web_profile

    def routes(self) -> list[Route]:
        # Literal paths before the {plugin_id} ones that would shadow them.
        return [
            Route("/plugins", self.list_plugins, methods=["GET"]),
            Route("/plugins/chat-toolbar/buttons", self.toolbar_buttons, methods=["GET"]),
            Route("/plugins/chat-toolbar/{plugin_id}/render", self.toolbar_render, methods=["POST"]),
            Route("/plugins/chat-toolbar/{plugin_id}/event", self.toolbar_event, methods=["POST"]),
            Route("/plugins/visitor-panel/render", self.visitor_panels, methods=["POST"]),
            Route("/plugins/tools/execute/{plugin_id}/{tool_name}", self.tool_execute, methods=["POST"]),
            Route("/plugins/{plugin_id}/render", self.render, methods=["POST"]),
            Route("/plugins/{plugin_id}/event", self.event, methods=["POST"]),
            Route("/plugins/{plugin_id}/iframe", self.iframe_config, methods=["GET"]),
            Route("/plugins/{plugin_id}/channel/manifest", self.channel_manifest, methods=["GET"]),
            Route("/plugins/{plugin_id}/channel/send", self.channel_send, methods=["POST"]),
            Route("/plugins/{plugin_id}", self.get_plugin, methods=["GET"]),
        ]

    # -- listing ------------------------------------------------------------

    async def list_plugins(self, request: Request) -> JSONResponse:
        sessions = self.host.registry.sessions(project_of(request))
        plugins = [plugin_info(s) for s in sessions]
        return JSONResponse({"plugins": plugins, "total": len(plugins)})

    async def get_plugin(self, request: Request) -> JSONResponse:
        plugin_id = request.path_params["plugin_id"]
        session = self.host.registry.get(plugin_id, project_of(request))
        if session is None:
            raise from_exception(PluginNotFound(plugin_id))
        return JSONResponse(plugin_info(session))

    async def toolbar_buttons(self, request: Request) -> JSONResponse:
        buttons = [
            {
                "plugin_id": session.plugin_id,
                "title": cap.title,
                "icon": cap.icon,
                "tooltip": cap.tooltip,
                "shortcut": cap.shortcut,
            }
            for cap, session in self.host.registry.with_capability("chat_toolbar", project_of(request))
            if isinstance(cap, ChatToolbarCapability)  # every one: the index is by type
        ]
        return JSONResponse({"buttons": buttons})

    # -- render / event -----------------------------------------------------

    async def toolbar_render(self, request: Request) -> JSONResponse:
        return await self._render(request, "chat_toolbar")

    async def toolbar_event(self, request: Request) -> JSONResponse:
        return await self._event(request, "chat_toolbar")

    async def render(self, request: Request) -> JSONResponse:
        return await self._render(request, None)

    async def event(self, request: Request) -> JSONResponse:
        return await self._event(request, None)

    async def _render(self, request: Request, extension: str | None) -> JSONResponse:
        plugin_id = request.path_params["plugin_id"]
        profile = profile_of(request, self.web_profile)
        body, raw = await read_body_and_json(request, RenderRequest, self.body_limit)
        project = project_of(request)
        if extension is None:
            # the query parameter, else the same field in the body (as events carry it); never sent on to the plugin
            requested = request.query_params.get("extension_type") or raw.get("extension_type")
            extension = self._infer_extension(plugin_id, project, requested)
        params = with_raw_visitor(unstructure(body), raw)
        warnings: list[FixUp] = []
        ui = await self._call(plugin_id, self.dispatcher.render(plugin_id, extension, params, project, warnings=warnings))
        return JSONResponse(with_warnings(ui_for(profile, ui, warnings), warnings))

    async def _event(self, request: Request, extension: str | None) -> JSONResponse:
        plugin_id = request.path_params["plugin_id"]
        profile = profile_of(request, self.web_profile)
        body = await read_body(request, EventRequest, self.body_limit)
        project = project_of(request)
        if extension is None:
            extension = self._infer_extension(plugin_id, project, body.extension_type)
        params = unstructure(body)
        params.pop("extension_type", None)
        try:  # a click on a button the tgo-web profile made: the event of the template it stands for
            params = restore_event(params)
        except ValidationError as exc:
            raise from_exception(exc, message=f"{exc.path}: {exc.reason}") from None
        warnings: list[FixUp] = []
        action = await self._call(
            plugin_id, self.dispatcher.event(plugin_id, extension, params, project, warnings=warnings)
        )
        return JSONResponse(with_warnings(action_for(profile, action, warnings), warnings))

    def _infer_extension(self, plugin_id: str, project: str | None, requested: str | None) -> str:
        """``extension_type`` if given, else the dispatcher's default (chat_toolbar if declared, else visitor_panel)."""
        if requested is not None:
            if requested not in EXTENSION_POINTS:
                raise ApiError(
                    422, "invalid_request", f"extension_type must be one of {', '.join(EXTENSION_POINTS)}",
                    path="extension_type",
                )
            return requested
        try:
            return self.dispatcher.default_extension(plugin_id, project)
        except (PluginNotFound, CapabilityMissing) as exc:
            raise from_exception(exc) from None

    async def visitor_panels(self, request: Request) -> JSONResponse:
        profile = profile_of(request, self.web_profile)
        _, raw = await read_body_and_json(request, VisitorPanelRenderRequest, self.body_limit)
        fan_out = await self.dispatcher.render_visitor_panels(fanout_params(raw), project_of(request))
        for p in fan_out.panels:
            p.ui = ui_for(profile, p.ui, p.warnings)
        return JSONResponse(
            {
                "panels": [
                    {"plugin_id": p.plugin_id, "title": p.title, "icon": p.icon, "priority": p.priority, "ui": p.ui,
                     "warnings": [w.to_json() for w in p.warnings]}
                    for p in fan_out.panels
                ],
                "errors": [
                    {k: v for k, v in (
                        ("plugin_id", e.plugin_id), ("title", e.title), ("error", e.error),
                        ("message", e.message), ("code", e.code), ("data", e.data),
                    ) if v is not None}
                    for e in fan_out.errors
                ],
            }
        )

    # -- tools, iframe, channel -----------------------------------------------

    async def tool_execute(self, request: Request) -> JSONResponse:
        plugin_id = request.path_params["plugin_id"]
        tool_name = request.path_params["tool_name"]
        body = await read_body(request, ToolExecuteRequest, self.body_limit)
        project = project_of(request)
        session = self._session(plugin_id, project)
        declared = [t.name for c in session.capabilities if isinstance(c, McpToolsCapability) for t in c.tools]
        if tool_name not in declared:
            raise ApiError(
                404, "tool_not_found",
                f"plugin {plugin_id!r} declares no tool {tool_name!r} (declared: {', '.join(declared) or 'none'})",
                plugin_id=plugin_id,
            )
        params = {"tool_name": tool_name, "arguments": body.arguments, **unstructure(body.context)}
        result = await self._call(plugin_id, self.dispatcher.tool_execute(plugin_id, params, project))
        return JSONResponse(result)

    async def iframe_config(self, request: Request) -> JSONResponse:
        plugin_id = request.path_params["plugin_id"]
        return JSONResponse(await self._call(plugin_id, self.dispatcher.iframe_config(plugin_id, project_of(request))))

    async def channel_manifest(self, request: Request) -> JSONResponse:
        plugin_id = request.path_params["plugin_id"]
        return JSONResponse(
            await self._call(plugin_id, self.dispatcher.channel_manifest(plugin_id, project_of(request)))
        )

    async def channel_send(self, request: Request) -> JSONResponse:
        plugin_id = request.path_params["plugin_id"]
        body = await read_body(request, ChannelSendMessageParams, self.body_limit)
        result = await self._call(
            plugin_id, self.dispatcher.channel_send(plugin_id, unstructure(body), project_of(request))
        )
        return JSONResponse(result)

    # -- helpers ------------------------------------------------------------

    def _session(self, plugin_id: str, project: str | None) -> PluginSession:
        try:
            return self.dispatcher.session(plugin_id, project)
        except PluginNotFound as exc:
            raise from_exception(exc) from None

    async def _call(self, plugin_id: str, call: Any) -> Any:
        try:
            return await call
        except Exception as exc:
            raise from_exception(exc, plugin_id) from None


def with_raw_visitor(params: dict[str, Any], raw: Any) -> dict[str, Any]:
    """``params`` with ``visitor`` as the caller sent it: validated, but with every field
    (the gateway may send more than the documented ones) forwarded unchanged."""
    visitor = raw.get("visitor") if isinstance(raw, dict) else None
    if isinstance(visitor, dict):
        params["visitor"] = visitor
    return params


#: The documented fields of the fan-out's body, in order: what of it reaches the plugins.
FANOUT_FIELDS = tuple(a.name for a in attrs.fields(cast("type[attrs.AttrsInstance]", VisitorPanelRenderRequest)))


def fanout_params(raw: dict[str, Any]) -> dict[str, Any]:
    """The fan-out's params from its body ``raw``, once validated as :class:`VisitorPanelRenderRequest`.

    The same dict as ``with_raw_visitor(unstructure(body), raw)`` — the
    documented fields, null ones left out, ``visitor`` with every field the
    caller sent — read straight from the JSON: a valid body's fields are
    already what the model would give back, so no attrs round trip.
    """
    return {name: raw[name] for name in FANOUT_FIELDS if raw.get(name) is not None}


def with_warnings(result: dict[str, Any], warnings: list[FixUp]) -> dict[str, Any]:
    """``result`` plus ``"warnings"`` (what validation fixed up), when there are any."""
    if not warnings:
        return result
    return {**result, "warnings": [w.to_json() for w in warnings]}


def project_of(request: Request) -> str | None:
    """The caller's ``?project_id=`` (None when absent or empty)."""
    return request.query_params.get("project_id") or None
