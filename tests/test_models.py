"""tgo_host.model: register params, JSON-UI, JSON-ACTION, params and results."""

from __future__ import annotations

import copy
import pickle
from typing import Any, Callable, Iterator

import pytest

from support.templates import act, TEMPLATE_EXAMPLES, ui
from tgo_host.model import (
    ACTION_NAMES,
    CAPABILITY_TYPES,
    TEMPLATE_NAMES,
    BatchAction,
    ChannelIntegrationCapability,
    ChatToolbarRenderParams,
    EventRequest,
    InsertTextAction,
    McpToolsCapability,
    OpenUrlAction,
    ShowModalAction,
    ToolExecuteParams,
    ToolExecuteRequest,
    ValidationError,
    VisitorPanelCapability,
    VisitorPanelRenderParams,
    VisitorPanelRenderRequest,
    action_to_json,
    event_params,
    parse_action,
    parse_body,
    parse_channel_manifest,
    parse_iframe_config,
    parse_register,
    parse_send_result,
    parse_tool_result,
    parse_ui,
    render_params,
    structure,
    tool_params,
    ui_to_json,
    unstructure,
)
from tgo_host.model.ui import GroupTemplate, KeyValueTemplate, TextTemplate

NON_OBJECTS = [None, [], [{}], "x", "", 3, 1.5, True]


