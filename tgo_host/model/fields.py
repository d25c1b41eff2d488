"""Field types shared by the models, and the class decorator they all use."""

from __future__ import annotations

from typing import Any, NewType, Union

import attrs

#: Decorator for every model class: slotted, keyword-only (so the field order can
#: follow the spec, which is also the order errors are found in). Mutable like
#: lsprotocol's classes: frozen attrs classes cost ~20% more to build on the
#: render hot path. Treat parsed models as read-only.
model = attrs.define(kw_only=True)

#: A JSON number. ``int`` and ``float`` are accepted (``bool`` is not) and kept as given.
Number = float
#: Any JSON scalar except null.
Scalar = Union[str, int, float, bool]
#: A free-form JSON object, kept as the very dict that was parsed (not copied).
JSONObject = dict[str, Any]
#: A URL a front end may open or embed: absolute, and http or https only.
HttpUrl = NewType("HttpUrl", str)
#: A URL shown as a link in a template: script-capable schemes are refused.
LinkUrl = NewType("LinkUrl", str)
