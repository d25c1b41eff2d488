"""How deep and how large a decoded JSON value is, checked before anything else touches it.

Free-form data (table rows, error ``data``, ``context``, ``metadata``, tool
``arguments``) is plain JSON to the models, so nothing in the templates
bounds its nesting. JSON encoders do bound it (orjson refuses to encode past
254 levels), so a value that decodes fine can still be impossible to send on.
:func:`check_depth` is the one bound the host applies to every value a plugin
returns and every HTTP body: at most :data:`MAX_JSON_DEPTH` nested containers.

:func:`check_size` does the same walk but stops after a number of nodes, so a
caller can decide cheaply whether a value is small enough to validate on the
event loop or should go to a worker thread.
"""

from __future__ import annotations

from typing import Any

from .errors import ValidationError

MAX_JSON_DEPTH = 64  # nested objects/arrays; documented in docs/reliability.md and the README

_CONTAINERS = (dict, list)


def check_size(value: Any, *, max_nodes: int, limit: int = MAX_JSON_DEPTH) -> bool:
    """Check the depth of ``value`` while counting its nodes; ``False`` once more than ``max_nodes`` were seen.

    Returns ``True`` when the whole value was walked (it is within ``limit``
    and has at most ``max_nodes`` nodes), ``False`` when the walk stopped
    early (the value is large; its depth is not fully checked). Raises
    :class:`ValidationError` (path of the first too-deep container) when a
    part it walked is nested deeper than ``limit``. Values are decoded JSON:
    containers are exactly ``dict`` and ``list``.
    """
    kind = type(value)
    if kind is not dict and kind is not list:
        return True
    stack = [(value, 1)]
    nodes = 0
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        nodes += len(node)
        if nodes > max_nodes:
            return False
        for child in node.values() if type(node) is dict else node:
            kind = type(child)
            if kind is dict or kind is list:
                if depth >= limit:
                    raise _too_deep(value, limit)
                push((child, depth + 1))
    return True


def check_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`ValidationError` if ``value`` nests more than ``limit`` objects/arrays.

    The error's path locates the first container past the limit
    (``"data.rows[0].x[0]…"``); the walk is iterative, so any depth is safe.
    """
    check_size(value, max_nodes=2**62, limit=limit)


def _too_deep(value: Any, limit: int) -> ValidationError:
    """The error naming the path of the first container (depth-first) at depth ``limit + 1``."""
    keys = _deep_path(value, 1, limit) or []
    path = ""
    for key in reversed(keys):
        path += f"[{key}]" if isinstance(key, int) else (f".{key}" if path else str(key))
    return ValidationError(path, f"nested deeper than {limit} levels (the host's limit for JSON values)")


def _deep_path(node: Any, depth: int, limit: int) -> list[Any] | None:
    """Keys (innermost first) down to the first container past ``limit``; recursion stays within ``limit``."""
    for key, child in node.items() if type(node) is dict else enumerate(node):
        kind = type(child)
        if kind is dict or kind is list:
            if depth >= limit:
                return [key]
            found = _deep_path(child, depth + 1, limit)
            if found is not None:
                found.append(key)
                return found
    return None
