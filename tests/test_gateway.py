"""tgo-host as a drop-in for the upstream plugin runtime, seen from the real TGO gateway.

A test client makes exactly the gateway's calls (methods, paths, query
parameters — including the calls that omit ``project_id`` — and bodies) against
a host with a global launched plugin (from a plugin.yml), and dev-mode plugins
bound to projects P and Q, and checks every answer against the fields the
gateway's schemas require. The plugins (tests/plugins/gateway_plugin.py) refuse
any render/event whose params lack a key the official SDKs need, and echo the
params so the tests can check them exactly.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from datetime import datetime
from functools import partial

import httpx
import pytest
import trio

from support.paths import PLUGINS
from support.waiting import wait_for, wait_registered
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.plugins.auth import mint_dev_token
from tgo_host.plugins.supervisor import Supervisor

SECRET = "gateway-test-secret-0123456789abcdef"
PLUGIN = PLUGINS / "gateway_plugin.py"
GLOBAL, DEV_P, DEV_Q = "gw.global", "gw.dev-p", "gw.dev-q"
#: What the gateway sends: only this header; no Authorization, no Origin.
GATEWAY_HEADERS = {"Content-Type": "application/json"}


# -- the gateway's schemas (the fields it requires and the types it parses) ---------------


def need(obj, where: str, **fields) -> None:
    """``obj`` is an object with each field present and of the given type(s) (``None`` in the tuple: nullable)."""
    assert isinstance(obj, dict), f"{where}: not an object: {obj!r}"
    for name, types in fields.items():
        assert name in obj, f"{where}: missing {name!r} in {obj!r}"
        types = types if isinstance(types, tuple) else (types,)
        allowed = tuple(type(None) if t is None else t for t in types)
        value = obj[name]
        assert isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed), (
            f"{where}.{name}: {value!r} is not {types}")


def iso_datetime(value: str, where: str) -> None:
    assert isinstance(value, str), f"{where}: {value!r}"
    datetime.fromisoformat(value.replace("Z", "+00:00"))  # raises for anything pydantic would not parse


def check_capabilities(caps, where: str) -> None:
    assert isinstance(caps, list), where
    for i, cap in enumerate(caps):
        need(cap, f"{where}[{i}]", type=str, title=str)
        if "priority" in cap:
            need(cap, f"{where}[{i}]", priority=int)
        for t, tool in enumerate(cap.get("tools") or []):
            need(tool, f"{where}[{i}].tools[{t}]", name=str)
            for p, param in enumerate(tool.get("parameters") or []):
                need(param, f"{where}[{i}].tools[{t}].parameters[{p}]", name=str, type=str)
                assert all(isinstance(v, str) for v in param.get("enum_values") or [])


def check_plugin_info(info, where: str) -> None:
    need(info, where, id=str, name=str, version=str, description=(str, None), author=(str, None),
         capabilities=list, connected_at=str, status=str, is_dev_mode=bool)
    assert info["status"] in ("connected", "disconnected")
    iso_datetime(info["connected_at"], f"{where}.connected_at")
    check_capabilities(info["capabilities"], f"{where}.capabilities")


def check_plugin_list(body) -> list[str]:
    need(body, "PluginListResponse", plugins=list, total=int)
    assert body["total"] == len(body["plugins"])
    for i, info in enumerate(body["plugins"]):
        check_plugin_info(info, f"plugins[{i}]")
    return [p["id"] for p in body["plugins"]]


def check_installed(body) -> dict[str, dict]:
    need(body, "InstalledPluginsResponse", plugins=list, total=int)
    assert body["total"] == len(body["plugins"])
    out = {}
    for i, item in enumerate(body["plugins"]):
        where = f"installed[{i}]"
        need(item, where, plugin_id=str, name=str, version=str, status=str, installed_at=str, updated_at=str,
             is_dev_mode=bool, capabilities=list, latest_version=(str, None), install_type=(str, None),
             source_url=(str, None), description=(str, None), author=(str, None), pid=(int, None),
             last_error=(str, None))
        iso_datetime(item["installed_at"], f"{where}.installed_at")
        iso_datetime(item["updated_at"], f"{where}.updated_at")
        check_capabilities(item["capabilities"], f"{where}.capabilities")
        out[item["plugin_id"]] = item
    return out


def check_ui(body, where: str) -> None:
    need(body, where, template=str, data=(dict, None))


def check_action(body, where: str) -> None:
    need(body, where, action=str)
    assert "data" in body


def echoed_render(ui) -> dict:
    """What the plugin received, from its echoing ``text`` template."""
    assert ui["template"] == "text", ui
    return json.loads(ui["data"]["text"])


def echoed_event(action) -> dict:
    assert action["action"] == "show_toast", action
    return json.loads(action["data"]["message"])


# -- the stack --------------------------------------------------------------------------


def launched_plugin_dir(root: str) -> str:
    """A plugin directory with a plugin.yml the supervisor launches: the global plugin."""
    plugin_dir = os.path.join(root, "plugins", "global")
    os.makedirs(plugin_dir)
    with open(os.path.join(plugin_dir, "plugin.yml"), "w") as fh:
        fh.write(textwrap.dedent(f"""\
            id: {GLOBAL}
            name: Global CRM
            version: 2.0.0
            description: launched from plugin_dirs
            author: tgo-host tests
            source: {{github: {{repo: example/global-crm, ref: main, path: /}}}}
            build:
              language: python
              python: {{entrypoint: {PLUGIN}}}
            runtime:
              args: [--id, {GLOBAL}, --two-panels, --toolbar, --tools]
              restart_delay: 0.2
            """))
    return os.path.dirname(plugin_dir)


class Gateway:
    """The gateway's HTTP client: its calls, its header, its 30 s timeout, 404 read as None."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @staticmethod
    def _q(project_id: str | None) -> dict:
        return {"project_id": project_id} if project_id is not None else {}

    async def get(self, path: str, project_id: str | None = None):
        response = await self.client.get(path, params=self._q(project_id))
        return self._answer(response)

    async def post(self, path: str, body: dict | None, project_id: str | None = None):
        response = await self.client.post(path, params=self._q(project_id), content=json.dumps(body or {}))
        return self._answer(response)

    @staticmethod
    def _answer(response: httpx.Response):
        if response.status_code == 404:
            return None
        assert 200 <= response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
        return response.json()


