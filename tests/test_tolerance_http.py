"""The validation policy end to end: a real plugin subprocess sending what the web
app renders, over real HTTP: panels render with ``warnings``, fix-ups are
counted in /metrics, logged once per plugin and kind, listed for the console,
and every listed capability is one the gateway parses."""

from __future__ import annotations

import json
import logging
import sys

import httpx
import pytest

from support.gateway import gateway_accepts_capability
from support.paths import PLUGINS
from support.rawclient import RawClient
from support.waiting import wait_registered
from tgo_host.api.server import http_service
from tgo_host.host import Host

SLOPPY = "test.sloppy"


@pytest.fixture
async def api(settings, nursery, plugins):
    settings.http_addr = "127.0.0.1:0"
    host = Host(settings, services=[http_service])
    await nursery.start(host.serve)
    plugins.start([sys.executable, str(PLUGINS / "sloppy_panel.py"), "--id", SLOPPY])
    await wait_registered(host, SLOPPY)
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=20) as client:
        client.host = host
        yield client
    host.request_stop()


def kinds(warnings):
    return sorted((w["path"], w["kind"]) for w in warnings)


PANEL_WARNINGS = [
    ("data.items[0].data.items[3].copyable", "coerced"),
    ("data.items[1]", "placeholder"),
    ("data.items[3].data.items[1].content", "placeholder"),
    ("data.items[4].data.fields[0].required", "coerced"),
]


async def test_fan_out_renders_the_panel_with_warnings(api):
    body = (await api.post("/plugins/visitor-panel/render", json={"visitor_id": "v"})).json()
    assert body["errors"] == []
    [panel] = body["panels"]
    assert panel["plugin_id"] == SLOPPY and panel["priority"] == 2
    assert kinds(panel["warnings"]) == PANEL_WARNINGS
    assert all(w["message"] for w in panel["warnings"])
    items = panel["ui"]["data"]["items"]
    assert panel["ui"]["data"]["layout"] == "stacked"
    assert items[0]["data"]["items"] == [
        {"label": "Name", "value": ""},
        {"label": "Shop", "value": "https://shop.example.com/c/1", "type": "link"},
        {"label": "State", "value": "active", "type": "status", "color": "green"},
        {"label": "Orders", "value": 3, "copyable": True},
    ]
    assert items[1] == {"template": "sparkline", "data": {}}
    assert items[2]["data"]["columns"][0]["width"] == "30%"
    assert items[2]["data"]["rows"] == [{"id": "A-1", "total": None}]
    assert items[3]["data"]["items"][1]["content"] == {"template": "map", "data": {}}
    assert items[4]["data"]["fields"][0]["type"] == "email"
    assert items[5]["data"] == {"label": "Open shop", "action_id": "open", "type": "outline", "size": "huge"}


async def test_visitor_panel_context_reaches_the_plugin_unchanged(api):
    """The web app's context (channel_id, channel_type, platform_type, anything more) is forwarded as sent."""
    context = {"echo": True, "channel_id": "ch-1", "channel_type": 3, "platform_type": "wechat",
               "custom": {"deep": [1, None, "x"]}, "current_page": "https://shop.example.com/cart"}
    body = (await api.post("/plugins/visitor-panel/render", json={"visitor_id": "v", "context": context})).json()
    [panel] = body["panels"]
    assert json.loads(panel["ui"]["data"]["text"]) == context
    assert panel["warnings"] == []


async def test_single_render_and_events_carry_warnings(api):
    ui = (await api.post(f"/plugins/{SLOPPY}/render", json={"visitor_id": "v"})).json()
    assert kinds(ui.pop("warnings")) == PANEL_WARNINGS
    assert ui["template"] == "group"
    action = (await api.post(f"/plugins/{SLOPPY}/event", json={"event_type": "button_click", "action_id": "open"})).json()
    assert kinds(action.pop("warnings")) == [("data.actions[0]", "skipped")]
    assert action == {"action": "batch", "data": {"actions": [
        {"action": "show_toast", "data": {"message": "opened", "duration": 3000}},
        {"action": "open_url", "data": {"url": "mailto:help@example.com"}},
    ]}}
    modal = (await api.post(f"/plugins/{SLOPPY}/event", json={"event_type": "button_click", "action_id": "modal"})).json()
    assert modal["data"] == {"title": "Chart", "template": "chart", "data": {}}
    assert [w["kind"] for w in modal["warnings"]] == ["placeholder"]
    clean = (await api.post(f"/plugins/{SLOPPY}/event", json={"event_type": "button_click", "action_id": "x"})).json()
    assert clean == {"action": "noop", "data": {}}  # nothing fixed up: no warnings key


