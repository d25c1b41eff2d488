"""JSON-ACTION builders: ``Action.show_toast("Saved").then(Action.close_modal())``."""

from __future__ import annotations

from typing import Any

from .protocol import to_jsonable
from .validation import check_result

__all__ = ["Action"]


def _compact(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class Action:
    """One action, or a chain of them (serialised as a ``batch``).

    ``then`` returns a new chain and never mutates its operands; chains and
    explicit batches are flattened, order kept.
    """

    def __init__(self, action: str, data: dict[str, Any] | None = None) -> None:
        self._steps: list[tuple[str, dict[str, Any]]]
        if action == "batch":
            self._steps = [s for a in (data or {}).get("actions", []) for s in _as_action(a)._steps]
        else:
            self._steps = [(action, dict(data or {}))]

    @classmethod
    def _from_steps(cls, steps: list[tuple[str, dict[str, Any]]]) -> Action:
        obj = cls.__new__(cls)
        obj._steps = steps
        return obj

    @property
    def action(self) -> str:
        return self._steps[0][0] if len(self._steps) == 1 else "batch"

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.to_dict()["data"]
        return data

    def then(self, other: Action | dict[str, Any]) -> Action:
        """Run ``self`` then ``other``."""
        return Action._from_steps(self._steps + _as_action(other)._steps)

    def to_dict(self) -> dict[str, Any]:
        steps = [{"action": name, "data": to_jsonable(data)} for name, data in self._steps]
        if len(steps) == 1:
            return steps[0]
        return {"action": "batch", "data": {"actions": steps}}

    def validate(self) -> Action:
        """Check this action by the host's rules (``tgo_host`` installed); raises ``InvalidResult``."""
        check_result("action", self.to_dict())
        return self

    def __repr__(self) -> str:
        return f"Action({self.to_dict()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Action):
            return self.to_dict() == other.to_dict()
        if isinstance(other, dict):
            return self.to_dict() == other
        return NotImplemented

    # -- constructors -----------------------------------------------------

    @staticmethod
    def open_url(url: str, target: str | None = None) -> Action:
        return Action("open_url", _compact(url=url, target=target))

    @staticmethod
    def insert_text(text: str, replace: bool | None = None) -> Action:
        return Action("insert_text", _compact(text=text, replace=replace))

    @staticmethod
    def send_message(content: str, content_type: str | None = None) -> Action:
        return Action("send_message", _compact(content=content, content_type=content_type))

    @staticmethod
    def show_toast(message: str, type: str | None = None, duration: int | None = None) -> Action:
        return Action("show_toast", _compact(message=message, type=type, duration=duration))

    @staticmethod
    def copy_text(text: str, toast: str | None = None) -> Action:
        return Action("copy_text", _compact(text=text, toast=toast))

    @staticmethod
    def refresh() -> Action:
        return Action("refresh")

    @staticmethod
    def close_modal() -> Action:
        return Action("close_modal")

    @staticmethod
    def noop(log: str | None = None) -> Action:
        return Action("noop", _compact(log=log))

    @staticmethod
    def show_modal(title: str | None, template: Any) -> Action:
        """Open a dialog showing ``template`` (a builder or a JSON-UI dict)."""
        ui = to_jsonable(template)
        return Action("show_modal", _compact(title=title, template=ui["template"],
                                             data=ui.get("data", {})))

    @staticmethod
    def batch(*actions: Action | dict[str, Any]) -> Action:
        """Chain several actions explicitly."""
        return Action._from_steps([s for a in actions for s in _as_action(a)._steps])


def _as_action(value: Action | dict[str, Any]) -> Action:
    if isinstance(value, Action):
        return value
    if isinstance(value, dict) and isinstance(value.get("action"), str):
        return Action(value["action"], value.get("data") or {})
    raise TypeError(f"not an action: {value!r}")
