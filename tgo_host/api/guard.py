"""Who may call the HTTP API, from where, and how: the checks a request passes before any route runs.

:class:`HttpGuard` (ASGI middleware) checks, in this order, and answers the
first failure with the standard error body (and one log line naming the peer):

1. ``Host`` — when the API is bound to loopback (or ``http_allowed_hosts`` is
   set), the ``Host`` header must name a loopback host (``localhost``,
   ``127.0.0.1``, ``[::1]``, any port) or an entry of ``http_allowed_hosts``;
   else 403 ``forbidden_host``. This is what defeats DNS rebinding.
2. ``Origin`` — a request carrying an ``Origin`` that is neither the host's
   own (``scheme://Host``) nor in ``http_allowed_origins`` gets 403
   ``forbidden_origin``: a page on another site cannot drive the API.
3. Who — a peer inside ``trusted_networks`` is served without a token; any
   other peer needs ``Authorization: Bearer`` with the HTTP token (or the
   admin token) when either a token or ``trusted_networks`` is configured:
   401 ``unauthorized`` / 403 ``forbidden_network``.
4. Bodies — a POST/PUT/PATCH/DELETE whose body is not ``application/json``
   (or carries a body without any ``Content-Type``) gets 415
   ``unsupported_media_type``, so a cross-site "simple" request (form post,
   ``fetch`` ``no-cors`` with ``text/plain``) never reaches a handler.

Probes (``/healthz``, ``/readyz``, ``/health``) skip every check; the console's pages and
static files skip the token check (they carry no data).

The control plane (routes that install, remove, start or stop plugin code)
is declared per route with :func:`control_route`; when an ``admin_token`` is
configured such a route also requires ``Authorization: Bearer <admin_token>``
from every address, loopback included (401 ``admin_token_required``).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from functools import lru_cache
from typing import Any, Callable

from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..netaddr import is_loopback, parse_addr, parse_ip
from ..plugins.printable import loggable
from .errors import ApiError
from .hostview import HostView

log = logging.getLogger("tgo_host.api.guard")

PROBES = ("/healthz", "/readyz", "/health")
#: The console's pages and assets: no data, and a browser cannot attach a header when it opens a page.
#: Its API calls and its event stream send the token (given once as ``/console#token=…``).
TOKEN_FREE_PATHS = ("/console", "/console/", "/console/gallery", "/console/plugins")
TOKEN_FREE_PREFIXES = ("/console/static/",)
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=1024)
def split_host(value: str) -> tuple[str, int | None] | None:
    """``name[:port]`` / ``[v6][:port]`` → ``(name, port)`` lower-cased; None when malformed."""
    value = value.strip().lower()
    if not value:
        return None
    if value.startswith("["):
        name, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:] if rest else ""
    elif value.count(":") > 1:
        return None  # a bare IPv6 address is not a valid Host header
    else:
        name, _, port_text = value.partition(":")
    if port_text:
        if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
            return None
        return name, int(port_text)
    return name, None


def _peer_ip(scope: Scope) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    client = scope.get("client")
    return parse_ip(str(client[0])) if client else None


def _peer_text(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "unknown peer"


def _bearer(headers: dict[bytes, bytes]) -> bytes:
    return headers.get(b"authorization", b"")


def _token_matches(supplied: bytes, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(supplied, f"Bearer {token}".encode())


class HttpGuard:
    """ASGI middleware applying the Host, Origin, peer and body checks of the module docstring to ``host``'s API."""

    def __init__(self, app: ASGIApp, host: HostView) -> None:
        self.app = app
        self.host = host
        settings = host.settings
        bind = parse_addr(settings.http_addr)[0] if settings.http_addr != "off" else "127.0.0.1"
        self.allowed_hosts = [split_host(h) for h in settings.http_allowed_hosts if h != "*"]
        self.check_host = "*" not in settings.http_allowed_hosts and (
            is_loopback(bind) or bool(settings.http_allowed_hosts)
        )
        self.allowed_origins = {_normal_origin(o) for o in settings.http_allowed_origins} - {None}
        self.networks = [ipaddress.ip_network(n, strict=False) for n in settings.trusted_networks]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in PROBES:
            refusal = self.refusal(scope)
            if refusal is not None:
                log.warning(
                    "refused %s %s from %s: %s",
                    scope.get("method", "?"), loggable(scope["path"]), _peer_text(scope), loggable(refusal.message),
                )
                await refusal.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> ApiError | None:
        """The :class:`ApiError` this request must get instead of being served, or None."""
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)  # the first of repeated headers
        host_header = headers.get(b"host", b"").decode("latin-1")
        if self.check_host and not self._host_allowed(host_header):
            shown = loggable(host_header[:100]) or "none"
            return ApiError(
                403, "forbidden_host",
                f"Host header {shown!r} is not a name of this host (add it to http_allowed_hosts to allow it)",
            )
        origin = headers.get(b"origin")
        if origin is not None:
            origin_text = origin.decode("latin-1")
            if not self._origin_allowed(origin_text, scope.get("scheme", "http"), host_header):
                return ApiError(
                    403, "forbidden_origin",
                    f"cross-origin request from {loggable(origin_text[:100])!r} refused "
                    "(add the origin to http_allowed_origins to allow it)",
                )
        refusal = self._admission(scope, headers)
        if refusal is not None:
            return refusal
        if scope.get("method") in BODY_METHODS:
            return _body_refusal(headers)
        return None

    # -- the checks ---------------------------------------------------------------

    def _host_allowed(self, value: str) -> bool:
        parsed = split_host(value)
        if parsed is None:
            return False
        name, port = parsed
        if is_loopback(name):
            return True
        for allowed in self.allowed_hosts:
            if allowed is not None and allowed[0] == name and allowed[1] in (None, port):
                return True
        return False

    def _origin_allowed(self, origin: str, scheme: str, host_header: str) -> bool:
        normal = _normal_origin(origin)
        if normal is None:  # "null" (sandboxed frames, file: pages) and anything malformed
            return False
        if normal in self.allowed_origins:
            return True
        own = _normal_origin(f"{scheme}://{host_header}") if host_header else None
        return own is not None and normal == own

    def _admission(self, scope: Scope, headers: dict[bytes, bytes]) -> ApiError | None:
        path = scope["path"]
        if path in TOKEN_FREE_PATHS or path.startswith(TOKEN_FREE_PREFIXES):
            return None
        http_token = self.host.http_token
        admin_token = self.host.admin_token
        if not http_token and not self.networks:
            return None  # loopback-only serving (the server refuses anything else)
        if self.networks:
            peer = _peer_ip(scope)
            if peer is not None and any(peer in network for network in self.networks):
                return None
        supplied = _bearer(headers)
        if _token_matches(supplied, http_token) or _token_matches(supplied, admin_token):
            return None
        if not http_token and not supplied:
            return ApiError(403, "forbidden_network", "forbidden: this address is not in trusted_networks")
        reason = "missing bearer token" if not supplied else "invalid bearer token"
        return ApiError(401, "unauthorized", f"unauthorized: {reason}", headers={"WWW-Authenticate": "Bearer"})


