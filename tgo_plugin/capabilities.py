"""Capability declarations sent in ``register`` (``Capability.visitor_panel(...)`` etc.)."""

from __future__ import annotations

from typing import Any, Iterable

from .protocol import to_jsonable

__all__ = ["Capability", "Tool", "ToolParameter"]


def _compact(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class ToolParameter:
    """One parameter of an MCP tool."""

    def __init__(self, name: str, type: str = "string", description: str = "",
                 required: bool = False, enum_values: list[Any] | None = None) -> None:
        self.name, self.type, self.description = name, type, description
        self.required, self.enum_values = required, enum_values

    def to_dict(self) -> dict[str, Any]:
        return _compact(name=self.name, type=self.type, description=self.description,
                        required=self.required, enum_values=self.enum_values)


class Tool:
    """An MCP tool offered by an ``mcp_tools`` capability."""

    def __init__(self, name: str, description: str = "",
                 parameters: Iterable[ToolParameter | dict[str, Any]] | None = None,
                 title: str | None = None) -> None:
        self.name, self.description, self.title = name, description, title
        self.parameters = list(parameters or [])

    def add_parameter(self, name: str, type: str = "string", description: str = "",
                      required: bool = False, enum_values: list[Any] | None = None) -> Tool:
        self.parameters.append(ToolParameter(name, type, description, required, enum_values))
        return self

    def to_dict(self) -> dict[str, Any]:
        return _compact(name=self.name, title=self.title, description=self.description,
                        parameters=to_jsonable(self.parameters))


class Capability:
    """One extension point. Build with the static helpers; ``to_dict()`` is the wire shape."""

    def __init__(self, type: str, **fields: Any) -> None:
        self.type = type
        self.fields = _compact(**fields)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **to_jsonable(self.fields)}

    def __repr__(self) -> str:
        return f"Capability({self.to_dict()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Capability):
            return self.to_dict() == other.to_dict()
        if isinstance(other, dict):
            return self.to_dict() == other
        return NotImplemented

    @staticmethod
    def visitor_panel(title: str, icon: str | None = None, priority: int = 10,
                      refresh_on: list[str] | None = None, **extra: Any) -> Capability:
        return Capability("visitor_panel", title=title, icon=icon, priority=priority,
                          refresh_on=refresh_on, **extra)

    @staticmethod
    def chat_toolbar(title: str, icon: str | None = None, tooltip: str | None = None,
                     shortcut: str | None = None, priority: int | None = None,
                     **extra: Any) -> Capability:
        return Capability("chat_toolbar", title=title, icon=icon, tooltip=tooltip,
                          shortcut=shortcut, priority=priority, **extra)

    @staticmethod
    def sidebar_iframe(title: str, url: str, icon: str | None = None, width: int = 400,
                       min_width: int | None = None, max_width: int | None = None,
                       allow_fullscreen: bool | None = None, **extra: Any) -> Capability:
        return Capability("sidebar_iframe", title=title, icon=icon, url=url, width=width,
                          min_width=min_width, max_width=max_width,
                          allow_fullscreen=allow_fullscreen, **extra)

    @staticmethod
    def channel_integration(channel_type: str, name: str, icon: str | None = None,
                            title: str | None = None, **extra: Any) -> Capability:
        return Capability("channel_integration", channel_type=channel_type, name=name,
                          icon=icon, title=title, **extra)

    @staticmethod
    def mcp_tools(tools: Iterable[Tool | dict[str, Any]], title: str = "Tools", icon: str | None = None,
                  **extra: Any) -> Capability:
        return Capability("mcp_tools", title=title, icon=icon, tools=list(tools), **extra)
