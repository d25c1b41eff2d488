"""The tgo-web profile through the real host over HTTP, with the real example plugins.

For every example that renders JSON-UI: with ``web_profile = "tgo-web"`` every
answer (fan-out panels, single renders, toolbar renders, ``show_modal``
inside actions) holds only the web app's 7 templates and validates, and a
click on every button of the down-levelled UI — sent the way the TGO web app
sends it (``button_click``, the button's ``action_id``, the UI context as
``payload``) — reaches the plugin as the event its original template would
have sent: the plugin answers exactly what it answers to that original event.
"""

from __future__ import annotations

import os
import shutil
import sys

import httpx
import pytest

from support.examples import CRM, DASHBOARD, example, NODE_ID, QUICK, RAW_PANEL, RAW_TOOLBAR, TICKETS, VISITOR
from support.paths import EXAMPLES
from support.waiting import wait_registered
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.model import collecting, parse_action, parse_ui, ui_to_json
from tgo_host.model.actions import action_to_json
from tgo_host.model.webprofile import WEB_TEMPLATES

WEB_CONTEXT = {"extension_type": "visitor_panel", "visitor_id": "v-1001", "channel_id": "c-1",
               "channel_type": 1, "platform_type": "web"}


@pytest.fixture
async def web_api(settings, nursery):
    settings.http_addr = "127.0.0.1:0"
    settings.web_profile = "tgo-web"
    host = Host(settings, services=[http_service])
    await nursery.start(host.serve)
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=20) as client:
        client.host = host
        yield client
    host.request_stop()


def names(ui: dict) -> list[str]:
    out = [ui["template"]]
    if ui["template"] == "group":
        out += [n for child in ui["data"]["items"] for n in names(child)]
    elif ui["template"] == "tabs":
        out += [n for tab in ui["data"]["items"] for n in names(tab["content"])]
    return out


def web_buttons(ui: dict) -> list[dict]:
    """Every button of a 7-template UI (what the web app can click)."""
    if ui["template"] == "button":
        return [ui["data"]]
    if ui["template"] == "group":
        return [b for child in ui["data"]["items"] for b in web_buttons(child)]
    if ui["template"] == "tabs":
        return [b for tab in ui["data"]["items"] for b in web_buttons(tab["content"])]
    return []


def gestures(ui: dict) -> list[dict]:
    """The events a full renderer can send for ``ui`` (templates.md, "which gesture sends what")."""
    name, d = ui["template"], ui["data"]
    if name == "group":
        return [e for child in d["items"] for e in gestures(child)]
    if name == "tabs":
        return [e for tab in d["items"] for e in gestures(tab["content"])]
    if name == "button":
        return [{"event_type": "button_click", "action_id": d["action_id"]}]
    if name == "action":
        return [{"event_type": "button_click", "action_id": b["id"]} for b in d["buttons"]]
    if name == "card":
        return [{"event_type": "button_click", "action_id": a["id"]} for a in d.get("actions") or ()]
    if name == "empty" and d.get("action"):
        return [{"event_type": "button_click", "action_id": d["action"]["id"]}]
    if name == "list":
        picks = [{"event_type": "item_select", "action_id": "select", "selected_id": i.get("id", "")}
                 for i in d.get("items") or ()]
        more = [{"event_type": "button_click", "action_id": d["more_action"]}] if d.get("show_more") else []
        return picks + more
    if name == "cards" and d.get("item_click_action"):
        return [{"event_type": "button_click", "action_id": d["item_click_action"], "payload": i} for i in d["items"]]
    return []


def assert_web_only(ui: dict) -> None:
    assert set(names(ui)) <= WEB_TEMPLATES, names(ui)
    with collecting() as fixups:
        assert ui_to_json(parse_ui(ui)) == ui
    assert fixups == []


async def round_trip(api, plugin_id: str, extension: str, full: dict, web: dict) -> int:
    """Click every button of ``web`` as the web app does; each answer equals the answer to one of
    ``full``'s gestures, and together they cover all of them. Returns the number of clicks."""
    expected = gestures(full)
    route = f"/plugins/chat-toolbar/{plugin_id}/event" if extension == "chat_toolbar" else f"/plugins/{plugin_id}/event"
    originals = []
    for event in expected:
        answer = await api.post(f"{route}?profile=full", json={**event, "visitor_id": "v-1001", "extension_type": extension})
        originals.append((answer.status_code, answer.json()))  # a plugin without an event handler answers 502 to both
    clicks = []
    for button in web_buttons(web):
        body = {"event_type": "button_click", "action_id": button["action_id"], "extension_type": extension,
                "visitor_id": "v-1001", "language": "en", "payload": {**WEB_CONTEXT, "extension_type": extension}}
        answer = await api.post(f"{route}?profile=full", json=body)
        clicks.append((answer.status_code, answer.json()))
    assert len(clicks) == len(originals), (web_buttons(web), expected)
    assert clicks == originals
    assert any(status == 200 for status, _ in clicks) or not clicks or plugin_id == TICKETS
    return len(clicks)


