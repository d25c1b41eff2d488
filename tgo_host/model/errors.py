"""The one error the model layer raises: a reason plus the path to the first bad field."""

from __future__ import annotations

from typing import Any

from ..errors import HostError


class ValidationError(HostError, ValueError):
    """Input that does not fit the model (``invalid_request``, 422, naming ``path`` in an HTTP error body).

    ``path`` locates the first bad value (``"capabilities[1].type"``,
    ``"data.items[0].label"``; ``""`` for the root) and ``reason`` says what is
    wrong with it (``"required"``, ``"expected a string"``, ...).
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason

    kind = "invalid_request"
    status_hint = 422

    def error_fields(self, plugin_id: str | None = None) -> dict[str, Any]:
        return {"path": self.path}

    def __reduce__(self) -> tuple[type[ValidationError], tuple[str, str]]:
        return (type(self), (self.path, self.reason))


def join_path(head: str, tail: str) -> str:
    """Join two path fragments: ``join_path("data", "items[0]")`` -> ``"data.items[0]"``."""
    if not head:
        return tail
    if not tail:
        return head
    if tail[0] == "[":
        return head + tail
    return f"{head}.{tail}"
