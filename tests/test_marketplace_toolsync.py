"""AI tool sync against a fake AI service on 127.0.0.1 that records every call."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from functools import partial

import httpx
import pytest

from support.waiting import wait_for
from marketplugins import python_tree
from support.market import market, market_settings  # noqa: F401  (market is a fixture)
from support.net import free_port
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.marketplace.installer import open_marketplace
from tgo_host.marketplace.toolsync import ToolSync
from tgo_host.plugins.supervisor import Supervisor

TOOLS = [
    {"name": "lookup_order", "title": "Look up an order", "description": "Find an order by number",
     "parameters": [{"name": "order_no", "type": "string", "description": "Order number", "required": True}]},
    {"name": "list_orders", "title": "List orders"},
]


class FakeAI:
    """Records ``(method, path, query, body)`` of every call; answers 201 to POST and 204 to DELETE."""

    def __init__(self, port: int = 0) -> None:
        self.calls: list[tuple[str, str, str, dict | None]] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _record(self, status: int) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                path, _, query = self.path.partition("?")
                calls.append((self.command, path, query, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                self._record(201)

            def do_DELETE(self) -> None:
                self._record(204)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


async def open_host(nursery, settings, market, short_dir, ai_url):  # noqa: F811
    market_settings(settings, market, short_dir)
    sources = os.path.join(short_dir, "src")
    settings.install_sources = [*settings.install_sources, sources]
    settings.ai_service_url = ai_url
    settings.ai_sync_retry_delay = 0.2
    settings.ai_sync_max_delay = 0.5
    settings.ai_tool_sync_grace = 5.0
    host = Host(settings, services=[http_service], supervisor_factory=partial(Supervisor, settings),
                marketplace_factory=partial(open_marketplace, settings), toolsync_factory=partial(ToolSync, settings))
    await nursery.start(host.serve)
    return host


def local_install(short_dir, plugin_id: str, project_id: str | None) -> dict:
    tree = python_tree(os.path.join(short_dir, "src", plugin_id), plugin_id, "1.0.0", tools=TOOLS)
    body = {"id": plugin_id, "name": plugin_id, "version": "1.0.0", "source": {"local": {"path": tree}},
            "build": {"language": "python"}}
    return {**body, "project_id": project_id} if project_id else body


def expected_body(plugin_id: str, tool: dict, project_id: str) -> dict:
    return {
        "name": f"plugin:{plugin_id}:{tool['name']}", "description": tool.get("description") or tool["title"],
        "tool_type": "MCP", "transport_type": "plugin", "endpoint": f"plugin://{plugin_id}", "project_id": project_id,
        "config": {"plugin_id": plugin_id, "tool_name": tool["name"],
                   "parameters": [{"name": p["name"], "type": p.get("type", "string"), "description": p.get("description"),
                                   "required": p.get("required", False)} for p in tool.get("parameters", [])]},
    }


def strip_none(value):
    if isinstance(value, dict):
        return {k: strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_none(v) for v in value]
    return value


async def test_register_announces_each_tool_reconnect_keeps_them_uninstall_removes(settings, nursery, market, short_dir):  # noqa: F811
    ai = FakeAI()
    try:
        host = await open_host(nursery, settings, market, short_dir, ai.base)
        async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=120) as api:
            response = await api.post("/plugins/install", json=local_install(short_dir, "test.tools", "proj-7"))
            assert response.status_code == 200, response.text
            await wait_for(lambda: len(ai.calls) >= 2, timeout=20)
            posts = [c for c in ai.calls if c[0] == "POST"]
            assert [c[1] for c in posts] == ["/api/v1/tools/plugin"] * 2
            assert [c[3] for c in posts] == [strip_none(expected_body("test.tools", t, "proj-7")) for t in TOOLS]
            # a global plugin (no project) is not announced
            response = await api.post("/plugins/install", json=local_install(short_dir, "test.global-tools", None))
            assert response.status_code == 200, response.text
            # a brief reconnect (restart) keeps the tools: no DELETE, no second announcement
            restarted = await api.post("/plugins/test.tools/restart")
            assert restarted.json()["success"] is True
            await wait_for(lambda: host.supervisor.get("test.tools").registered, timeout=20)
            metrics = (await api.get("/metrics")).text
            assert "tgo_ai_tools_synced_total 2.0" in metrics and "tgo_ai_tool_sync_failures_total 0.0" in metrics
            assert len(ai.calls) == 2, ai.calls
            # uninstall: one DELETE by prefix, at once
            assert (await api.delete("/plugins/test.tools/uninstall")).status_code == 200
            await wait_for(lambda: len(ai.calls) == 3, timeout=10)
            assert ai.calls[2][:3] == ("DELETE", "/api/v1/tools/plugin/by-prefix", "prefix=plugin%3Atest.tools%3A")
            assert all(call[3] is None or "global" not in call[3]["name"] for call in ai.calls)
        host.request_stop()
    finally:
        ai.close()


async def test_ai_service_down_at_first_is_synced_once_up(settings, nursery, market, short_dir):  # noqa: F811
    port = free_port()
    host = await open_host(nursery, settings, market, short_dir, f"http://127.0.0.1:{port}")
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=120) as api:
        response = await api.post("/plugins/install", json=local_install(short_dir, "test.late", "proj-1"))
        assert response.status_code == 200, response.text  # registration did not wait for the AI service
        await wait_for(lambda: host.toolsync.failures >= 2, timeout=10)
        ai = FakeAI(port)
        try:
            await wait_for(lambda: len(ai.calls) >= 2, timeout=10)
            await wait_for(lambda: host.toolsync.tools_synced == 2, timeout=5)
            assert [c[3]["name"] for c in ai.calls] == ["plugin:test.late:lookup_order", "plugin:test.late:list_orders"]
        finally:
            ai.close()
    host.request_stop()
