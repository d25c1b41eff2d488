"""Starlette's router with exact paths looked up in a dict instead of found by trying every route.

Starlette's ``Router`` tries its routes in order, a regular expression each,
until one matches the path and the method. The API has 38 routes and the
visitor-panel fan-out is the 31st: about 30 failed matches per request,
≈ 60–120 µs of CPU on the bench machine (bench/README.md, "Request path").

:class:`IndexedRouter` answers exactly as that scan does. When it is built,
it runs the scan once for the method and path of every route without path
parameters (``POST /plugins/visitor-panel/render``, ``GET /healthz``, …) and
keeps which route the scan picks — the first full match in order, even when
an earlier parametrised route shadows the literal one. A request with one of
those methods and paths goes straight to that route; every other request
(a path with parameters, a method no route of that path takes — the 405
case —, a non-empty ``root_path``, websockets, lifespan) takes Starlette's
scan unchanged. Routes whose match depends on more than the path and the
method (``Host`` routes, custom ``matches``) switch the index off.
"""

from __future__ import annotations

from typing import Any, Sequence

from starlette.routing import BaseRoute, Match, Mount, Route, Router, WebSocketRoute
from starlette.types import Receive, Scope, Send

#: The ``matches`` that depend only on the scope's type, path and method.
_PATH_AND_METHOD_ONLY = (Route.matches, Mount.matches, WebSocketRoute.matches)


class IndexedRouter(Router):
    """A ``Router`` whose routes of literal paths are found by ``(method, path)`` in a dict."""

    def __init__(self, routes: Sequence[BaseRoute], **kwargs: Any) -> None:
        super().__init__(routes, **kwargs)
        self.exact: dict[tuple[str, str], BaseRoute] = self._index()

    def _index(self) -> dict[tuple[str, str], BaseRoute]:
        """``(method, path)`` → the route the in-order scan picks, for every literal route's methods."""
        if any(type(route).matches not in _PATH_AND_METHOD_ONLY for route in self.routes):
            return {}
        index: dict[tuple[str, str], BaseRoute] = {}
        for route in self.routes:
            if not isinstance(route, Route) or route.param_convertors or not route.methods:
                continue
            for method in route.methods:
                if (method, route.path) not in index:
                    chosen = self._scan(method, route.path)
                    if chosen is not None:
                        index[method, route.path] = chosen
        return index

    def _scan(self, method: str, path: str) -> BaseRoute | None:
        """The route Starlette's scan gives a request ``method path`` (no root path) a full match, if any."""
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return route
        return None

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            route = self.exact.get((scope["method"], scope["path"]))
            if route is not None:
                if "router" not in scope:
                    scope["router"] = self
                _, child_scope = route.matches(scope)  # a full match, by construction
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)