def error_of(fn: Callable[[Any], Any], obj: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        fn(obj)
    return info.value


# -- ValidationError ----------------------------------------------------------------


def test_validation_error_formats_path_and_reason():
    err = ValidationError("capabilities[1].type", "required")
    assert str(err) == "capabilities[1].type: required"
    assert (err.path, err.reason) == ("capabilities[1].type", "required")
    assert isinstance(err, ValueError)
    assert str(ValidationError("", "expected an object")) == "expected an object"


def test_validation_error_pickles():
    err = pickle.loads(pickle.dumps(ValidationError("data.url", "bad")))
    assert (err.path, err.reason, str(err)) == ("data.url", "bad", "data.url: bad")


# -- register -----------------------------------------------------------------------

SDK_REGISTER = {
    "id": "com.example.crm",
    "name": "my-plugin",
    "version": "1.0.0",
    "description": "CRM",
    "author": "ACME",
    "homepage": "https://example.com",
    "dev_token": "",
    "capabilities": [
        {"type": "visitor_panel", "title": "Orders", "icon": "shopping-cart", "priority": 10,
         "refresh_on": ["session_change", "manual"]},
        {"type": "chat_toolbar", "title": "Quick reply", "icon": "zap", "tooltip": "Replies",
         "shortcut": "Ctrl+Shift+R"},
        {"type": "sidebar_iframe", "title": "CRM", "icon": "users", "url": "https://crm.example.com",
         "width": 400, "min_width": 300, "max_width": 600.4, "allow_fullscreen": True},
        {"type": "channel_integration", "channel_type": "custom_im", "name": "Custom IM",
         "icon": "message-circle"},
        {"type": "mcp_tools", "title": "Tools", "tools": [
            {"name": "lookup_order", "title": "Lookup", "description": "Find an order", "parameters": [
                {"name": "order_id", "type": "string", "description": "Order id", "required": True,
                 "enum_values": None},
                {"name": "kind", "type": "string", "required": False, "enum_values": ["a", "b"]},
            ]}]},
    ],
}


def test_register_sdk_payload():
    params = parse_register(SDK_REGISTER)
    assert params.id == "com.example.crm"
    assert params.name == "my-plugin" and params.version == "1.0.0"
    assert params.dev_token is None  # Go SDK sends "" when unset
    assert [c.type for c in params.capabilities] == list(CAPABILITY_TYPES)
    assert [c.display_title for c in params.capabilities] == ["Orders", "Quick reply", "CRM", "Custom IM", "Tools"]
    panel = params.capabilities[0]
    assert isinstance(panel, VisitorPanelCapability)
    assert panel.refresh_on == ["session_change", "manual"]
    tools = params.capabilities[4]
    assert isinstance(tools, McpToolsCapability)
    assert tools.tools[0].parameters[0].required is True
    assert tools.tools[0].parameters[1].enum_values == ["a", "b"]


def test_register_unstructure_keeps_type_and_materialises_defaults():
    out = unstructure(parse_register(SDK_REGISTER))
    assert "dev_token" not in out  # "" -> None -> left out
    caps = out["capabilities"]
    assert caps[0] == SDK_REGISTER["capabilities"][0]
    # the gateway needs a title on every capability and shows a priority for each
    assert caps[3] == {**SDK_REGISTER["capabilities"][3], "title": "Custom IM", "priority": 10}
    assert caps[2]["max_width"] == 600  # the gateway takes whole pixels
    assert caps[4]["tools"][0]["parameters"][0] == {
        "name": "order_id", "type": "string", "description": "Order id", "required": True,
    }
    minimal = unstructure(parse_register({"name": "p", "capabilities": [{"type": "visitor_panel", "title": "T"}]}))
    assert minimal == {
        "name": "p", "version": "",
        "capabilities": [{"type": "visitor_panel", "title": "T", "priority": 10, "refresh_on": []}],
    }


def test_register_minimal_and_empty_strings():
    params = parse_register({"name": "p", "id": "", "dev_token": ""})
    assert (params.id, params.dev_token, params.version, params.capabilities) == (None, None, "", [])
    assert parse_register({"name": "p", "dev_token": "s3cret"}).dev_token == "s3cret"
    assert "s3cret" not in repr(parse_register({"name": "p", "dev_token": "s3cret"}))


def test_register_null_lists_read_as_empty():
    params = parse_register({"name": "p", "capabilities": [
        {"type": "visitor_panel", "title": "T", "refresh_on": None},
        {"type": "mcp_tools", "title": "T", "tools": [{"name": "x", "parameters": None}]},
    ]})
    assert params.capabilities[0].refresh_on == []
    assert params.capabilities[1].tools[0].parameters == []
    assert parse_register({"name": "p", "capabilities": None}).capabilities == []


def test_channel_integration_needs_title_or_name():
    cap = parse_register({"name": "p", "capabilities": [{"type": "channel_integration", "title": "T"}]}).capabilities[0]
    assert isinstance(cap, ChannelIntegrationCapability) and cap.display_title == "T"
    err = error_of(parse_register, {"name": "p", "capabilities": [{"type": "channel_integration", "icon": "x"}]})
    assert err.path == "capabilities[0].title"
    assert err.reason.startswith("required")


def test_register_extra_fields_dropped():
    payload = copy.deepcopy(SDK_REGISTER)
    payload["future"] = {"x": 1}
    payload["capabilities"][0]["badge"] = "new"
    params = parse_register(payload)
    assert not hasattr(params, "future") and not hasattr(params.capabilities[0], "badge")
    out = unstructure(params)
    assert "future" not in out and "badge" not in out["capabilities"][0]


def caps(*items: Any) -> dict[str, Any]:
    return {"name": "p", "capabilities": list(items)}


@pytest.mark.parametrize(
    ("payload", "path", "reason"),
    [
        ({}, "name", "required"),
        ({"name": 5}, "name", "expected a string"),
        ({"name": "p", "version": 1}, "version", "expected a string"),
        ({"name": "p", "capabilities": "x"}, "capabilities", "expected a list"),
        ({"name": "p", "capabilities": {}}, "capabilities", "expected a list"),
        (caps("x"), "capabilities[0]", "expected an object"),
        (caps({"title": "T"}), "capabilities[0].type", "required"),
        (caps({"type": 3, "title": "T"}), "capabilities[0].type", "expected a string"),
        (caps({"type": "visitor_panel", "title": "T"}, {"type": "foo"}), "capabilities[1].type",
         "unknown capability type 'foo' (expected one of visitor_panel, chat_toolbar, sidebar_iframe, "
         "channel_integration, mcp_tools)"),
        (caps({"type": "visitor_panel"}), "capabilities[0].title", "required"),
        (caps({"type": "visitor_panel", "title": 5}), "capabilities[0].title", "expected a string"),
        (caps({"type": "visitor_panel", "title": "T", "priority": "high"}), "capabilities[0].priority",
         "expected an integer"),
        (caps({"type": "visitor_panel", "title": "T", "priority": True}), "capabilities[0].priority",
         "expected an integer"),
        (caps({"type": "visitor_panel", "title": "T", "refresh_on": "manual"}), "capabilities[0].refresh_on",
         "expected a list"),
        (caps({"type": "visitor_panel", "title": "T", "refresh_on": ["a", 1]}), "capabilities[0].refresh_on[1]",
         "expected a string"),
        (caps({"type": "sidebar_iframe", "title": "T", "allow_fullscreen": "yes"}),
         "capabilities[0].allow_fullscreen", "expected a boolean"),
        (caps({"type": "sidebar_iframe", "title": "T", "width": "400"}), "capabilities[0].width",
         "expected a number of pixels"),
        (caps({"type": "visitor_panel", "title": "T", "priority": 2.5}), "capabilities[0].priority",
         "expected an integer"),
        (caps({"type": "sidebar_iframe", "title": "T", "url": "javascript:alert(1)"}), "capabilities[0].url",
         "scheme 'javascript' is not allowed (only http and https)"),
        (caps({"type": "mcp_tools", "title": "T", "tools": [{"name": "a"}, {"title": "b"}]}),
         "capabilities[0].tools[1].name", "required"),
        (caps({"type": "mcp_tools", "title": "T", "tools": [{"name": "a", "parameters": [{"name": "p", "required": "yes"}]}]}),
         "capabilities[0].tools[0].parameters[0].required", "expected a boolean"),
    ],
)
def test_register_errors(payload, path, reason):
    err = error_of(parse_register, payload)
    assert (err.path, err.reason) == (path, reason)


def test_register_reports_first_error_in_field_order():
    err = error_of(parse_register, {"name": 1, "version": 2, "capabilities": "x"})
    assert err.path == "name"


@pytest.mark.parametrize("obj", NON_OBJECTS)
def test_register_non_object(obj):
    err = error_of(parse_register, obj)
    assert (err.path, err.reason) == ("", "expected an object")


# -- JSON-UI ------------------------------------------------------------------------


def test_every_template_has_an_example():
    assert set(TEMPLATE_EXAMPLES) == set(TEMPLATE_NAMES)
    assert len(TEMPLATE_NAMES) == 18


@pytest.mark.parametrize("name", sorted(TEMPLATE_EXAMPLES))
def test_template_round_trip(name):
    payload = TEMPLATE_EXAMPLES[name]
    template = parse_ui(payload)
    assert template.template == name
    assert ui_to_json(template) == payload


def test_none_fields_are_omitted():
    payload = ui("key_value", title=None, items=[{"label": "a", "value": 1, "icon": None, "type": None}])
    assert ui_to_json(parse_ui(payload)) == ui("key_value", items=[{"label": "a", "value": 1}])


def test_built_in_python_and_unstructured():
    group = GroupTemplate(items=[TextTemplate(text="hi"), KeyValueTemplate(items=[])])
    assert ui_to_json(group) == ui("group", items=[ui("text", text="hi"), ui("key_value", items=[])])


def test_key_value_scalars_are_kept_as_given():
    values = [v.value for v in parse_ui(TEMPLATE_EXAMPLES["key_value"]).items]
    assert values == ["Ada", 12, 1234.5, True, "2024-01-01"]
    assert type(values[1]) is int


def test_template_extra_fields_kept():
    payload = ui("text", text="x", future_field=1)
    payload["meta"] = {"x": 1}  # beside "data": not part of the template
    template = parse_ui(payload)
    assert not hasattr(template, "future_field")
    assert ui_to_json(template) == ui("text", text="x", future_field=1)


def test_table_rows_are_free_form_objects():
    rows = parse_ui(TEMPLATE_EXAMPLES["table"]).rows
    assert rows[1]["note"] == [1, 2]


TEMPLATE_ERRORS = [
    (ui("foo"), "template",
     "unknown template 'foo' (expected one of text, key_value, table, card, cards, link, links, button, action, "
     "markdown, list, timeline, stats, empty, loading, group, tabs, form)"),
    ({"template": 3, "data": {}}, "template", "expected a string"),
    ({"template": "text"}, "data", "expected an object"),
    ({"template": "text", "data": "x"}, "data", "expected an object"),
    ({"template": "loading", "data": None}, "data", "expected an object"),
    (ui("text"), "data.text", "required"),
    (ui("text", text={"a": 1}), "data.text", "expected a string"),
    (ui("key_value"), "data.items", "required"),
    (ui("key_value", items="x"), "data.items", "expected a list"),
    (ui("key_value", title=[5], items=[]), "data.title", "expected a string"),
    (ui("key_value", items=[{"value": 1}]), "data.items[0].label", "required"),
    (ui("key_value", items=[{"label": "a", "value": 1}, {"label": "b", "value": [None]}]), "data.items[1].value",
     "expected a string, number or boolean"),
    (ui("key_value", items=[{"label": "a", "value": {"x": 1}}]), "data.items[0].value",
     "expected a string, number or boolean"),
    (ui("key_value", items=[{"label": "a", "value": "javascript:alert(1)", "type": "link"}]), "data.items[0].value",
     "scheme 'javascript' is not allowed in a link"),
    (ui("key_value", items=[{"label": "a", "value": 1, "link": "javascript:alert(1)"}]), "data.items[0].link",
     "scheme 'javascript' is not allowed in a link"),
    (ui("table", columns=[], rows="x"), "data.rows", "expected a list"),
    (ui("table", columns=[{"key": "a", "label": "A"}], rows=[{}, "row"]), "data.rows[1]", "expected an object"),
    (ui("table", columns=[{"key": "a"}], rows=[]), "data.columns[0].label", "required"),
    (ui("table", columns=[{"key": "a", "label": "A", "type": "link"}], rows=[{"a": "https://x"}, {"a": "vbscript:x"}]),
     "data.rows[1].a", "scheme 'vbscript' is not allowed in a link"),
    (ui("table", columns=[], rows=[], pagination=[]), "data.pagination", "expected an object"),
    (ui("cards", items=[{"id": "a"}, {"title": {}}]), "data.items[1].title", "expected a string"),
    (ui("cards", items=[{"id": "a", "image": "javascript:alert(1)"}]), "data.items[0].image",
     "scheme 'javascript' is not allowed in an image source"),
    (ui("card", image="data:image/svg+xml,<svg onload=alert(1)>"), "data.image",
     "scheme 'data' is not allowed in an image source"),
    (ui("link", text="a"), "data.url", "required"),
    (ui("link", text="a", url=" JaVaScript:alert(1)"), "data.url", "scheme 'javascript' is not allowed in a link"),
    (ui("links", items=[{"text": "a", "url": "data:text/html,<script>"}]), "data.items[0].url",
     "scheme 'data' is not allowed in a link"),
    (ui("button", label="a"), "data.action_id", "required"),
    (ui("list", items=[{"id": "a", "text": "x"}, {"id": "b"}]), "data.items[1].text", "required (or title)"),
    (ui("empty", action="x"), "data.action", "expected an object"),
    (ui("group", items=[ui("text", text="a"), ui("text")]), "data.items[1].data.text", "required"),
    (ui("group", items=[ui("text", text="a"), ui("text", text="b"), {"template": 5, "data": {}}]),
     "data.items[2].template", "expected a string"),
    (ui("group", items=[ui("text", text="a"), {"template": "nope", "data": "x"}]), "data.items[1].data",
     "expected an object"),
    (ui("group", items=[ui("text", text="a"), "x"]), "data.items[1].template",
     'required (not a JSON-UI template; expected {"template": ..., "data": {...}}, got a string)'),
    (ui("tabs", items=[{"key": "a", "label": "A", "content": ui("text", text="x")},
                       {"key": "b", "label": "B", "content": ui("table", columns=[], rows="x")}]),
     "data.items[1].content.data.rows", "expected a list"),
    (ui("tabs", items=[{"key": "a", "label": "A"}]), "data.items[0].content", "required"),
    (ui("group", items=[ui("tabs", items=[{"key": "a", "label": "A", "content": ui("group", items=[
        ui("key_value", items=[{"label": {"x": 1}, "value": 1}])])}])]),
     "data.items[0].data.items[0].content.data.items[0].data.items[0].label", "expected a string"),
    (ui("form", fields=[{"name": "a"}]), "data.fields[0].type", "required"),
    (ui("form", fields=[{"name": "a", "type": "select", "options": [{"value": [1]}]}]),
     "data.fields[0].options[0].value", "expected a string, number or boolean"),
]


@pytest.mark.parametrize(("payload", "path", "reason"), TEMPLATE_ERRORS)
def test_template_errors(payload, path, reason):
    err = error_of(parse_ui, payload)
    assert (err.path, err.reason) == (path, reason)
    assert str(err) == f"{path}: {reason}"


def test_go_sdk_default_result_is_not_a_template():
    err = error_of(parse_ui, {"success": True})
    assert err.path == "template"
    assert err.reason.startswith("required")
    assert "not a JSON-UI template" in str(err)
    assert "success" in str(err)


@pytest.mark.parametrize("obj", [*NON_OBJECTS, {}])
def test_non_object_result_is_not_a_template(obj):
    err = error_of(parse_ui, obj)
    assert err.path == "template"
    assert err.reason.startswith("required (not a JSON-UI template")


def test_deep_nesting_is_a_validation_error():
    payload = ui("text", text="x")
    for _ in range(5000):
        payload = ui("group", items=[payload])
    err = error_of(parse_ui, payload)
    assert err.reason == "nested too deeply"


def test_long_unknown_name_is_shortened():
    err = error_of(parse_ui, ui("x" * 10_000))
    assert len(str(err)) < 400


# -- JSON-ACTION --------------------------------------------------------------------

ACTION_EXAMPLES: dict[str, dict[str, Any]] = {
    "open_url": act("open_url", url="https://shop.example.com/o/1", target="_self"),
    "insert_text": act("insert_text", text="Hello", replace=True),
    "send_message": act("send_message", content="**hi**", content_type="markdown"),
    "show_toast": act("show_toast", message="Saved", type="success", duration=1500),
    "copy_text": act("copy_text", text="ABC-1", toast="Copied"),
    "refresh": act("refresh"),
    "close_modal": act("close_modal"),
    "show_modal": act("show_modal", title="New ticket", template="form",
                      data={"fields": [{"name": "subject", "type": "text"}], "action_id": "create"}),
    "noop": act("noop", log="nothing to do"),
    "batch": act("batch", actions=[
        act("insert_text", text="a", replace=False),
        act("show_toast", message="b", duration=3000),
        act("batch", actions=[act("refresh")]),
    ]),
}


def test_every_action_has_an_example():
    assert set(ACTION_EXAMPLES) == set(ACTION_NAMES)
    assert len(ACTION_NAMES) == 10


@pytest.mark.parametrize("name", sorted(ACTION_EXAMPLES))
def test_action_round_trip(name):
    payload = ACTION_EXAMPLES[name]
    action = parse_action(payload)
    assert action.action == name
    assert action_to_json(action) == payload


@pytest.mark.parametrize("name", ["refresh", "close_modal", "noop"])
@pytest.mark.parametrize("data", ["missing", None])
def test_data_may_be_left_out(name, data):
    payload = {"action": name} if data == "missing" else {"action": name, "data": None}
    assert action_to_json(parse_action(payload)) == {"action": name, "data": {}}


def test_action_defaults_are_materialised():
    assert action_to_json(parse_action(act("insert_text", text="x"))) == act("insert_text", text="x", replace=False)
    toast = parse_action(act("show_toast", message="m"))
    assert toast.duration == 3000
    assert action_to_json(toast) == act("show_toast", message="m", duration=3000)


def test_sdk_batch_and_modal():
    batch = parse_action(ACTION_EXAMPLES["batch"])
    assert isinstance(batch, BatchAction)
    assert isinstance(batch.actions[0], InsertTextAction) and batch.actions[0].replace is False
    modal = parse_action(ACTION_EXAMPLES["show_modal"])
    assert isinstance(modal, ShowModalAction)
    assert modal.title == "New ticket" and modal.content.template == "form"


def test_action_extra_fields_kept():
    payload = act("copy_text", text="x", extra=1)
    assert action_to_json(parse_action(payload)) == act("copy_text", text="x", extra=1)


@pytest.mark.parametrize(
    "url",
    ["https://example.com", "http://example.com/a?b=c", "HTTPS://EXAMPLE.COM", "  https://example.com  ",
     "Http://example.com"],
)
def test_open_url_accepts_http_and_https(url):
    action = parse_action(act("open_url", url=url))
    assert isinstance(action, OpenUrlAction) and action.url == url


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("javascript:alert(1)", "javascript"),
        ("JavaScript:alert(1)", "javascript"),
        (" JaVaScript:alert(document.cookie)", "javascript"),
        ("\n\tjavascript:alert(1)", "javascript"),
        ("java\tscript:alert(1)", "javascript"),
        ("\x00javascript:alert(1)", "javascript"),
        ("data:text/html,<script>alert(1)</script>", "data"),
        ("DATA:text/html;base64,PHNjcmlwdD4=", "data"),
        ("file:///etc/passwd", "file"),
        ("vbscript:msgbox(1)", "vbscript"),
        ("data:image/svg+xml,<svg onload=alert(1)>", "data"),
    ],
)
def test_open_url_rejects_script_schemes(url, scheme):
    err = error_of(parse_action, act("open_url", url=url))
    assert err.path == "data.url"
    assert err.reason == f"scheme '{scheme}' is not allowed in a link"


