"""JSON-ACTION: what a ``*/event`` returns (templates.md, actions).

An action is ``{"action": NAME, "data": {...}}``; each class below is one
action's ``data`` and names itself in the ``action`` ClassVar. ``data`` may be
left out for actions without required fields (refresh, close_modal, noop).
``open_url`` only takes absolute http(s) URLs, so no front end is ever handed a
``javascript:`` link. Spec defaults (``replace=False``, ``duration=3000``) are
materialised and appear in `action_to_json` output.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Union

from .converter import converter, structure, to_validation_error, unstructure
from .errors import ValidationError
from .fields import HttpUrl, Number, model
from .tagged import register_tagged_union
from .ui import Template, ui_to_json

@model
class OpenUrlAction:
    action: ClassVar[str] = "open_url"
    url: HttpUrl
    target: Literal["_blank", "_self"] | None = None

@model
class InsertTextAction:
    action: ClassVar[str] = "insert_text"
    text: str
    replace: bool = False

@model
class SendMessageAction:
    action: ClassVar[str] = "send_message"
    content: str
    content_type: Literal["text", "markdown"] | None = None

@model
class ShowToastAction:
    action: ClassVar[str] = "show_toast"
    message: str
    type: Literal["success", "error", "warning", "info"] | None = None
    duration: Number = 3000

@model
class CopyTextAction:
    action: ClassVar[str] = "copy_text"
    text: str
    toast: str | None = None

@model
class RefreshAction:
    action: ClassVar[str] = "refresh"

@model
class CloseModalAction:
    action: ClassVar[str] = "close_modal"

@model
class ShowModalAction:
    """A dialog showing ``content``; on the wire ``{"title", "template", "data"}``."""

    action: ClassVar[str] = "show_modal"
    content: Template
    title: str | None = None

@model
class NoopAction:
    action: ClassVar[str] = "noop"
    log: str | None = None

@model
class BatchAction:
    action: ClassVar[str] = "batch"
    actions: list[Action]

Action = Union[
    OpenUrlAction,
    InsertTextAction,
    SendMessageAction,
    ShowToastAction,
    CopyTextAction,
    RefreshAction,
    CloseModalAction,
    ShowModalAction,
    NoopAction,
    BatchAction,
]
ACTION_NAMES: tuple[str, ...] = tuple(cls.action for cls in Action.__args__)

_structure_template = converter.get_structure_hook(Template)
_structure_title = converter.get_structure_hook(str | None)


def _structure_show_modal(data: Any, _: Any) -> ShowModalAction:
    if data.__class__ is not dict:
        raise ValidationError("", "expected an object")
    try:
        title = _structure_title(data.get("title"), str | None)
    except Exception as exc:
        raise to_validation_error(exc, "title") from None
    return ShowModalAction(content=_structure_template(data, Template), title=title)


def _unstructure_show_modal(modal: ShowModalAction) -> dict[str, Any]:
    data: dict[str, Any] = {"title": modal.title} if modal.title is not None else {}
    data.update(ui_to_json(modal.content))
    return {"action": "show_modal", "data": data}


converter.register_structure_hook(ShowModalAction, _structure_show_modal)
register_tagged_union(
    Action, tag="action", noun="action", envelope=True, what="a JSON-ACTION", data_optional=True
)
converter.register_unstructure_hook(ShowModalAction, _unstructure_show_modal)


def parse_action(obj: Any) -> Action:
    """Validate an event result (``{"action": ..., "data": {...}}``); raises ValidationError."""
    return structure(obj, Action)


def action_to_json(action: Action) -> dict[str, Any]:
    """``{"action": NAME, "data": {...}}`` for ``action``, None fields left out."""
    return unstructure(action)
