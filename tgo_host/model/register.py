"""The ``register`` request a plugin sends first (protocol §4), and its capabilities.

Each capability class names its ``type`` in a ClassVar; `unstructure` writes it
back as the ``"type"`` key. Spec defaults (``priority=10``, empty lists) are
materialised, and a list field given null reads as empty (the Go SDK marshals
nil slices as null).

What is accepted here is listed by ``/plugins`` and re-validated by the TGO
gateway, so every capability leaves in a shape the gateway parses: a string
``title`` (filled from ``name``, the plugin's name or the tool's name when
missing, noted as a fix-up), a ``priority`` (default 10), tool ``enum_values``
as strings, whole-pixel sizes (rounded, noted). What cannot be put in that
shape is refused with the field's path.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, NewType, Union, get_args

import attrs

from .converter import converter, structure
from .errors import ValidationError
from .fields import HttpUrl, Scalar, model
from .fixups import COERCED, FILLED, note
from .tagged import register_tagged_union


def _empty_to_none(value: str | None) -> str | None:
    return value or None


#: A size in pixels: the gateway takes integers, so a fractional number is rounded (noted).
Pixels = NewType("Pixels", int)


def _structure_pixels(value: Any, _: Any) -> int:
    if value.__class__ is int:
        return value
    if value.__class__ is float and math.isfinite(value):
        rounded = math.floor(value + 0.5)
        if rounded != value:
            note(COERCED, f"{value} rounded to {rounded} (the gateway takes whole pixels)")
        return rounded
    raise ValidationError("", "expected a number of pixels")


converter.register_structure_hook(Pixels, _structure_pixels)


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
    priority: int = 10

    @property
    def display_title(self) -> str:
        return self.title


@model
class SidebarIframeCapability:
    type: ClassVar[str] = "sidebar_iframe"
    title: str
    icon: str | None = None
    url: HttpUrl | None = None
    width: Pixels | None = None
    min_width: Pixels | None = None
    max_width: Pixels | None = None
    allow_fullscreen: bool | None = None
    priority: int = 10

    @property
    def display_title(self) -> str:
        return self.title


@model
class ChannelIntegrationCapability:
    """Needs ``title`` or ``name`` (the docs' own example sends only ``name``);
    a missing title is filled from ``name``."""

    type: ClassVar[str] = "channel_integration"
    channel_type: str | None = None
    name: str | None = None
    title: str | None = None
    icon: str | None = None
    description: str | None = None
    priority: int = 10

    def __attrs_post_init__(self) -> None:
        if self.title is None:
            if self.name is None:
                raise ValidationError("title", "required (or name)")
            self.title = self.name
            note(FILLED, "title filled from name", "title")

    @property
    def display_title(self) -> str:
        return self.title or ""


@model
class ToolParameter:
    name: str
    type: str = "string"
    description: str | None = None
    required: bool = False
    enum_values: list[Scalar] | None = None

    def __attrs_post_init__(self) -> None:
        if self.enum_values and any(v.__class__ is not str for v in self.enum_values):
            note(COERCED, "non-string values read as strings (the gateway takes strings)", "enum_values")
            self.enum_values = [_as_text(v) for v in self.enum_values]


def _as_text(value: Any) -> str:
    if value.__class__ is bool:
        return "true" if value else "false"
    if value.__class__ is float and value.is_integer():
        return str(int(value))
    return str(value)


@model
class ToolSpec:
    """A tool; a missing ``title`` is filled from ``name``."""

    name: str
    title: str | None = None
    description: str | None = None
    parameters: list[ToolParameter] = attrs.Factory(list)

    def __attrs_post_init__(self) -> None:
        if self.title is None:
            self.title = self.name
            note(FILLED, "title filled from the tool's name", "title")


@model
class McpToolsCapability:
    """A missing ``title`` is filled from the plugin's name by `RegisterParams`."""

    type: ClassVar[str] = "mcp_tools"
    title: str | None = None
    tools: list[ToolSpec] = attrs.Factory(list)
    priority: int = 10

    @property
    def display_title(self) -> str:
        return self.title or ""


Capability = Union[
    VisitorPanelCapability,
    ChatToolbarCapability,
    SidebarIframeCapability,
    ChannelIntegrationCapability,
    McpToolsCapability,
]
CAPABILITY_TYPES: tuple[str, ...] = tuple(cls.type for cls in get_args(Capability))

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

    def __attrs_post_init__(self) -> None:
        for index, capability in enumerate(self.capabilities):
            if capability.__class__ is McpToolsCapability and capability.title is None:
                capability.title = self.name
                note(FILLED, "title filled from the plugin's name", f"capabilities[{index}].title")


def parse_register(obj: Any) -> RegisterParams:
    """Validate ``register`` params; raises ValidationError (path e.g. ``capabilities[1].type``)."""
    return structure(obj, RegisterParams)
