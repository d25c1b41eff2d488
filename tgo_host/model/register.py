"""The ``register`` request a plugin sends first (protocol §4), and its capabilities.

Each capability class names its ``type`` in a ClassVar; `unstructure` writes it
back as the ``"type"`` key. Spec defaults (``priority=10``, empty lists) are
materialised, and a list field given null reads as empty (the Go SDK marshals
nil slices as null).
"""

from __future__ import annotations

from typing import Any, ClassVar, Union

import attrs

from .converter import structure
from .errors import ValidationError
from .fields import HttpUrl, Number, Scalar, model
from .tagged import register_tagged_union


def _empty_to_none(value: str | None) -> str | None:
    return value or None


@model
class VisitorPanelCapability:
    type: ClassVar[str] = "visitor_panel"
    title: str
    icon: str | None = None
    priority: int = 10
    refresh_on: list[str] = attrs.Factory(list)

    @property
    def display_title(self) -> str:
        return self.title


@model
class ChatToolbarCapability:
    type: ClassVar[str] = "chat_toolbar"
    title: str
    icon: str | None = None
    tooltip: str | None = None
    shortcut: str | None = None

    @property
    def display_title(self) -> str:
        return self.title


@model
class SidebarIframeCapability:
    type: ClassVar[str] = "sidebar_iframe"
    title: str
    icon: str | None = None
    url: HttpUrl | None = None
    width: Number | None = None
    min_width: Number | None = None
    max_width: Number | None = None
    allow_fullscreen: bool | None = None

    @property
    def display_title(self) -> str:
        return self.title


@model
class ChannelIntegrationCapability:
    """Needs ``title`` or ``name`` (the docs' own example sends only ``name``)."""

    type: ClassVar[str] = "channel_integration"
    channel_type: str | None = None
    name: str | None = None
    title: str | None = None
    icon: str | None = None
    description: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.title is None and self.name is None:
            raise ValidationError("title", "required (or name)")

    @property
    def display_title(self) -> str:
        return self.title or self.name or ""


@model
class ToolParameter:
    name: str
    type: str = "string"
    description: str | None = None
    required: bool = False
    enum_values: list[Scalar] | None = None


@model
class ToolSpec:
    name: str
    title: str | None = None
    description: str | None = None
    parameters: list[ToolParameter] = attrs.Factory(list)


@model
class McpToolsCapability:
    type: ClassVar[str] = "mcp_tools"
    title: str
    tools: list[ToolSpec] = attrs.Factory(list)

    @property
    def display_title(self) -> str:
        return self.title


Capability = Union[
    VisitorPanelCapability,
    ChatToolbarCapability,
    SidebarIframeCapability,
    ChannelIntegrationCapability,
    McpToolsCapability,
]
CAPABILITY_TYPES: tuple[str, ...] = tuple(cls.type for cls in Capability.__args__)

register_tagged_union(Capability, tag="type", noun="capability type", envelope=False)


@model
class RegisterParams:
    """``register`` params. ``id`` and ``dev_token`` given as ``""`` read as None.

    ``dev_token`` is a secret: kept out of ``repr`` (but not out of `unstructure`).
    """

    name: str
    version: str = ""
    id: str | None = attrs.field(default=None, converter=_empty_to_none)
    description: str | None = None
    author: str | None = None
    homepage: str | None = None
    dev_token: str | None = attrs.field(default=None, converter=_empty_to_none, repr=False)
    capabilities: list[Capability] = attrs.Factory(list)


def parse_register(obj: Any) -> RegisterParams:
    """Validate ``register`` params; raises ValidationError (path e.g. ``capabilities[1].type``)."""
    return structure(obj, RegisterParams)
