"""IndexedRouter answers every request as Starlette's Router does: same route, same 404/405/redirect.

Each case is sent through two apps with the same routes — Starlette's own
router and ``tgo_host.api.routing.IndexedRouter`` — and the answers compared,
plus the host's real route table: its index agrees with Starlette's scan.
"""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Host, Match, Route

from tgo_host.api.routing import IndexedRouter


def answer(name: str):
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"{name} {dict(request.path_params)} {request.scope.get('root_path', '')}")

    return endpoint


def routes() -> list[Route]:
    return [
        Route("/health", answer("health"), methods=["GET"]),
        Route("/items/{item_id}", answer("item"), methods=["GET"]),  # shadows GET /items/new below
        Route("/items/new", answer("new-get"), methods=["GET"]),
        Route("/items/new", answer("new-post"), methods=["POST"]),
        Route("/only-post", answer("only-post"), methods=["POST"]),
        Route("/slash/", answer("slash"), methods=["GET"]),
    ]


def apps() -> tuple[Starlette, Starlette]:
    plain = Starlette(routes=routes())
    indexed = Starlette(routes=routes())
    indexed.router = IndexedRouter(indexed.router.routes)
    return plain, indexed


CASES = [
    ("GET", "/health"),
    ("HEAD", "/health"),
    ("GET", "/items/new"),  # the parametrised route comes first and wins, as in Starlette
    ("POST", "/items/new"),
    ("PUT", "/items/new"),  # 405 with the Allow header of the first partial match
    ("GET", "/items/7"),
    ("GET", "/only-post"),  # 405
    ("POST", "/only-post"),
    ("GET", "/slash"),  # redirect to /slash/
    ("GET", "/nowhere"),  # 404
]


@pytest.mark.parametrize("method,path", CASES)
async def test_indexed_router_answers_as_starlette_does(method, path):
    plain, indexed = apps()
    got = []
    for app in (plain, indexed):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            response = await client.request(method, path, follow_redirects=False)
            got.append((response.status_code, response.headers.get("allow"), response.headers.get("location"),
                        response.text))
    assert got[0] == got[1]


async def test_a_root_path_takes_starlettes_scan():
    plain, indexed = apps()
    got = []
    for app in (plain, indexed):
        transport = httpx.ASGITransport(app=app, root_path="/api")
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/api/health")
            got.append((response.status_code, response.text))
    assert got[0] == got[1]


def test_the_index_holds_the_scans_choice_for_literal_paths_only():
    router = IndexedRouter(routes())
    assert router.exact[("GET", "/items/new")].path == "/items/{item_id}"
    assert router.exact[("POST", "/items/new")].path == "/items/new"
    assert ("GET", "/only-post") not in router.exact and ("PUT", "/items/new") not in router.exact
    assert not any(path == "/items/{item_id}" for _, path in router.exact)


def test_a_host_route_switches_the_index_off():
    router = IndexedRouter([*routes(), Host("example.com", app=Starlette())])
    assert router.exact == {}


def test_the_hosts_api_index_agrees_with_the_scan(tmp_path):
    from tgo_host.api.app import build_app
    from tgo_host.host import Host as TgoHost
    from tgo_host.settings import Settings

    app = build_app(TgoHost(Settings(socket_path=str(tmp_path / "s.sock"), http_addr="127.0.0.1:0")))
    router = app.router
    assert isinstance(router, IndexedRouter)
    assert ("POST", "/plugins/visitor-panel/render") in router.exact and ("GET", "/healthz") in router.exact
    for (method, path), route in router.exact.items():
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        first = next(r for r in router.routes if r.matches(scope)[0] is Match.FULL)
        assert first is route, (method, path)
