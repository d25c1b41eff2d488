"""The marketplace in tests: a stand-in source server, settings pointing at it, a host that installs, the install stream.

``market`` serves git repositories and release files on 127.0.0.1
(tests/marketserver.py); :func:`point_at` points GitHub, Gitee and the install-source
check at it; ``api`` is an httpx client on a host with a supervisor and a marketplace
(``client.host`` is that host).
"""

from __future__ import annotations

import json
import os
from functools import partial

import httpx
import pytest

from marketserver import MarketServer
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.marketplace.installer import open_marketplace
from tgo_host.plugins.supervisor import Supervisor


@pytest.fixture
def market(short_dir):
    with MarketServer(os.path.join(short_dir, "srv")) as server:
        yield server


def point_at(settings, server: MarketServer) -> None:
    settings.github_base_url = f"{server.base}/gh"
    settings.github_raw_base_url = f"{server.base}/files/raw"
    settings.gitee_base_url = f"{server.base}/gitee"
    settings.install_sources = [f"{server.base}/"]


def market_settings(settings, market, short_dir):
    settings.http_addr = "127.0.0.1:0"
    settings.register_timeout = 10.0
    settings.shutdown_grace = 1.0
    settings.managed_plugins_dir = os.path.join(short_dir, "managed")
    point_at(settings, market)
    return settings


async def start_host(nursery, settings):
    host = Host(settings, services=[http_service], supervisor_factory=partial(Supervisor, settings),
                marketplace_factory=partial(open_marketplace, settings))
    await nursery.start(host.serve)
    return host


@pytest.fixture
async def api(settings, nursery, market, short_dir):
    host = await start_host(nursery, market_settings(settings, market, short_dir))
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=120) as client:
        client.host = host
        yield client
    host.request_stop()


async def install_stream(api, body) -> list[dict]:
    events = []
    async with api.stream("POST", "/plugins/install-stream", json=body) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: "):]))
    assert events and events[-1]["stage"] in ("complete", "error"), events
    assert all(e["stage"] not in ("complete", "error") for e in events[:-1]), events
    return events


def stages(events) -> list[str]:
    out = []
    for event in events:
        if not out or out[-1] != event["stage"]:
            out.append(event["stage"])
    return out


def managed_entries(api) -> list[str]:
    root = api.host.settings.managed_plugins_dir
    return sorted(e for e in os.listdir(root) if not e.startswith(".tgo-installed.db")) if os.path.isdir(root) else []
