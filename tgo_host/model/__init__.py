"""The model layer: attrs classes for every message, JSON-UI template and
JSON-ACTION, validated through one cattrs converter. No I/O here.

Every ``parse_*`` function raises `ValidationError` (``.path``, ``.reason``)
for the first bad value; nothing else escapes for bad input.

Validation policy for what plugins send (docs/validation.md has the table):
lenient in what plugins send, exact in what the web app gets.

* Reject only what is unsafe or structurally meaningless: a result that is
  not an object, a missing or unknown top-level template or action, a
  missing required field, a script-capable URL (``javascript:``,
  ``vbscript:``, ``file:``, ``data:`` except raster images) in any URL
  position, an object or array where a scalar is shown, a list field that is
  not a list.
* Normalise what has an obvious meaning: ``""`` or null for an optional hint
  reads as absent, null for an optional field as its default, null for a
  shown value or required text as ``""``, an integer-valued float as an int,
  ``"true"``/``"false"`` as booleans, a number or boolean where text is
  expected as its text.
* Keep what is not understood: unknown hint strings (``type: "link"``,
  ``width: "30%"``, ``type: "email"``), unknown extra fields (written back
  out; a script URL among them is left out), free-form objects (``context``,
  ``payload``, ``form_data``, table rows) as given.
* Degrade locally: an unknown template nested in ``group``/``tabs``/
  ``show_modal`` becomes a placeholder (``{"template": NAME, "data": {}}``,
  shown as an "unknown template" box); an unknown ``batch`` sub-action is left
  out; an optional hint of the wrong type is left out.
* Report: every change of meaning is noted as a `FixUp` (path, kind,
  message); `collecting` gathers them for one parse, and the dispatcher passes
  them on as ``warnings``.
"""

from .actions import (
    ACTION_NAMES,
    Action,
    BatchAction,
    CloseModalAction,
    CopyTextAction,
    InsertTextAction,
    NoopAction,
    OpenUrlAction,
    RefreshAction,
    SendMessageAction,
    ShowModalAction,
    ShowToastAction,
    action_to_json,
    parse_action,
)
from .converter import converter, structure, unstructure
from .errors import ValidationError
from .fixups import FixUp, collecting
from .params import (
    ChannelManifest,
    ChannelSendMessageParams,
    ChatContext,
    ChatMessage,
    ChatToolbarEventParams,
    ChatToolbarRenderParams,
    EventRequest,
    IframeConfig,
    Location,
    OutgoingMessage,
    Recipient,
    RenderContextInfo,
    RenderRequest,
    SendMessageResult,
    ToolContext,
    ToolExecuteParams,
    ToolExecuteRequest,
    ToolResult,
    VisitorInfo,
    VisitorPanelEventParams,
    VisitorPanelRenderParams,
    VisitorPanelRenderRequest,
    event_params,
    parse_body,
    parse_channel_manifest,
    parse_iframe_config,
    parse_send_result,
    parse_tool_result,
    render_params,
    tool_params,
)
from .register import (
    CAPABILITY_TYPES,
    Capability,
    ChannelIntegrationCapability,
    ChatToolbarCapability,
    McpToolsCapability,
    RegisterParams,
    SidebarIframeCapability,
    ToolParameter,
    ToolSpec,
    VisitorPanelCapability,
    parse_register,
)
from .ui import TEMPLATE_NAMES, Template, parse_ui, ui_to_json

__all__ = [
    "ACTION_NAMES",
    "CAPABILITY_TYPES",
    "TEMPLATE_NAMES",
    "Action",
    "BatchAction",
    "Capability",
    "ChannelIntegrationCapability",
    "ChannelManifest",
    "ChannelSendMessageParams",
    "ChatContext",
    "ChatMessage",
    "ChatToolbarCapability",
    "ChatToolbarEventParams",
    "ChatToolbarRenderParams",
    "CloseModalAction",
    "CopyTextAction",
    "EventRequest",
    "FixUp",
    "IframeConfig",
    "InsertTextAction",
    "Location",
    "McpToolsCapability",
    "NoopAction",
    "OpenUrlAction",
    "OutgoingMessage",
    "Recipient",
    "RefreshAction",
    "RegisterParams",
    "RenderContextInfo",
    "RenderRequest",
    "SendMessageAction",
    "SendMessageResult",
    "ShowModalAction",
    "ShowToastAction",
    "SidebarIframeCapability",
    "Template",
    "ToolContext",
    "ToolExecuteParams",
    "ToolExecuteRequest",
    "ToolParameter",
    "ToolResult",
    "ToolSpec",
    "ValidationError",
    "VisitorInfo",
    "VisitorPanelCapability",
    "VisitorPanelEventParams",
    "VisitorPanelRenderParams",
    "VisitorPanelRenderRequest",
    "action_to_json",
    "collecting",
    "converter",
    "event_params",
    "parse_action",
    "parse_body",
    "parse_channel_manifest",
    "parse_iframe_config",
    "parse_register",
    "parse_send_result",
    "parse_tool_result",
    "parse_ui",
    "render_params",
    "structure",
    "tool_params",
    "ui_to_json",
    "unstructure",
]