async def test_every_example_renders_web_only_and_every_click_reaches_the_plugin(web_api, plugins, short_dir):
    for name in ("crm_panel", "quick_reply", "order_dashboard", "raw_panel", "raw_toolbar"):
        example(plugins, name)
    example(plugins, "ticket_form", TICKET_DB=os.path.join(short_dir, "t.db"))
    ids = [CRM, QUICK, DASHBOARD, RAW_PANEL, RAW_TOOLBAR, TICKETS]
    if shutil.which("node"):
        plugins.start([shutil.which("node"), str(EXAMPLES / "hello_node" / "index.js")])
        ids.append(NODE_ID)
    await wait_registered(web_api.host, *ids)
    # one ticket, so the Tickets panel shows its list
    created = await web_api.post(f"/plugins/chat-toolbar/{TICKETS}/event", json={
        "event_type": "form_submit", "action_id": "create_ticket", "visitor_id": "v-1001",
        "form_data": {"title": "Refund", "priority": "low"}})
    assert created.json()["action"] == "batch"

    fan_out = (await web_api.post("/plugins/visitor-panel/render", json=VISITOR)).json()
    full_fan_out = (await web_api.post("/plugins/visitor-panel/render?profile=full", json=VISITOR)).json()
    panel_ids = {CRM, DASHBOARD, TICKETS, RAW_PANEL} | ({NODE_ID} if NODE_ID in ids else set())
    assert fan_out["errors"] == [] and {p["plugin_id"] for p in fan_out["panels"]} == panel_ids
    full_by_id = {p["plugin_id"]: p["ui"] for p in full_fan_out["panels"]}
    clicked = {}
    for panel in fan_out["panels"]:
        assert_web_only(panel["ui"])
        clicked[panel["plugin_id"]] = await round_trip(
            web_api, panel["plugin_id"], "visitor_panel", full_by_id[panel["plugin_id"]], panel["ui"])
        # the single render route gives the same down-levelled UI
        single = (await web_api.post(f"/plugins/{panel['plugin_id']}/render?extension_type=visitor_panel",
                                     json=VISITOR)).json()
        assert single["template"] == panel["ui"]["template"]
        assert_web_only({k: single[k] for k in ("template", "data")})
    assert clicked[CRM] == 3 and clicked[DASHBOARD] >= 3 and clicked[TICKETS] == 1

    # the Customer panel's action row: a horizontal row of the same three buttons
    crm = next(p for p in fan_out["panels"] if p["plugin_id"] == CRM)["ui"]
    row = crm["data"]["items"][-1]
    assert row["template"] == "group" and row["data"]["layout"] == "horizontal"
    assert [b["data"]["action_id"] for b in row["data"]["items"]] == ["open_crm", "copy_email", "mark_vip"]
    # the Orders panel: what could not be kept is listed in the panel's warnings
    orders = next(p for p in fan_out["panels"] if p["plugin_id"] == DASHBOARD)
    assert all(w["kind"] == "profile" and w["path"].startswith("data.items[") for w in orders["warnings"]), orders

    # toolbars: the quick-reply list becomes buttons, each click inserts that reply
    for plugin_id in (QUICK, RAW_TOOLBAR):
        web = (await web_api.post(f"/plugins/chat-toolbar/{plugin_id}/render", json={"action_id": "open"})).json()
        full = (await web_api.post(f"/plugins/chat-toolbar/{plugin_id}/render?profile=full",
                                   json={"action_id": "open"})).json()
        assert full["template"] == "list" and web["template"] == "group"
        assert {"path": "data.searchable", "kind": "profile"}.items() <= web["warnings"][-1].items()
        assert_web_only({k: web[k] for k in ("template", "data")})
        assert await round_trip(web_api, plugin_id, "chat_toolbar", full, web) == len(full["data"]["items"])
        first = web_buttons(web)[0]
        action = (await web_api.post(f"/plugins/chat-toolbar/{plugin_id}/event", json={
            "event_type": "button_click", "action_id": first["action_id"], "visitor_id": "v-1001"})).json()
        assert action["action"] == "insert_text" and action["data"]["text"].startswith("Hello!")

    # the ticket form (toolbar) is a web template: kept, with radio shown as a select
    form = (await web_api.post(f"/plugins/chat-toolbar/{TICKETS}/render", json={"action_id": "open"})).json()
    assert form["template"] == "form"
    assert [f["type"] for f in form["data"]["fields"]] == ["text", "select", "select", "checkbox", "textarea"]