@pytest.mark.parametrize(
    "url", ["/relative", "example.com", "", "//cdn.example.com/x", "mailto:a@example.com", "tel:+4912345",
            "ftp://example.com/x"],
)
def test_open_url_accepts_what_a_link_may_be(url):
    assert parse_action(act("open_url", url=url)).url == url


def test_open_url_rejected_inside_batch():
    payload = act("batch", actions=[act("noop"), act("open_url", url=" JaVaScript:alert(1)")])
    err = error_of(parse_action, payload)
    assert str(err) == "data.actions[1].data.url: scheme 'javascript' is not allowed in a link"
    nested = act("batch", actions=[act("batch", actions=[act("refresh"), act("open_url", url="file:///etc")])])
    assert error_of(parse_action, nested).path == "data.actions[0].data.actions[1].data.url"


ACTION_ERRORS = [
    (act("x"), "action",
     "unknown action 'x' (expected one of open_url, insert_text, send_message, show_toast, copy_text, refresh, "
     "close_modal, show_modal, noop, batch)"),
    ({"action": ["x"]}, "action", "expected a string"),
    ({"action": "open_url"}, "data", "expected an object"),
    ({"action": "refresh", "data": []}, "data", "expected an object"),
    (act("open_url"), "data.url", "required"),
    (act("open_url", url=5), "data.url", "expected a string"),
    (act("insert_text", text=[1]), "data.text", "expected a string"),
    (act("copy_text"), "data.text", "required"),
    (act("noop", log={}), "data.log", "expected a string"),
    (act("show_modal", title=[5], template="text", data={"text": "x"}), "data.title", "expected a string"),
    (act("show_modal", title="t", template="text", data={}), "data.data.text", "required"),
    (act("show_modal", title="t", data={}), "data.template",
     'required (not a JSON-UI template; expected {"template": ..., "data": {...}}, got an object with keys: title, '
     'data)'),
    (act("batch"), "data.actions", "required"),
    (act("batch", actions="x"), "data.actions", "expected a list"),
    (act("batch", actions=[act("refresh"), "x"]), "data.actions[1].action",
     'required (not a JSON-ACTION; expected {"action": ..., "data": {...}}, got a string)'),
    (act("batch", actions=[act("refresh"), {"action": 7}]), "data.actions[1].action", "expected a string"),
]


