"""The host's own CPU per fan-out request, without sockets: route handler → dispatcher → response.

``python -m bench.fanout_cpu [--plugins 10] [--number 2000] [--repeat 7]``

Runs ``RenderingRoutes.visitor_panels`` — the real handler on a real
Starlette ``Request``: body read, JSON, validation, params, the dispatcher's
fan-out, every panel validated and observed by ``HostMetrics``, the response
built and encoded — with the plugins' answers already there (the wire's
``call_each`` is replaced by one returning ``bench_plugin.py``'s render
result for each plugin). What is left out is exactly what a load-dependent
measurement smears: the HTTP server, the sockets, the scheduler. Prints
the best of ``--repeat`` runs of ``--number`` requests (µs per request: the
minimum is the figure least disturbed by other processes on a shared machine)
and, with ``--calls``, the Python function calls per request (cProfile's count:
the same however busy the machine is).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import timeit
from typing import Any

import orjson
import outcome

from tgo_host.api.metrics import HostMetrics
from tgo_host.api.rendering import RenderingRoutes
from tgo_host.model import structure
from tgo_host.model.register import VisitorPanelCapability
from tgo_host.plugins import dispatch
from tgo_host.plugins.dispatch import Dispatcher

from .bench_plugin import RESULT
from .common import RENDER_PARAMS


class _Conn:
    def __init__(self, name: str) -> None:
        self.name = name


class _Session:
    """What the fan-out reads of a session once its answer is in."""

    def __init__(self, plugin_id: str, priority: int) -> None:
        self.plugin_id = plugin_id
        self.conn = _Conn(f"plugin {plugin_id!r}")
        self.capabilities = [structure({"title": f"Bench {plugin_id}", "priority": priority}, VisitorPanelCapability)]


class _Registry:
    def __init__(self, sessions: list[_Session]) -> None:
        self.entries = [(s.capabilities[0], s) for s in sessions]

    def subscribe(self, callback: Any) -> None:
        pass

    def with_capability(self, kind: str, project_id: str | None = None) -> list[tuple[Any, _Session]]:
        return self.entries

    def __len__(self) -> int:
        return len(self.entries)


class _Settings:
    max_http_body_bytes = 1 << 20
    web_profile = "full"


class _Host:
    def __init__(self, registry: _Registry) -> None:
        self.registry = registry
        self.dispatcher = Dispatcher(registry)  # type: ignore[arg-type]
        self.settings = _Settings()
        self.connection_count = len(registry)
        self.supervisor = None
        self.toolsync = None

    def protocol_violations(self) -> int:
        return 0

    def dropped_responses(self) -> int:
        return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plugins", type=int, default=10)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--calls", action="store_true",
                        help="also count Python function calls per request (cProfile): the same on a busy machine")
    args = parser.parse_args()
    host = _Host(_Registry([_Session(f"h{i:02d}", i) for i in range(args.plugins)]))
    metrics = HostMetrics(host)
    host.dispatcher.observe = metrics.observe

    async def answered(sessions: Any, method: str, params: Any) -> list[tuple[outcome.Outcome, float]]:
        return [(outcome.Value(orjson.loads(RESULT)), 0.001) for _ in sessions]

    dispatch.call_each = answered  # the plugins have answered: no sockets, no scheduler
    from starlette.requests import Request

    handler = RenderingRoutes(host).visitor_panels
    body = json.dumps(RENDER_PARAMS).encode()
    scope = {"type": "http", "method": "POST", "path": "/plugins/visitor-panel/render", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    def one() -> bytes:
        coro = handler(Request(scope, receive))
        try:
            coro.send(None)
        except StopIteration as done:
            return done.value.body
        raise RuntimeError("the handler waited on something")

    answer = orjson.loads(one())
    assert len(answer["panels"]) == args.plugins and not answer["errors"], answer
    best = min(timeit.repeat(one, number=args.number, repeat=args.repeat)) / args.number
    result = {"plugins": args.plugins, "us_per_request": round(best * 1e6, 1),
              "number": args.number, "repeat": args.repeat, "at": time.strftime("%H:%M:%S")}
    if args.calls:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(lambda: [one() for _ in range(100)])
        stats = pstats.Stats(profiler)
        result["calls_per_request"] = round(stats.total_calls / 100, 1)  # type: ignore[attr-defined]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