async def test_profile_query_parameter(web_api, plugins):
    example(plugins, "order_dashboard")
    await wait_registered(web_api.host, DASHBOARD)
    route = f"/plugins/{DASHBOARD}/render?extension_type=visitor_panel"
    full = (await web_api.post(route + "&profile=full", json=VISITOR)).json()
    web = (await web_api.post(route + "&profile=tgo-web", json=VISITOR)).json()
    default = (await web_api.post(route, json=VISITOR)).json()
    assert {t["content"]["template"] for t in full["data"]["items"]} >= {"stats", "timeline", "cards"}
    assert web == default and set(names(web)) <= WEB_TEMPLATES
    bad = await web_api.post(route + "&profile=fancy", json=VISITOR)
    assert bad.status_code == 422 and bad.json()["error"]["path"] == "profile"
    assert "full, tgo-web" in bad.json()["detail"]
    bad = await web_api.post("/plugins/visitor-panel/render?profile=tgo", json=VISITOR)
    assert bad.status_code == 422 and bad.json()["error"]["path"] == "profile"
    # a forged tgo-web id is refused with the field named, not passed on half-decoded
    bad = await web_api.post(f"/plugins/{DASHBOARD}/event", json={
        "event_type": "button_click", "action_id": "tgo-web:@@@", "visitor_id": "v-1001"})
    assert bad.status_code == 422 and bad.json()["error"]["path"] == "action_id"


async def test_default_host_is_full_and_tgo_web_on_request(settings, nursery, plugins):
    settings.http_addr = "127.0.0.1:0"
    host = Host(settings, services=[http_service])
    await nursery.start(host.serve)
    try:
        example(plugins, "quick_reply")
        await wait_registered(host, QUICK)
        async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=20) as api:
            full = (await api.post(f"/plugins/chat-toolbar/{QUICK}/render", json={})).json()
            assert full["template"] == "list" and "warnings" not in full
            web = (await api.post(f"/plugins/chat-toolbar/{QUICK}/render?profile=tgo-web", json={})).json()
            assert set(names(web)) <= WEB_TEMPLATES
    finally:
        host.request_stop()


async def test_show_modal_inside_an_event_answer_is_down_levelled(web_api, plugins, short_dir):
    """A real SDK plugin answering a toolbar click with a show_modal of a list (inside a batch)."""
    script = os.path.join(short_dir, "modal.py")
    with open(script, "w") as f:
        f.write("""
from tgo_plugin import Action, Capability, ListView, TGOPlugin

class Modal(TGOPlugin):
    id = "com.example.modal-list"
    name = "modal-list"
    version = "1.0.0"
    capabilities = [Capability.chat_toolbar(title="Pick")]

    def on_chat_toolbar_render(self, ctx):
        return {"template": "button", "data": {"label": "Pick", "action_id": "pick"}}

    def on_chat_toolbar_event(self, ctx):
        if ctx.event_type == "item_select":
            return Action.insert_text("picked " + ctx.selected_id)
        view = ListView(title="Choose")
        view.add(id="a", title="Alpha")
        view.add(id="b", title="Beta")
        return {"action": "batch", "data": {"actions": [
            {"action": "show_toast", "data": {"message": "choose one"}},
            {"action": "show_modal", "data": {"title": "Choose", "template": "list", "data": view.to_dict()["data"]}}]}}

Modal().run()
""")
    plugins.start([sys.executable, script])
    await wait_registered(web_api.host, "com.example.modal-list")
    route = "/plugins/chat-toolbar/com.example.modal-list/event"
    answer = (await web_api.post(route, json={"event_type": "button_click", "action_id": "pick"})).json()
    full = (await web_api.post(route + "?profile=full", json={"event_type": "button_click", "action_id": "pick"})).json()
    assert action_to_json(parse_action({k: answer[k] for k in ("action", "data")})) == {
        k: answer[k] for k in ("action", "data")}
    modal = answer["data"]["actions"][1]["data"]
    assert full["data"]["actions"][1]["data"]["template"] == "list"
    assert modal["template"] == "group" and modal["title"] == "Choose"
    ui = {"template": modal["template"], "data": modal["data"]}
    assert_web_only(ui)
    picks = [(await web_api.post(route, json={"event_type": "button_click", "action_id": b["action_id"]})).json()
             for b in web_buttons(ui)]
    assert [p["data"]["text"] for p in picks] == ["picked a", "picked b"]


def test_web_profile_setting_sources(tmp_path):
    from tgo_host.config import ConfigError, load_settings

    assert load_settings(environ={}).web_profile == "full"
    assert load_settings(environ={"TGO_WEB_PROFILE": "tgo-web"}).web_profile == "tgo-web"
    toml = tmp_path / "host.toml"
    toml.write_text('web_profile = "tgo-web"\n')
    assert load_settings(str(toml), environ={}).web_profile == "tgo-web"
    assert load_settings(str(toml), {"web_profile": "full"}, environ={}).web_profile == "full"
    with pytest.raises(ConfigError, match=r"TGO_WEB_PROFILE: web_profile: expected full or tgo-web, got 'web'"):
        load_settings(environ={"TGO_WEB_PROFILE": "web"})
