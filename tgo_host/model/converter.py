"""The one cattrs converter: strict JSON types in, first error with its path out.

Hooks registered here (everything else is cattrs' generated code):

* ``str``/``bool`` take exactly that JSON type; ``int`` also takes an
  integer-valued float (``5.0`` -> ``5``); ``float`` (`Number`) takes int or
  float but not bool.
* ``X | None`` takes null; ``list[X]`` takes only a list; ``Literal[...]``
  answers "must be one of ..."; attrs classes take only a dict.
* A field with a default (None, a value, a factory) reads null as that default.
* Subclasses of `fields.Open` keep unknown keys in ``extra`` and write them back.
* `HttpUrl` checks the URL scheme (see `urls`); the lenient plugin-output
  types are in `lenient`.
* Fix-ups noted by hooks (`fixups.note`) get their path prefixed by the lists
  and objects around them.
* Unstructuring drops attributes whose value is None.
"""

from __future__ import annotations

import types
from typing import Any, Callable, Literal, TypeVar, Union, get_args, get_origin, overload

import attrs
import cattrs
from cattrs.errors import AttributeValidationNote, BaseValidationError, IterableValidationNote
from cattrs.fns import identity
from cattrs.gen import make_dict_unstructure_fn, override

from .errors import ValidationError, join_path
from .fields import HttpUrl, JSONObject, Open, Scalar, fits_int64
from .fixups import _SINK
from .fixups import prefix_since
from .urls import http_url_problem

T = TypeVar("T")
#: A cattrs structure hook: ``hook(value, type)`` -> the structured value.
StructureHook = Callable[[Any, Any], Any]
_NoneType = type(None)
#: The list fix-ups are noted into (None when nobody collects); a C-level call on the hot path.
current_fixups = _SINK.get

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


@overload
def structure(data: Any, cls: type[T]) -> T: ...
@overload
def structure(data: Any, cls: Any) -> Any: ...  # a Union of models: annotate what it returns


def structure(data: Any, cls: Any) -> Any:
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


def _primitive_hook(classes: tuple[type, ...], reason: str, nullable: bool = False) -> StructureHook:
    allowed = frozenset(classes + ((_NoneType,) if nullable else ()))

    def structure_primitive(value: Any, _: Any) -> Any:
        if value.__class__ in allowed:
            return value
        raise ValidationError("", reason)

    return structure_primitive


def _structure_int(value: Any, _: Any) -> Any:
    cls = value.__class__
    if cls is int or (cls is float and value.is_integer()):
        if not fits_int64(value):
            raise ValidationError("", "integer out of the 64-bit range")
        return int(value)
    raise ValidationError("", "expected an integer")


def _is(expected: Any) -> Callable[[Any], bool]:
    return lambda t: bool(t == expected)


for _type, (_classes, _reason) in _PRIMITIVES.items():
    if _type is int:
        converter.register_structure_hook(int, _structure_int)
    elif _type in (Scalar, JSONObject):
        converter.register_structure_hook_func(_is(_type), _primitive_hook(_classes, _reason))
    else:
        converter.register_structure_hook(_type, _primitive_hook(_classes, _reason))
del _type, _classes, _reason


def _url_hook(problem: Callable[[str], str | None]) -> StructureHook:
    def structure_url(value: Any, _: Any) -> str:
        if value.__class__ is not str:
            raise ValidationError("", "expected a string")
        reason = problem(value)
        if reason is not None:
            raise ValidationError("", reason)
        return value

    return structure_url


converter.register_structure_hook(HttpUrl, _url_hook(http_url_problem))
converter.register_unstructure_hook_func(lambda t: t in (Any, Scalar, JSONObject), identity)


# -- containers ---------------------------------------------------------------


def _is_union(t: Any) -> bool:
    return get_origin(t) in (Union, types.UnionType)


def _literal_hook(allowed: tuple[str, ...], nullable: bool = False) -> StructureHook:
    reason = "must be one of " + ", ".join(allowed)
    accepted = frozenset(allowed + ((None,) if nullable else ()))

    def structure_literal(value: Any, _: Any) -> Any:
        if value.__class__ in _LITERAL_CLASSES and value in accepted:
            return value
        raise ValidationError("", reason)

    return structure_literal


_LITERAL_CLASSES = frozenset({str, _NoneType})
def _is_literal(t: Any) -> bool:
    return get_origin(t) is Literal


converter.register_structure_hook_factory(_is_literal, lambda t: _literal_hook(get_args(t)))


