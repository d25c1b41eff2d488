"""Hooks for the lenient leaf types of plugin output (`fields.Text`, `Hint`, ...).

Each hook applies the validation policy (see `tgo_host.model`) to one value:
it returns the value as the web app would read it, notes a fix-up when the
meaning changed (`fixups.note`), returns None for an optional value it drops
(the object hook then uses the field's default), or raises `ValidationError`
for what is unsafe or would break the renderer.
"""

from __future__ import annotations

from typing import Any, Callable

from .converter import converter
from .errors import ValidationError
from .fields import Flag, Hint, ImageUrl, LinkUrl, Measure, Text, Value, Width, fits_int64
from .fixups import COERCED, DROPPED, describe_value, note
from .urls import image_url_problem, is_script_url, link_url_problem


def as_text(value: Any) -> str:
    """A JSON scalar as the text a browser shows for it (``true``, ``5``, ``2.5``)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value.__class__ is float and value.is_integer():
        return str(int(value))
    return str(value)


def _text(value: Any, _: Any) -> str:
    cls = value.__class__
    if cls is str:
        return value  # type: ignore[no-any-return]  # the class check is exact (and fast)
    if value is None:
        return ""
    if cls in (int, float, bool):
        text = as_text(value)
        note(COERCED, f"{describe_value(value)} read as the text {text!r}")
        return text
    raise ValidationError("", "expected a string")


def _hint(value: Any, _: Any) -> str | None:
    if value.__class__ is str:
        return value or None
    note(DROPPED, f"{describe_value(value)} is not a string; left out")
    return None


def _flag(value: Any, _: Any) -> bool | None:
    if value.__class__ is bool:
        return value
    if value.__class__ is str and value.lower() in ("true", "false"):
        flag = value.lower() == "true"
        note(COERCED, f"{describe_value(value)} read as {value.lower()}")
        return flag
    if value == "":
        return None
    if value.__class__ is int and value in (0, 1):
        note(COERCED, f"{value} read as {'true' if value else 'false'}")
        return bool(value)
    note(DROPPED, f"{describe_value(value)} is not a boolean; left out")
    return None


def _measure(value: Any, _: Any) -> int | float | None:
    cls = value.__class__
    if cls is int:
        # the class check is exact (and fast); beyond 64 bits the number is kept as a float
        return value if fits_int64(value) else float(value)
    if cls is float:
        return int(value) if value.is_integer() and fits_int64(value) else value
    if cls is str and value == "":
        return None
    note(DROPPED, f"{describe_value(value)} is not a number; left out")
    return None


def _width(value: Any, _: Any) -> int | float | str | None:
    if value.__class__ is str:
        return value or None
    return _measure(value, None)


def _value(value: Any, _: Any) -> Any:
    if value is None:
        return ""
    cls = value.__class__
    if cls is float and value.is_integer() and fits_int64(value):
        return int(value)
    if cls is int and not fits_int64(value):
        note(COERCED, f"{describe_value(value)} is beyond 64 bits; read as the text {str(value)!r}")
        return str(value)
    if cls in (str, int, float, bool):
        return value
    raise ValidationError("", "expected a string, number or boolean")


def _url_hook(problem: Callable[[str], str | None]) -> Callable[[Any, Any], str]:
    def structure_url(value: Any, _: Any) -> str:
        if value is None:  # a required URL given as null: no link (front ends show the text only)
            return ""
        if value.__class__ is not str:
            raise ValidationError("", "expected a string")
        reason = problem(value)
        if reason is not None:
            raise ValidationError("", reason)
        return value

    return structure_url


def keep_extra(key: str, value: Any) -> bool:
    """Whether an unknown key is passed on: yes, unless its value is or holds a script URL (noted)."""
    found = _script_url_in(value)
    if found is not None:
        note(DROPPED, f"unknown field with a script URL {describe_value(found)}; left out", key)
        return False
    return True


def _script_url_in(value: Any) -> str | None:
    """The first string in ``value`` (nested lists and objects included) that is a script URL."""
    if value.__class__ is str:
        return value if is_script_url(value) else None
    if value.__class__ is dict:
        value = value.values()
    elif value.__class__ is not list:
        return None
    for item in value:
        found = _script_url_in(item)
        if found is not None:
            return found
    return None


converter.register_structure_hook(Text, _text)
converter.register_structure_hook(Hint, _hint)
converter.register_structure_hook(Flag, _flag)
converter.register_structure_hook(Measure, _measure)
converter.register_structure_hook(Width, _width)
converter.register_structure_hook(Value, _value)
converter.register_structure_hook(LinkUrl, _url_hook(link_url_problem))
converter.register_structure_hook(ImageUrl, _url_hook(image_url_problem))
