#!/usr/bin/env python3
"""Regenerate the fuzzing seed corpus (``tests/fuzz/corpus``) and dictionary (``wire.dict``).

Seeds: the malformed frames of ``tests/test_wire.py``, wire edge cases (sizes,
encodings, nesting), model edge cases, and real SDK outputs — the ``register``
params and the render/event/config/tool results of every Python example plugin,
as the JSON-RPC messages that carry them and as one framed session stream.

Usage: ``python tests/fuzz/make_corpus.py`` (rewrites both; commit the result).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = HERE / "corpus"
VISITOR = {"visitor_id": "v-1001", "session_id": "s-1", "language": "en",
           "visitor": {"id": "v-1001", "name": "Alice", "email": "alice@example.com"}}


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "plugins_examples" / name / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sdk_messages() -> dict[str, dict]:
    """name -> JSON-RPC message an example plugin really sends (register, or a response)."""
    click = {"event_type": "button_click", "visitor_id": "v-1001"}
    out: dict[str, dict] = {}
    plugins = []
    crm = load_example("crm_panel").CRMPanel()
    plugins.append(("crm_panel", crm, [("render", "visitor_panel/render", VISITOR),
                                       ("event", "visitor_panel/event", {**click, "action_id": "open_crm"}),
                                       ("event-copy", "visitor_panel/event", {**click, "action_id": "copy_email"})]))
    qr = load_example("quick_reply").QuickReply()
    plugins.append(("quick_reply", qr, [("render", "chat_toolbar/render", VISITOR),
                                        ("event", "chat_toolbar/event", {"event_type": "item_select", "selected_id": "refund"})]))
    tickets = load_example("ticket_form").TicketPlugin()
    submit = {"event_type": "form_submit", "action_id": "create_ticket", "visitor_id": "v-1001"}
    plugins.append(("ticket_form", tickets, [("render-form", "chat_toolbar/render", VISITOR),
                                             ("event-invalid", "chat_toolbar/event", {**submit, "form_data": {}}),
                                             ("event-created", "chat_toolbar/event", {**submit, "form_data": {"title": "Help"}}),
                                             ("render-list", "visitor_panel/render", VISITOR)]))
    dash = load_example("order_dashboard").OrderDashboard()
    plugins.append(("order_dashboard", dash, [("render", "visitor_panel/render", VISITOR),
                                              ("event", "visitor_panel/event", {**click, "action_id": "start_return"})]))
    im = load_example("custom_im").CustomIM()
    plugins.append(("custom_im", im, [("manifest", "channel_integration/manifest", {}),
                                      ("send", "channel_integration/send_message",
                                       {"channel_id": "c", "to": {"id": "u"}, "message": {"type": "text", "content": "hi"}})]))
    tools = load_example("order_tools").OrderTools()
    plugins.append(("order_tools", tools, [("tool", "tool/execute", {"tool_name": "lookup_order", "arguments": {"order_id": "ORD-1042"}})]))
    iframe = load_example("crm_iframe").CRMIframe()
    try:
        plugins.append(("crm_iframe", iframe, [("config", "sidebar_iframe/config", {})]))
        for name, plugin, calls in plugins:
            out[f"sdk-{name}-register"] = {"jsonrpc": "2.0", "id": 1, "method": "register", "params": plugin.register_params()}
            for index, (label, method, params) in enumerate(calls, start=2):
                out[f"sdk-{name}-{label}"] = {"jsonrpc": "2.0", "id": index, "result": plugin.handle(method, params)}
    finally:
        iframe.server.shutdown()
        iframe.server.server_close()
    return out


WIRE_MALFORMED = {  # tests/test_wire.py::test_bad_messages_get_json_rpc_errors_and_connection_survives
    "wire-not-json": b"{not json",
    "wire-bad-utf8": b'{"a": "\xff\xfe"}',
    "wire-number": b"42",
    "wire-string": b'"text"',
    "wire-null": b"null",
    "wire-batch": b'[{"jsonrpc":"2.0","id":1,"method":"x"}]',
    "wire-no-jsonrpc": b'{"id": 5, "result": {}}',
    "wire-neither": b'{"jsonrpc":"2.0","id":1}',
    "wire-jsonrpc-1.0": b'{"jsonrpc":"1.0","id":7,"method":"x"}',
    "wire-result-and-error": b'{"jsonrpc":"2.0","id":7,"result":1,"error":{"code":1,"message":"x"}}',
    "wire-error-not-object": b'{"jsonrpc":"2.0","id":7,"error":"bad"}',
    "wire-bom": b'\xef\xbb\xbf{"jsonrpc":"2.0","id":1,"result":null}',
    "wire-lone-surrogate": b'{"jsonrpc":"2.0","id":"\\ud800","result":1}',
    "wire-nan": b'{"jsonrpc":"2.0","id":1,"result":NaN}',
    "wire-bigint-id": b'{"jsonrpc":"2.0","id":18446744073709551616,"result":{}}',
    "wire-float-id": b'{"jsonrpc":"2.0","id":1.0,"result":{}}',
    "wire-bool-id": b'{"jsonrpc":"2.0","id":true,"method":"register","params":{"name":"x"}}',
    "wire-params-scalar": b'{"jsonrpc":"2.0","id":1,"method":"register","params":7}',
    "wire-params-array": b'{"jsonrpc":"2.0","id":1,"method":"register","params":["x"]}',
    "wire-deep": b"[" * 2000 + b"]" * 2000,
}

MODEL_EDGES = {
    "model-open-url-javascript": {"action": "open_url", "data": {"url": "javascript:alert(1)"}},
    "model-batch": {"action": "batch", "data": {"actions": [{"action": "show_toast", "data": {"message": "hi"}},
                                                            {"action": "refresh"}, {"action": "copy_text", "data": {"text": "x"}}]}},
    "model-show-modal-group": {"action": "show_modal", "data": {"title": "T", "template": "group", "data": {"items": [
        {"template": "text", "data": {"text": "a"}}, {"template": "tabs", "data": {"tabs": []}}]}}},
    "model-go-sdk-success": {"success": True},
    "model-key-value-link": {"template": "key_value", "data": {"items": [
        {"label": "Site", "value": "x", "link": "data:text/html,x"}, {"label": "N", "value": 3, "type": "badge"}]}},
    "model-capability-teleport": {"name": "p", "capabilities": [{"type": "visitor_panel", "title": "A"}, {"type": "teleport"}]},
    "model-register-empty-id": {"id": "", "name": "p", "dev_token": "", "capabilities": None},
    "model-form": {"template": "form", "data": {"fields": [{"name": "a", "label": "A", "type": "select",
                                                           "options": [{"label": "x", "value": 1}]}]}},
}


def main() -> None:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    CORPUS.mkdir(parents=True)
    seeds: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(TICKET_DB=f"{tmp}/t.db", CUSTOM_IM_OUTBOX=f"{tmp}/out.jsonl", CRM_IFRAME_PORT="0")
        messages = sdk_messages()
    for name, msg in messages.items():
        seeds[name + ".json"] = dumps(msg)
    session = b"".join(frame(dumps(m)) for name, m in messages.items() if name.startswith("sdk-crm_panel"))
    seeds["stream-sdk-session.bin"] = session
    seeds["stream-sdk-session-cut.bin"] = session[: len(session) - 7]
    for name, payload in WIRE_MALFORMED.items():
        seeds[name + ".bin"] = payload
    seeds["stream-malformed.bin"] = b"".join(frame(p) for p in list(WIRE_MALFORMED.values())[:11])
    seeds["stream-oversized-header.bin"] = frame(b"{}") + struct.pack(">I", 0xFFFFFFFF)
    seeds["stream-limit-header.bin"] = struct.pack(">I", 1024) + b"{" * 40
    seeds["stream-empty-frame.bin"] = frame(b"") + frame(b"null")
    seeds["stream-unknown-ids.bin"] = b"".join(frame(dumps({"jsonrpc": "2.0", "id": 10_000 + i, "result": i})) for i in range(5))
    for name, obj in MODEL_EDGES.items():
        seeds[name + ".json"] = dumps(obj)
    for name, data in sorted(seeds.items()):
        (CORPUS / name).write_bytes(data)
    write_dict()
    print(f"{len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes in {CORPUS.relative_to(ROOT)}")


def write_dict() -> None:
    """libFuzzer dictionary: JSON-RPC and model tokens (field names, tags)."""
    import attrs

    from tgo_host import model

    tokens = {"jsonrpc", "2.0", "method", "params", "result", "error", "id", "code", "message", "data",
              "register", "ping", "shutdown", "visitor_panel/render", "chat_toolbar/event",
              "https://example.com/", "javascript:alert(1)"}
    tokens.update(model.TEMPLATE_NAMES, model.ACTION_NAMES, model.CAPABILITY_TYPES)
    for module_name in ("actions", "params", "register", "ui"):
        module = sys.modules[f"tgo_host.model.{module_name}"]
        for value in vars(module).values():
            if isinstance(value, type) and attrs.has(value):
                tokens.update(f.name for f in attrs.fields(value))
    lines = [f'"\\"{t}\\""' for t in sorted(tokens)]
    lines += ['"null"', '"true"', '"false"', '"{}"', '"[]"', '"\\":"', '"\\x00\\x00\\x00\\x02"', '"\\x00\\x00\\x04\\x00"']
    (HERE / "wire.dict").write_text("# generated by tests/fuzz/make_corpus.py\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