@converter.register_structure_hook_factory(lambda t: _is_union(t) and _NoneType in get_args(t))
def _optional_factory(t: Any) -> StructureHook:
    rest = tuple(a for a in get_args(t) if a is not _NoneType)
    inner = rest[0] if len(rest) == 1 else Union[rest]
    if inner in _PRIMITIVES and inner is not int:
        return _primitive_hook(*_PRIMITIVES[inner], nullable=True)
    if get_origin(inner) is Literal:
        return _literal_hook(get_args(inner), nullable=True)
    hook = converter.get_structure_hook(inner)

    def structure_optional(value: Any, _: Any) -> Any:
        return None if value is None else hook(value, inner)

    return structure_optional


def _is_list(t: Any) -> bool:
    return t is list or get_origin(t) is list


@converter.register_structure_hook_factory(_is_list)
def _list_factory(t: Any) -> StructureHook:
    args = get_args(t)
    elem = args[0] if args else Any
    hook = converter.get_structure_hook(elem)

    def structure_list(value: Any, _: Any) -> list[Any]:
        if value.__class__ is not list:
            raise ValidationError("", "expected a list")
        out: list[Any] = []
        append = out.append
        sink = current_fixups()
        start = len(sink) if sink is not None else 0
        try:
            for item in value:
                append(hook(item, elem))
                if sink is not None and len(sink) != start:
                    prefix_since(sink, start, f"[{len(out) - 1}]")
                    start = len(sink)
        except Exception as exc:
            raise to_validation_error(exc, f"[{len(out)}]") from None
        return out

    return structure_list


@converter.register_structure_hook_factory(attrs.has)
def _attrs_factory(cl: Any) -> StructureHook:
    """Structure a dict into ``cl``: required fields must be present, null or
    a hook's None means "the default" for fields that have one, unknown keys go
    to ``extra`` on `Open` models (dropped otherwise).

    Walks the keys given rather than every field: most fields of a template
    are optional and absent.
    """
    attrs.resolve_types(cl)
    keeps_extra = issubclass(cl, Open)
    table: dict[str, tuple[str, StructureHook, Any, bool]] = {}
    names: list[str] = []
    for a in attrs.fields(cl):
        if keeps_extra and a.name == "extra":
            continue
        has_default = a.default is not attrs.NOTHING
        type_ = a.type
        if has_default and _is_union(type_) and _NoneType in get_args(type_):
            # null never reaches the hook of a field with a default: skip the Optional wrapper
            rest = tuple(t for t in get_args(type_) if t is not _NoneType)
            type_ = rest[0] if len(rest) == 1 else Union[rest]
        table[a.name] = (a.alias, converter.get_structure_hook(type_), type_, has_default)
        if not has_default:
            names.append(a.name)
    required = tuple(names)
    get_spec = table.get

    def structure_object(value: Any, _: Any) -> Any:
        if value.__class__ is not dict:
            raise ValidationError("", "expected an object")
        for name in required:
            if name not in value:
                raise ValidationError(name, "required")
        sink = current_fixups()
        noted = len(sink) if sink is not None else 0
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] | None = None
        for key, raw in value.items():
            spec = get_spec(key)
            if spec is None:
                if keeps_extra:
                    if extra is None:
                        extra = {}
                    extra[key] = raw
                continue
            alias, hook, type_, has_default = spec
            if raw is None and has_default:
                continue
            try:
                out = hook(raw, type_)
            except Exception as exc:
                raise to_validation_error(exc, key) from None
            if sink is not None and len(sink) != noted:
                prefix_since(sink, noted, key)
                noted = len(sink)
            if out is None and has_default:
                continue
            kwargs[alias] = out
        if extra is not None:
            kwargs["extra"] = _kept_extra(extra)
        return cl(**kwargs)

    return structure_object


def _kept_extra(extra: dict[str, Any]) -> dict[str, Any] | None:
    from .lenient import keep_extra  # the policy for unknown keys lives with the other lenient rules

    kept = {k: v for k, v in extra.items() if keep_extra(k, v)}
    return kept or None


def compact_unstructure_fn(cl: type) -> Any:
    """cattrs' generated unstructure function for ``cl``, leaving out None attributes."""
    attrs.resolve_types(cl)
    omit: dict[str, Any] = {a.name: override(omit_if_default=True) for a in attrs.fields(cl) if a.default is None}
    if not issubclass(cl, Open):
        return make_dict_unstructure_fn(cl, converter, **omit)
    omit["extra"] = override(omit=True)
    known_fields = make_dict_unstructure_fn(cl, converter, **omit)

    def unstructure_open(obj: Any) -> dict[str, Any]:
        out = known_fields(obj)
        if obj.extra:
            out.update(obj.extra)
        return out

    return unstructure_open


converter.register_unstructure_hook_factory(attrs.has, compact_unstructure_fn)