@pytest.fixture
async def stack(settings, nursery, plugins, short_dir):
    settings.http_addr = "127.0.0.1:0"
    settings.dev_tcp_addr = "127.0.0.1:0"
    settings.plugin_dirs = [launched_plugin_dir(short_dir)]
    host = Host(settings, secret=SECRET, services=[http_service], supervisor_factory=partial(Supervisor, settings))
    await nursery.start(host.serve)
    tcp = "%s:%d" % host.dev_tcp_address
    for plugin_id, project, extra in ((DEV_P, "P", ["--toolbar", "--tools"]), (DEV_Q, "Q", ["--tools"])):
        token = mint_dev_token(SECRET, project, "dev-user", 600)
        plugins.start([sys.executable, str(PLUGIN), "--id", plugin_id, "--tcp", tcp, "--dev-token", token, *extra])
    await wait_registered(host, GLOBAL, DEV_P, DEV_Q, timeout=20)
    async with httpx.AsyncClient(base_url=host.http_binds[0], headers=GATEWAY_HEADERS, timeout=30) as client:
        gateway = Gateway(client)
        gateway.host = host
        yield gateway
    host.request_stop()


# -- the tests ---------------------------------------------------------------------------


async def test_listings_follow_the_upstream_scoping_rule(stack):
    gw = stack
    assert check_plugin_list(await gw.get("/plugins")) == [DEV_P, DEV_Q, GLOBAL]  # no project_id: every plugin
    assert check_plugin_list(await gw.get("/plugins", "")) == [DEV_P, DEV_Q, GLOBAL]  # empty = none
    assert check_plugin_list(await gw.get("/plugins", "P")) == [DEV_P, GLOBAL]
    assert check_plugin_list(await gw.get("/plugins", "Q")) == [DEV_Q, GLOBAL]
    assert check_plugin_list(await gw.get("/plugins", "R")) == [GLOBAL]
    info = await gw.get(f"/plugins/{DEV_P}", "P")
    check_plugin_info(info, "PluginInfo")
    assert info["is_dev_mode"] is True and info["version"] == "1.2.3"
    assert await gw.get(f"/plugins/{DEV_Q}", "P") is None  # another project's plugin: 404 → None
    check_plugin_info(await gw.get(f"/plugins/{DEV_Q}"), "PluginInfo")  # unscoped: visible
    buttons = await gw.get("/plugins/chat-toolbar/buttons", "P")
    for i, button in enumerate(buttons["buttons"]):
        need(button, f"buttons[{i}]", plugin_id=str, title=str, icon=(str, None), tooltip=(str, None),
             shortcut=(str, None))
    assert sorted(b["plugin_id"] for b in buttons["buttons"]) == [DEV_P, GLOBAL]