def _normal_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` lower-cased with the scheme's default port dropped; None when malformed."""
    scheme, sep, rest = origin.strip().lower().partition("://")
    if not sep or scheme not in DEFAULT_PORTS:
        return None
    parsed = split_host(rest.rstrip("/"))
    if parsed is None:
        return None
    name, port = parsed
    if port == DEFAULT_PORTS[scheme]:
        port = None
    shown = f"[{name}]" if ":" in name else name
    return f"{scheme}://{shown}" + (f":{port}" if port is not None else "")


def _body_refusal(headers: dict[bytes, bytes]) -> ApiError | None:
    """415 unless the body is JSON (or there is no body and no Content-Type)."""
    content_type = headers.get(b"content-type")
    if content_type is None:
        length = headers.get(b"content-length", b"0").strip()
        if (length in (b"", b"0")) and b"transfer-encoding" not in headers:
            return None
        return ApiError(
            415, "unsupported_media_type", "a request body needs Content-Type: application/json"
        )
    media = content_type.split(b";", 1)[0].strip().lower()
    if media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json")):
        return None
    return ApiError(
        415, "unsupported_media_type",
        f"Content-Type {loggable(media.decode('latin-1')[:100])!r} is not accepted: send application/json",
    )


# -- the control plane -------------------------------------------------------------


class ControlRoute(Route):
    """A route of the control plane: with an ``admin_token`` configured, it needs ``Bearer <admin_token>``.

    The token is read from ``app.state.admin_token`` (set by ``build_app``),
    so the route itself needs nothing but its declaration.
    """

    control_plane = True

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope.get("app")
        token = getattr(getattr(app, "state", None), "admin_token", None)
        if token:
            headers = dict(scope["headers"])
            supplied = _bearer(headers)
            if not _token_matches(supplied, token):
                reason = "no admin token" if not supplied else "not the admin token"
                error = ApiError(
                    401, "admin_token_required",
                    f"{scope.get('method')} {loggable(scope['path'])} is a control-plane route: it needs "
                    f"Authorization: Bearer <admin_token> ({reason} given)",
                    headers={"WWW-Authenticate": "Bearer"},
                )
                log.warning("refused %s %s from %s: %s", scope.get("method"), loggable(scope["path"]),
                            _peer_text(scope), error.message)
                await error.response()(scope, receive, send)
                return
        await super().handle(scope, receive, send)


def control_route(path: str, endpoint: Callable[..., Any], *, methods: list[str]) -> ControlRoute:
    """Declare a control-plane route (install, uninstall, upgrade, start, stop, restart, fetch-info, …)."""
    return ControlRoute(path, endpoint, methods=methods)