async def test_fix_ups_counted_logged_once_and_listed(api, caplog):
    caplog.set_level(logging.WARNING, logger="tgo_host.fixups")
    for _ in range(3):
        await api.post("/plugins/visitor-panel/render", json={"visitor_id": "v"})
    text = (await api.get("/metrics")).text
    # 2 coerced and 2 placeholders per render, plus 1 coerced and 2 filled at registration
    assert f'tgo_plugin_fixups_total{{kind="coerced",plugin_id="{SLOPPY}"}} 7.0' in text
    assert f'tgo_plugin_fixups_total{{kind="placeholder",plugin_id="{SLOPPY}"}} 6.0' in text
    assert f'tgo_plugin_fixups_total{{kind="filled",plugin_id="{SLOPPY}"}} 2.0' in text
    # one line per plugin and kind, however many renders ("coerced" was logged at registration already)
    lines = [r.getMessage() for r in caplog.records if r.name == "tgo_host.fixups"]
    rendered = [line for line in lines if "visitor_panel/render" in line]
    assert len(rendered) == 1 and f"plugin {SLOPPY}: placeholder in" in rendered[0], lines
    kinds_logged = [line.split(": ")[1].split(" in ")[0] for line in lines]
    assert len(kinds_logged) == len(set(kinds_logged)), lines

    listed = (await api.get("/console/fixups")).json()["plugins"][SLOPPY]
    assert listed["counts"] == {"coerced": 7, "placeholder": 6, "filled": 2}
    assert len(listed["recent"]) == 10 and listed["recent"][-1]["method"] == "visitor_panel/render"
    assert sorted((f["path"], f["kind"]) for f in listed["registration"]) == [
        ("capabilities[2].title", "filled"),
        ("capabilities[2].tools[0].parameters[0].enum_values", "coerced"),
        ("capabilities[2].tools[0].title", "filled"),
    ]
    assert listed["total"] == 15


async def test_rejections_are_counted_per_plugin(api, plugins):
    plugins.scripted("gosdk", "--mode", "invalid")
    await wait_registered(api.host, "gosdk")
    assert (await api.post("/plugins/gosdk/render", json={})).status_code == 502
    text = (await api.get("/metrics")).text
    assert 'tgo_plugin_fixups_total{kind="rejected",plugin_id="gosdk"} 1.0' in text
    listed = (await api.get("/console/fixups")).json()["plugins"]["gosdk"]
    assert listed["recent"][0]["kind"] == "rejected" and "template" in listed["recent"][0]["message"]


async def test_listed_capabilities_are_what_the_gateway_parses(api):
    for path in ("/plugins", f"/plugins/{SLOPPY}"):
        body = (await api.get(path)).json()
        infos = body["plugins"] if "plugins" in body else [body]
        for info in infos:
            for cap in info["capabilities"]:
                assert gateway_accepts_capability(cap) == [], (path, cap)
    tools = [c for c in (await api.get(f"/plugins/{SLOPPY}")).json()["capabilities"] if c["type"] == "mcp_tools"][0]
    assert tools["title"] == "Sloppy CRM" and tools["priority"] == 10
    assert tools["tools"][0]["parameters"][0]["enum_values"] == ["1", "2"]


@pytest.mark.parametrize(
    ("capability", "path"),
    [
        ({"type": "visitor_panel", "title": "T", "priority": 1.5}, "capabilities[0].priority"),
        ({"type": "chat_toolbar"}, "capabilities[0].title"),
        ({"type": "sidebar_iframe", "title": "T", "width": "wide"}, "capabilities[0].width"),
        ({"type": "mcp_tools", "tools": [{"name": "t", "parameters": [{"name": "p", "enum_values": [{}]}]}]},
         "capabilities[0].tools[0].parameters[0].enum_values[0]"),
    ],
)
async def test_capabilities_the_gateway_cannot_parse_are_refused_at_registration(api, capability, path):
    client = await RawClient.connect(api.host.settings.socket_path)
    try:
        reply = await client.register("bad.caps", capabilities=[capability])
    finally:
        await client.aclose()
    assert reply["error"]["code"] == -32602
    assert path in reply["error"]["message"]
    assert "bad.caps" not in {p["id"] for p in (await api.get("/plugins")).json()["plugins"]}