async def test_ai_tool_calls_without_project_id_reach_dev_plugins(stack):
    gw = stack
    body = {"arguments": {"order_id": "A-1"},
            "context": {"visitor_id": "v-1", "session_id": "s-1", "agent_id": "agent-7", "language": "en"}}
    for plugin_id in (DEV_P, DEV_Q, GLOBAL):
        result = await gw.post(f"/plugins/tools/execute/{plugin_id}/lookup_order", body)  # no project_id
        need(result, "ToolExecuteResponse", success=bool, content=(str, None))
        assert result["success"] is True and result["content"] == f"order A-1 via {plugin_id}"
        assert result["data"] == {"visitor_id": "v-1", "agent_id": "agent-7"}
    # a call with only arguments: the plugin still gets every key
    result = await gw.post(f"/plugins/tools/execute/{DEV_P}/lookup_order", {"arguments": {"order_id": "B-2"}})
    assert result["success"] is True and result["data"] == {"visitor_id": None, "agent_id": None}
    # scoped to another project it stays hidden
    assert await gw.post(f"/plugins/tools/execute/{DEV_Q}/lookup_order", body, "P") is None


async def test_visitor_panel_fan_out_one_panel_per_plugin_with_complete_params(stack):
    gw = stack
    context = {"channel_id": "ch-9", "channel_type": 1, "platform_type": "website", "extra": {"utm": "x"}}
    body = {"visitor_id": "v-1", "session_id": None, "visitor": None, "language": "zh-CN", "context": context}
    answer = await gw.post("/plugins/visitor-panel/render", body, "P")
    need(answer, "VisitorPanelRenderResponse", panels=list)
    panels = answer["panels"]
    for i, panel in enumerate(panels):
        need(panel, f"panels[{i}]", plugin_id=str, title=str, icon=(str, None), priority=int, ui=dict)
        check_ui(panel["ui"], f"panels[{i}].ui")
    assert [p["plugin_id"] for p in panels] == [DEV_P, GLOBAL] or [p["plugin_id"] for p in panels] == [GLOBAL, DEV_P]
    assert len({p["plugin_id"] for p in panels}) == len(panels)  # the web app keys panels by plugin_id
    glob = next(p for p in panels if p["plugin_id"] == GLOBAL)
    # two visitor_panel capabilities: one render, title/icon/priority of the first (not the second's priority 1)
    assert (glob["title"], glob["icon"], glob["priority"]) == (f"{GLOBAL} first", "user", 10)
    for panel in panels:
        received = echoed_render(panel["ui"])
        assert received == {"method": "visitor_panel/render", "params": {
            "visitor_id": "v-1", "session_id": None, "visitor": {}, "context": context, "language": "zh-CN"}}
    assert answer.get("errors", []) == []
    # the gateway may also send only visitor_id
    answer = await gw.post("/plugins/visitor-panel/render", {"visitor_id": "v-2"})
    assert sorted(p["plugin_id"] for p in answer["panels"]) == [DEV_P, DEV_Q, GLOBAL]
    for panel in answer["panels"]:
        assert echoed_render(panel["ui"])["params"] == {
            "visitor_id": "v-2", "session_id": None, "visitor": {}, "context": {}, "language": None}
    # a visitor object reaches plugins as sent, extra fields included
    visitor = {"id": "v-3", "name": "Ada", "metadata": {"plan": None}, "tags": ["vip"], "is_online": True}
    answer = await gw.post("/plugins/visitor-panel/render", {"visitor_id": "v-3", "visitor": visitor}, "Q")
    for panel in answer["panels"]:
        assert echoed_render(panel["ui"])["params"]["visitor"] == visitor


