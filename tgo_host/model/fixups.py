"""Fix-ups: what validation changed or dropped in a plugin's output, with the path.

Hooks call `note()` while a value is structured; `collecting()` gathers the
notes of one parse. Outside `collecting()` a note costs one context-variable
read and is discarded. Paths are filled in from the inside out: each
container hook prefixes the notes its child added (`prefix_since`).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import attrs

from .errors import join_path

#: The kinds of fix-up, for counters and log lines.
COERCED = "coerced"  # a loose value read as the expected type ("true" -> true, 5 -> "5")
DROPPED = "dropped"  # an optional value that could not be used, left out
PLACEHOLDER = "placeholder"  # an unknown nested template, kept as an "unknown template" box
SKIPPED = "skipped"  # an unknown sub-action of a batch, left out (the web app skips it)
FILLED = "filled"  # a registration field the gateway requires, filled in (title from name)
KINDS = (COERCED, DROPPED, PLACEHOLDER, SKIPPED, FILLED)


@attrs.define
class FixUp:
    """One change: ``path`` (``"data.items[0].copyable"``), ``kind`` (one of `KINDS`), ``message``."""

    path: str
    kind: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "kind": self.kind, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


_SINK: ContextVar[list[FixUp] | None] = ContextVar("tgo_host_fixups", default=None)


def note(kind: str, message: str, path: str = "") -> None:
    """Record a fix-up at ``path`` (relative to the value being structured)."""
    sink = _SINK.get()
    if sink is not None:
        sink.append(FixUp(path, kind, message))


def current() -> list[FixUp] | None:
    """The list notes go to, or None when nobody is collecting."""
    return _SINK.get()


def prefix_since(sink: list[FixUp], start: int, head: str) -> None:
    """Prefix ``head`` to the paths of the notes added since ``start``."""
    for fixup in sink[start:]:
        fixup.path = join_path(head, fixup.path)


class collecting:
    """``with collecting() as fixups:`` collects the fix-ups noted inside the block into ``fixups``.

    A class, not a generator context manager: it is entered once per validated
    plugin result (a fan-out enters it once per panel), and this costs a quarter as much.
    """

    __slots__ = ("sink", "token")

    def __enter__(self) -> list[FixUp]:
        self.sink: list[FixUp] = []
        self.token = _SINK.set(self.sink)
        return self.sink

    def __exit__(self, *exc_info: object) -> None:
        _SINK.reset(self.token)


def describe_value(value: Any) -> str:
    """``value`` as a short JSON-ish literal for messages."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
