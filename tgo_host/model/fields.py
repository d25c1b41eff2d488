"""Field types shared by the models, and the class decorators they all use.

Two families of leaf types (their hooks live in `converter` and `lenient`):

* strict ones for what callers send (HTTP bodies, ``register``): ``str``,
  ``bool``, `Number`, `Scalar`, `HttpUrl`, ``Literal[...]``;
* lenient ones for what plugins render (JSON-UI, JSON-ACTION), following the
  validation policy in `tgo_host.model`: `Text`, `Hint`, `Flag`, `Measure`,
  `Width`, `Value`, `LinkUrl`, `ImageUrl`.
"""

from __future__ import annotations

from typing import Any, NewType, TypeVar, Union, dataclass_transform

import attrs

T = TypeVar("T")

#: Decorator for every model class: slotted, keyword-only (so the field order can
#: follow the spec, which is also the order errors are found in). Mutable like
#: lsprotocol's classes: frozen attrs classes cost ~20% more to build on the
#: render hot path. Treat parsed models as read-only.
@dataclass_transform(field_specifiers=(attrs.field,), kw_only_default=True)
def model(cls: type[T]) -> type[T]:
    return attrs.define(cls, kw_only=True)


#: A JSON number. ``int`` and ``float`` are accepted (``bool`` is not) and kept as given.
Number = float
#: Any JSON scalar except null.
Scalar = Union[str, int, float, bool]
#: A free-form JSON object, kept as the very dict that was parsed (not copied).
JSONObject = dict[str, Any]
#: A URL a front end may open or embed: absolute, and http or https only.
HttpUrl = NewType("HttpUrl", str)

# -- lenient types for plugin output (JSON-UI / JSON-ACTION) ---------------------

#: Display text. A number or boolean is read as its JSON text (reported);
#: null reads as ``""``; an object or array is refused.
Text = NewType("Text", str)
#: A display hint from an open set (button ``type``, ``target``, ...): any
#: string is kept as given, ``""`` reads as absent, any other type is dropped (reported).
Hint = NewType("Hint", str)
#: A boolean; ``"true"``/``"false"`` are read as booleans (reported), anything else dropped (reported).
Flag = NewType("Flag", bool)
#: A number used as a display hint; integer-valued floats become ints; anything else dropped (reported).
Measure = NewType("Measure", float)
#: A size: a number or a CSS length string such as ``"30%"``, kept as given.
Width = NewType("Width", object)
#: A scalar display value: string, number or boolean; null reads as ``""``; objects and arrays are refused.
Value = NewType("Value", object)

#: The integers JSON encoding (orjson) and the web app's numbers can carry: signed 64-bit.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def fits_int64(value: int | float) -> bool:
    """Whether ``value`` lies in the signed 64-bit range (an integer outside it cannot be encoded)."""
    return INT64_MIN <= value <= INT64_MAX
#: A URL shown as a link or opened on a click: relative, http(s), mailto:, tel: ...
#: pass; script-capable schemes are refused (see `urls`).
LinkUrl = NewType("LinkUrl", str)
#: An image source: like `LinkUrl`, and ``data:image/...`` raster images pass too.
ImageUrl = NewType("ImageUrl", str)


@attrs.define(kw_only=True)
class Open:
    """Base of the JSON-UI/JSON-ACTION models: keys a model does not know are kept in
    ``extra`` and written back out unchanged (the web app may read fields the spec
    does not list)."""

    extra: dict[str, Any] | None = attrs.field(default=None, repr=False, eq=False)
