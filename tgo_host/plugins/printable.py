"""Text from plugins and HTTP callers made safe for one log line: printable names, escaped control characters."""

from __future__ import annotations


def loggable(text: str) -> str:
    """``text`` with every unprintable character (newline, ESC, bidi controls, …) escaped as ``\\xNN``/``\\uNNNN``."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def unprintable_reason(value: str) -> str | None:
    """Why ``value`` is not a printable name (its first bad character), or None."""
    for index, char in enumerate(value):
        if not char.isprintable():
            return f"must be printable: character {index} is {loggable(char)}"
    return None
