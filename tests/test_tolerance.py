"""The validation policy (docs/validation.md) at the model layer.

A corpus of plugin outputs the TGO web app renders (each accepted, normalised
as documented, with the right fix-ups) and a corpus that must still be
rejected (script URLs in every URL position, broken structure).
"""

from __future__ import annotations

import copy

import pytest
import orjson

from support.gateway import gateway_accepts_capability
from support.templates import act, TEMPLATE_EXAMPLES, ui
from tgo_host.model import (
    ValidationError,
    action_to_json,
    collecting,
    parse_action,
    parse_register,
    parse_ui,
    ui_to_json,
    unstructure,
)


def parsed(parse, to_json, payload):
    with collecting() as fixups:
        out = to_json(parse(payload))
    return out, [(f.path, f.kind) for f in fixups]


# (payload, expected JSON out, expected fix-ups as (path, kind))
UI_ACCEPTED = [
    # key_value link/status types (the web app's only clickable value), null and missing values
    (ui("key_value", items=[{"label": "Site", "value": "https://shop.example.com", "type": "link"},
                            {"label": "State", "value": "paid", "type": "status"},
                            {"label": "Tel", "value": "tel:+4912345", "type": "link"},
                            {"label": "Mail", "value": "mailto:a@example.com", "type": "link"},
                            {"label": "Missing", "value": None},
                            {"label": "Absent"}]),
     ui("key_value", items=[{"label": "Site", "value": "https://shop.example.com", "type": "link"},
                            {"label": "State", "value": "paid", "type": "status"},
                            {"label": "Tel", "value": "tel:+4912345", "type": "link"},
                            {"label": "Mail", "value": "mailto:a@example.com", "type": "link"},
                            {"label": "Missing", "value": ""},
                            {"label": "Absent", "value": ""}]),
     []),
    # loose values: "true", 5.0, numbers as labels
    (ui("key_value", title=2024, items=[{"label": 7, "value": 5.0, "copyable": "true", "link": "/orders/1"}]),
     ui("key_value", title="2024", items=[{"label": "7", "value": 5, "copyable": True, "link": "/orders/1"}]),
     [("data.title", "coerced"), ("data.items[0].label", "coerced"), ("data.items[0].copyable", "coerced")]),
    # display hints outside the spec's lists are kept; CSS widths; unknown column types
    (ui("table", columns=[{"key": "a", "label": "A", "width": "30%", "type": "money", "align": "justify"},
                          {"key": "b", "label": "B", "width": 120.0}],
        rows=[{"a": None, "b": {"text": "ok", "color": "green"}, "c": [1]}]),
     ui("table", columns=[{"key": "a", "label": "A", "width": "30%", "type": "money", "align": "justify"},
                          {"key": "b", "label": "B", "width": 120}],
        rows=[{"a": None, "b": {"text": "ok", "color": "green"}, "c": [1]}]),
     []),
    (ui("button", label="Go", action_id="go", type="outline", size="huge"),
     ui("button", label="Go", action_id="go", type="outline", size="huge"), []),
    (ui("text", text="hi", type="shout", size="", bold=None, copyable="false"),
     ui("text", text="hi", type="shout", copyable=False), [("data.copyable", "coerced")]),
    (ui("text", text=None), ui("text", text=""), []),
    (ui("group", layout="grid", items=[ui("text", text="a")]),
     ui("group", layout="grid", items=[ui("text", text="a")]), []),
    (ui("form", fields=[{"name": "mail", "type": "email", "required": "true"},
                        {"name": "n", "type": "", "default": None, "rows": "3"}]),
     ui("form", fields=[{"name": "mail", "type": "email", "required": True},
                        {"name": "n", "type": "text"}]),
     [("data.fields[0].required", "coerced"), ("data.fields[1].rows", "dropped")]),
    # wrong-typed optional hints are left out, the panel still renders
    (ui("markdown", content="x", max_height="tall"), ui("markdown", content="x"), [("data.max_height", "dropped")]),
    (ui("action", buttons=[{"id": "a", "label": "A", "type": 3, "disabled": "maybe"}]),
     ui("action", buttons=[{"id": "a", "label": "A"}]),
     [("data.buttons[0].type", "dropped"), ("data.buttons[0].disabled", "dropped")]),
    # nulls in every scalar display position
    (ui("stats", items=[{"label": "Orders", "value": None, "trend": None}]),
     ui("stats", items=[{"label": "Orders"}]), []),
    (ui("timeline", items=[{"time": None, "title": "t", "description": None, "status": "done"}]),
     ui("timeline", items=[{"title": "t", "status": "done"}]), []),
    (ui("list", items=[{"id": None, "text": "x", "time": None, "icon": None}]),
     ui("list", items=[{"text": "x"}]), []),
    (ui("card", title=None, fields=[{"label": "a", "value": None}], image="data:image/png;base64,iVBORw0KGgo="),
     ui("card", fields=[{"label": "a"}], image="data:image/png;base64,iVBORw0KGgo="), []),
    # unknown extra fields pass through (a script URL among them does not)
    (ui("key_value", items=[{"label": "a", "value": 1, "tooltip": "t", "href": "javascript:alert(1)"}], footer="f"),
     ui("key_value", items=[{"label": "a", "value": 1, "tooltip": "t"}], footer="f"),
     [("data.items[0].href", "dropped")]),
    (ui("text", text="x", meta={"links": [{"href": "https://ok.example"}, {"href": " javascript:alert(1)"}]},
        note={"tag": "data: fine"}),
     ui("text", text="x", note={"tag": "data: fine"}), [("data.meta", "dropped")]),
    # unknown nested templates become placeholders; the rest renders
    (ui("group", items=[ui("text", text="a"), ui("chart", series=[1, 2]), ui("text", text="b")]),
     ui("group", items=[ui("text", text="a"), ui("chart"), ui("text", text="b")]),
     [("data.items[1]", "placeholder")]),
    (ui("tabs", items=[{"key": "a", "label": "A", "content": {"template": "map", "data": None}}]),
     ui("tabs", items=[{"key": "a", "label": "A", "content": ui("map")}]),
     [("data.items[0].content", "placeholder")]),
]