@pytest.mark.parametrize(("payload", "path", "reason"), ACTION_ERRORS)
def test_action_errors(payload, path, reason):
    err = error_of(parse_action, payload)
    assert (err.path, err.reason) == (path, reason)


def test_show_modal_without_template():
    err = error_of(parse_action, act("show_modal", title="t"))
    assert err.path == "data.template" and err.reason.startswith("required (not a JSON-UI template")


@pytest.mark.parametrize("obj", [*NON_OBJECTS, {}, {"success": True}])
def test_non_object_result_is_not_an_action(obj):
    err = error_of(parse_action, obj)
    assert err.path == "action"
    assert err.reason.startswith("required (not a JSON-ACTION")


# -- params, request bodies, results ------------------------------------------------


def test_event_request():
    body = {"event_type": "form_submit", "action_id": "submit", "extension_type": "chat_toolbar",
            "visitor_id": "v1", "form_data": {"subject": "x", "n": 1}, "payload": {"row": {"id": 1}},
            "unknown": True}
    req = parse_body(body, EventRequest)
    assert req.extension_type == "chat_toolbar" and req.form_data == {"subject": "x", "n": 1}
    del body["unknown"]
    assert unstructure(req) == body
    assert parse_body({"event_type": "button_click", "action_id": "a"}, EventRequest).extension_type is None


