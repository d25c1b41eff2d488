"""The render profile of one HTTP answer: ``?profile=`` or the ``web_profile`` setting.

``full`` passes JSON-UI on as plugins sent it (validated); ``tgo-web`` rewrites
it to the 7 templates the TGO web app renders (`tgo_host.model.webprofile`),
adding what could not be kept to the answer's ``warnings``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ..model import FixUp
from ..model.webprofile import PROFILES, downlevel_action, downlevel_ui
from .errors import ApiError


def profile_of(request: Request, default: str) -> str:
    """``?profile=`` if given (422 naming ``profile`` when not a known one), else ``default``."""
    given = request.query_params.get("profile")
    if given is None or given == "":
        return default
    if given not in PROFILES:
        raise ApiError(422, "invalid_request", f"query parameter profile must be one of {', '.join(PROFILES)}",
                       path="profile")
    return given


def ui_for(profile: str, ui: dict[str, Any], warnings: list[FixUp]) -> dict[str, Any]:
    """``ui`` in ``profile``; what the change could not keep is added to ``warnings``."""
    if profile == "full":
        return ui
    out, lost = downlevel_ui(ui)
    warnings.extend(lost)
    return out


def action_for(profile: str, action: dict[str, Any], warnings: list[FixUp]) -> dict[str, Any]:
    """``action`` with the templates of its ``show_modal`` s in ``profile``; losses go to ``warnings``."""
    if profile == "full":
        return action
    out, lost = downlevel_action(action)
    warnings.extend(lost)
    return out
