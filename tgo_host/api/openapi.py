"""The OpenAPI 3 document of the HTTP API, with request bodies generated from the attrs models.

Request schemas come from the same classes the handlers validate with, so
the document cannot drift from the validation; response schemas are written
here once and checked against the live server by the schemathesis test.
"""

from __future__ import annotations

import html
import typing
from typing import Any

import attrs

from .. import __version__
from ..model import (
    ChannelSendMessageParams,
    EventRequest,
    RenderRequest,
    ToolExecuteRequest,
    VisitorPanelRenderRequest,
)
from ..marketplace.models import FetchInfoRequest, PluginConfig, PluginInstallRequest, UpgradeRequest
from ..model.fields import HttpUrl, LinkUrl


def _schema_for_type(tp: Any, components: dict[str, Any]) -> dict[str, Any]:
    if tp is Any or tp is typing.Any:
        return {}
    if tp in (HttpUrl, LinkUrl):
        return {"type": "string", "format": "uri"}
    supertype = getattr(tp, "__supertype__", None)
    if supertype is not None:  # NewType (manifest Text, EnvMap): its base type
        return _schema_for_type(supertype, components)
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return {"type": "string", "enum": list(args)}
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        members = [a for a in args if a is not type(None)]
        schemas = [_schema_for_type(a, components) for a in members]
        schema = schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
        if type(None) in args:
            schema = {**schema, "nullable": True} if "$ref" not in schema else {"allOf": [schema], "nullable": True}
        return schema
    if origin is list:
        return {"type": "array", "items": _schema_for_type(args[0], components) if args else {}}
    if origin is dict or tp is dict:
        return {"type": "object", "additionalProperties": True}
    if attrs.has(tp):
        return {"$ref": f"#/components/schemas/{model_schema(tp, components)}"}
    return {}