@pytest.mark.parametrize(
    ("cls", "body", "path", "reason"),
    [
        (EventRequest, {"action_id": "a"}, "event_type", "required"),
        (EventRequest, {"event_type": "button_click"}, "action_id", "required"),
        (EventRequest, {"event_type": "b", "action_id": "a", "extension_type": "sidebar_iframe"}, "extension_type",
         "must be one of visitor_panel, chat_toolbar"),
        (EventRequest, {"event_type": "b", "action_id": "a", "form_data": []}, "form_data", "expected an object"),
        (EventRequest, {"event_type": "b", "action_id": "a", "payload": "x"}, "payload", "expected an object"),
        (VisitorPanelRenderRequest, {}, "visitor_id", "required"),
        (VisitorPanelRenderRequest, {"visitor_id": 7}, "visitor_id", "expected a string"),
        (VisitorPanelRenderRequest, {"visitor_id": "v", "visitor": {"metadata": "x"}}, "visitor.metadata",
         "expected an object"),
        (VisitorPanelRenderRequest, {"visitor_id": "v", "context": ["channel_id"]}, "context", "expected an object"),
        (ToolExecuteRequest, {"arguments": []}, "arguments", "expected an object"),
        (ToolExecuteRequest, {"context": {"agent_id": 1}}, "context.agent_id", "expected a string"),
        (ChatToolbarRenderParams, {"context": {"last_messages": [{"role": "user"}, {"content": 1}]}},
         "context.last_messages[1].content", "expected a string"),
    ],
)
def test_body_errors(cls, body, path, reason):
    err = error_of(lambda obj: parse_body(obj, cls), body)
    assert (err.path, err.reason) == (path, reason)