@pytest.mark.parametrize(("payload", "expected", "fixups"), UI_ACCEPTED)
def test_ui_accepted_and_normalised(payload, expected, fixups):
    out, noted = parsed(parse_ui, ui_to_json, payload)
    assert out == expected
    assert noted == fixups


def _scalar_leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _scalar_leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _scalar_leaves(item, (*path, index))
    else:
        yield path


def _with_null(value, path):
    value = copy.deepcopy(value)
    target = value
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = None
    return value


def test_null_in_every_scalar_position_of_every_template_renders():
    """The gateway's rule (and #13): null wherever a scalar is shown is accepted and normalised."""
    checked = 0
    for name, example in TEMPLATE_EXAMPLES.items():
        for path in _scalar_leaves(example):
            if path[-1] == "template":
                continue  # the name of a template is structure, not a value
            payload = _with_null(example, path)
            out = ui_to_json(parse_ui(payload))  # never raises
            assert out["template"] == name
            assert ui_to_json(parse_ui(out)) == out
            checked += 1
    assert checked > 150


def test_fix_up_messages_say_what_happened():
    with collecting() as fixups:
        parse_ui(ui("group", items=[ui("text", text=5, bold="TRUE"), ui("chart")]))
    assert [str(f) for f in fixups] == [
        "data.items[0].data.text: 5 read as the text '5'",
        "data.items[0].data.bold: 'TRUE' read as true",
        "data.items[1]: unknown template 'chart' shown as an \"unknown template\" box",
    ]
    assert fixups[0].to_json() == {"path": "data.items[0].data.text", "kind": "coerced",
                                   "message": "5 read as the text '5'"}


def test_no_fix_ups_are_collected_outside_collecting():
    parse_ui(ui("text", text=5))  # nothing to collect into: no error, nothing kept
    with collecting() as fixups:
        pass
    assert fixups == []


