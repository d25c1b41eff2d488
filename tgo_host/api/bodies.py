"""Reading request bodies: bounded size, JSON, validated into attrs models (422 with the field path)."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from starlette.requests import Request

from ..model import ValidationError, parse_body
from ..model.depth import check_depth
from .errors import ApiError, invalid_body

T = TypeVar("T")


async def read_json(request: Request, limit: int) -> Any:
    """The request's JSON body (``{}`` when empty); 413 past ``limit`` bytes, 422 when not JSON or nested too deep."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ApiError(413, "body_too_large", f"request body of {length} bytes exceeds the limit of {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(422, "invalid_request", f"request body is not valid JSON: {exc}") from None
    try:
        check_depth(data)
    except ValidationError as exc:
        raise invalid_body(exc) from None
    return data


async def read_body(request: Request, cls: type[T], limit: int) -> T:
    """The body validated as ``cls``; 422 naming the bad field's path."""
    return (await read_body_and_json(request, cls, limit))[0]


async def read_body_and_json(request: Request, cls: type[T], limit: int) -> tuple[T, Any]:
    """The body validated as ``cls`` and the parsed JSON it came from (for pass-through fields)."""
    data = await read_json(request, limit)
    try:
        return parse_body(data, cls), data
    except ValidationError as exc:
        raise invalid_body(exc) from None