@pytest.mark.parametrize("cls", [EventRequest, VisitorPanelRenderRequest, ToolExecuteRequest])
@pytest.mark.parametrize("obj", NON_OBJECTS)
def test_body_non_object(cls, obj):
    err = error_of(lambda o: parse_body(o, cls), obj)
    assert (err.path, err.reason) == ("", "expected an object")


def test_visitor_panel_context_is_kept_unchanged():
    """The web app's context (channel_id, channel_type, platform_type, anything else) reaches plugins as sent."""
    context = {"channel_id": "ch-1", "channel_type": 3, "platform_type": "wechat", "location": {"city": 3},
               "custom": [1, {"x": None}]}
    req = parse_body({"visitor_id": "v", "context": context}, VisitorPanelRenderRequest)
    assert req.context is context and unstructure(req)["context"] == context
    params = structure({"visitor_id": "v", "context": context}, VisitorPanelRenderParams)
    assert unstructure(params)["context"] == context


def test_render_and_event_params_carry_every_key():
    assert render_params("visitor_panel", {"visitor_id": "v"}) == {
        "visitor_id": "v", "session_id": None, "visitor": {}, "context": {}, "language": None}
    assert render_params("visitor_panel", {"visitor_id": "v", "visitor": None, "context": None, "agent_id": "a"}) == {
        "visitor_id": "v", "session_id": None, "visitor": {}, "context": {}, "language": None, "agent_id": "a"}
    assert render_params("chat_toolbar", {}) == {
        "action_id": None, "session_id": None, "visitor_id": None, "visitor": {}, "agent_id": None, "context": {},
        "language": None}
    given = {"event_type": "button_click", "action_id": "a", "payload": {"channel_id": "c"}}
    assert event_params(given) == {
        "event_type": "button_click", "action_id": "a", "visitor_id": None, "session_id": None, "selected_id": None,
        "language": None, "form_data": {}, "payload": {"channel_id": "c"}}
    assert given == {"event_type": "button_click", "action_id": "a", "payload": {"channel_id": "c"}}  # not changed
    assert tool_params({"tool_name": "t", "arguments": {"x": 1}, "agent_id": "a"}) == {
        "tool_name": "t", "arguments": {"x": 1}, "visitor_id": None, "session_id": None, "agent_id": "a",
        "language": None}