def model_schema(cls: type, components: dict[str, Any]) -> str:
    """Add ``cls`` (and the models it nests) to ``components``; return its name."""
    name = cls.__name__
    if name in components:
        return name
    components[name] = {}  # placeholder against recursion
    hints = typing.get_type_hints(cls)
    properties = {}
    required = []
    for field in attrs.fields(cls):
        properties[field.name] = _schema_for_type(hints[field.name], components)
        if field.default is attrs.NOTHING:
            required.append(field.name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    components[name] = schema
    return name


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_STATIC_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["detail", "error"],
        "properties": {
            "detail": {"type": "string"},
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {
                    "type": {"type": "string"},
                    "message": {"type": "string"},
                    "plugin_id": {"type": "string"},
                    "path": {"type": "string"},
                    "validation": {"type": "string"},
                    "rpc_error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}, "data": {}},
                    },
                },
            },
        },
    },
    "PluginInfo": {
        "type": "object",
        "required": ["id", "name", "version", "capabilities", "connected_at", "status", "is_dev_mode"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "version": {"type": "string", "nullable": True},
            "description": {"type": "string", "nullable": True},
            "author": {"type": "string", "nullable": True},
            "capabilities": {"type": "array", "items": {"type": "object", "required": ["type"]}},
            "connected_at": {"type": "string", "format": "date-time"},
            "status": {"type": "string", "enum": ["connected", "disconnected"]},
            "is_dev_mode": {"type": "boolean"},
            "project_id": {"type": "string", "nullable": True},
        },
    },
    "JsonUi": {
        "type": "object",
        "required": ["template", "data"],
        "properties": {"template": {"type": "string"}, "data": {"type": "object"},
                       "warnings": {"type": "array", "items": _ref("Warning")}},
    },
    "JsonAction": {
        "type": "object",
        "required": ["action", "data"],
        "properties": {"action": {"type": "string"}, "data": {"type": "object"},
                       "warnings": {"type": "array", "items": _ref("Warning")}},
    },
    "Warning": {
        "type": "object",
        "description": "What the host fixed up in a plugin's result (docs/validation.md), or what the "
                       "tgo-web profile could not keep (kind profile; docs/templates.md)",
        "required": ["path", "kind", "message"],
        "properties": {"path": {"type": "string"},
                       "kind": {"type": "string",
                                "enum": ["coerced", "dropped", "placeholder", "skipped", "filled", "profile"]},
                       "message": {"type": "string"}},
    },
    "Operation": {
        "type": "object",
        "required": ["success", "message", "status", "pid"],
        "properties": {"success": {"type": "boolean"}, "message": {"type": "string"}, "plugin_id": {"type": "string"},
                       "status": {"type": "string", "enum": ["stopped", "starting", "running", "error"]},
                       "pid": {"type": "integer", "nullable": True}},
    },
    "InstallRequest": {"type": "object", "required": ["path"], "properties": {"path": {"type": "string"}}},
    "InstalledPlugin": {
        "type": "object",
        "description": "The gateway's InstalledPluginInfo: launched plugins (install_type local) and connected "
                       "dev-mode plugins (install_type dev, status running, timestamps = connection time).",
        "required": ["id", "plugin_id", "name", "version", "status", "install_type", "source_url", "latest_version",
                     "installed_at", "updated_at", "pid", "last_error", "is_dev_mode", "capabilities"],
        "properties": {
            "id": {"type": "string"}, "plugin_id": {"type": "string"}, "name": {"type": "string"},
            "version": {"type": "string"},
            "description": {"type": "string", "nullable": True}, "author": {"type": "string", "nullable": True},
            "status": {"type": "string", "enum": ["stopped", "starting", "running", "error"]},
            "install_type": {"type": "string"}, "source_url": {"type": "string", "nullable": True},
            "latest_version": {"type": "string", "nullable": True},
            "installed_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "pid": {"type": "integer", "nullable": True}, "last_error": {"type": "string", "nullable": True},
            "is_dev_mode": {"type": "boolean"}, "capabilities": {"type": "array", "items": {"type": "object"}},
        },
    },
    "ToolResult": {
        "type": "object",
        "required": ["success"],
        "properties": {"success": {"type": "boolean"}, "content": {}, "data": {}, "error": {"type": "string"}},
    },
}


def _error_responses(*statuses: int) -> dict[str, Any]:
    text = {
        400: "The plugin URL could not be resolved or fetched (the message says why)",
        409: "Conflict: already installed, or not installed by this host",
        404: "Unknown plugin, hidden from this project, or missing the capability/tool",
        413: "Request body too large",
        422: "Invalid request body (the message names the field path)",
        502: "Plugin answered with a JSON-RPC error, an invalid result, or disconnected",
        503: "Host shutting down or plugin busy",
        504: "Plugin did not answer within its deadline",
    }
    return {
        str(s): {"description": text[s], "content": {"application/json": {"schema": _ref("Error")}}} for s in statuses
    }


def _created(operation: dict[str, Any]) -> dict[str, Any]:
    """``operation`` answering 201 instead of 200."""
    operation["responses"]["201"] = operation["responses"].pop("200")
    return operation


