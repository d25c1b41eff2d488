"""Who may register: dev tokens for TCP debug connections, uid/gid allow-lists for the Unix socket.

A :class:`RegistrationCheck` looks at the registering connection (an
:class:`Applicant`) and its ``register`` params and returns what it grants,
a :class:`Grant` (the project the plugin is bound to, dev mode), or raises
:class:`RegistrationRefused` with the JSON-RPC error the plugin gets. The
session applies the grant; no check writes into a session. The host's check
(``Host.check_registration``) chains :class:`RegistrationPolicy`, the ids
reserved for launched plugins (``identity.py``), the connection limit and the
marketplace's project binding.

A dev token is an HS256 JWT signed with the host's secret, carrying
``type: "plugin_dev"``, ``project_id``, ``user_id`` and ``exp``. A plugin
registering over TCP must present a valid one; it is then bound to the
token's project (invisible to every other project) and shown as dev mode.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

import attrs
import jwt

from ..errors import HostError
from ..model import RegisterParams
from ..wire.messages import AUTH_FAILED
from .peer import PeerInfo
from .printable import unprintable_reason

log = logging.getLogger("tgo_host.auth")

TOKEN_TYPE = "plugin_dev"
PERMISSION_DENIED = -32002


class RegistrationRefused(HostError):
    """Raised by a registration check to refuse a plugin with a JSON-RPC error (``code``)."""

    kind = "registration_refused"

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@attrs.frozen
class Grant:
    """What a registration check grants: the project the plugin is bound to (None: global), dev mode."""

    project_id: str | None = None
    dev_mode: bool = False


#: The grant of a plain registration: a global plugin, not in dev mode.
GLOBAL = Grant()


class Applicant(Protocol):
    """What a registration check may look at of the registering connection."""

    @property
    def peer(self) -> PeerInfo: ...


class RegistrationCheck(Protocol):
    """Returns what ``applicant`` registering with ``params`` is granted; raises :class:`RegistrationRefused`."""

    def __call__(self, applicant: Applicant, params: RegisterParams) -> Grant: ...


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

    def __call__(self, applicant: Applicant, params: RegisterParams) -> Grant:
        if applicant.peer.transport != "tcp":
            return GLOBAL
        if not self.secret:
            raise RegistrationRefused(AUTH_FAILED, "Authentication failed: the host has no secret configured for dev tokens")
        claims = verify_dev_token(self.secret, params.dev_token, self.max_ttl)
        log.info("dev plugin from %s authenticated: project=%s user=%s", applicant.peer, claims["project_id"], claims["user_id"])
        return Grant(project_id=claims["project_id"], dev_mode=True)


def peer_allowed(peer: PeerInfo, uids: list[int], gids: list[int]) -> bool:
    """Whether a Unix-socket peer passes the allow-lists (empty lists allow everyone)."""
    if peer.transport != "unix" or (not uids and not gids):
        return True
    return (peer.uid in uids) or (peer.gid in gids)