ACTION_ACCEPTED = [
    # the Go SDK's empty strings for "not given", data: null
    (act("open_url", url="https://x.example", target=""), act("open_url", url="https://x.example"), []),
    (act("show_toast", message="m", type=""), act("show_toast", message="m", duration=3000), []),
    (act("send_message", content="c", content_type=""), act("send_message", content="c"), []),
    ({"action": "refresh", "data": None}, act("refresh"), []),
    # mailto/tel/relative URLs and named targets
    (act("open_url", url="mailto:help@example.com"), act("open_url", url="mailto:help@example.com"), []),
    (act("open_url", url="tel:+4912345", target="_self"), act("open_url", url="tel:+4912345", target="_self"), []),
    (act("open_url", url="/orders/1", target="crm"), act("open_url", url="/orders/1", target="crm"), []),
    # nulls and loose values
    (act("insert_text", text="x", replace=None), act("insert_text", text="x", replace=False), []),
    (act("insert_text", text="x", replace="true"), act("insert_text", text="x", replace=True),
     [("data.replace", "coerced")]),
    (act("show_toast", message="m", duration=None), act("show_toast", message="m", duration=3000), []),
    (act("show_toast", message="m", duration=1500.0), act("show_toast", message="m", duration=1500), []),
    (act("show_toast", message="m", type="fatal"), act("show_toast", message="m", type="fatal", duration=3000), []),
    # a batch with an unknown sub-action: the rest runs
    (act("batch", actions=[act("teleport", to="mars"), act("refresh"), act("zap")]),
     act("batch", actions=[act("refresh")]),
     [("data.actions[0]", "skipped"), ("data.actions[2]", "skipped")]),
    # an unknown template in a modal: the modal shows a box
    (act("show_modal", title=None, template="calendar", data={"x": 1}),
     act("show_modal", template="calendar", data={}), [("data", "placeholder")]),
    (act("show_modal", template="group", data={"items": [ui("text", text="a"), ui("calendar")]}),
     act("show_modal", template="group", data={"items": [ui("text", text="a"), ui("calendar")]}),
     [("data.data.items[1]", "placeholder")]),
]


@pytest.mark.parametrize(("payload", "expected", "fixups"), ACTION_ACCEPTED)
def test_action_accepted_and_normalised(payload, expected, fixups):
    out, noted = parsed(parse_action, action_to_json, payload)
    assert out == expected
    assert noted == fixups


SCRIPT_URLS = [
    "javascript:alert(1)",
    " JaVaScRiPt:alert(document.cookie)",
    "java\tscript:alert(1)",
    "\x01javascript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "file:///etc/passwd",
]

# Every URL position of every template and action, as (payload builder, error path).
URL_POSITIONS = [
    (lambda u: ui("key_value", items=[{"label": "a", "value": 1, "link": u}]), "data.items[0].link"),
    (lambda u: ui("key_value", items=[{"label": "a", "value": u, "type": "link"}]), "data.items[0].value"),
    (lambda u: ui("table", columns=[{"key": "a", "label": "A", "type": "link"}], rows=[{"a": u}]), "data.rows[0].a"),
    (lambda u: ui("table", columns=[{"key": "a", "label": "A", "type": "link"}], rows=[{"a": {"text": "t", "url": u}}]),
     "data.rows[0].a"),
    (lambda u: ui("link", text="a", url=u), "data.url"),
    (lambda u: ui("links", items=[{"text": "a", "url": u}]), "data.items[0].url"),
    (lambda u: ui("card", image=u), "data.image"),
    (lambda u: ui("cards", items=[{"id": "a", "image": u}]), "data.items[0].image"),
    (lambda u: ui("group", items=[ui("link", text="a", url=u)]), "data.items[0].data.url"),
    (lambda u: ui("tabs", items=[{"key": "a", "label": "A", "content": ui("link", text="a", url=u)}]),
     "data.items[0].content.data.url"),
]
ACTION_URL_POSITIONS = [
    (lambda u: act("open_url", url=u), "data.url"),
    (lambda u: act("batch", actions=[act("refresh"), act("open_url", url=u)]), "data.actions[1].data.url"),
    (lambda u: act("show_modal", template="link", data={"text": "a", "url": u}), "data.data.url"),
]


@pytest.mark.parametrize("url", SCRIPT_URLS)
@pytest.mark.parametrize(("build", "path"), URL_POSITIONS)
def test_script_urls_rejected_in_every_template_position(build, path, url):
    with pytest.raises(ValidationError) as info:
        parse_ui(build(url))
    assert info.value.path == path
    assert "is not allowed" in info.value.reason


