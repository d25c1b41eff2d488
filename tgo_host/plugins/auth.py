"""Who may register: dev tokens for TCP debug connections, uid/gid allow-lists for the Unix socket.

A dev token is an HS256 JWT signed with the host's secret, carrying
``type: "plugin_dev"``, ``project_id``, ``user_id`` and ``exp``. A plugin
registering over TCP must present a valid one; it is then bound to the
token's project (invisible to every other project) and shown as dev mode.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import jwt

from ..wire.messages import AUTH_FAILED
from .peer import PeerInfo
from .printable import unprintable_reason
from .session import PluginSession, RegistrationRefused

log = logging.getLogger("tgo_host.auth")

TOKEN_TYPE = "plugin_dev"
PERMISSION_DENIED = -32002


def mint_dev_token(secret: str, project_id: str, user_id: str, ttl_seconds: float, *, now: float | None = None) -> str:
    """A dev token for ``project_id``/``user_id`` valid for ``ttl_seconds``."""
    issued = int(now if now is not None else time.time())
    claims = {"type": TOKEN_TYPE, "project_id": project_id, "user_id": user_id, "iat": issued,
              "exp": issued + int(ttl_seconds)}
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_dev_token(secret: str, token: str | None, max_ttl: float | None = None) -> dict[str, Any]:
    """The token's claims; raises :class:`RegistrationRefused` (``-32001``) saying what is wrong.

    With ``max_ttl`` (seconds), a token whose lifetime (``exp`` − ``iat``, or
    ``exp`` − now without ``iat``) exceeds it is refused too.
    """
    if not token:
        raise RegistrationRefused(AUTH_FAILED, "Authentication failed: TCP connections must register with a dev_token")
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.ExpiredSignatureError:
        raise RegistrationRefused(AUTH_FAILED, "Authentication failed: dev_token has expired") from None
    except jwt.InvalidSignatureError:
        raise RegistrationRefused(AUTH_FAILED, "Authentication failed: dev_token signature is invalid") from None
    except jwt.MissingRequiredClaimError as exc:
        raise RegistrationRefused(AUTH_FAILED, f"Authentication failed: dev_token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidTokenError as exc:
        raise RegistrationRefused(AUTH_FAILED, f"Authentication failed: dev_token is not a valid token ({exc})") from None
    if claims.get("type") != TOKEN_TYPE:
        raise RegistrationRefused(
            AUTH_FAILED, f"Authentication failed: dev_token type is {claims.get('type')!r}, expected {TOKEN_TYPE!r}"
        )
    for claim in ("project_id", "user_id"):
        if not isinstance(claims.get(claim), str) or not claims[claim]:
            raise RegistrationRefused(AUTH_FAILED, f"Authentication failed: dev_token lacks the {claim!r} claim")
        reason = unprintable_reason(claims[claim])
        if reason is not None:
            raise RegistrationRefused(AUTH_FAILED, f"Authentication failed: dev_token {claim} {reason}")
    if max_ttl is not None:
        issued = claims.get("iat")
        start = issued if isinstance(issued, (int, float)) and not isinstance(issued, bool) else time.time()
        lifetime = float(claims["exp"]) - float(start)
        if lifetime > max_ttl:
            raise RegistrationRefused(
                AUTH_FAILED,
                f"Authentication failed: dev_token lifetime of {_days(lifetime)} exceeds dev_token_max_ttl "
                f"({_days(max_ttl)}); mint a shorter-lived token",
            )
    return claims


def _days(seconds: float) -> str:
    return f"{seconds / 86400:.4g} days" if seconds >= 86400 else f"{seconds:.0f} s"


class RegistrationPolicy:
    """The host's registration check: dev tokens on TCP; nothing extra on the Unix socket."""

    def __init__(self, secret: str | None, max_ttl: float | None = None) -> None:
        self.secret = secret
        self.max_ttl = max_ttl

    def __call__(self, session: PluginSession, params: Any) -> None:
        if session.peer.transport != "tcp":
            return
        if not self.secret:
            raise RegistrationRefused(AUTH_FAILED, "Authentication failed: the host has no secret configured for dev tokens")
        claims = verify_dev_token(self.secret, params.dev_token, self.max_ttl)
        session.project_id = claims["project_id"]
        session.is_dev_mode = True
        log.info("dev plugin from %s authenticated: project=%s user=%s", session.peer, claims["project_id"], claims["user_id"])


def peer_allowed(peer: PeerInfo, uids: list[int], gids: list[int]) -> bool:
    """Whether a Unix-socket peer passes the allow-lists (empty lists allow everyone)."""
    if peer.transport != "unix" or (not uids and not gids):
        return True
    return (peer.uid in uids) or (peer.gid in gids)
