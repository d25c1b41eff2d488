"""Failures of one host→plugin request, each naming the plugin (or peer) involved."""

from __future__ import annotations

from typing import Any


class RpcFailure(Exception):
    """Base class: a request to ``peer`` did not produce a usable result."""

    def __init__(self, peer: str, message: str) -> None:
        super().__init__(message)
        self.peer = peer
        self.message = message


class ConnectionLost(RpcFailure):
    """The connection closed before (or while) the request was answered."""

    def __init__(self, peer: str, reason: str) -> None:
        super().__init__(peer, f"connection to {peer} lost: {reason}")
        self.reason = reason


class RequestTimeout(RpcFailure):
    """The peer did not answer within the request's deadline."""

    def __init__(self, peer: str, method: str, timeout: float) -> None:
        super().__init__(peer, f"{peer} did not answer {method!r} within {timeout:g} s")
        self.method = method
        self.timeout = timeout


class RemoteError(RpcFailure):
    """The peer answered with a JSON-RPC error object."""

    def __init__(self, peer: str, method: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(peer, f"{peer} answered {method!r} with error {code}: {message}")
        self.method = method
        self.code = code
        self.error_message = message
        self.data = data


class InvalidResponse(RpcFailure):
    """The peer answered with something that is not a valid JSON-RPC response."""


class Busy(RpcFailure):
    """Too many requests are already in flight to this peer."""

    def __init__(self, peer: str, limit: int) -> None:
        super().__init__(peer, f"{peer} is busy: {limit} requests already in flight")
        self.limit = limit