async def test_single_render_and_event_calls(stack):
    gw = stack
    # chat toolbar render/event, as the gateway sends them
    ui = await gw.post(f"/plugins/chat-toolbar/{DEV_P}/render",
                       {"visitor_id": "v-1", "session_id": "s-1", "action_id": "open", "agent_id": "a-1",
                        "language": "en"}, "P")
    check_ui(ui, "toolbar render")
    assert echoed_render(ui) == {"method": "chat_toolbar/render", "params": {
        "action_id": "open", "session_id": "s-1", "visitor_id": "v-1", "visitor": {}, "agent_id": "a-1",
        "context": {}, "language": "en"}}
    ui_context = {"extension_type": "chat_toolbar", "visitor_id": "v-1", "channel_id": "ch-1", "channel_type": 1,
                  "platform_type": "website", "is_modal": True}
    action = await gw.post(f"/plugins/chat-toolbar/{DEV_P}/event",
                           {"event_type": "form_submit", "action_id": "create", "visitor_id": "v-1",
                            "language": "en", "form_data": {"title": "Refund"}, "payload": ui_context}, "P")
    check_action(action, "toolbar event")
    assert echoed_event(action) == {"method": "chat_toolbar/event", "params": {
        "event_type": "form_submit", "action_id": "create", "visitor_id": "v-1", "session_id": None,
        "selected_id": None, "language": "en", "form_data": {"title": "Refund"}, "payload": ui_context}}
    # the generic routes: without extension_type, chat_toolbar when declared ...
    ui = await gw.post(f"/plugins/{GLOBAL}/render", {"visitor_id": "v-1"}, "P")
    assert echoed_render(ui)["method"] == "chat_toolbar/render"
    # ... else visitor_panel
    ui = await gw.post(f"/plugins/{DEV_Q}/render", {"visitor_id": "v-1"}, "Q")
    assert echoed_render(ui) == {"method": "visitor_panel/render", "params": {
        "visitor_id": "v-1", "session_id": None, "visitor": {}, "context": {}, "language": None}}
    # the web app's button click, with the UI context as payload
    web_event = {"event_type": "button_click", "action_id": "refresh", "extension_type": "visitor_panel",
                 "visitor_id": "v-1", "language": "en", "payload": {**ui_context, "extension_type": "visitor_panel"}}
    action = await gw.post(f"/plugins/{GLOBAL}/event", web_event, "P")
    assert echoed_event(action) == {"method": "visitor_panel/event", "params": {
        "event_type": "button_click", "action_id": "refresh", "visitor_id": "v-1", "session_id": None,
        "selected_id": None, "language": "en", "form_data": {}, "payload": web_event["payload"]}}
    action = await gw.post(f"/plugins/{GLOBAL}/event", {"event_type": "button_click", "action_id": "x"}, "P")
    assert echoed_event(action)["method"] == "chat_toolbar/event"
    # another project's plugin: 404 → None, on every single-plugin route
    assert await gw.post(f"/plugins/{DEV_Q}/render", {"visitor_id": "v-1"}, "P") is None
    assert await gw.post(f"/plugins/{DEV_Q}/event", {"event_type": "button_click", "action_id": "x"}, "P") is None