def test_tool_execute_request_defaults():
    req = parse_body({}, ToolExecuteRequest)
    assert req.arguments == {} and req.context.visitor_id is None
    assert parse_body({"arguments": None, "context": None}, ToolExecuteRequest).arguments == {}
    req = parse_body({"arguments": {"order_id": "1"}, "context": {"visitor_id": "v", "language": "en"}},
                     ToolExecuteRequest)
    assert unstructure(req) == {"arguments": {"order_id": "1"}, "context": {"visitor_id": "v", "language": "en"}}


def test_host_to_plugin_params_unstructure_compactly():
    params = VisitorPanelRenderParams(visitor_id="v1", language="en")
    assert unstructure(params) == {"visitor_id": "v1", "language": "en"}
    full = {
        "visitor_id": "v1", "session_id": "s1", "language": "zh",
        "visitor": {"id": "v1", "name": "Ada", "email": "a@example.com", "first_seen_at": "2024-01-01T00:00:00Z",
                    "metadata": {"vip": True}},
        "context": {"current_page": "/cart", "device": "mobile", "location": {"country": "NL", "city": "Delft"}},
    }
    assert unstructure(structure(full, VisitorPanelRenderParams)) == full
    tool = ToolExecuteParams(tool_name="lookup", arguments={"id": 1}, session_id="s")
    assert unstructure(tool) == {"tool_name": "lookup", "arguments": {"id": 1}, "session_id": "s"}


