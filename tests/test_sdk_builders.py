"""The SDK's builders, actions, capabilities, contexts and framing produce exactly
the shapes of spec/templates.md and spec/protocol.md; the host's own model
accepts every builder output and every example plugin's output."""

from __future__ import annotations

import importlib.util
import json
import socket
import struct
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
try:
    from tgo_plugin import TGOPlugin  # noqa: F401
except ImportError:  # an editable install made before tgo_plugin/ had an __init__.py
    sys.modules.pop("tgo_plugin", None)
    sys.path.insert(0, str(ROOT))

from tgo_plugin import (  # noqa: E402
    Action, ActionButtons, Button, Capability, Card, Cards, Column, Empty, EventContext,
    Form, FormField, Group, KeyValue, Link, Links, ListView, Loading, Markdown, RenderContext,
    RPCError, Stats, Table, Tabs, Text, TGOPlugin, Timeline, Tool, ToolContext, ToolParameter,
    badge,
)
from tgo_plugin import protocol as rpc  # noqa: E402

EXAMPLES = ROOT / "plugins_examples"


def T(name: str, **data) -> dict:
    return {"template": name, "data": data}


# -- templates ------------------------------------------------------------------

BUILDERS = {
    "text_minimal": (Text("hi"), T("text", text="hi")),
    "text_full": (Text("x").set_type("warning").set_copyable(True).set_size("lg").set_bold(True)
                  .set_color("#f00"),
                  T("text", text="x", type="warning", copyable=True, size="lg", bold=True,
                    color="#f00")),
    "key_value": (KeyValue(title="Profile").add("Name", "Ann").add("Spent", 12.5, icon="wallet",
                  color="#00ff00", type="currency", copyable=True, link="https://x.test/"),
                  T("key_value", title="Profile", items=[
                      {"label": "Name", "value": "Ann"},
                      {"label": "Spent", "value": 12.5, "icon": "wallet", "color": "#00ff00",
                       "type": "currency", "copyable": True, "link": "https://x.test/"}])),
    "key_value_untitled": (KeyValue().add("n", 1), T("key_value", items=[{"label": "n", "value": 1}])),
    "table": (Table("Orders")
              .columns(Column("id", "ID", width=80, align="left"), {"key": "st", "label": "State",
                                                                   "type": "badge"}, "note")
              .row({"id": "A1", "st": badge("paid", "green"), "note": "n"})
              .row(id="A2", st=badge("due"), note="")
              .set_pagination(total=2, page=1, page_size=10).set_row_click_action("open_row"),
              T("table", title="Orders",
                columns=[{"key": "id", "label": "ID", "width": 80, "align": "left"},
                         {"key": "st", "label": "State", "type": "badge"},
                         {"key": "note", "label": "note"}],
                rows=[{"id": "A1", "st": {"text": "paid", "color": "green"}, "note": "n"},
                      {"id": "A2", "st": {"text": "due"}, "note": ""}],
                pagination={"total": 2, "page": 1, "page_size": 10},
                row_click_action="open_row")),
    "table_empty": (Table(), T("table", columns=[], rows=[])),
    "card": (Card("Ann", subtitle="VIP", image="https://img.test/a.png", image_size="small",
                  footer="since 2020")
             .add_field("Level", "Gold", highlight=True).add_field("Orders", 3)
             .add_tag("vip", "orange").add_tag("new").add_action("call", "Call", "primary"),
             T("card", title="Ann", subtitle="VIP", image="https://img.test/a.png",
               image_size="small", fields=[{"label": "Level", "value": "Gold", "highlight": True},
                                           {"label": "Orders", "value": 3}],
               tags=[{"text": "vip", "color": "orange"}, {"text": "new"}],
               actions=[{"id": "call", "label": "Call", "type": "primary"}],
               footer="since 2020")),
    "card_minimal": (Card("only"), T("card", title="only")),
    "cards": (Cards("Products", layout="grid", columns=2, item_click_action="view")
              .add("p1", "Mug", image="https://img.test/m.png", description="white", price="$5")
              .add({"id": "p2", "title": "Cup", "sku": "C-2"}),
              T("cards", title="Products", layout="grid", columns=2,
                items=[{"id": "p1", "title": "Mug", "image": "https://img.test/m.png",
                        "description": "white", "price": "$5"},
                       {"id": "p2", "title": "Cup", "sku": "C-2"}],
                item_click_action="view")),
    "link": (Link("Docs", "https://docs.test/", icon="book", target="_blank",
                  description="read me"),
             T("link", text="Docs", url="https://docs.test/", icon="book", target="_blank",
               description="read me")),
    "links": (Links("More").add("A", "https://a.test/", icon="link").add("B", "https://b.test/"),
              T("links", title="More", items=[{"text": "A", "url": "https://a.test/", "icon": "link"},
                                              {"text": "B", "url": "https://b.test/"}])),
    "button": (Button("OK", "ok").set_size("md").set_type("danger").set_icon("check")
               .set_disabled(True),
               T("button", label="OK", action_id="ok", type="danger", size="md", icon="check",
                 disabled=True)),
    "action": (ActionButtons().add("a", "A").add("b", "B", icon="x", type="danger", size="sm",
                                                   disabled=False, confirm="Sure?", loading=True),
               T("action", buttons=[{"id": "a", "label": "A"},
                                    {"id": "b", "label": "B", "icon": "x", "type": "danger",
                                     "size": "sm", "disabled": False, "confirm": "Sure?",
                                     "loading": True}])),
    "markdown": (Markdown("**b**", max_height=120), T("markdown", content="**b**", max_height=120)),
    "list": (ListView("Replies", searchable=True).add("r1", text="Hello")
             .add("r2", title="Bye", description="d", time="10:00", icon="hand")
             .set_show_more(True, "more"),
             T("list", title="Replies", searchable=True,
               items=[{"id": "r1", "text": "Hello"},
                      {"id": "r2", "title": "Bye", "description": "d", "time": "10:00",
                       "icon": "hand"}],
               show_more=True, more_action="more")),
    "timeline": (Timeline("History").add("Placed", time="09:00", status="success")
                 .add("Shipped", description="DHL"),
                 T("timeline", title="History",
                   items=[{"time": "09:00", "title": "Placed", "status": "success"},
                          {"title": "Shipped", "description": "DHL"}])),
    "stats": (Stats().add("Orders", 12, icon="box", trend="+2", trend_type="up", color="#0f0")
              .add("Returns", 0),
              T("stats", items=[{"label": "Orders", "value": 12, "icon": "box", "trend": "+2",
                                 "trend_type": "up", "color": "#0f0"},
                                {"label": "Returns", "value": 0}])),
    "empty": (Empty("Nothing", description="none yet", icon="inbox").set_action("new", "Create"),
              T("empty", icon="inbox", title="Nothing", description="none yet",
                action={"id": "new", "label": "Create"})),
    "empty_bare": (Empty(), T("empty")),
    "loading": (Loading("Wait"), T("loading", text="Wait")),
    "loading_bare": (Loading(), T("loading")),
    "group": (Group().add(Text("x").set_bold(True)).add(Button("OK", "ok").set_size("md")),
              T("group", items=[T("text", text="x", bold=True),
                                T("button", label="OK", action_id="ok", size="md")])),
    "group_horizontal": (Group().set_horizontal().add(Text("a"), {"template": "text",
                                                                  "data": {"text": "b"}}),
                         T("group", items=[T("text", text="a"), T("text", text="b")],
                           layout="horizontal")),
    "tabs": (Tabs().add("one", "One", Text("1"), icon="home").add_tab("two", "Two", Loading())
             .set_default_tab("two"),
             T("tabs", items=[{"key": "one", "label": "One", "icon": "home",
                               "content": T("text", text="1")},
                              {"key": "two", "label": "Two", "content": T("loading")}],
               default_tab="two")),
    "form": (Form("Ticket", action_id="create", submit_text="Go", cancel_text="No")
             .add(FormField("title", "Title", "text").set_required(True).set_placeholder("..."))
             .add(FormField("prio", "Priority", "select").add_option("High", "high")
                  .add_option("Low", "low").set_default("low"))
             .add(FormField("body", "Body", "textarea").set_rows(3))
             .add_field("ok", "OK?", "checkbox", default=False)
             .add(FormField("vid", type="hidden", default="v1")),
             T("form", title="Ticket",
               fields=[{"name": "title", "label": "Title", "type": "text", "required": True,
                        "placeholder": "..."},
                       {"name": "prio", "label": "Priority", "type": "select",
                        "options": [{"value": "high", "label": "High"},
                                    {"value": "low", "label": "Low"}], "default": "low"},
                       {"name": "body", "label": "Body", "type": "textarea", "rows": 3},
                       {"name": "ok", "label": "OK?", "type": "checkbox", "default": False},
                       {"name": "vid", "type": "hidden", "default": "v1"}],
               submit_text="Go", cancel_text="No", action_id="create")),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builder_output(name):
    builder, expected = BUILDERS[name]
    assert builder.to_dict() == expected
    assert json.loads(json.dumps(builder.to_dict())) == expected  # plain JSON types only


def test_every_template_has_a_builder():
    names = {expected["template"] for _, expected in BUILDERS.values()}
    assert names == {"text", "key_value", "table", "card", "cards", "link", "links", "button",
                     "action", "markdown", "list", "timeline", "stats", "empty", "loading",
                     "group", "tabs", "form"}


def test_containers_render_children_at_serialisation_time():
    kv = KeyValue()
    group = Group().add(kv)
    kv.add("late", 1)
    assert group.to_dict()["data"]["items"][0]["data"]["items"] == [{"label": "late", "value": 1}]


# -- actions --------------------------------------------------------------------

ACTIONS = {
    "open_url": (Action.open_url("https://x.test/", "_blank"),
                 {"action": "open_url", "data": {"url": "https://x.test/", "target": "_blank"}}),
    "open_url_bare": (Action.open_url("https://x.test/"),
                      {"action": "open_url", "data": {"url": "https://x.test/"}}),
    "insert_text": (Action.insert_text("hi", replace=True),
                    {"action": "insert_text", "data": {"text": "hi", "replace": True}}),
    "send_message": (Action.send_message("**hi**", "markdown"),
                     {"action": "send_message", "data": {"content": "**hi**",
                                                         "content_type": "markdown"}}),
    "show_toast": (Action.show_toast("ok", "success", 5000),
                   {"action": "show_toast", "data": {"message": "ok", "type": "success",
                                                     "duration": 5000}}),
    "show_toast_bare": (Action.show_toast("ok"), {"action": "show_toast", "data": {"message": "ok"}}),
    "copy_text": (Action.copy_text("abc", toast="Copied"),
                  {"action": "copy_text", "data": {"text": "abc", "toast": "Copied"}}),
    "refresh": (Action.refresh(), {"action": "refresh", "data": {}}),
    "close_modal": (Action.close_modal(), {"action": "close_modal", "data": {}}),
    "noop": (Action.noop(), {"action": "noop", "data": {}}),
    "noop_log": (Action.noop("why"), {"action": "noop", "data": {"log": "why"}}),
    "show_modal": (Action.show_modal("New", Form("F", action_id="f").add(FormField("t", "T"))),
                   {"action": "show_modal", "data": {
                       "title": "New", "template": "form",
                       "data": {"title": "F", "fields": [{"name": "t", "label": "T",
                                                          "type": "text"}],
                                "action_id": "f"}}}),
}


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_action_output(name):
    action, expected = ACTIONS[name]
    assert action.to_dict() == expected


def test_then_chains_into_a_flat_batch_in_order():
    a = Action.show_toast("1")
    chain = a.then(Action.close_modal()).then(Action.refresh().then(Action.noop()))
    chain = chain.then({"action": "copy_text", "data": {"text": "x"}})
    assert chain.to_dict() == {"action": "batch", "data": {"actions": [
        {"action": "show_toast", "data": {"message": "1"}},
        {"action": "close_modal", "data": {}},
        {"action": "refresh", "data": {}},
        {"action": "noop", "data": {}},
        {"action": "copy_text", "data": {"text": "x"}},
    ]}}
    assert a.to_dict() == {"action": "show_toast", "data": {"message": "1"}}  # operands untouched
    assert Action.batch(Action.refresh(), chain).to_dict()["data"]["actions"][0]["action"] == "refresh"
    assert len(Action.batch(Action.refresh(), chain).to_dict()["data"]["actions"]) == 6
    nested = Action("batch", {"actions": [Action.refresh().to_dict(), chain.to_dict()]})
    assert nested.to_dict() == Action.batch(Action.refresh(), chain).to_dict()


# -- capabilities and register ----------------------------------------------------


def test_capability_helpers():
    assert Capability.visitor_panel(title="Orders", icon="cart").to_dict() == \
        {"type": "visitor_panel", "title": "Orders", "icon": "cart", "priority": 10}
    assert Capability.visitor_panel("O", priority=3, refresh_on=["manual"]).to_dict() == \
        {"type": "visitor_panel", "title": "O", "priority": 3, "refresh_on": ["manual"]}
    assert Capability.chat_toolbar(title="Quick", icon="zap", tooltip="t",
                                   shortcut="Ctrl+Shift+R").to_dict() == \
        {"type": "chat_toolbar", "title": "Quick", "icon": "zap", "tooltip": "t",
         "shortcut": "Ctrl+Shift+R"}
    assert Capability.sidebar_iframe(title="CRM", url="https://crm.test/", icon="users",
                                     min_width=300, max_width=600,
                                     allow_fullscreen=True).to_dict() == \
        {"type": "sidebar_iframe", "title": "CRM", "icon": "users", "url": "https://crm.test/",
         "width": 400, "min_width": 300, "max_width": 600, "allow_fullscreen": True}
    assert Capability.channel_integration(channel_type="custom_im", name="Custom IM",
                                          icon="message-circle").to_dict() == \
        {"type": "channel_integration", "channel_type": "custom_im", "name": "Custom IM",
         "icon": "message-circle"}
    tools = [Tool("lookup_order", "Find an order", title="Lookup",
                  parameters=[ToolParameter("order_id", description="id", required=True),
                              ToolParameter("kind", enum_values=["a", "b"])]),
             Tool("ping", "no params").add_parameter("n", "number"),
             {"name": "raw", "description": "a dict tool", "parameters": []}]
    assert Capability.mcp_tools(tools=tools).to_dict() == {"type": "mcp_tools", "title": "Tools",
        "tools": [
            {"name": "lookup_order", "title": "Lookup", "description": "Find an order",
             "parameters": [{"name": "order_id", "type": "string", "description": "id",
                             "required": True},
                            {"name": "kind", "type": "string", "description": "",
                             "required": False, "enum_values": ["a", "b"]}]},
            {"name": "ping", "description": "no params",
             "parameters": [{"name": "n", "type": "number", "description": "", "required": False}]},
            {"name": "raw", "description": "a dict tool", "parameters": []}]}


class _Demo(TGOPlugin):
    id = "com.test.demo"
    name = "demo"
    version = "2.0.0"
    capabilities = [Capability.visitor_panel("Demo"), {"type": "chat_toolbar", "title": "Raw"}]

    def on_visitor_panel_render(self, ctx):
        return Text(f"{ctx.visitor_id}/{ctx.visitor.name}/{ctx.context.get('device')}")

    async def on_visitor_panel_event(self, ctx):
        return None

    def on_tool_execute(self, ctx, tool_name, arguments):
        return {"success": True, "content": f"{tool_name}:{arguments['a']}:{ctx.agent_id}"}


def test_register_params(monkeypatch):
    monkeypatch.delenv("TGO_DEV_TOKEN", raising=False)
    assert _Demo().register_params() == {
        "id": "com.test.demo", "name": "demo", "version": "2.0.0", "description": "",
        "author": "", "capabilities": [{"type": "visitor_panel", "title": "Demo", "priority": 10},
                                       {"type": "chat_toolbar", "title": "Raw"}]}
    assert _Demo(dev_token="tok").register_params()["dev_token"] == "tok"
    monkeypatch.setenv("TGO_DEV_TOKEN", "envtok")
    assert _Demo().register_params()["dev_token"] == "envtok"


def test_handle_routes_by_method_name():
    p = _Demo()
    out = p.handle("visitor_panel/render", {"visitor": {"id": "v1", "name": "Ann"},
                                            "context": {"device": "ios"}})
    assert out == T("text", text="v1/Ann/ios")              # visitor_id falls back to visitor.id
    assert p.handle("visitor_panel/event", {}) == {"action": "noop", "data": {}}   # async, None
    assert p.handle("tool/execute", {"tool_name": "t", "arguments": {"a": 1}, "agent_id": "ag"}) == \
        {"success": True, "content": "t:1:ag"}
    with pytest.raises(RPCError) as err:
        p.handle("chat_toolbar/render", {})
    assert err.value.code == -32601


def test_contexts_expose_params():
    params = {"event_type": "form_submit", "action_id": "create", "visitor_id": "v",
              "session_id": "s", "selected_id": "x", "language": "en", "agent_id": "a",
              "form_data": {"t": 1}, "payload": {"row": 2}, "future_field": 5}
    ctx = EventContext(params)
    assert (ctx.event_type, ctx.action_id, ctx.visitor_id, ctx.session_id, ctx.selected_id,
            ctx.language, ctx.agent_id) == ("form_submit", "create", "v", "s", "x", "en", "a")
    assert ctx.form_data == {"t": 1} and ctx.payload == {"row": 2} and ctx.raw == params
    assert ctx.future_field == 5 and ctx.get("nope", 0) == 0 and ctx["action_id"] == "create"
    empty = EventContext({})
    assert empty.form_data == {} and empty.payload == {} and empty.visitor is None
    rctx = RenderContext({"visitor_id": "v", "visitor": {"id": "v", "email": "e@x",
                                                          "metadata": {"k": 1}}})
    assert rctx.visitor.email == "e@x" and rctx.visitor.metadata == {"k": 1}
    assert rctx.visitor.get("email") == "e@x" and rctx.context == {}
    tctx = ToolContext({"tool_name": "t"})
    assert tctx.arguments == {} and tctx.tool_name == "t"


# -- framing --------------------------------------------------------------------


def test_framing_roundtrip_and_limits():
    msg = {"jsonrpc": "2.0", "id": 1, "result": {"text": "héllo", "ui": Text("x")}}
    frame = rpc.encode_frame(msg)
    (n,) = struct.unpack(">I", frame[:4])
    assert n == len(frame) - 4 and not frame.endswith(b"\n")
    assert json.loads(frame[4:].decode()) == {"jsonrpc": "2.0", "id": 1,
                                              "result": {"text": "héllo", "ui": T("text", text="x")}}
    a, b = socket.socketpair()
    try:
        a.sendall(frame + struct.pack(">I", 0))
        assert rpc.decode(rpc.read_frame(b)) == json.loads(frame[4:])
        assert rpc.read_frame(b) == b""
        a.sendall(struct.pack(">I", 1 << 30))
        with pytest.raises(rpc.FrameError):
            rpc.read_frame(b, max_size=1024)
        a.close()
        assert rpc.read_frame(b) is None
    finally:
        a.close()
        b.close()
    assert rpc.classify({"jsonrpc": "2.0", "id": 1, "method": "ping"}) == "request"
    assert rpc.classify({"jsonrpc": "2.0", "method": "log"}) == "notification"
    assert rpc.classify({"jsonrpc": "2.0", "id": 1, "result": None}) == "response"
    assert rpc.classify([1]) == "invalid"


# -- the host's model accepts all of it -------------------------------------------


def _load_example(name: str):
    path = EXAMPLES / name / "main.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


VISITOR = {"visitor_id": "v-1001", "session_id": "s-1", "language": "en",
           "visitor": {"id": "v-1001", "name": "Alice", "email": "alice@example.com"}}


def _example_outputs(tmp_path, monkeypatch) -> dict[str, list]:
    """Register params, renders, events and other results of every SDK example."""
    monkeypatch.setenv("TICKET_DB", str(tmp_path / "t.db"))
    monkeypatch.setenv("CUSTOM_IM_OUTBOX", str(tmp_path / "out.jsonl"))
    monkeypatch.setenv("CRM_IFRAME_PORT", "0")
    out: dict[str, list] = {"register": [], "ui": [], "action": [], "iframe": [],
                            "manifest": [], "send": [], "tool": []}
    click = {"event_type": "button_click", "visitor_id": "v-1001"}

    crm = _load_example("crm_panel").CRMPanel()
    out["ui"].append(crm.handle("visitor_panel/render", VISITOR))
    for action_id in ("open_crm", "copy_email", "mark_vip", "other"):
        out["action"].append(crm.handle("visitor_panel/event", {**click, "action_id": action_id}))

    qr = _load_example("quick_reply").QuickReply()
    out["ui"].append(qr.handle("chat_toolbar/render", VISITOR))
    out["action"].append(qr.handle("chat_toolbar/event", {"event_type": "item_select",
                                                          "selected_id": "refund"}))

    tickets = _load_example("ticket_form").TicketPlugin()
    out["ui"].append(tickets.handle("chat_toolbar/render", VISITOR))
    out["ui"].append(tickets.handle("visitor_panel/render", VISITOR))  # empty
    submit = {"event_type": "form_submit", "action_id": "create_ticket", "visitor_id": "v-1001"}
    out["action"].append(tickets.handle("chat_toolbar/event", {**submit, "form_data": {}}))
    out["action"].append(tickets.handle("chat_toolbar/event",
                                        {**submit, "form_data": {"title": "Help"}}))
    out["ui"].append(tickets.handle("visitor_panel/render", VISITOR))  # list

    dash = _load_example("order_dashboard").OrderDashboard()
    out["ui"].append(dash.handle("visitor_panel/render", VISITOR))
    out["action"].append(dash.handle("visitor_panel/event", {**click, "action_id": "view_product",
                                                             "payload": {"id": "p-100"}}))
    out["action"].append(dash.handle("visitor_panel/event", {**click, "action_id": "start_return"}))

    iframe = _load_example("crm_iframe").CRMIframe()
    try:
        out["iframe"].append(iframe.handle("sidebar_iframe/config"))
    finally:
        iframe.server.shutdown()
        iframe.server.server_close()

    im = _load_example("custom_im").CustomIM()
    out["manifest"].append(im.handle("channel_integration/manifest"))
    out["send"].append(im.handle("channel_integration/send_message",
                                 {"channel_id": "c", "to": {"id": "u"},
                                  "message": {"type": "text", "content": "hi"}}))

    tools = _load_example("order_tools").OrderTools()
    for args in ({"order_id": "ORD-1042"}, {"order_id": "nope"}):
        out["tool"].append(tools.handle("tool/execute", {"tool_name": "lookup_order",
                                                         "arguments": args}))
    out["tool"].append(tools.handle("tool/execute", {"tool_name": "list_orders",
                                                     "visitor_id": "v-1001"}))

    out["register"] = [p.register_params() for p in (crm, qr, tickets, dash, iframe, im, tools)]
    return out


def test_example_outputs_have_the_expected_shapes(tmp_path, monkeypatch):
    out = _example_outputs(tmp_path, monkeypatch)
    assert [u["template"] for u in out["ui"]] == ["group", "list", "form", "empty", "list", "tabs"]
    assert [a["action"] for a in out["action"]] == [
        "open_url", "copy_text", "show_toast", "show_toast", "insert_text", "show_toast", "batch",
        "open_url", "batch"]
    assert all(a["data"]["url"].startswith("https://") for a in out["action"]
               if a["action"] == "open_url")


def _host_model():
    import tgo_host.model

    return tgo_host.model


def test_host_model_accepts_builders_and_actions():
    model = _host_model()
    for name, (builder, _) in BUILDERS.items():
        model.parse_ui(builder.to_dict())
    for name, (action, _) in ACTIONS.items():
        model.parse_action(action.to_dict())
    model.parse_action(Action.show_toast("a").then(Action.close_modal()).then(Action.refresh())
                       .to_dict())


def test_host_model_accepts_example_outputs(tmp_path, monkeypatch):
    model = _host_model()
    out = _example_outputs(tmp_path, monkeypatch)
    for ui in out["ui"]:
        model.parse_ui(ui)
    for action in out["action"]:
        model.parse_action(action)
    for params in out["register"]:
        model.parse_register(params)
    for cfg in out["iframe"]:
        model.parse_iframe_config(cfg)
    for manifest in out["manifest"]:
        model.parse_channel_manifest(manifest)
    for sent in out["send"]:
        model.parse_send_result(sent)
    for result in out["tool"]:
        model.parse_tool_result(result)


def test_host_model_rejects_what_the_sdk_must_never_send():
    model = _host_model()
    with pytest.raises(model.ValidationError):
        model.parse_ui({"success": True})       # what the Go SDK answers without a handler
    with pytest.raises(model.ValidationError):
        model.parse_ui({"template": "table", "data": {"rows": "nope", "columns": []}})


# -- handle() and validate() refuse what the host would refuse (the host's own models) ----------

from tgo_host import model as host_model  # noqa: E402
from tgo_plugin import (  # noqa: E402
    Action as A, Form as F, FormField as FF, Group as G, InvalidResult, KeyValue as KV, Link as L,
    Raw as R, Text as Tx,
)


class _Returns(TGOPlugin):
    """Answers every render/event/tool call with ``self.answer``."""

    id = "com.test.returns"
    answer = None

    def on_visitor_panel_render(self, ctx):
        return self.answer

    def on_chat_toolbar_event(self, ctx):
        return self.answer

    def on_tool_execute(self, ctx, tool_name, arguments):
        return self.answer


# (method, builder output): good and bad, the verdict comes from the host's model, not from here.
CORPUS = [
    ("visitor_panel/render", KV("Customer").add("Name", "Ann").add("Orders", 3)),
    ("visitor_panel/render", KV("Customer").add("Name", None)),
    ("visitor_panel/render", F("Ticket").add(FF("subject", "Subject", "text").set_required())),
    ("visitor_panel/render", F("Ticket").add(FF("subject", "Subject", "colour-picker"))),
    ("visitor_panel/render", F("Ticket").add(FF("subject", "Subject", "email"))),
    ("visitor_panel/render", L("Open", "https://crm.example.com")),
    ("visitor_panel/render", L("Open", "javascript:alert(1)")),
    ("visitor_panel/render", R("table", {"columns": [{"key": "a", "label": "A"}], "rows": "not a list"})),
    ("visitor_panel/render", R("no_such_template", {})),
    ("visitor_panel/render", G().add(Tx("ok")).add(R("no_such_template", {}))),
    ("visitor_panel/render", {"success": True}),
    ("chat_toolbar/event", A.insert_text("Hello")),
    ("chat_toolbar/event", A.open_url("javascript:alert(1)")),
    ("chat_toolbar/event", A.show_toast("Saved", type="celebration")),
    ("chat_toolbar/event", A.show_toast("Saved").then(A("teleport", {}))),
    ("chat_toolbar/event", A("teleport", {})),
    ("tool/execute", {"success": True, "content": "ok"}),
    ("tool/execute", {"content": "no success flag"}),
]


def _host_verdict(method, answer):
    """The host's own verdict on ``answer``: None (accepted) or the ValidationError's path."""
    parse = host_model.parse_ui if method.endswith("/render") else (
        host_model.parse_action if method.endswith("/event") else host_model.parse_tool_result)
    try:
        parse(rpc.to_jsonable(answer))
    except host_model.ValidationError as exc:
        return exc.path
    return None


@pytest.mark.parametrize("method, answer", CORPUS, ids=[f"{i}-{m}" for i, (m, _) in enumerate(CORPUS)])
def test_handle_refuses_exactly_what_the_host_refuses(method, answer):
    plugin = _Returns()
    plugin.answer = answer
    verdict = _host_verdict(method, answer)
    if verdict is None:
        assert plugin.handle(method, {"event_type": "button_click", "action_id": "x", "tool_name": "t"}) is not None
    else:
        with pytest.raises(InvalidResult) as refused:
            plugin.handle(method, {"event_type": "button_click", "action_id": "x", "tool_name": "t"})
        assert refused.value.path == verdict and refused.value.method == method
        assert "the host would refuse" in str(refused.value) and verdict in str(refused.value)


def test_the_corpus_has_both_verdicts():
    verdicts = [_host_verdict(m, a) for m, a in CORPUS]
    assert sum(v is None for v in verdicts) >= 4 and sum(v is not None for v in verdicts) >= 6


def test_script_urls_are_refused_by_the_builders_themselves():
    with pytest.raises(InvalidResult) as refused:
        A.open_url("javascript:alert(1)").validate()
    assert refused.value.path == "data.url"
    with pytest.raises(InvalidResult, match=r"data\.items\[1\]\.data\.url"):
        G().add(Tx("ok")).add(L("Open", "javascript:alert(1)")).validate()
    assert A.open_url("https://example.com").validate() == A.open_url("https://example.com")
    assert KV("t").add("a", 1).validate().to_dict()["data"]["items"] == [{"label": "a", "value": 1}]


def test_without_the_host_package_nothing_is_checked_and_nothing_breaks(tmp_path):
    """A plugin run with the standard library only (python -S): handle() returns what it got."""
    script = tmp_path / "p.py"
    script.write_text(
        "import json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tgo_plugin import TGOPlugin, Link\n"
        "from tgo_plugin.validation import host_rules_available\n"
        "class P(TGOPlugin):\n"
        "    def on_visitor_panel_render(self, ctx):\n"
        "        return Link('x', 'javascript:alert(1)')\n"
        "print(json.dumps([host_rules_available(), P().handle('visitor_panel/render', {})]))\n"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-S", str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    available, result = json.loads(out.stdout)
    assert available is False and result["data"]["url"] == "javascript:alert(1)"
