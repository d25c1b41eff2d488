"""One JSON error shape for every HTTP failure, and the mapping from host failures to statuses.

Every error body is::

    {"detail": "<one-line message>",
     "error": {"type": "<stable name>", "message": "<same message>",
               "plugin_id"?: str, "path"?: str, "rpc_error"?: {code, message, data}}}

``detail`` keeps FastAPI-style callers (the upstream gateway) working;
``error`` says what happened in a way a program can act on.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from ..model import ValidationError
from ..plugins.dispatch import CapabilityMissing, InvalidResult, PluginNotFound
from ..wire.errors import Busy, ConnectionLost, InvalidResponse, RemoteError, RequestTimeout, RpcFailure


class JSONResponse(Response):
    """A JSON response encoded with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ApiError(Exception):
    """Raised by a route to answer ``status`` with the standard error body."""

    def __init__(self, status: int, type_: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.headers = headers
        self.extra = {k: v for k, v in extra.items() if v is not None}

    def response(self) -> JSONResponse:
        body = {"detail": self.message, "error": {"type": self.type, "message": self.message, **self.extra}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def from_exception(exc: Exception, plugin_id: str | None = None) -> ApiError:
    """The :class:`ApiError` for a failure raised by the dispatcher."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, PluginNotFound):
        return ApiError(404, "plugin_not_found", str(exc), plugin_id=exc.plugin_id)
    if isinstance(exc, CapabilityMissing):
        return ApiError(404, "capability_not_found", str(exc), plugin_id=exc.plugin_id)
    if isinstance(exc, RequestTimeout):
        return ApiError(504, "plugin_timeout", exc.message, plugin_id=plugin_id)
    if isinstance(exc, RemoteError):
        rpc = {"code": exc.code, "message": exc.error_message}
        if exc.data is not None:
            rpc["data"] = exc.data
        return ApiError(502, "plugin_error", exc.message, plugin_id=plugin_id, rpc_error=rpc)
    if isinstance(exc, InvalidResult):
        return ApiError(502, "invalid_plugin_result", exc.message, plugin_id=plugin_id, validation=exc.validation)
    if isinstance(exc, InvalidResponse):
        return ApiError(502, "invalid_plugin_result", exc.message, plugin_id=plugin_id)
    if isinstance(exc, Busy):
        return ApiError(503, "plugin_busy", exc.message, headers={"Retry-After": "1"}, plugin_id=plugin_id)
    if isinstance(exc, ConnectionLost):
        return ApiError(502, "plugin_disconnected", exc.message, plugin_id=plugin_id)
    if isinstance(exc, RpcFailure):
        return ApiError(502, "plugin_failure", exc.message, plugin_id=plugin_id)
    if isinstance(exc, ValidationError):
        return ApiError(422, "invalid_request", f"invalid request body: {exc}", path=exc.path)
    raise exc
