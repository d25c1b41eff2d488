"""Unions whose member is named by a tag key: templates, actions, capabilities.

Each member class names itself in a ClassVar (``TextTemplate.template ==
"text"``). Two JSON shapes are supported:

* envelope: ``{"template": "text", "data": {...fields}}`` (templates, actions);
* flat: ``{"type": "visitor_panel", ...fields}`` (capabilities).
"""

from __future__ import annotations

from typing import Any, Callable, get_args

import attrs

from .converter import compact_unstructure_fn, converter, to_validation_error
from .errors import ValidationError
from .fixups import _SINK
from .fixups import prefix_since

StructureHook = Callable[[Any, Any], Any]


def describe(value: Any) -> str:
    """A short human description of a JSON value's kind, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        if not value:
            return "an empty object"
        keys = ", ".join(_short(str(k), 30) for k in list(value)[:5])
        return f"an object with keys: {keys}" + (", ..." if len(value) > 5 else "")
    return type(value).__name__


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _has_required_fields(cls: type) -> bool:
    return any(a.default is attrs.NOTHING for a in attrs.fields(cls))


def register_tagged_union(
    union: Any, *, tag: str, noun: str, envelope: bool, what: str = "", data_optional: bool = False
) -> StructureHook:
    """Register structure and unstructure hooks for ``union``; return the structure hook.

    ``noun`` names a member kind in "unknown <noun> 'x'" messages; ``what`` names
    the JSON shape for an envelope input that is not one at all ("a JSON-UI
    template"). With ``data_optional``, a missing or null ``data`` counts as
    ``{}`` for members with no required field.
    """
    classes = get_args(union)
    names = tuple(getattr(cls, tag) for cls in classes)
    expected = ", ".join(names)
    table: dict[str, tuple[type, StructureHook, bool]] = {}

    def bad_tag(obj: Any) -> ValidationError:
        if obj.__class__ is not dict or obj.get(tag) is None:
            if not envelope:
                return ValidationError(tag, "required")
            shape = f'{{"{tag}": ..., "data": {{...}}}}'
            return ValidationError(
                tag, f"required (not {what}; expected {shape}, got {describe(obj)})"
            )
        name = obj[tag]
        if name.__class__ is not str:
            return ValidationError(tag, "expected a string")
        return ValidationError(tag, f"unknown {noun} {_short(name)!r} (expected one of {expected})")

    if envelope:

        def structure_tagged(obj: Any, _: Any) -> Any:
            name = obj.get(tag) if obj.__class__ is dict else None
            entry = table.get(name) if name.__class__ is str else None
            if entry is None:
                raise bad_tag(obj)
            cls, hook, may_omit_data = entry
            data = obj.get("data")
            if data.__class__ is not dict:
                if data is None and may_omit_data:
                    data = {}
                else:
                    raise ValidationError("data", "expected an object")
            sink = _SINK.get()
            start = len(sink) if sink is not None else 0
            try:
                value = hook(data, cls)
            except Exception as exc:
                raise to_validation_error(exc, "data") from None
            if sink is not None and len(sink) != start:
                prefix_since(sink, start, "data")
            return value

    else:

        def structure_tagged(obj: Any, _: Any) -> Any:
            if obj.__class__ is not dict:
                raise ValidationError("", "expected an object")
            name = obj.get(tag)
            entry = table.get(name) if name.__class__ is str else None
            if entry is None:
                raise bad_tag(obj)
            cls, hook = entry[0], entry[1]
            return hook(obj, cls)

    # Register before generating member hooks: members may contain the union.
    converter.register_structure_hook(union, structure_tagged)
    for name, cls in zip(names, classes):
        may_omit_data = data_optional and not _has_required_fields(cls)
        table[name] = (cls, converter.get_structure_hook(cls), may_omit_data)
        converter.register_unstructure_hook(cls, _tagged_unstructure(cls, tag, name, envelope))
    return structure_tagged


def _tagged_unstructure(cls: type, tag: str, name: str, envelope: bool) -> Callable[[Any], dict[str, Any]]:
    fields = compact_unstructure_fn(cls)
    if envelope:
        return lambda obj: {tag: name, "data": fields(obj)}
    return lambda obj: {tag: name, **fields(obj)}
