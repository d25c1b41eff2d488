"""Checking a handler's result by the host's own rules, before the host sees it.

The rules live in one place: the host's model layer (``tgo_host.model``),
which the ``tgo-host`` package installs next to this SDK. ``check_result``
runs the very parse the host runs when the answer arrives, so what it refuses
here is what the host would refuse (and only that). Where ``tgo_host`` cannot
be imported (a plugin run with the standard library only), nothing is checked
here; the host still checks every answer on arrival.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["InvalidResult", "check_result", "host_rules_available"]


class InvalidResult(ValueError):
    """A result the host would refuse: ``method``, ``path`` (e.g. ``data.items[0].value``), ``reason``."""

    def __init__(self, method: str, path: str, reason: str) -> None:
        where = f"{path}: " if path else ""
        what = f"this {method}" if method in ("template", "action") else f"this {method} result"
        super().__init__(f"the host would refuse {what}: {where}{reason}")
        self.method = method
        self.path = path
        self.reason = reason


def _host_model() -> Any:
    try:
        from tgo_host import model
    except ImportError:  # the SDK alone (standard library only)
        return None
    return model


def host_rules_available() -> bool:
    """Whether results are checked here (``tgo_host`` is importable)."""
    return _host_model() is not None


def _parser(model: Any, method: str) -> Callable[[Any], Any] | None:
    """The host's parse for the answer to ``method`` (or for a bare ``template``/``action``);
    None for methods whose answer it does not check."""
    parse: Callable[[Any], Any] | None
    if method == "template" or method.endswith("/render"):
        parse = model.parse_ui
    elif method == "action" or method.endswith("/event"):
        parse = model.parse_action
    else:
        parse = {
            "tool/execute": model.parse_tool_result,
            "sidebar_iframe/config": model.parse_iframe_config,
            "channel_integration/manifest": model.parse_channel_manifest,
            "channel_integration/send_message": model.parse_send_result,
        }.get(method)
    return parse


def check_result(method: str, result: Any) -> None:
    """Raise :class:`InvalidResult` if the host would refuse ``result`` as the answer to ``method``."""
    model = _host_model()
    parse = _parser(model, method) if model is not None else None
    if parse is None:
        return
    check_depth: Callable[[Any], None] | None
    try:
        from tgo_host.model.depth import check_depth
    except ImportError:  # an older host without a depth limit
        check_depth = None
    try:
        if check_depth is not None:
            check_depth(result)
        parse(result)
    except model.ValidationError as exc:
        raise InvalidResult(method, exc.path, exc.reason) from None
