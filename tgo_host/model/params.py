"""Params of the host -> plugin business methods (protocol §5), the HTTP request
bodies that feed them (http-api.md), and the non-UI results plugins return.

Free-form objects (``visitor.metadata``, ``payload``, ``form_data``,
``arguments``, every render ``context``) are plain ``dict[str, Any]``, kept
as parsed: the web app puts ``channel_id``, ``channel_type``,
``platform_type`` (and more) into the visitor-panel ``context`` and plugins
key their data on them, so the host forwards it unchanged.

:func:`render_params` / :func:`event_params` / :func:`tool_params` give
every host -> plugin render, event and tool call its complete key set, as the
upstream runtime does.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import attrs

from .converter import structure
from .fields import HttpUrl, JSONObject, Number, Scalar, model

T = TypeVar("T")

# -- shared pieces ----------------------------------------------------------------


@model
class VisitorInfo:
    id: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    avatar: str | None = None
    platform_open_id: str | None = None
    first_seen_at: Scalar | None = None
    last_seen_at: Scalar | None = None
    metadata: JSONObject | None = None


@model
class Location:
    country: str | None = None
    city: str | None = None


@model
class RenderContextInfo:
    """The documented fields of the visitor_panel ``context`` (for reference and plugin authors).

    The host does not parse ``context`` into this class: it forwards the
    caller's object unchanged (extra fields such as ``channel_id`` included).
    """

    current_page: str | None = None
    referrer: str | None = None
    device: str | None = None
    browser: str | None = None
    location: Location | None = None


@model
class ChatMessage:
    role: str | None = None
    content: str | None = None
    timestamp: Scalar | None = None


@model
class ChatContext:
    """The conversation around a toolbar click (chat_toolbar ``context``)."""

    last_messages: list[ChatMessage] | None = None
    last_message: str | None = None
    input_text: str | None = None


# -- host -> plugin params ---------------------------------------------------------


@model
class VisitorPanelRenderParams:
    visitor_id: str | None = None
    session_id: str | None = None
    visitor: VisitorInfo | None = None
    context: JSONObject | None = None
    language: str | None = None


@model
class VisitorPanelEventParams:
    event_type: str
    action_id: str
    visitor_id: str | None = None
    session_id: str | None = None
    payload: JSONObject | None = None
    form_data: JSONObject | None = None
    selected_id: str | None = None
    language: str | None = None


@model
class ChatToolbarRenderParams:
    action_id: str | None = None
    session_id: str | None = None
    visitor_id: str | None = None
    visitor: VisitorInfo | None = None
    agent_id: str | None = None
    context: ChatContext | None = None
    language: str | None = None


@model
class ChatToolbarEventParams:
    event_type: str
    action_id: str
    selected_id: str | None = None
    form_data: JSONObject | None = None
    session_id: str | None = None
    visitor_id: str | None = None
    payload: JSONObject | None = None
    language: str | None = None


@model
class ToolExecuteParams:
    tool_name: str
    arguments: JSONObject = attrs.Factory(dict)
    visitor_id: str | None = None
    session_id: str | None = None
    agent_id: str | None = None
    language: str | None = None


@model
class Recipient:
    id: str


@model
class OutgoingMessage:
    type: str
    content: Any = None


@model
class ChannelSendMessageParams:
    channel_id: str
    to: Recipient
    message: OutgoingMessage


# -- HTTP request bodies -------------------------------------------------------------


@model
class RenderRequest:
    """Body of ``POST /plugins/{id}/render`` and ``/plugins/chat-toolbar/{id}/render``.

    ``context`` stays free-form: its shape depends on the extension point
    (`RenderContextInfo` or `ChatContext`); `parse_body` it into the right one.
    """

    visitor_id: str | None = None
    session_id: str | None = None
    visitor: VisitorInfo | None = None
    agent_id: str | None = None
    action_id: str | None = None
    language: str | None = None
    context: JSONObject | None = None


@model
class EventRequest:
    """Body of ``POST /plugins/{id}/event`` and ``/plugins/chat-toolbar/{id}/event``."""

    event_type: str
    action_id: str
    extension_type: Literal["visitor_panel", "chat_toolbar"] | None = None
    visitor_id: str | None = None
    session_id: str | None = None
    selected_id: str | None = None
    language: str | None = None
    form_data: JSONObject | None = None
    payload: JSONObject | None = None


@model
class VisitorPanelRenderRequest:
    """Body of ``POST /plugins/visitor-panel/render`` (the fan-out).

    ``context`` is free-form (see `RenderContextInfo` for its documented
    fields) and reaches plugins unchanged.
    """

    visitor_id: str
    session_id: str | None = None
    visitor: VisitorInfo | None = None
    language: str | None = None
    context: JSONObject | None = None


@model
class ToolContext:
    visitor_id: str | None = None
    session_id: str | None = None
    agent_id: str | None = None
    language: str | None = None


@model
class ToolExecuteRequest:
    """Body of ``POST /plugins/tools/execute/{plugin_id}/{tool_name}``."""

    arguments: JSONObject = attrs.Factory(dict)
    context: ToolContext = attrs.Factory(ToolContext)


# -- results ----------------------------------------------------------------------


@model
class ToolResult:
    success: bool
    content: Any = None
    data: Any = None
    error: str | None = None


@model
class SendMessageResult:
    success: bool
    message_id: str | None = None
    error: str | None = None


@model
class IframeConfig:
    url: HttpUrl
    title: str | None = None
    icon: str | None = None
    width: Number | None = None
    allow_fullscreen: bool | None = None
    sandbox: str | None = None
    permissions: list[str] | None = None


@model
class ChannelManifest:
    channel_type: str
    name: str
    icon: str | None = None
    description: str | None = None
    config_schema: JSONObject | None = None
    setup_guide: str | None = None
    webhook_endpoint: str | None = None
    capabilities: JSONObject | None = None


# -- complete params for render/event calls -------------------------------------------

#: Every key a render call carries, per extension point. The upstream runtime always
#: sends each one; the official Go SDK dereferences ``visitor`` and crashes without it.
_RENDER_KEYS: dict[str, tuple[str, ...]] = {
    "visitor_panel": ("visitor_id", "session_id", "visitor", "context", "language"),
    "chat_toolbar": ("action_id", "session_id", "visitor_id", "visitor", "agent_id", "context", "language"),
}
_EVENT_KEYS = ("event_type", "action_id", "visitor_id", "session_id", "selected_id", "language", "form_data", "payload")
_TOOL_KEYS = ("tool_name", "arguments", "visitor_id", "session_id", "agent_id", "language")
#: Keys whose value is an object: ``{}`` when absent or null, never missing or null.
_OBJECT_KEYS = ("visitor", "context", "form_data", "payload")


def _shape(keys: tuple[str, ...]) -> tuple[dict[str, None], tuple[str, ...]]:
    """(every key → None, the object keys among them), computed once per method."""
    return dict.fromkeys(keys), tuple(k for k in _OBJECT_KEYS if k in keys)


_RENDER_SHAPES = {extension: _shape(keys) for extension, keys in _RENDER_KEYS.items()}
_EVENT_SHAPE = _shape(_EVENT_KEYS)
_TOOL_SHAPE = _shape(_TOOL_KEYS)


def _complete(shape: tuple[dict[str, None], tuple[str, ...]], given: dict[str, Any]) -> dict[str, Any]:
    nulls, objects = shape
    params = {**nulls, **given}
    for key in objects:
        if params[key] is None:
            params[key] = {}
    return params


def render_params(extension: str, given: dict[str, Any]) -> dict[str, Any]:
    """``<extension>/render`` params: ``given`` plus every key of the extension point.

    Missing scalars are null; ``visitor`` and ``context`` are ``{}`` when
    absent or null. Other keys in ``given`` are kept. ``given`` is not changed.
    """
    return _complete(_RENDER_SHAPES.get(extension, _RENDER_SHAPES["visitor_panel"]), given)


def event_params(given: dict[str, Any]) -> dict[str, Any]:
    """``*/event`` params: ``given`` plus every event key (``form_data``/``payload`` ``{}`` when absent or null)."""
    return _complete(_EVENT_SHAPE, given)


def tool_params(given: dict[str, Any]) -> dict[str, Any]:
    """``tool/execute`` params: ``given`` plus ``visitor_id``, ``session_id``, ``agent_id``, ``language`` (null when not given)."""
    params = {**_TOOL_SHAPE[0], **given}
    if params["arguments"] is None:
        params["arguments"] = {}
    return params


def parse_body(obj: Any, cls: type[T]) -> T:
    """``obj`` (a parsed request body or params) as ``cls``; raises ValidationError."""
    return structure(obj, cls)


def parse_tool_result(obj: Any) -> ToolResult:
    """Validate a ``tool/execute`` result."""
    return structure(obj, ToolResult)


def parse_send_result(obj: Any) -> SendMessageResult:
    """Validate a ``channel_integration/send_message`` result."""
    return structure(obj, SendMessageResult)


def parse_iframe_config(obj: Any) -> IframeConfig:
    """Validate a ``sidebar_iframe/config`` result (``url`` must be http or https)."""
    return structure(obj, IframeConfig)


def parse_channel_manifest(obj: Any) -> ChannelManifest:
    """Validate a ``channel_integration/manifest`` result."""
    return structure(obj, ChannelManifest)
