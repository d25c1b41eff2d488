"""One JSON error shape for every HTTP failure, and the mapping from host failures to statuses.

Every error body is::

    {"detail": "<one-line message>",
     "error": {"type": "<stable name>", "message": "<same message>",
               "plugin_id"?: str, "path"?: str, "rpc_error"?: {code, message, data}}}

``detail`` keeps FastAPI-style callers (the upstream gateway) working;
``error`` says what happened in a way a program can act on. A failure raised
below the api layer carries its own status and ``type`` (:mod:`tgo_host.errors`):
:func:`from_exception` looks them up.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from ..errors import HostError
from ..model import ValidationError


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


def from_exception(
    exc: BaseException, plugin_id: str | None = None, *, message: str | None = None, **fields: Any
) -> ApiError:
    """The :class:`ApiError` for a failure raised below the api layer: a lookup, not a chain.

    Status, ``error.type`` and ``Retry-After`` are the failure's ``status_hint``,
    ``kind`` and ``retry_after`` (:mod:`tgo_host.errors`); the message is
    ``message`` or its own (a :class:`ValidationError` here is the caller's
    body: ``"invalid request body: …"``). The body gets ``fields`` (what the
    route knows, e.g. ``path="path"``), then the failure's
    ``error_fields(plugin_id)``. An :class:`ApiError` passes through; anything
    else without a ``status_hint`` (not a :class:`~tgo_host.errors.HostError`,
    or one no route answers) is re-raised.
    """
    if isinstance(exc, ApiError):
        return exc
    if not isinstance(exc, HostError) or exc.status_hint is None:
        raise exc
    if message is None:
        message = f"invalid request body: {exc}" if isinstance(exc, ValidationError) else str(exc)
    for name, value in exc.error_fields(plugin_id).items():
        fields.setdefault(name, value)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return ApiError(exc.status_hint, exc.kind, message, headers=headers, **fields)


def invalid_body(exc: ValidationError) -> ApiError:
    """422 ``invalid_request`` for a request body that does not fit its model, naming the field (or ``body``)."""
    return from_exception(exc, path=exc.path or "body")