def test_tool_result():
    res = parse_tool_result({"success": True, "content": "found", "data": {"id": 1}, "x": 1})
    assert (res.success, res.content, res.data, res.error) == (True, "found", {"id": 1}, None)
    assert unstructure(res) == {"success": True, "content": "found", "data": {"id": 1}}
    assert parse_tool_result({"success": False, "error": "boom"}).error == "boom"
    assert error_of(parse_tool_result, {"content": "x"}).path == "success"
    assert error_of(parse_tool_result, {"success": "true"}).reason == "expected a boolean"
    assert error_of(parse_tool_result, None).reason == "expected an object"


def test_send_result():
    res = parse_send_result({"success": True, "message_id": "m1"})
    assert (res.success, res.message_id) == (True, "m1")
    assert error_of(parse_send_result, {"success": True, "message_id": 5}).path == "message_id"


def test_iframe_config():
    cfg = parse_iframe_config({"url": "https://crm.example.com/app", "title": "CRM", "width": 400,
                               "allow_fullscreen": True, "sandbox": "allow-scripts", "permissions": ["clipboard-read"]})
    assert cfg.permissions == ["clipboard-read"]
    err = error_of(parse_iframe_config, {"url": "javascript:alert(1)"})
    assert (err.path, err.reason) == ("url", "scheme 'javascript' is not allowed (only http and https)")
    assert error_of(parse_iframe_config, {"url": "https://x", "permissions": "all"}).path == "permissions"


def test_channel_manifest():
    payload = {"channel_type": "custom_im", "name": "Custom IM", "icon": "message-circle", "description": "d",
               "config_schema": {"type": "object", "properties": {"token": {"type": "string"}}},
               "setup_guide": "# Setup", "webhook_endpoint": "/webhook",
               "capabilities": {"send_text": True, "send_image": False}}
    assert unstructure(parse_channel_manifest(payload)) == payload
    assert error_of(parse_channel_manifest, {"name": "x"}).path == "channel_type"
    assert error_of(parse_channel_manifest, {**payload, "config_schema": "x"}).path == "config_schema"


# -- nothing but ValidationError escapes ---------------------------------------------

JUNK = [None, True, 0, -1.5, "", "javascript:x", [], [None], {}, {"template": "x"}, {"action": "x"}]


def mutations(value: Any) -> Iterator[Any]:
    """Copies of ``value`` with one node (or the whole) replaced by each JUNK value."""
    yield from JUNK
    if isinstance(value, dict):
        for key, child in value.items():
            for sub in mutations(child):
                yield {**value, key: sub}
            yield {k: v for k, v in value.items() if k != key}
    elif isinstance(value, list):
        for i, child in enumerate(value):
            for sub in mutations(child):
                yield [*value[:i], sub, *value[i + 1:]]


@pytest.mark.parametrize(
    ("parse", "sample"),
    [
        (parse_ui, TEMPLATE_EXAMPLES["tabs"]),
        (parse_ui, TEMPLATE_EXAMPLES["key_value"]),
        (parse_ui, TEMPLATE_EXAMPLES["form"]),
        (parse_ui, TEMPLATE_EXAMPLES["table"]),
        (parse_action, ACTION_EXAMPLES["batch"]),
        (parse_action, ACTION_EXAMPLES["show_modal"]),
        (parse_register, SDK_REGISTER),
    ],
    ids=["tabs", "key_value", "form", "table", "batch", "show_modal", "register"],
)
def test_mutated_input_only_raises_validation_error(parse, sample):
    count = 0
    for mutated in mutations(sample):
        count += 1
        try:
            parse(mutated)
        except ValidationError as err:
            assert err.reason
        # any other exception fails the test
    assert count > 50