def _stream(operation: dict[str, Any]) -> dict[str, Any]:
    """``operation`` answering 200 with ``text/event-stream``: ``data: {"stage", "message"}`` events."""
    operation["responses"]["200"] = {
        "description": 'Server-sent events, one `data: {"stage", "message"}` per step; the last stage is complete or error',
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
    return operation


def build_openapi() -> dict[str, Any]:
    """The complete OpenAPI 3.0 document of the HTTP API."""
    components: dict[str, Any] = dict(_STATIC_SCHEMAS)
    models: tuple[type, ...] = (RenderRequest, EventRequest, VisitorPanelRenderRequest, ToolExecuteRequest,
                                ChannelSendMessageParams, PluginConfig, PluginInstallRequest, UpgradeRequest, FetchInfoRequest)
    for cls in models:
        model_schema(cls, components)

    project = {"name": "project_id", "in": "query", "required": False, "schema": {"type": "string"},
               "description": "Caller's project; plugins bound to another project are invisible (404)."}
    plugin_id = {"name": "plugin_id", "in": "path", "required": True, "schema": {"type": "string"}}
    profile = {"name": "profile", "in": "query", "required": False,
               "schema": {"type": "string", "enum": ["full", "tgo-web"]},
               "description": "JSON-UI as sent (full) or in the TGO web app's 7 templates (tgo-web); "
                              "default: the web_profile setting."}

    def op(summary: str, ok: dict[str, Any], *, body: str | None = None, errors: tuple[int, ...] = (),
           params: tuple[dict[str, Any], ...] = (), tag: str = "plugins") -> dict[str, Any]:
        operation: dict[str, Any] = {
            "summary": summary,
            "tags": [tag],
            "parameters": [project, *params],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ok}}},
                          **_error_responses(503, *errors)},
        }
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
            operation["responses"].update(_error_responses(413, 422))
        return operation

    obj = {"type": "object"}
    panel = {
        "type": "object",
        "required": ["plugin_id", "title", "priority", "ui", "warnings"],
        "properties": {"plugin_id": {"type": "string"}, "title": {"type": "string"},
                       "icon": {"type": "string", "nullable": True}, "priority": {"type": "integer"},
                       "ui": _ref("JsonUi"), "warnings": {"type": "array", "items": _ref("Warning")}},
    }
    panel_error = {
        "type": "object",
        "required": ["plugin_id", "error", "message"],
        "properties": {"plugin_id": {"type": "string"}, "title": {"type": "string"},
                       "error": {"type": "string", "enum": ["timeout", "plugin_error", "invalid_result", "disconnected", "busy"]},
                       "message": {"type": "string"}, "code": {"type": "integer"}, "data": {}},
    }
    paths: dict[str, Any] = {
        "/plugins": {"get": op("List connected plugins", {
            "type": "object", "required": ["plugins", "total"],
            "properties": {"plugins": {"type": "array", "items": _ref("PluginInfo")}, "total": {"type": "integer"}}})},
        "/plugins/chat-toolbar/buttons": {"get": op("Chat toolbar buttons", {
            "type": "object", "required": ["buttons"],
            "properties": {"buttons": {"type": "array", "items": {"type": "object", "required": ["plugin_id"], "properties": {
                "plugin_id": {"type": "string"}, "title": {"type": "string", "nullable": True},
                "icon": {"type": "string", "nullable": True}, "tooltip": {"type": "string", "nullable": True},
                "shortcut": {"type": "string", "nullable": True}}}}}})},
        "/plugins/chat-toolbar/{plugin_id}/render": {"post": op(
            "Render a chat toolbar plugin", _ref("JsonUi"), body="RenderRequest", errors=(404, 502, 504),
            params=(plugin_id, profile))},
        "/plugins/chat-toolbar/{plugin_id}/event": {"post": op(
            "Send a chat toolbar event", _ref("JsonAction"), body="EventRequest", errors=(404, 502, 504),
            params=(plugin_id, profile))},
        "/plugins/visitor-panel/render": {"post": op("Render every visitor panel (fan-out)", {
            "type": "object", "required": ["panels", "errors"],
            "properties": {"panels": {"type": "array", "items": panel}, "errors": {"type": "array", "items": panel_error}}},
            body="VisitorPanelRenderRequest", params=(profile,))},
        "/plugins/tools/execute/{plugin_id}/{tool_name}": {"post": op(
            "Execute an MCP tool", _ref("ToolResult"), body="ToolExecuteRequest", errors=(404, 502, 504),
            params=(plugin_id, {"name": "tool_name", "in": "path", "required": True, "schema": {"type": "string"}}))},
        "/plugins/{plugin_id}": {"get": op("One connected plugin", _ref("PluginInfo"), errors=(404,), params=(plugin_id,))},
        "/plugins/{plugin_id}/render": {"post": op(
            "Render a plugin (extension_type query or inferred)", _ref("JsonUi"), body="RenderRequest",
            errors=(404, 502, 504), params=(plugin_id, profile, {"name": "extension_type", "in": "query", "required": False,
                                                        "schema": {"type": "string", "enum": ["visitor_panel", "chat_toolbar"]}}))},
        "/plugins/{plugin_id}/event": {"post": op(
            "Send an event (extension_type in the body or inferred)", _ref("JsonAction"), body="EventRequest",
            errors=(404, 502, 504), params=(plugin_id, profile))},
        "/plugins/{plugin_id}/iframe": {"get": op(
            "The plugin's sidebar_iframe/config", obj, errors=(404, 502, 504), params=(plugin_id,))},
        "/plugins/{plugin_id}/channel/manifest": {"get": op(
            "The plugin's channel_integration/manifest", obj, errors=(404, 502, 504), params=(plugin_id,))},
        "/plugins/{plugin_id}/channel/send": {"post": op(
            "channel_integration/send_message", obj, body="ChannelSendMessageParams", errors=(404, 502, 504),
            params=(plugin_id,))},
        "/plugins/installed": {"get": op("Plugins launched by this host and connected dev-mode plugins", {
            "type": "object", "required": ["plugins", "total"],
            "properties": {"plugins": {"type": "array", "items": _ref("InstalledPlugin")}, "total": {"type": "integer"}}},
            tag="processes")},
        "/plugins/install": {"post": _created(op("Install a plugin from a local directory holding plugin.yml",
                                                 _ref("Operation"), body="InstallRequest", errors=(409,), tag="processes"))},
        "/plugins/fetch-info": {"post": op("Resolve a plugin URL (GitHub, Gitee, any URL) to its manifest",
                                           _ref("PluginConfig"), body="FetchInfoRequest", errors=(400,), tag="marketplace")},
        "/plugins/install-stream": {"post": _stream(op("Install from a PluginInstallRequest, streaming progress events",
                                                       {}, body="PluginInstallRequest", tag="marketplace"))},
        "/plugins/{plugin_id}/check-update": {"get": op("Compare the installed version with the one at its source_url", {
            "type": "object", "required": ["has_update", "current_version", "latest_version"],
            "properties": {"has_update": {"type": "boolean"}, "current_version": {"type": "string", "nullable": True},
                           "latest_version": {"type": "string", "nullable": True},
                           "latest_config": _ref("PluginConfig"), "message": {"type": "string"}}},
            errors=(404,), params=(plugin_id,), tag="marketplace")},
        "/plugins/{plugin_id}/upgrade": {"post": _stream(op("Upgrade (rolled back on failure), streaming progress events",
                                                            {}, body="UpgradeRequest", errors=(404,), params=(plugin_id,),
                                                            tag="marketplace"))},
        "/plugins/{plugin_id}/start": {"post": op("Start a launched plugin", _ref("Operation"), errors=(404,),
                                                  params=(plugin_id,), tag="processes")},
        "/plugins/{plugin_id}/stop": {"post": op("Stop: shutdown, grace, SIGTERM, SIGKILL", _ref("Operation"), errors=(404,),
                                                 params=(plugin_id,), tag="processes")},
        "/plugins/{plugin_id}/restart": {"post": op("Restart with a new process", _ref("Operation"), errors=(404,),
                                                    params=(plugin_id,), tag="processes")},
        "/plugins/{plugin_id}/logs": {"get": op("Recent output lines", {
            "type": "object", "required": ["plugin_id", "logs"],
            "properties": {"plugin_id": {"type": "string"}, "logs": {"type": "array", "items": {"type": "string"}}}},
            errors=(404, 422), params=(plugin_id, {"name": "limit", "in": "query", "required": False,
                                                   "schema": {"type": "integer", "minimum": 0}}), tag="processes")},
        "/plugins/{plugin_id}/status": {"get": op("Process status", {
            "type": "object", "required": ["id", "status", "pid", "restart_count", "last_error"],
            "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": ["stopped", "starting", "running", "error"]},
                           "pid": {"type": "integer", "nullable": True}, "restart_count": {"type": "integer"},
                           "last_error": {"type": "string", "nullable": True}, "registered": {"type": "boolean"}}},
            errors=(404,), params=(plugin_id,), tag="processes")},
        "/plugins/{plugin_id}/uninstall": {"delete": op("Stop and remove an installed plugin", {
            "type": "object", "required": ["success", "message"],
            "properties": {"success": {"type": "boolean"}, "message": {"type": "string"}}},
            errors=(404, 409), params=(plugin_id,), tag="processes")},
        "/": {"get": {"summary": "Service name and version (as the upstream runtime)", "tags": ["operations"],
                       "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                           "type": "object", "required": ["service", "version"],
                           "properties": {"service": {"type": "string"}, "version": {"type": "string"}}}}}}}}},
        "/health": {"get": {"summary": "Process is up (the upstream runtime's probe: {\"status\": \"healthy\"})",
                            "tags": ["operations"], "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": obj}}}}}},
        "/healthz": {"get": {"summary": "Process is up", "tags": ["operations"], "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": obj}}}}}},
        "/readyz": {"get": {"summary": "Listening on the plugin socket and not shutting down", "tags": ["operations"],
                            "responses": {"200": {"description": "ready", "content": {"application/json": {"schema": obj}}},
                                          **_error_responses(503)}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "tags": ["operations"], "responses": {
            "200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "tgo-host HTTP API", "version": __version__,
                 "description": "Drop-in replacement for the TGO plugin runtime's HTTP API, with explicit errors."},
        "paths": paths,
        "components": {"schemas": components},
    }


def render_docs(document: dict[str, Any]) -> str:
    """A self-contained HTML page describing every route (no CDN, no JavaScript)."""
    esc = html.escape
    rows = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            body_name = body.get("$ref", "").rsplit("/", 1)[-1]
            statuses = ", ".join(operation["responses"])
            rows.append(
                f"<tr><td><code>{esc(method.upper())}</code></td><td><code>{esc(path)}</code></td>"
                f"<td>{esc(operation['summary'])}</td><td>{esc(body_name) or '–'}</td><td>{esc(statuses)}</td></tr>"
            )
    schemas = []
    for name, schema in document["components"]["schemas"].items():
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        fields = "".join(
            f"<li><code>{esc(p)}</code>{' <b>required</b>' if p in required else ''}: "
            f"{esc(str(s.get('type') or s.get('$ref', '').rsplit('/', 1)[-1] or 'any'))}"
            f"{' — one of ' + esc(', '.join(map(str, s['enum']))) if 'enum' in s else ''}</li>"
            for p, s in props.items()
        )
        schemas.append(f"<h3 id='{esc(name)}'>{esc(name)}</h3><ul>{fields}</ul>")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>tgo-host HTTP API</title>"
        "<style>body{font:14px system-ui;margin:2em;max-width:70em}td,th{padding:4px 8px;border-bottom:1px solid #ddd;"
        "text-align:left}code{background:#f4f4f4;padding:1px 3px}</style></head><body>"
        f"<h1>tgo-host HTTP API {esc(document['info']['version'])}</h1>"
        "<p>Every route takes an optional <code>?project_id=</code>. Errors share one shape "
        "(<a href='#Error'>Error</a>). Machine-readable: <a href='/openapi.json'>/openapi.json</a>.</p>"
        "<table><tr><th>method</th><th>path</th><th>what</th><th>body</th><th>statuses</th></tr>"
        + "".join(rows) + "</table><h2>Schemas</h2>" + "".join(schemas) + "</body></html>"
    )
