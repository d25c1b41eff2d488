"""Failures of one host→plugin request, each naming the plugin (or peer) involved.

Each carries its ``kind`` and ``status_hint`` (:mod:`tgo_host.errors`) and its
``outcome``: the short name fan-out errors (``PanelError.error``) and the
request metrics use.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import HostError


class RpcFailure(HostError):
    """Base class: a request to ``peer`` did not produce a usable result."""

    kind = "plugin_failure"
    status_hint = 502
    outcome: ClassVar[str] = "disconnected"

    def __init__(self, peer: str, message: str) -> None:
        super().__init__(message)
        self.peer = peer
        self.message = message


class ConnectionLost(RpcFailure):
    """The connection closed before (or while) the request was answered."""

    kind = "plugin_disconnected"

    def __init__(self, peer: str, reason: str) -> None:
        super().__init__(peer, f"connection to {peer} lost: {reason}")
        self.reason = reason


class RequestTimeout(RpcFailure):
    """The peer did not answer within the request's deadline."""

    kind = "plugin_timeout"
    status_hint = 504
    outcome = "timeout"

    def __init__(self, peer: str, method: str, timeout: float) -> None:
        super().__init__(peer, f"{peer} did not answer {method!r} within {timeout:g} s")
        self.method = method
        self.timeout = timeout


class RemoteError(RpcFailure):
    """The peer answered with a JSON-RPC error object (quoted as ``rpc_error`` in an HTTP error body)."""

    kind = "plugin_error"
    outcome = "plugin_error"

    def __init__(self, peer: str, method: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(peer, f"{peer} answered {method!r} with error {code}: {message}")
        self.method = method
        self.code = code
        self.error_message = message
        self.data = data

    def error_fields(self, plugin_id: str | None = None) -> dict[str, Any]:
        rpc: dict[str, Any] = {"code": self.code, "message": self.error_message}
        if self.data is not None:
            rpc["data"] = self.data
        return {"plugin_id": plugin_id, "rpc_error": rpc}


class InvalidResponse(RpcFailure):
    """The peer answered with something that is not a valid JSON-RPC response."""

    kind = "invalid_plugin_result"
    outcome = "invalid_result"


class Busy(RpcFailure):
    """Too many requests are already in flight to this peer."""

    kind = "plugin_busy"
    status_hint = 503
    retry_after = 1
    outcome = "busy"

    def __init__(self, peer: str, limit: int) -> None:
        super().__init__(peer, f"{peer} is busy: {limit} requests already in flight")
        self.limit = limit
