"""The tgo-web render profile (tgo_host.model.webprofile): every template expressed with the web app's 7.

Each sample goes through the host's own validation first (as plugin output
does), is down-levelled, and the result must validate again, contain only the
7 web-app templates, keep the content, and map every gesture onto an event the
original template would have sent.
"""

from __future__ import annotations

import json

import pytest

from tgo_host.model import TEMPLATE_NAMES, ValidationError, collecting, parse_action, parse_ui, ui_to_json
from tgo_host.model.actions import action_to_json
from tgo_host.model.webprofile import (
    EVENT_PREFIX,
    WEB_TEMPLATES,
    apply_profile,
    downlevel_action,
    downlevel_ui,
    encode_event,
    restore_event,
)

SAMPLES: dict[str, dict] = {
    "text": {"template": "text", "data": {"text": "Shipped", "type": "success", "bold": True}},
    "key_value": {"template": "key_value", "data": {"title": "Customer", "items": [
        {"label": "Email", "value": "a@example.com", "copyable": True},
        {"label": "Site", "value": "https://example.com", "type": "link"}]}},
    "table": {"template": "table", "data": {"title": "Orders", "columns": [
        {"key": "id", "label": "Order"}, {"key": "status", "label": "Status", "type": "badge"}],
        "rows": [{"id": "A-1", "status": {"text": "paid", "color": "green"}}],
        "row_click_action": "open_order", "pagination": {"total": 7, "page": 1, "page_size": 4}}},
    "card": {"template": "card", "data": {
        "title": "Alice Chen", "subtitle": "VIP", "image": "https://example.com/a.png",
        "fields": [{"label": "Orders", "value": 12, "highlight": True}, {"label": "City", "value": "Berlin"}],
        "tags": [{"text": "vip", "color": "green"}, {"text": "b2b"}],
        "actions": [{"id": "call", "label": "Call", "type": "primary"}, {"id": "mail", "label": "Mail"}],
        "footer": "Customer since 2020"}},
    "cards": {"template": "cards", "data": {"title": "Products", "layout": "grid", "columns": 2,
        "item_click_action": "view_product", "items": [
            {"id": "p1", "title": "Mug", "description": "Blue mug", "price": "$9", "image": "https://example.com/m.png",
             "stock": 3},
            {"id": "p2", "title": "Cap", "price": 12}]}},
    "link": {"template": "link", "data": {"text": "Docs", "url": "https://example.com/docs",
                                          "description": "The manual", "target": "_self"}},
    "links": {"template": "links", "data": {"title": "Help", "items": [
        {"text": "FAQ", "url": "https://example.com/faq", "icon": "help-circle"},
        {"text": "Status page", "url": "https://status.example.com"}]}},
    "button": {"template": "button", "data": {"label": "Refund", "action_id": "refund", "type": "danger"}},
    "action": {"template": "action", "data": {"buttons": [
        {"id": "open_crm", "label": "Open CRM", "type": "primary"},
        {"id": "delete", "label": "Delete", "type": "danger", "confirm": "Really?"},
        {"id": "wait", "label": "Busy", "type": "ghost", "loading": True}]}},
    "markdown": {"template": "markdown", "data": {"content": "**Hi** there", "max_height": 200}},
    "list": {"template": "list", "data": {"title": "Quick replies", "searchable": True, "show_more": True,
        "more_action": "more_replies", "items": [
            {"id": "greeting", "title": "Greeting", "description": "Hello!", "icon": "smile"},
            {"id": "bye", "text": "Goodbye", "time": "10:00"}]}},
    "timeline": {"template": "timeline", "data": {"title": "History", "items": [
        {"time": "09:00", "title": "Ordered", "description": "2 items", "status": "success"},
        {"time": "10:00", "title": "Shipped"}]}},
    "stats": {"template": "stats", "data": {"items": [
        {"label": "Revenue", "value": "$1,200", "trend": "+12%", "trend_type": "up", "icon": "dollar-sign"},
        {"label": "Refunds", "value": 3, "trend": "-1", "trend_type": "down"},
        {"label": "Orders", "value": 40, "color": "#123456"}]}},
    "empty": {"template": "empty", "data": {"icon": "inbox", "title": "No orders", "description": "Nothing yet",
                                            "action": {"id": "create_order", "label": "Create"}}},
    "loading": {"template": "loading", "data": {"text": "Fetching orders"}},
    "group": {"template": "group", "data": {"layout": "vertical", "items": [
        {"template": "stats", "data": {"items": [{"label": "A", "value": 1}]}},
        {"template": "loading", "data": {}}]}},
    "tabs": {"template": "tabs", "data": {"default_tab": "t", "items": [
        {"key": "t", "label": "Timeline", "content": {"template": "timeline", "data": {"items": [{"title": "x"}]}}},
        {"key": "m", "label": "Notes", "content": {"template": "markdown", "data": {"content": "# n"}}}]}},
    "form": {"template": "form", "data": {"title": "Ticket", "action_id": "create", "fields": [
        {"name": "subject", "type": "text", "required": True},
        {"name": "prio", "type": "radio", "options": [{"value": "hi", "label": "High"}]},
        {"name": "due", "type": "datetime"}, {"name": "urgent", "type": "switch"}]}},
}


