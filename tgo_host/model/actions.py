"""JSON-ACTION: what a ``*/event`` returns (templates.md, actions).

An action is ``{"action": NAME, "data": {...}}``; each class below is one
action's ``data`` and names itself in the ``action`` ClassVar. ``data`` may be
left out for actions without required fields (refresh, close_modal, noop).
``open_url`` takes any URL a link may have (relative, http(s), mailto:, tel:
...) but never a script-capable one, so no front end is ever handed a
``javascript:`` link. Empty hint strings (the Go SDK's "not given") read as
absent. A ``batch`` sub-action with an unknown name is left out (the web app
skips it); an unknown top-level action is an error. Spec defaults
(``replace=False``, ``duration=3000``) are materialised and appear in
`action_to_json` output.
"""

from __future__ import annotations

from typing import Any, ClassVar, Union, get_args

import attrs

from .converter import converter, structure, to_validation_error, unstructure
from .errors import ValidationError
from .fields import Flag, Hint, LinkUrl, Measure, Open, Text, model
from .fixups import SKIPPED, note
from .tagged import register_tagged_union
from .ui import Template, UnknownTemplate, structure_child, ui_to_json


@model
class OpenUrlAction(Open):
    action: ClassVar[str] = "open_url"
    url: LinkUrl
    target: Hint | None = None  # _blank (the default), _self, or a window name


@model
class InsertTextAction(Open):
    action: ClassVar[str] = "insert_text"
    text: Text
    replace: Flag = Flag(False)


@model
class SendMessageAction(Open):
    action: ClassVar[str] = "send_message"
    content: Text
    content_type: Hint | None = None  # text, markdown


@model
class ShowToastAction(Open):
    action: ClassVar[str] = "show_toast"
    message: Text
    type: Hint | None = None  # success (the default), error, warning, info
    duration: Measure = Measure(3000)


@model
class CopyTextAction(Open):
    action: ClassVar[str] = "copy_text"
    text: Text
    toast: Text | None = None


@model
class RefreshAction(Open):
    action: ClassVar[str] = "refresh"


@model
class CloseModalAction(Open):
    action: ClassVar[str] = "close_modal"


@model
class ShowModalAction(Open):
    """A dialog showing ``content``; on the wire ``{"title", "template", "data"}``."""

    action: ClassVar[str] = "show_modal"
    content: Template | UnknownTemplate
    title: Text | None = None


@model
class NoopAction(Open):
    action: ClassVar[str] = "noop"
    log: Text | None = None


@model
class BatchAction(Open):
    action: ClassVar[str] = "batch"
    actions: list[Step]

    def __attrs_post_init__(self) -> None:
        self.actions = [a for a in self.actions if a.__class__ is not UnknownAction]

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
ACTION_NAMES: tuple[str, ...] = tuple(cls.action for cls in get_args(Action))


@attrs.define
class UnknownAction:
    """A ``batch`` sub-action no front end knows; `BatchAction` leaves it out."""

    name: str


#: One sub-action of a ``batch``.
Step = Union[Action, UnknownAction]

_structure_title = converter.get_structure_hook(Text | None)


def _structure_step(obj: Any, _: Any) -> Any:
    name = obj.get("action") if obj.__class__ is dict else None
    if name.__class__ is str and name not in ACTION_NAMES:
        note(SKIPPED, f"unknown action {name[:60]!r} left out of the batch (the web app skips it)")
        return UnknownAction(name)
    return _structure_action(obj, Action)


def _structure_show_modal(data: Any, _: Any) -> ShowModalAction:
    if data.__class__ is not dict:
        raise ValidationError("", "expected an object")
    try:
        title = _structure_title(data.get("title"), Text | None)
    except Exception as exc:
        raise to_validation_error(exc, "title") from None
    return ShowModalAction(content=structure_child(data), title=title)


def _unstructure_show_modal(modal: ShowModalAction) -> dict[str, Any]:
    data: dict[str, Any] = {"title": modal.title} if modal.title is not None else {}
    data.update(ui_to_json(modal.content))
    return {"action": "show_modal", "data": data}


converter.register_structure_hook(ShowModalAction, _structure_show_modal)
converter.register_structure_hook(Step, _structure_step)
attrs.resolve_types(BatchAction, globals())
_structure_action = register_tagged_union(
    Action, tag="action", noun="action", envelope=True, what="a JSON-ACTION", data_optional=True
)
converter.register_unstructure_hook(ShowModalAction, _unstructure_show_modal)


def parse_action(obj: Any) -> Action:
    """Validate an event result (``{"action": ..., "data": {...}}``); raises ValidationError."""
    action: Action = structure(obj, Action)
    return action


def action_to_json(action: Action) -> dict[str, Any]:
    """``{"action": NAME, "data": {...}}`` for ``action``, None fields left out."""
    out: dict[str, Any] = unstructure(action)
    return out
