"""The one cattrs converter: strict JSON types in, first error with its path out.

Hooks registered here (everything else is cattrs' generated code):

* ``str``/``int``/``bool`` take exactly that JSON type; ``float`` (`Number`)
  takes int or float but not bool; nothing is coerced.
* ``X | None`` takes null; ``list[X]`` takes only a list; ``Literal[...]``
  answers "must be one of ..."; attrs classes take only a dict.
* A field whose default is a factory (``[]``, ``{}``) also takes null.
* `HttpUrl`/`LinkUrl` check the URL scheme (see `urls`).
* Unstructuring drops attributes whose value is None.
"""

from __future__ import annotations

import types
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import AttributeValidationNote, BaseValidationError, IterableValidationNote
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .errors import ValidationError, join_path
from .fields import HttpUrl, JSONObject, LinkUrl, Scalar
from .urls import http_url_problem, link_url_problem

T = TypeVar("T")
_NoneType = type(None)

converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=True)


class _TooDeep(ValidationError):
    """Input nested past the interpreter's recursion limit; reported without a path."""


def to_validation_error(exc: BaseException, path: str = "") -> ValidationError:
    """The first error inside ``exc`` (cattrs error groups included), as a ValidationError.

    ``path`` is prefixed to the path found inside ``exc``.
    """
    while True:
        if isinstance(exc, _TooDeep):
            return exc
        if isinstance(exc, RecursionError):
            return _TooDeep("", "nested too deeply")
        if isinstance(exc, ValidationError):
            return ValidationError(join_path(path, exc.path), exc.reason) if path else exc
        if isinstance(exc, BaseValidationError) and exc.exceptions:
            exc = exc.exceptions[0]
            for note in getattr(exc, "__notes__", ()):
                if isinstance(note, AttributeValidationNote):
                    path = join_path(path, note.name)
                    break
                if isinstance(note, IterableValidationNote):
                    path = join_path(path, f"[{note.index}]")
                    break
            continue
        if isinstance(exc, KeyError):
            return ValidationError(path, "required")
        return ValidationError(path, f"invalid value ({type(exc).__name__}: {exc})")


def structure(data: Any, cls: type[T]) -> T:
    """``data`` (parsed JSON) as an instance of ``cls``; raises ValidationError."""
    hook = converter.get_structure_hook(cls)  # a missing hook is a bug: let it escape
    try:
        return hook(data, cls)
    except Exception as exc:
        raise to_validation_error(exc) from None


def unstructure(obj: Any) -> Any:
    """``obj`` as plain JSON-able dicts and lists, attributes that are None left out."""
    return converter.unstructure(obj)


# -- leaf types ---------------------------------------------------------------

_PRIMITIVES: dict[Any, tuple[tuple[type, ...], str]] = {
    str: ((str,), "expected a string"),
    int: ((int,), "expected an integer"),
    float: ((int, float), "expected a number"),
    bool: ((bool,), "expected a boolean"),
    Scalar: ((str, int, float, bool), "expected a string, number or boolean"),
    JSONObject: ((dict,), "expected an object"),
}


def _primitive_hook(classes: tuple[type, ...], reason: str, nullable: bool = False):
    allowed = frozenset(classes + ((_NoneType,) if nullable else ()))

    def structure_primitive(value, _):
        if value.__class__ in allowed:
            return value
        raise ValidationError("", reason)

    return structure_primitive


for _type, (_classes, _reason) in _PRIMITIVES.items():
    if _type in (Scalar, JSONObject):
        converter.register_structure_hook_func(
            lambda t, _type=_type: t == _type, _primitive_hook(_classes, _reason)
        )
    else:
        converter.register_structure_hook(_type, _primitive_hook(_classes, _reason))
del _type, _classes, _reason


def _url_hook(problem):
    def structure_url(value, _):
        if value.__class__ is not str:
            raise ValidationError("", "expected a string")
        reason = problem(value)
        if reason is not None:
            raise ValidationError("", reason)
        return value

    return structure_url


converter.register_structure_hook(HttpUrl, _url_hook(http_url_problem))
converter.register_structure_hook(LinkUrl, _url_hook(link_url_problem))
converter.register_unstructure_hook_func(lambda t: t in (Any, Scalar, JSONObject), identity)


# -- containers ---------------------------------------------------------------


def _is_union(t: Any) -> bool:
    return get_origin(t) in (Union, types.UnionType)


def _literal_hook(allowed: tuple[str, ...], nullable: bool = False):
    reason = "must be one of " + ", ".join(allowed)
    accepted = frozenset(allowed + ((None,) if nullable else ()))

    def structure_literal(value, _):
        if value.__class__ in _LITERAL_CLASSES and value in accepted:
            return value
        raise ValidationError("", reason)

    return structure_literal


_LITERAL_CLASSES = frozenset({str, _NoneType})
converter.register_structure_hook_factory(
    lambda t: get_origin(t) is Literal, lambda t: _literal_hook(get_args(t))
)


@converter.register_structure_hook_factory(lambda t: _is_union(t) and _NoneType in get_args(t))
def _optional_factory(t):
    rest = tuple(a for a in get_args(t) if a is not _NoneType)
    inner = rest[0] if len(rest) == 1 else Union[rest]
    if inner in _PRIMITIVES:
        return _primitive_hook(*_PRIMITIVES[inner], nullable=True)
    if get_origin(inner) is Literal:
        return _literal_hook(get_args(inner), nullable=True)
    hook = converter.get_structure_hook(inner)

    def structure_optional(value, _):
        return None if value is None else hook(value, inner)

    return structure_optional


@converter.register_structure_hook_factory(lambda t: t is list or get_origin(t) is list)
def _list_factory(t):
    args = get_args(t)
    elem = args[0] if args else Any
    hook = converter.get_structure_hook(elem)

    def structure_list(value, _):
        if value.__class__ is not list:
            raise ValidationError("", "expected a list")
        out = []
        append = out.append
        try:
            for item in value:
                append(hook(item, elem))
        except Exception as exc:
            raise to_validation_error(exc, f"[{len(out)}]") from None
        return out

    return structure_list


def _null_means_default(hook, factory):
    def structure_or_default(value, t):
        return factory() if value is None else hook(value, t)

    return structure_or_default


@converter.register_structure_hook_factory(attrs.has)
def _attrs_factory(cl):
    attrs.resolve_types(cl)
    overrides = {
        a.name: override(
            struct_hook=_null_means_default(converter.get_structure_hook(a.type), a.default.factory)
        )
        for a in attrs.fields(cl)
        if isinstance(a.default, attrs.Factory) and not a.default.takes_self
    }
    generated = make_dict_structure_fn(cl, converter, **overrides)

    def structure_object(value, _):
        if value.__class__ is not dict:
            raise ValidationError("", "expected an object")
        return generated(value, cl)

    return structure_object


def compact_unstructure_fn(cl: type) -> Any:
    """cattrs' generated unstructure function for ``cl``, leaving out None attributes."""
    attrs.resolve_types(cl)
    omit = {a.name: override(omit_if_default=True) for a in attrs.fields(cl) if a.default is None}
    return make_dict_unstructure_fn(cl, converter, **omit)


converter.register_unstructure_hook_factory(attrs.has, compact_unstructure_fn)