@pytest.mark.parametrize("url", SCRIPT_URLS)
@pytest.mark.parametrize(("build", "path"), ACTION_URL_POSITIONS)
def test_script_urls_rejected_in_every_action_position(build, path, url):
    with pytest.raises(ValidationError) as info:
        parse_action(build(url))
    assert info.value.path == path
    assert "is not allowed" in info.value.reason


STRUCTURALLY_BROKEN = [
    ("x", "template"),
    ([ui("text", text="a")], "template"),
    (ui("chart"), "template"),  # an unknown name at the top has nothing around it to render
    ({"data": {}}, "template"),
    (ui("key_value", items="x"), "data.items"),
    (ui("key_value", items=[{"label": "a", "value": {"x": 1}}]), "data.items[0].value"),
    (ui("table", columns=[{"key": "a", "label": "A"}], rows=[["a"]]), "data.rows[0]"),
    (ui("group", items={"a": 1}), "data.items"),
    (ui("group", items=[ui("text", text="a"), 5]), "data.items[1].template"),
    (ui("tabs", items=[{"key": "a", "label": "A", "content": "x"}]), "data.items[0].content.template"),
    (ui("text", text=["a"]), "data.text"),
    (ui("form", fields=[{"type": "text"}]), "data.fields[0].name"),
]


@pytest.mark.parametrize(("payload", "path"), STRUCTURALLY_BROKEN)
def test_structurally_broken_templates_rejected_with_path(payload, path):
    with pytest.raises(ValidationError) as info:
        parse_ui(payload)
    assert info.value.path == path


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (act("teleport"), "action"),
        ({"data": {}}, "action"),
        (act("batch", actions=[act("refresh"), "x"]), "data.actions[1].action"),
        (act("open_url", url=["x"]), "data.url"),
        (act("show_modal", template="text", data=[]), "data.data"),
    ],
)
def test_structurally_broken_actions_rejected_with_path(payload, path):
    with pytest.raises(ValidationError) as info:
        parse_action(payload)
    assert info.value.path == path


# -- capabilities: what /plugins lists must satisfy the gateway's schema ------------


CAPABILITY_SHAPES = [
    {"type": "visitor_panel", "title": "Orders"},
    {"type": "visitor_panel", "title": "Orders", "icon": "box", "priority": 5.0, "refresh_on": None},
    {"type": "chat_toolbar", "title": "Reply", "icon": "", "tooltip": None},
    {"type": "sidebar_iframe", "title": "CRM", "url": "https://crm.example.com", "width": 400.0,
     "min_width": 299.6, "max_width": 600.5},
    {"type": "channel_integration", "name": "Custom IM", "channel_type": "im"},
    {"type": "channel_integration", "title": "IM", "name": None},
    {"type": "mcp_tools", "tools": [{"name": "lookup", "parameters": [
        {"name": "kind", "enum_values": [1, 2.0, True, "x"]}, {"name": "q", "enum_values": None}]}]},
    {"type": "mcp_tools", "title": "Tools", "tools": None},
]


@pytest.mark.parametrize("shape", CAPABILITY_SHAPES)
def test_every_capability_shape_is_listed_as_the_gateway_parses_it(shape):
    params = parse_register({"name": "My Plugin", "capabilities": [shape]})
    listed = unstructure(params.capabilities[0])
    assert gateway_accepts_capability(listed) == []
    assert listed["type"] == shape["type"]


def test_capability_fix_ups_are_noted():
    with collecting() as fixups:
        params = parse_register({"name": "My Plugin", "capabilities": CAPABILITY_SHAPES})
    caps = [unstructure(c) for c in params.capabilities]
    assert caps[6]["title"] == "My Plugin"
    assert caps[6]["tools"][0]["title"] == "lookup"
    assert caps[6]["tools"][0]["parameters"][0]["enum_values"] == ["1", "2", "true", "x"]
    assert caps[4]["title"] == "Custom IM"
    assert (caps[3]["width"], caps[3]["min_width"], caps[3]["max_width"]) == (400, 300, 601)
    assert sorted((f.path, f.kind) for f in fixups) == [
        ("capabilities[3].max_width", "coerced"),
        ("capabilities[3].min_width", "coerced"),
        ("capabilities[4].title", "filled"),
        ("capabilities[6].title", "filled"),
        ("capabilities[6].tools[0].parameters[0].enum_values", "coerced"),
        ("capabilities[6].tools[0].title", "filled"),
    ]


