"""Query parameters, checked: a bad value is a 422 naming the parameter, never a 500."""

from __future__ import annotations

from starlette.requests import Request

from .errors import ApiError


def int_param(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    """``?name=`` as an integer in ``[low, high]`` (``default`` when absent); 422 naming ``name`` otherwise.

    Only ASCII digits count (``²`` or ``١`` are refused, as is a 5,000-digit number).
    """
    raw = request.query_params.get(name)
    if raw is None:
        return default
    digits = raw.strip()
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > len(str(high)) or not (
        low <= int(digits) <= high
    ):
        raise ApiError(
            422, "invalid_request", f"query parameter {name} must be an integer from {low} to {high}", path=name
        )
    return int(digits)
