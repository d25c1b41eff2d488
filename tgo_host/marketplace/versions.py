"""Comparing plugin versions: semantic versions as such, anything else by "differs"."""

from __future__ import annotations

import re
from typing import Any

_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def _key(version: str) -> tuple[Any, ...] | None:
    match = _SEMVER.match(version.strip())
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    # a pre-release sorts before its release; identifiers compare numerically when numeric
    pre_key: tuple[Any, ...] = (1,) if pre is None else (0, *((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")))
    return (int(major), int(minor), int(patch), pre_key)


def is_newer(latest: str | None, current: str | None) -> bool:
    """Whether ``latest`` is an update over ``current``.

    Both semantic versions (``1.2.3``, ``v1.2.3-rc.1``): ``latest`` must be
    greater. Otherwise any difference counts as an update.
    """
    if not latest:
        return False
    if not current:
        return True
    a, b = _key(latest), _key(current)
    if a is not None and b is not None:
        return a > b
    return latest.strip() != current.strip()
