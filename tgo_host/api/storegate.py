"""Lifecycle calls need the installed-plugin store: a store that is down answers 503 before anything is done.

Only stores that can be down (PostgreSQL) have ``check()``; rendering never
comes here.
"""

from __future__ import annotations

from ..marketplace.store import StoreError
from .errors import ApiError, from_exception
from .hostview import HostView


async def require_store(host: HostView) -> None:
    """Raise 503 ``store_unavailable`` unless the host's installed-plugin store answers now."""
    marketplace = host.marketplace
    check = getattr(marketplace.store, "check", None) if marketplace is not None else None
    if check is not None:
        try:
            await check()
        except StoreError as exc:
            raise store_error(exc) from None


def store_error(exc: StoreError) -> ApiError:
    """The answer for a store failure: 503 while the database is unreachable, else 500, naming the cause."""
    what = "unavailable" if exc.retry_after is not None else "failed"  # StoreUnavailable passes
    return from_exception(exc, message=f"installed-plugin store {what}: {exc}")
