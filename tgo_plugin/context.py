"""Request contexts handed to handlers: the params as attributes, plus ``.raw``.

Fields the host did not send read as ``None`` (dict-valued fields such as
``context``, ``form_data``, ``payload`` and ``arguments`` read as ``{}``).
Unknown fields are reachable as attributes too (``ctx.some_new_field``), or
via ``ctx.get(name)`` / ``ctx[name]``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Visitor", "RenderContext", "EventContext", "ToolContext"]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class _Params:
    _dict_fields: tuple[str, ...] = ()
    _fields: tuple[str, ...] = ()

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.raw: dict[str, Any] = dict(params) if isinstance(params, dict) else {}
        for name in self._fields:
            setattr(self, name, self.raw.get(name))
        for name in self._dict_fields:
            setattr(self, name, _dict(self.raw.get(name)))

    def __getattr__(self, name: str) -> Any:  # only called for unknown attributes
        if name.startswith("_") or name == "raw":
            raise AttributeError(name)
        return self.raw.get(name)

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def __contains__(self, key: object) -> bool:
        return key in self.raw

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.raw!r})"


class Visitor(_Params):
    """The visitor: ``id``, ``name``, ``email``, ``phone``, ``avatar``, ``metadata`` …"""

    _fields = ("id", "name", "email", "phone", "avatar", "platform_open_id",
               "first_seen_at", "last_seen_at")
    _dict_fields = ("metadata",)


class _WithVisitor(_Params):
    def __init__(self, params: dict[str, Any] | None = None) -> None:
        super().__init__(params)
        raw_visitor = self.raw.get("visitor")
        self.visitor: Visitor | None = Visitor(raw_visitor) if isinstance(raw_visitor, dict) else None
        if self.raw.get("visitor_id") is None and self.visitor is not None:
            self.visitor_id = self.visitor.id


class RenderContext(_WithVisitor):
    """Params of ``*/render``."""

    _fields = ("visitor_id", "session_id", "agent_id", "action_id", "language")
    _dict_fields = ("context",)


class EventContext(_WithVisitor):
    """Params of ``*/event``."""

    _fields = ("event_type", "action_id", "visitor_id", "session_id", "selected_id",
               "agent_id", "language")
    _dict_fields = ("form_data", "payload", "context")


class ToolContext(_WithVisitor):
    """Params of ``tool/execute``."""

    _fields = ("tool_name", "visitor_id", "session_id", "agent_id", "language")
    _dict_fields = ("arguments",)