def names(ui: dict) -> list[str]:
    out = [ui["template"]]
    data = ui["data"]
    if ui["template"] == "group":
        for child in data["items"]:
            out += names(child)
    elif ui["template"] == "tabs":
        for tab in data["items"]:
            out += names(tab["content"])
    return out


def buttons(ui: dict) -> list[dict]:
    """The data of every button in ``ui``, in order."""
    if ui["template"] == "button":
        return [ui["data"]]
    if ui["template"] == "group":
        return [b for child in ui["data"]["items"] for b in buttons(child)]
    if ui["template"] == "tabs":
        return [b for tab in ui["data"]["items"] for b in buttons(tab["content"])]
    return []


def down(name: str) -> tuple[dict, list]:
    """SAMPLES[name] validated as plugin output is, down-levelled, and re-validated cleanly."""
    ui = ui_to_json(parse_ui(SAMPLES[name]))
    out, warnings = downlevel_ui(ui)
    assert set(names(out)) <= WEB_TEMPLATES, names(out)
    with collecting() as fixups:
        again = ui_to_json(parse_ui(out))
    assert fixups == [], fixups  # nothing the host itself would have to fix up
    assert again == out
    json.dumps(out)
    return out, warnings


def test_samples_cover_every_template():
    assert set(SAMPLES) == set(TEMPLATE_NAMES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_template_becomes_web_templates_and_validates(name):
    out, warnings = down(name)
    for w in warnings:
        assert w.kind == "profile" and w.path.startswith("data") and w.message


@pytest.mark.parametrize("name", sorted(WEB_TEMPLATES - {"group", "tabs", "form", "table"}))
def test_web_templates_pass_through_unchanged(name):
    ui = ui_to_json(parse_ui(SAMPLES[name]))
    assert downlevel_ui(ui) == (ui, [])


def test_input_is_not_modified():
    for sample in SAMPLES.values():
        ui = ui_to_json(parse_ui(sample))
        before = json.dumps(ui, sort_keys=True)
        downlevel_ui(ui)
        assert json.dumps(ui, sort_keys=True) == before


def test_stats_become_key_value_with_trend_and_colour():
    out, warnings = down("stats")
    assert out["template"] == "key_value" and warnings == []
    items = out["data"]["items"]
    assert items[0] == {"label": "Revenue", "value": "$1,200 (▲+12%)", "icon": "dollar-sign", "color": "#16a34a"}
    assert items[1] == {"label": "Refunds", "value": "3 (▼-1)", "color": "#dc2626"}
    assert items[2] == {"label": "Orders", "value": "40", "color": "#123456"}


def test_list_items_become_buttons_that_restore_item_select():
    out, warnings = down("list")
    assert [w.path for w in warnings] == ["data.searchable"]
    assert out["data"]["items"][0] == {"template": "text", "data": {"text": "Quick replies"}}
    greeting, bye, more = buttons(out)
    assert greeting["label"] == "Greeting" and greeting["icon"] == "smile"
    assert bye["label"] == "Goodbye"
    texts = [c["data"]["text"] for g in out["data"]["items"][1:3] for c in g["data"]["items"] if c["template"] == "text"]
    assert texts == ["Hello!", "10:00"]
    # what the web app sends for a click, and what the plugin gets
    web = {"event_type": "button_click", "action_id": greeting["action_id"], "visitor_id": "v-1",
           "payload": {"extension_type": "chat_toolbar"}}
    assert restore_event(web) == {**web, "event_type": "item_select", "action_id": "select", "selected_id": "greeting"}
    assert restore_event({"event_type": "button_click", "action_id": bye["action_id"]})["selected_id"] == "bye"
    # "more" is a plain button: the click is already the event the list would send
    assert more == {"label": "More", "action_id": "more_replies", "type": "link"}
    assert restore_event({"event_type": "button_click", "action_id": "more_replies"})["action_id"] == "more_replies"


def test_action_row_becomes_horizontal_buttons_with_the_same_ids():
    out, warnings = down("action")
    assert out["data"]["layout"] == "horizontal"
    assert [(b["label"], b["action_id"], b.get("type")) for b in buttons(out)] == [
        ("Open CRM", "open_crm", "primary"), ("Delete", "delete", "danger"), ("Busy", "wait", "link")]
    assert buttons(out)[2]["disabled"] is True
    assert [w.path for w in warnings] == ["data.buttons[1].confirm"]


def test_links_become_key_value_link_items():
    out, warnings = down("links")
    assert out == {"template": "key_value", "data": {"title": "Help", "items": [
        {"label": "FAQ", "value": "https://example.com/faq", "type": "link", "icon": "help-circle"},
        {"label": "Status page", "value": "https://status.example.com", "type": "link"}]}}
    out, warnings = down("link")
    assert out["data"]["items"] == [{"label": "Docs", "value": "https://example.com/docs", "type": "link"},
                                    {"label": "", "value": "The manual"}]
    assert [w.path for w in warnings] == ["data.target"]


def test_card_becomes_key_value_and_its_actions_buttons():
    out, warnings = down("card")
    kv, row = out["data"]["items"]
    assert kv["data"]["title"] == "Alice Chen · VIP"
    assert kv["data"]["items"] == [
        {"label": "Orders", "value": 12, "color": "#2563eb"}, {"label": "City", "value": "Berlin"},
        {"label": "Tags", "value": "vip, b2b"}, {"label": "", "value": "Customer since 2020"}]
    assert row["data"]["layout"] == "horizontal"
    assert [(b["label"], b["action_id"]) for b in buttons(row)] == [("Call", "call"), ("Mail", "mail")]
    assert [w.path for w in warnings] == ["data.image"]


def test_cards_items_click_restores_the_item_payload():
    out, warnings = down("cards")
    assert out["data"]["items"][0] == {"template": "text", "data": {"text": "Products"}}
    mug = out["data"]["items"][1]["data"]["items"]
    assert mug[0]["data"] == {"title": "Mug", "items": [
        {"label": "", "value": "Blue mug"}, {"label": "Price", "value": "$9"}, {"label": "Stock", "value": 3}]}
    opens = buttons(out)
    assert len(opens) == 2
    event = restore_event({"event_type": "button_click", "action_id": opens[0]["action_id"], "payload": {"x": 1}})
    assert event["event_type"] == "button_click" and event["action_id"] == "view_product"
    assert event["payload"] == ui_to_json(parse_ui(SAMPLES["cards"]))["data"]["items"][0]
    assert [w.path for w in warnings] == ["data.items[0].image"]


def test_cards_without_click_action_have_no_buttons():
    sample = {"template": "cards", "data": {"items": [{"id": "a", "title": "A"}]}}
    out, _ = downlevel_ui(ui_to_json(parse_ui(sample)))
    assert buttons(out) == [] and set(names(out)) <= WEB_TEMPLATES


def test_timeline_becomes_a_table_with_status_badges():
    out, warnings = down("timeline")
    assert out["template"] == "table" and out["data"]["title"] == "History"
    assert [c["key"] for c in out["data"]["columns"]] == ["time", "title", "description", "status"]
    assert out["data"]["rows"] == [
        {"time": "09:00", "title": "Ordered", "description": "2 items", "status": {"text": "success", "color": "green"}},
        {"time": "10:00", "title": "Shipped", "description": "", "status": ""}]


def test_markdown_empty_loading_become_text():
    assert down("markdown")[0] == {"template": "text", "data": {"text": "**Hi** there", "type": "markdown"}}
    assert down("loading")[0] == {"template": "text", "data": {"text": "Fetching orders", "type": "info"}}
    out, _ = down("empty")
    assert out["data"]["items"][0] == {"template": "text", "data": {"text": "No orders\n\nNothing yet", "type": "info"}}
    assert buttons(out) == [{"label": "Create", "action_id": "create_order"}]
    bare, _ = downlevel_ui({"template": "loading", "data": {}})
    assert bare["data"]["text"] == "Loading…"


def test_table_keeps_rows_and_reports_what_the_web_app_ignores():
    out, warnings = down("table")
    assert out["data"]["rows"] == SAMPLES["table"]["data"]["rows"]
    assert sorted(w.path for w in warnings) == ["data.pagination", "data.row_click_action"]


def test_form_field_types_the_web_app_lacks():
    out, _ = down("form")
    assert [f["type"] for f in out["data"]["fields"]] == ["text", "select", "datetime-local", "checkbox"]
    assert out["data"]["action_id"] == "create"


def test_nested_paths_in_warnings():
    sample = {"template": "tabs", "data": {"items": [
        {"key": "a", "label": "A", "content": {"template": "group", "data": {"items": [
            {"template": "text", "data": {"text": "x"}},
            {"template": "list", "data": {"searchable": True, "items": [{"id": "1", "text": "one"}]}}]}}}]}}
    out, warnings = downlevel_ui(ui_to_json(parse_ui(sample)))
    assert [w.path for w in warnings] == ["data.items[0].content.data.items[1].data.searchable"]
    assert set(names(out)) <= WEB_TEMPLATES


def test_placeholders_stay_unknown_boxes():
    with collecting():
        ui = ui_to_json(parse_ui({"template": "group", "data": {"items": [{"template": "chart", "data": {"x": 1}}]}}))
    out, warnings = downlevel_ui(ui)
    assert out == ui and warnings == []


def test_show_modal_inside_batch_is_down_levelled():
    action = action_to_json(parse_action({"action": "batch", "data": {"actions": [
        {"action": "show_toast", "data": {"message": "hi"}},
        {"action": "show_modal", "data": {"title": "Pick", "template": "list", "data": {
            "searchable": True, "items": [{"id": "r1", "text": "Reply"}]}}}]}}))
    out, warnings = downlevel_action(action)
    modal = out["data"]["actions"][1]["data"]
    assert modal["title"] == "Pick" and modal["template"] == "group"
    assert set(names({"template": modal["template"], "data": modal["data"]})) <= WEB_TEMPLATES
    assert [w.path for w in warnings] == ["data.actions[1].data.data.searchable"]
    assert action_to_json(parse_action(out)) == out
    assert downlevel_action({"action": "noop", "data": {}}) == ({"action": "noop", "data": {}}, [])


def test_apply_profile_full_is_identity():
    ui = ui_to_json(parse_ui(SAMPLES["stats"]))
    assert apply_profile("full", ui) == (ui, [])
    assert apply_profile("tgo-web", ui)[0]["template"] == "key_value"


def test_restore_event_leaves_other_events_alone_and_refuses_garbage():
    plain = {"event_type": "button_click", "action_id": "refund"}
    assert restore_event(plain) is plain
    submit = {"event_type": "form_submit", "action_id": EVENT_PREFIX + "x"}
    assert restore_event(submit) is submit
    for bad in ("!!!", "e30", encode_event("x", "y")[len(EVENT_PREFIX):] + "%%"):
        with pytest.raises(ValidationError) as info:
            restore_event({"event_type": "button_click", "action_id": EVENT_PREFIX + bad})
        assert info.value.path == "action_id"


def test_encoded_ids_round_trip_unicode_and_objects():
    action_id = encode_event("item_select", "select", selected_id="回复-1")
    assert restore_event({"event_type": "button_click", "action_id": action_id})["selected_id"] == "回复-1"
    action_id = encode_event("button_click", "view", payload={"id": 1, "tags": ["a"]})
    assert restore_event({"event_type": "button_click", "action_id": action_id})["payload"] == {"id": 1, "tags": ["a"]}
