"""JSON-RPC 2.0 messages as attrs classes, and the sans-IO decoder that classifies a frame.

:func:`decode_message` never raises: every frame becomes a :class:`Request`,
a :class:`Response` or a :class:`Violation` carrying the JSON-RPC error the
host must send back (``-32700`` parse error, ``-32600`` invalid request).
"""

from __future__ import annotations

from typing import Any

import attrs
import orjson

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000
AUTH_FAILED = -32001

_NO_ID = object()


@attrs.define(slots=True)
class Request:
    """A request (``id`` set) or notification (``id`` is None) from the peer."""

    method: str
    params: Any = None
    id: int | str | None = None

    @property
    def is_notification(self) -> bool:
        return self.id is None


@attrs.define(slots=True)
class ErrorObject:
    """The ``error`` member of a response."""

    code: int
    message: str
    data: Any = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


@attrs.define(slots=True)
class Response:
    """A response from the peer; exactly one of ``result``/``error`` is meaningful."""

    id: int | str | None
    result: Any = None
    error: ErrorObject | None = None


@attrs.define(slots=True)
class Violation:
    """A frame that must be answered with ``error`` (``id`` is usually None).

    ``response_id`` is the id of an in-flight request this malformed response
    was evidently meant to answer, so the caller can be failed at once.
    """

    error: ErrorObject
    id: int | str | None = None
    response_id: int | str | None = None


def _valid_id(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is str or (kind is float and value.is_integer())


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return type(value).__name__


def decode_message(frame: bytes) -> Request | Response | Violation:
    """Classify one frame's JSON. Never raises."""
    try:
        obj = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        return parse_error(frame, exc)
    return classify(obj)


def parse_error(frame: bytes, exc: orjson.JSONDecodeError) -> Violation:
    """The ``-32700`` answer to a frame that is not JSON, saying why."""
    try:
        frame.decode("utf-8")
    except UnicodeDecodeError as uexc:
        reason = f"invalid UTF-8 at byte {uexc.start}"
    else:
        reason = f"invalid JSON: {exc}"
    return Violation(ErrorObject(PARSE_ERROR, f"Parse error: {reason}"))


def is_plain_result(obj: Any) -> bool:
    """Whether ``obj`` is a success response with an integer id: the frame a host gets most.

    For such an object :func:`classify` returns ``Response(id=obj["id"],
    result=obj["result"])``; the connection takes this shortcut on its hot
    path and leaves everything else to :func:`classify`.
    """
    return (
        obj.__class__ is dict
        and "result" in obj
        and "method" not in obj
        and obj.get("error") is None
        and obj.get("jsonrpc") == "2.0"
        and obj.get("id").__class__ is int
    )


def classify(obj: Any) -> Request | Response | Violation:
    """Classify parsed JSON as a request, a response or a violation. Never raises."""
    if type(obj) is not dict:
        if type(obj) is list:
            message = "Invalid Request: batch arrays are not supported; send one object per frame"
        else:
            message = f"Invalid Request: expected a JSON-RPC object, got {_describe(obj)}"
        return Violation(ErrorObject(INVALID_REQUEST, message))

    if "method" in obj:
        return _decode_request(obj)
    if "result" in obj or "error" in obj:
        return _decode_response(obj)
    return Violation(
        ErrorObject(INVALID_REQUEST, "Invalid Request: object has neither 'method' nor 'result'/'error'")
    )


def _decode_request(obj: dict[str, Any]) -> Request | Violation:
    raw_id = obj.get("id", _NO_ID)
    request_id = None
    if raw_id is not _NO_ID and raw_id is not None:
        if not _valid_id(raw_id):
            return Violation(ErrorObject(INVALID_REQUEST, "Invalid Request: 'id' must be a string or an integer"))
        request_id = raw_id
    if obj.get("jsonrpc") != "2.0":
        return Violation(
            ErrorObject(INVALID_REQUEST, "Invalid Request: 'jsonrpc' must be \"2.0\""), id=request_id
        )
    method = obj["method"]
    if type(method) is not str:
        return Violation(ErrorObject(INVALID_REQUEST, "Invalid Request: 'method' must be a string"), id=request_id)
    params = obj.get("params")
    if params is not None and type(params) not in (dict, list):
        return Violation(
            ErrorObject(INVALID_REQUEST, "Invalid Request: 'params' must be an object or an array"), id=request_id
        )
    return Request(method=method, params=params, id=request_id)


def _decode_response(obj: dict[str, Any]) -> Response | Violation:
    raw_id = obj.get("id")
    response_id = raw_id if _valid_id(raw_id) else None

    def invalid(reason: str) -> Violation:
        return Violation(ErrorObject(INVALID_REQUEST, f"Invalid Response: {reason}"), response_id=response_id)

    if obj.get("jsonrpc") != "2.0":
        return invalid("'jsonrpc' must be \"2.0\"")
    if "id" not in obj:
        return invalid("'id' is missing")
    if raw_id is not None and response_id is None:
        return invalid("'id' must be a string or an integer")
    has_result = "result" in obj
    error = obj.get("error")
    if has_result and error is not None:
        return invalid("both 'result' and 'error' are present")
    if has_result:
        return Response(id=raw_id, result=obj["result"])
    if type(error) is not dict or type(error.get("code")) is not int or type(error.get("message")) is not str:
        return invalid("'error' must be an object with an integer 'code' and a string 'message'")
    return Response(id=raw_id, error=ErrorObject(error["code"], error["message"], error.get("data")))


def encode_request(request_id: int | str | None, method: str, params: Any = None) -> bytes:
    """JSON bytes of a request (a notification when ``request_id`` is None)."""
    obj: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if request_id is not None:
        obj["id"] = request_id
    if params is not None:
        obj["params"] = params
    return orjson.dumps(obj)


def encode_result(request_id: int | str | None, result: Any) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "result": result})


def encode_error(request_id: int | str | None, error: ErrorObject) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "error": error.to_json()})
