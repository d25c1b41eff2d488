"""The example plugins as real subprocesses under the real (in-process) host.

Everything goes through ``host.dispatcher`` (which validates every result with
the host's own models) or through the HTTP API, never around the host. Also:
SQLite tickets survive a plugin restart, the SDK reconnects after a host
restart, and a slow handler does not hold up a concurrent ``ping``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys

import httpx
import pytest
import trio

from support.examples import CRM, DASHBOARD, example, IFRAME, IM, NODE_ID, QUICK, RAW_PANEL, RAW_TOOLBAR, TICKETS, TOOLS, VISITOR
from support.paths import EXAMPLES, PLUGINS
from support.waiting import wait_for, wait_registered
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.wire.errors import RemoteError

def click(action_id: str, **extra):
    return {"event_type": "button_click", "action_id": action_id, "visitor_id": "v-1001", "session_id": "s-1", **extra}


def load_module(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / name / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def templates(ui: dict) -> list[str]:
    """Every template name in a (nested) JSON-UI tree, depth first."""
    out = [ui["template"]]
    data = ui["data"]
    if ui["template"] == "group":
        for item in data["items"]:
            out += templates(item)
    elif ui["template"] == "tabs":
        for tab in data["items"]:
            out += templates(tab["content"])
    return out


# -- one example at a time, through host.dispatcher ------------------------------

async def test_crm_panel_render_and_buttons(host, plugins):
    example(plugins, "crm_panel")
    await wait_registered(host, CRM)
    ui = await host.dispatcher.render(CRM, "visitor_panel", VISITOR)
    assert templates(ui) == ["group", "key_value", "table", "action"]
    profile, orders, bar = ui["data"]["items"]
    items = {i["label"]: i for i in profile["data"]["items"]}
    assert items["Name"]["value"] == "Alice Chen" and items["Company"]["value"] == "Acme Corp"  # from crm.json
    assert items["Email"]["copyable"] is True and items["Total spent"]["value"] == 12840.5
    assert orders["data"]["rows"][0]["status"] == {"text": "shipped", "color": "blue"}
    assert [c["type"] for c in orders["data"]["columns"] if c["key"] == "status"] == ["badge"]
    assert [b["id"] for b in bar["data"]["buttons"]] == ["open_crm", "copy_email", "mark_vip"]

    answers = {b["id"]: await host.dispatcher.event(CRM, "visitor_panel", click(b["id"])) for b in bar["data"]["buttons"]}
    assert answers["open_crm"] == {"action": "open_url",
                                   "data": {"url": "https://crm.example.com/customers/v-1001", "target": "_blank"}}
    assert answers["copy_email"] == {"action": "copy_text", "data": {"text": "alice@example.com", "toast": "Email copied"}}
    assert answers["mark_vip"]["action"] == "show_toast"
    assert answers["mark_vip"]["data"]["message"] == "Customer marked as VIP" and answers["mark_vip"]["data"]["type"] == "success"

    # an unknown visitor still renders (no CRM record), and has no email to copy
    ui = await host.dispatcher.render(CRM, "visitor_panel", {"visitor_id": "v-nobody"})
    assert ui["data"]["items"][0]["data"]["items"][0]["value"] == "Unknown visitor"
    action = await host.dispatcher.event(CRM, "visitor_panel", click("copy_email", visitor_id="v-nobody"))
    assert action["action"] == "show_toast" and action["data"]["type"] == "warning"


async def test_quick_reply_item_select_inserts_that_reply(host, plugins):
    replies = {r["id"]: r["text"] for r in load_module("quick_reply").REPLIES}
    example(plugins, "quick_reply")
    await wait_registered(host, QUICK)
    ui = await host.dispatcher.render(QUICK, "chat_toolbar", {"action_id": "open", "visitor_id": "v-1001"})
    assert ui["template"] == "list" and ui["data"]["searchable"] is True
    assert [i["id"] for i in ui["data"]["items"]] == list(replies)
    for item in ui["data"]["items"]:
        action = await host.dispatcher.event(
            QUICK, "chat_toolbar", {"event_type": "item_select", "action_id": "open", "selected_id": item["id"]})
        assert action["action"] == "insert_text" and action["data"]["text"] == replies[item["id"]]
    action = await host.dispatcher.event(
        QUICK, "chat_toolbar", {"event_type": "item_select", "action_id": "open", "selected_id": "nope"})
    assert action["action"] == "show_toast" and action["data"]["type"] == "error"


async def test_ticket_form_validates_stores_and_survives_restart(host, plugins, short_dir):
    db = os.path.join(short_dir, "tickets.db")
    proc = example(plugins, "ticket_form", TICKET_DB=db)
    await wait_registered(host, TICKETS)
    empty = await host.dispatcher.render(TICKETS, "visitor_panel", VISITOR)
    assert empty["template"] == "empty"

    form = await host.dispatcher.render(
        TICKETS, "chat_toolbar", {"action_id": "open", "context": {"last_message": {"role": "user", "content": "It broke"}}})
    assert form["template"] == "form" and form["data"]["action_id"] == "create_ticket"
    fields = {f["name"]: f for f in form["data"]["fields"]}
    assert [f["type"] for f in form["data"]["fields"]] == ["text", "select", "radio", "checkbox", "textarea"]
    assert fields["title"]["required"] is True and fields["description"]["default"] == "It broke"

    submit = {"event_type": "form_submit", "action_id": "create_ticket", "visitor_id": "v-1001", "session_id": "s-1"}
    action = await host.dispatcher.event(TICKETS, "chat_toolbar", {**submit, "form_data": {"title": "  ", "priority": "high"}})
    assert action["action"] == "show_toast" and action["data"]["type"] == "error" and "Title" in action["data"]["message"]
    action = await host.dispatcher.event(TICKETS, "chat_toolbar", {**submit, "form_data": {
        "title": "Login fails", "priority": "high", "category": "technical", "notify": True, "description": "500 on /login"}})
    assert action["action"] == "batch"
    toast, close, refresh = action["data"]["actions"]
    assert toast["action"] == "show_toast" and toast["data"]["type"] == "success" and "#1" in toast["data"]["message"]
    assert close == {"action": "close_modal", "data": {}} and refresh == {"action": "refresh", "data": {}}

    async def listed() -> list[dict]:
        ui = await host.dispatcher.render(TICKETS, "visitor_panel", VISITOR)
        assert ui["template"] == "list", ui
        return ui["data"]["items"]

    items = await listed()
    assert [i["title"] for i in items] == ["#1 Login fails"]
    assert items[0]["description"] == "High priority · Technical"
    other = await host.dispatcher.render(TICKETS, "visitor_panel", {"visitor_id": "v-other"})
    assert other["template"] == "empty"  # tickets are per visitor

    # kill the plugin (no shutdown, no goodbye) and start a new process on the same database
    proc.kill()
    await trio.to_thread.run_sync(proc.wait, 5)
    await wait_for(lambda: host.registry.get(TICKETS) is None)
    new = example(plugins, "ticket_form", TICKET_DB=db)
    await wait_registered(host, TICKETS)
    assert host.registry.get(TICKETS).peer.pid == new.pid
    assert [i["title"] for i in await listed()] == ["#1 Login fails"]


async def test_order_dashboard_tabs(host, plugins):
    example(plugins, "order_dashboard")
    await wait_registered(host, DASHBOARD)
    ui = await host.dispatcher.render(DASHBOARD, "visitor_panel", VISITOR)
    assert ui["template"] == "tabs" and ui["data"]["default_tab"] == "overview"
    contents = {tab["key"]: tab["content"]["template"] for tab in ui["data"]["items"]}
    assert sorted(contents.values()) == sorted(["stats", "timeline", "cards", "markdown", "empty", "loading"])
    # the same customer as the CRM panel's (crm_panel/crm.json): the two panels agree
    stats = next(t["content"] for t in ui["data"]["items"] if t["content"]["template"] == "stats")
    figures = {item["label"]: item["value"] for item in stats["data"]["items"]}
    assert figures == {"Orders": 24, "Total spent": "$12,840.50", "Returns": 1}
    cards = next(t["content"] for t in ui["data"]["items"] if t["content"]["template"] == "cards")
    product = cards["data"]["items"][0]
    action = await host.dispatcher.event(
        DASHBOARD, "visitor_panel", click(cards["data"]["item_click_action"], payload=product))
    assert action == {"action": "open_url", "data": {"url": f"https://shop.example.com/products/{product['id']}",
                                                     "target": "_blank"}}
    empty = next(t["content"] for t in ui["data"]["items"] if t["content"]["template"] == "empty")
    action = await host.dispatcher.event(DASHBOARD, "visitor_panel", click(empty["data"]["action"]["id"]))
    assert [a["action"] for a in action["data"]["actions"]] == ["show_toast", "refresh"]


async def test_crm_iframe_config_points_at_a_served_page(host, plugins):
    example(plugins, "crm_iframe")
    await wait_registered(host, IFRAME)
    config = await host.dispatcher.iframe_config(IFRAME)
    url = config["url"]
    assert url.startswith("http://127.0.0.1:") and int(url.split(":")[2].strip("/")) > 0
    capability = host.registry.get(IFRAME).capabilities[0]
    assert capability.type == "sidebar_iframe" and capability.url == url
    async with httpx.AsyncClient(timeout=5) as client:
        page = await client.get(url)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "tgo_context_update" in page.text and "tgo_plugin_message" in page.text
        assert "postMessage" in page.text
        assert (await client.get(url + "nope")).status_code == 404


async def test_custom_im_manifest_and_send_to_outbox(host, plugins, short_dir):
    outbox = os.path.join(short_dir, "outbox.jsonl")
    example(plugins, "custom_im", CUSTOM_IM_OUTBOX=outbox)
    await wait_registered(host, IM)
    manifest = await host.dispatcher.channel_manifest(IM)
    schema = manifest["config_schema"]
    assert manifest["channel_type"] == "custom_im"
    assert schema["type"] == "object" and set(schema["required"]) <= set(schema["properties"])
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert manifest["setup_guide"].startswith("## ") and "**bot**" in manifest["setup_guide"]

    params = {"channel_id": "ch-1", "to": {"id": "u-42"}, "message": {"type": "text", "content": "Hello!"}}
    result = await host.dispatcher.channel_send(IM, params)
    assert result["success"] is True and result["message_id"].startswith("cim_")
    lines = open(outbox, encoding="utf-8").read().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["message_id"] == result["message_id"] and record["message"]["content"] == "Hello!"
    assert record["to"] == {"id": "u-42"} and record["channel_id"] == "ch-1"
    second = await host.dispatcher.channel_send(IM, {**params, "message": {"type": "text", "content": "Bye"}})
    assert len(open(outbox, encoding="utf-8").read().splitlines()) == 2 and second["message_id"] != result["message_id"]


async def test_order_tools_execute(host, plugins):
    example(plugins, "order_tools")
    await wait_registered(host, TOOLS)
    capability = host.registry.get(TOOLS).capabilities[0]
    assert [t.name for t in capability.tools] == ["lookup_order", "list_orders"]
    found = await host.dispatcher.tool_execute(TOOLS, {"tool_name": "lookup_order", "arguments": {"order_id": "ORD-1042"}})
    assert found["success"] is True and "ORD-1042" in found["content"] and found["data"]["status"] == "shipped"
    listed = await host.dispatcher.tool_execute(TOOLS, {"tool_name": "list_orders", "arguments": {}, "visitor_id": "v-1001"})
    assert listed["success"] is True and len(listed["data"]["orders"]) == 2
    missing = await host.dispatcher.tool_execute(TOOLS, {"tool_name": "lookup_order", "arguments": {"order_id": "ORD-9"}})
    assert missing["success"] is False and missing["error"] == "order ORD-9 not found"


async def test_hello_node(host, plugins):
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is required in CI (the hello_node example is a Node.js plugin)")
        pytest.skip("node is not installed: the hello_node example (Node.js) cannot run here")
    plugins.start([node, str(EXAMPLES / "hello_node" / "index.js")])
    await wait_registered(host, NODE_ID)
    ui = await host.dispatcher.render(NODE_ID, "visitor_panel", VISITOR)
    assert ui["template"] == "key_value"
    values = {i["label"]: i["value"] for i in ui["data"]["items"]}
    assert values["Visitor"] == "Alice Chen" and values["Node"].startswith("v")
    action = await host.dispatcher.event(NODE_ID, "visitor_panel", click("hi"))
    assert action["action"] == "show_toast" and "hi" in action["data"]["message"]


async def test_missing_handler_is_method_not_found(host, plugins):
    example(plugins, "quick_reply")
    await wait_registered(host, QUICK)
    with pytest.raises(RemoteError) as info:  # quick_reply has no visitor panel handler
        await host.registry.get(QUICK).call("visitor_panel/render", {"visitor_id": "v"})
    assert info.value.code == -32601 and "visitor_panel/render" in info.value.error_message


# -- everything at once, over HTTP ----------------------------------------------

@pytest.fixture
async def api(settings, nursery):
    settings.http_addr = "127.0.0.1:0"
    host = Host(settings, services=[http_service])
    await nursery.start(host.serve)
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=20) as client:
        client.host = host
        yield client
    host.request_stop()


async def test_all_examples_over_http(api, plugins, short_dir):
    for name in ("crm_panel", "quick_reply", "order_dashboard", "crm_iframe", "order_tools", "raw_panel", "raw_toolbar"):
        example(plugins, name)
    example(plugins, "ticket_form", TICKET_DB=os.path.join(short_dir, "t.db"))
    example(plugins, "custom_im", CUSTOM_IM_OUTBOX=os.path.join(short_dir, "out.jsonl"))
    ids = [CRM, QUICK, DASHBOARD, IFRAME, TOOLS, RAW_PANEL, RAW_TOOLBAR, TICKETS, IM]
    if shutil.which("node"):
        plugins.start([shutil.which("node"), str(EXAMPLES / "hello_node" / "index.js")])
        ids.append(NODE_ID)
    await wait_registered(api.host, *ids)
    listed = (await api.get("/plugins")).json()
    assert sorted(p["id"] for p in listed["plugins"]) == sorted(ids)

    # the visitor-panel fan-out: every panel renders and validates, sorted by priority
    body = (await api.post("/plugins/visitor-panel/render", json=VISITOR)).json()
    assert body["errors"] == []
    panels = body["panels"]
    expected = {CRM, DASHBOARD, TICKETS, RAW_PANEL} | ({NODE_ID} if NODE_ID in ids else set())
    assert {p["plugin_id"] for p in panels} == expected
    assert [p["priority"] for p in panels] == sorted(p["priority"] for p in panels)
    by_id = {p["plugin_id"]: p for p in panels}
    assert by_id[CRM]["title"] == "Customer" and by_id[CRM]["ui"]["template"] == "group"
    assert by_id[DASHBOARD]["ui"]["template"] == "tabs"

    # a panel button, through the generic event route
    action = (await api.post(f"/plugins/{CRM}/event", json=click("open_crm"))).json()
    assert action["action"] == "open_url" and action["data"]["url"].endswith("/v-1001")

    # the toolbar: buttons, render, item_select and form_submit
    buttons = {b["plugin_id"]: b for b in (await api.get("/plugins/chat-toolbar/buttons")).json()["buttons"]}
    assert set(buttons) == {QUICK, TICKETS, RAW_TOOLBAR} and buttons[QUICK]["shortcut"] == "Ctrl+Shift+R"
    ui = (await api.post(f"/plugins/chat-toolbar/{QUICK}/render", json={"action_id": "open"})).json()
    first = ui["data"]["items"][0]
    action = (await api.post(f"/plugins/chat-toolbar/{QUICK}/event",
                             json={"event_type": "item_select", "action_id": "open", "selected_id": first["id"]})).json()
    assert action["action"] == "insert_text" and action["data"]["text"].startswith("Hello!")
    submit = {"event_type": "form_submit", "action_id": "create_ticket", "visitor_id": "v-1001"}
    missing = (await api.post(f"/plugins/chat-toolbar/{TICKETS}/event", json={**submit, "form_data": {}})).json()
    assert missing["action"] == "show_toast" and missing["data"]["type"] == "error"
    created = (await api.post(f"/plugins/chat-toolbar/{TICKETS}/event",
                              json={**submit, "form_data": {"title": "Refund", "priority": "low"}})).json()
    assert [a["action"] for a in created["data"]["actions"]] == ["show_toast", "close_modal", "refresh"]
    # the plugin has both extension points: without extension_type the toolbar answers (upstream's rule)
    assert (await api.post(f"/plugins/{TICKETS}/render", json={"visitor_id": "v-1001"})).json()["template"] == "form"
    ui = (await api.post(f"/plugins/{TICKETS}/render?extension_type=visitor_panel", json={"visitor_id": "v-1001"})).json()
    assert ui["template"] == "list" and ui["data"]["items"][0]["title"] == "#1 Refund"

    # tools, iframe, channel
    result = (await api.post(f"/plugins/tools/execute/{TOOLS}/lookup_order",
                             json={"arguments": {"order_id": "ORD-1040"}, "context": {"visitor_id": "v-1002"}})).json()
    assert result["success"] is True and "pending" in result["content"]
    result = (await api.post(f"/plugins/tools/execute/{TOOLS}/list_orders",
                             json={"arguments": {}, "context": {"visitor_id": "v-1002"}})).json()
    assert result["success"] is True and [o["order_id"] for o in result["data"]["orders"]] == ["ORD-1040"]
    config = (await api.get(f"/plugins/{IFRAME}/iframe")).json()
    assert config["url"].startswith("http://127.0.0.1:")
    manifest = (await api.get(f"/plugins/{IM}/channel/manifest")).json()
    assert manifest["config_schema"]["type"] == "object"
    sent = (await api.post(f"/plugins/{IM}/channel/send",
                           json={"channel_id": "c", "to": {"id": "u"}, "message": {"type": "text", "content": "hi"}})).json()
    assert sent["success"] is True and sent["message_id"]


# -- the SDK's connection behaviour -----------------------------------------------

async def test_sdk_reconnects_after_host_restart(settings, nursery, plugins):
    first = Host(settings)
    stopped = trio.Event()

    async def serve_first(task_status=trio.TASK_STATUS_IGNORED):
        try:
            await first.serve(task_status=task_status)
        finally:
            stopped.set()

    await nursery.start(serve_first)
    proc = example(plugins, "quick_reply")
    ids = [QUICK]
    node = shutil.which("node")
    if node:  # the Node.js example reconnects too
        node_proc = plugins.start([node, str(EXAMPLES / "hello_node" / "index.js")])
        ids.append(NODE_ID)
    await wait_registered(first, *ids)
    assert (await first.dispatcher.render(QUICK, "chat_toolbar", {}))["template"] == "list"

    # the host dies (no shutdown request to the plugins) and comes back on the same socket path
    first.force_stop()
    with trio.fail_after(5):
        await stopped.wait()
    assert not os.path.exists(settings.socket_path)
    await trio.sleep(1.0)  # the plugin sees the EOF and retries against a missing socket
    assert proc.poll() is None
    second = Host(settings)
    await nursery.start(second.serve)
    try:
        await wait_registered(second, *ids, timeout=8)
        assert second.registry.get(QUICK).peer.pid == proc.pid  # the same process, reconnected
        assert (await second.dispatcher.render(QUICK, "chat_toolbar", {}))["template"] == "list"
        if node:
            assert second.registry.get(NODE_ID).peer.pid == node_proc.pid
            assert (await second.dispatcher.render(NODE_ID, "visitor_panel", VISITOR))["template"] == "key_value"
    finally:
        second.request_stop()


async def test_slow_handler_does_not_delay_ping(host, plugins):
    plugins.start([sys.executable, str(PLUGINS / "slow_sdk_plugin.py")])
    await wait_registered(host, "test.slow-sdk")
    session = host.registry.get("test.slow-sdk")
    slow_seconds = 3.0
    rendered = {}

    async def slow_render():
        start = trio.current_time()
        rendered["ui"] = await session.call(
            "visitor_panel/render", {"visitor_id": "v-slow", "context": {"sleep": slow_seconds}}, timeout=slow_seconds + 5)
        rendered["seconds"] = trio.current_time() - start

    async with trio.open_nursery() as nursery:
        nursery.start_soon(slow_render)
        await trio.sleep(0.3)  # the slow handler is running now
        start = trio.current_time()
        pong = await session.call("ping", timeout=slow_seconds)
        ping_seconds = trio.current_time() - start
        # another request is not held up either
        action = await host.dispatcher.event("test.slow-sdk", "visitor_panel", {"event_type": "button_click", "action_id": "x"})
        others_done = trio.current_time() - start
        assert "ui" not in rendered  # the slow render is still running
    assert pong["pong"] is True
    assert ping_seconds < slow_seconds / 3, ping_seconds
    assert action["action"] == "show_toast" and others_done < slow_seconds / 2
    assert rendered["ui"] == {"template": "text", "data": {"text": "slept for v-slow"}}
    assert rendered["seconds"] >= slow_seconds - 0.2
