"""What the TGO gateway checks again in the host's answers (its schema, as tests restate it)."""

from __future__ import annotations

from typing import Any


def gateway_accepts_capability(cap: dict[str, Any]) -> list[str]:
    """The gateway's re-validation of one listed capability (gateway.md / web-app.md): problems found."""
    problems = []
    if not isinstance(cap.get("title"), str):
        problems.append("title: required string")
    if not isinstance(cap.get("priority"), int) or isinstance(cap.get("priority"), bool):
        problems.append("priority: integer")
    for key in ("width", "height", "min_width", "max_width"):
        if key in cap and not (isinstance(cap[key], int) and not isinstance(cap[key], bool)):
            problems.append(f"{key}: integer")
    for tool in cap.get("tools", []):
        if not isinstance(tool.get("name"), str) or not isinstance(tool.get("title"), str):
            problems.append("tools[].name/title: strings")
        for param in tool.get("parameters", []):
            values = param.get("enum_values")
            if values is not None and not all(isinstance(v, str) for v in values):
                problems.append("enum_values: strings")
    return problems
