"""URL scheme checks, done the way a browser reads the scheme."""

from __future__ import annotations

import re

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# Browsers trim C0 controls and spaces around a URL and drop tabs and newlines
# anywhere in it, so " java\tscript:" is still javascript.
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
#: Schemes that run script (or read local files) when opened: never passed on.
_SCRIPT_SCHEMES = frozenset({"javascript", "vbscript", "data", "file"})
#: ``data:`` images that cannot carry script (SVG can, so it is not here).
_RASTER_DATA = re.compile(r"data:image/(png|jpeg|jpg|gif|webp|bmp|avif|x-icon)[;,]", re.IGNORECASE)


def _cleaned(url: str) -> str:
    return url.strip(_C0_AND_SPACE).translate(_TAB_NEWLINE)


def url_scheme(url: str) -> str | None:
    """The lower-cased scheme of ``url``, or None when it is relative."""
    match = _SCHEME.match(_cleaned(url))
    return match.group(1).lower() if match else None


def http_url_problem(url: str) -> str | None:
    """Why ``url`` may not be opened or embedded, or None when it is absolute http(s)."""
    if url.startswith(("https://", "http://")):
        return None
    scheme = url_scheme(url)
    if scheme in ("http", "https"):
        return None
    if scheme is None:
        return "must be an absolute http or https URL"
    return f"scheme {scheme!r} is not allowed (only http and https)"


def link_url_problem(url: str) -> str | None:
    """Why ``url`` may not be shown as a link or opened, or None (relative, mailto:, tel: etc. pass)."""
    if url.startswith(("https://", "http://")):
        return None
    scheme = url_scheme(url)
    if scheme in _SCRIPT_SCHEMES:
        return f"scheme {scheme!r} is not allowed in a link"
    return None


def image_url_problem(url: str) -> str | None:
    """Like `link_url_problem`, but ``data:image/png`` and other raster images pass."""
    if url.startswith(("https://", "http://")):
        return None
    scheme = url_scheme(url)
    if scheme == "data" and _RASTER_DATA.match(_cleaned(url)):
        return None
    if scheme in _SCRIPT_SCHEMES:
        return f"scheme {scheme!r} is not allowed in an image source"
    return None


def is_script_url(value: str) -> bool:
    """Whether a string would run script (or open a local file) if a front end used it as a URL.

    For strings in fields of unknown purpose: a ``data:`` string without a comma is not a
    data URL at all (browsers refuse it), so prose like ``"data: 5 rows"`` passes.
    """
    scheme = url_scheme(value) if ":" in value else None
    if scheme not in _SCRIPT_SCHEMES:
        return False
    if scheme == "data":
        return "," in value and not _RASTER_DATA.match(_cleaned(value))
    return True