async def test_installed_lists_launched_and_dev_plugins_in_the_gateways_shape(stack):
    gw = stack
    everything = check_installed(await gw.get("/plugins/installed"))
    assert set(everything) == {GLOBAL, DEV_P, DEV_Q}
    scoped = check_installed(await gw.get("/plugins/installed", "P"))
    assert set(scoped) == {GLOBAL, DEV_P}
    glob, dev = scoped[GLOBAL], scoped[DEV_P]
    assert glob["install_type"] == "local" and glob["is_dev_mode"] is False and glob["status"] == "running"
    assert glob["name"] == "Global CRM" and glob["version"] == "2.0.0" and isinstance(glob["pid"], int)
    assert glob["source_url"] == "https://github.com/example/global-crm"
    assert [c["type"] for c in glob["capabilities"]] == ["visitor_panel", "visitor_panel", "chat_toolbar", "mcp_tools"]
    session = gw.host.registry.get(DEV_P)
    assert dev["install_type"] == "dev" and dev["is_dev_mode"] is True and dev["status"] == "running"
    assert dev["installed_at"] == dev["updated_at"] == session.connected_at.isoformat()
    assert dev["name"] == DEV_P and dev["version"] == "1.2.3" and dev["description"] == "gateway test plugin"
    assert [c["type"] for c in dev["capabilities"]] == ["visitor_panel", "chat_toolbar", "mcp_tools"]


async def test_process_routes_the_gateway_calls(stack):
    gw = stack
    status = await gw.get(f"/plugins/{GLOBAL}/status", "P")
    need(status, "PluginStatus", id=str, status=str, pid=(int, None), restart_count=int, last_error=(str, None))
    logs = await gw.get(f"/plugins/{GLOBAL}/logs", "P")
    need(logs, "PluginLogs", plugin_id=str, logs=list)
    assert f"registered as {GLOBAL}" in "\n".join(logs["logs"])
    old_pid = status["pid"]
    restarted = await gw.post(f"/plugins/{GLOBAL}/restart", None, "P")
    need(restarted, "PluginOperation", success=bool, message=str, status=str, pid=(int, None))
    assert restarted["success"] is True and restarted["pid"] != old_pid
    await wait_for(lambda: gw.host.registry.get(GLOBAL) is not None, timeout=15)
    await wait_for(lambda: gw.host.supervisor.get(GLOBAL).registered, timeout=15)
    assert check_installed(await gw.get("/plugins/installed", "P"))[GLOBAL]["status"] == "running"


async def test_a_plugin_asserting_empty_visitor_and_context_on_every_path(settings, nursery, plugins):
    """The plugin refuses (-32602) any call where visitor/context (render) or form_data/payload (event) is not {}."""
    settings.http_addr = "127.0.0.1:0"
    host = Host(settings, services=[http_service])
    await nursery.start(host.serve)
    plugins.start([sys.executable, str(PLUGIN), "--id", "strict", "--toolbar", "--expect-empty"])
    await wait_registered(host, "strict")
    async with httpx.AsyncClient(base_url=host.http_binds[0], headers=GATEWAY_HEADERS, timeout=30) as client:
        gw = Gateway(client)
        fan_out = await gw.post("/plugins/visitor-panel/render", {"visitor_id": "v", "visitor": None})
        assert fan_out.get("errors") == [] and len(fan_out["panels"]) == 1
        assert echoed_render(fan_out["panels"][0]["ui"])["params"]["visitor"] == {}
        for path, body in (
            ("/plugins/strict/render?extension_type=visitor_panel", {}),
            ("/plugins/strict/render?extension_type=visitor_panel", {"visitor": None, "context": None}),
            ("/plugins/strict/render", {"visitor_id": "v"}),
            ("/plugins/chat-toolbar/strict/render", {"action_id": "open"}),
        ):
            received = echoed_render(await gw.post(path, body))
            assert received["params"]["visitor"] == {} and received["params"]["context"] == {}, path
        for path, body in (
            ("/plugins/strict/event", {"event_type": "button_click", "action_id": "a", "extension_type": "visitor_panel"}),
            ("/plugins/chat-toolbar/strict/event", {"event_type": "button_click", "action_id": "a", "payload": None}),
        ):
            received = echoed_event(await gw.post(path, body))["params"]
            assert set(received) == {"event_type", "action_id", "visitor_id", "session_id", "selected_id",
                                     "language", "form_data", "payload"}, path
        # and the plugin really does refuse: a visitor it did not expect comes back as its error (502)
        response = await client.post("/plugins/strict/render?extension_type=visitor_panel",
                                     content=json.dumps({"visitor": {"id": "v"}}))
        assert response.status_code == 502 and "visitor is" in response.json()["detail"]
    host.request_stop()