@pytest.mark.parametrize(
    ("shape", "path"),
    [
        ({"type": "visitor_panel"}, "capabilities[0].title"),
        ({"type": "chat_toolbar", "title": None}, "capabilities[0].title"),
        ({"type": "channel_integration"}, "capabilities[0].title"),
        ({"type": "visitor_panel", "title": "T", "priority": "high"}, "capabilities[0].priority"),
        ({"type": "visitor_panel", "title": "T", "priority": 1.5}, "capabilities[0].priority"),
        ({"type": "sidebar_iframe", "title": "T", "width": "400px"}, "capabilities[0].width"),
        ({"type": "mcp_tools", "tools": [{"name": "t", "parameters": [{"name": "p", "enum_values": [[1]]}]}]},
         "capabilities[0].tools[0].parameters[0].enum_values[0]"),
    ],
)
def test_capabilities_the_gateway_cannot_parse_are_refused_naming_the_field(shape, path):
    with pytest.raises(ValidationError) as info:
        parse_register({"name": "P", "capabilities": [shape]})
    assert info.value.path == path


# -- the fix-up report: counts, recent examples, one log line per plugin and kind --------


def test_fix_up_report_logs_once_per_plugin_and_kind_per_interval(caplog):
    from tgo_host.model import FixUp
    from tgo_host.plugins.fixup_report import FixUpReport

    now = [0.0]
    report = FixUpReport(log_interval=60.0, clock=lambda: now[0])
    caplog.set_level("WARNING", logger="tgo_host.fixups")
    coerced = FixUp("data.text", "coerced", "5 read as the text '5'")
    for _ in range(5):
        report.record("p1", "visitor_panel/render", [coerced])
    report.record("p2", "visitor_panel/render", [coerced])
    report.record_rejection("p1", "visitor_panel/event", "data.url: scheme 'javascript' is not allowed in a link")
    now[0] = 61.0
    report.record("p1", "visitor_panel/render", [coerced])
    lines = [r.getMessage() for r in caplog.records if r.name == "tgo_host.fixups"]
    assert lines == [
        "plugin p1: coerced in visitor_panel/render result: data.text: 5 read as the text '5'",
        "plugin p2: coerced in visitor_panel/render result: data.text: 5 read as the text '5'",
        "plugin p1: rejected in visitor_panel/event result: data.url: scheme 'javascript' is not allowed in a link",
        "plugin p1: coerced in visitor_panel/render result: data.text: 5 read as the text '5' (and 4 more since the last line)",
    ]
    assert report.counts() == {"p1": {"coerced": 6, "rejected": 1}, "p2": {"coerced": 1}}
    summary = report.summary("p1")
    assert summary["total"] == 7 and len(summary["recent"]) == 7
    assert summary["recent"][-1]["path"] == "data.text" and summary["recent"][5]["kind"] == "rejected"
    for _ in range(20):
        report.record("p1", "visitor_panel/render", [coerced])
    assert len(report.summary("p1")["recent"]) == 10  # bounded
    assert report.summary("nobody") == {"total": 0, "counts": {}, "recent": []}


@pytest.mark.parametrize(
    ("value", "shown"),
    [(2**70, "1180591620717411303424"), (-(2**64), "-18446744073709551616"), (1e30, 1e30), (2**63 - 1, 2**63 - 1)],
)
def test_numbers_beyond_64_bits_still_encode(value: object, shown: object) -> None:
    """An integer JSON can't carry past 64 bits is shown as its digits (noted); a huge float stays a float."""
    ui = ui_to_json(parse_ui({"template": "key_value", "data": {"items": [{"label": "a", "value": value}]}}))
    assert ui["data"]["items"][0]["value"] == shown
    assert orjson.loads(orjson.dumps(ui)) == ui
