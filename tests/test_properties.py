"""Property tests (hypothesis): framing, JSON-RPC decoding, the models, and a live connection.

What each property promises, whatever the peer sends:

* framing — ``FrameDecoder`` raises nothing but ``FrameTooLarge``, never holds more
  than ``max_frame_bytes + 4`` undecoded bytes, agrees with a reference parser on
  every chunking, and round-trips any list of frames;
* JSON-RPC — ``decode_message`` never raises and classifies every frame as the spec
  (and the README's choices) say, with ``-32700``/``-32600``; every error the host
  would send back is itself a valid JSON-RPC response;
* models — every parser raises nothing but ``ValidationError``, and what it accepts
  is normalised idempotently;
* a live ``RpcConnection`` on a real socket pair, and a real host on its Unix
  socket, fed arbitrary bytes: the connection task returns (never raises), the peer
  receives only whole, valid JSON-RPC frames, then a clean close, and nothing is
  left in flight.

Bounded: ``TGO_PROPERTY_EXAMPLES`` examples per property (default 200, 60 for the
slower live-host property), no deadline. Counts go to ``.run/reliability.json``.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import types
import typing

import attrs
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
import orjson
import pytest
import trio

from reliability_stats import Counter, record
from tgo_host.api.lifecycle import InstallRequest
from tgo_host.model.actions import UnknownAction
from tgo_host.model.fields import Flag, Hint, HttpUrl, ImageUrl, LinkUrl, Measure, Text, Value, Width
from tgo_host.model.ui import UnknownTemplate
from tgo_host.model.urls import is_script_url
from tgo_host.model import (
    ACTION_NAMES,
    Action,
    ChannelManifest,
    IframeConfig,
    RegisterParams,
    SendMessageResult,
    Template,
    ToolResult,
    CAPABILITY_TYPES,
    TEMPLATE_NAMES,
    ChannelSendMessageParams,
    EventRequest,
    RenderRequest,
    ToolExecuteRequest,
    ValidationError,
    VisitorPanelRenderRequest,
    action_to_json,
    parse_action,
    parse_body,
    parse_channel_manifest,
    parse_iframe_config,
    parse_register,
    parse_send_result,
    parse_tool_result,
    parse_ui,
    ui_to_json,
    unstructure,
)
from tgo_host.wire.connection import RpcConnection
from tgo_host.wire.errors import RpcFailure
from tgo_host.wire.framing import HEADER, FrameDecoder, FrameTooLarge, encode_frame
from tgo_host.wire.messages import (
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    Request,
    Response,
    Violation,
    decode_message,
    encode_error,
    encode_request,
)
from tgo_host.wire.transport import FramedTransport

EXAMPLES = int(os.environ.get("TGO_PROPERTY_EXAMPLES", "200"))
HOST_EXAMPLES = int(os.environ.get("TGO_PROPERTY_HOST_EXAMPLES", str(max(10, EXAMPLES * 3 // 10))))
BOUNDED = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- strategies -------------------------------------------------------------------

def _model_vocabulary() -> list[str]:
    """Every field name of every model class, so generated objects reach deep branches."""
    names: set[str] = set()
    for module_name in ("actions", "params", "register", "ui"):
        module = sys.modules[f"tgo_host.model.{module_name}"]
        for value in vars(module).values():
            if isinstance(value, type) and attrs.has(value):
                names.update(f.name for f in attrs.fields(value))
    names.update(("template", "action", "type", "data", "jsonrpc", "id", "method", "params", "result", "error"))
    return sorted(names)


VOCAB = _model_vocabulary()
TAGS = sorted({*TEMPLATE_NAMES, *ACTION_NAMES, *CAPABILITY_TYPES})
URLS = ["https://example.com/x", "http://127.0.0.1:9/", "javascript:alert(1)", "data:text/html,x", "/rel", ""]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(TAGS + URLS + ["2.0", "register", "visitor_panel/render"])
)
json_keys = st.sampled_from(VOCAB) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(json_keys, children, max_size=6),
    max_leaves=40,
)


# Type-directed generation: values shaped like each model class (mostly valid), then
# ``mutated`` breaks one node — so both the accepting and the refusing paths are reached.

def _hints(cls) -> dict:
    return typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))


def _tagged_shape(args) -> tuple[str, bool] | None:
    """(tag, envelope) when ``args`` is a tagged union of model classes."""
    for tag, envelope in (("template", True), ("action", True), ("type", False)):
        if all(attrs.has(a) and isinstance(getattr(a, tag, None), str) for a in args):
            return tag, envelope
    return None


def shaped(tp, depth: int = 0):
    """A strategy of JSON values shaped like ``tp`` (a model type)."""
    if tp is typing.Any:
        return json_values
    if tp is str:
        return st.text(max_size=12)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-5, 1000)
    if tp is float:
        return st.integers(-5, 1000) | st.floats(-1e6, 1e6, allow_nan=False)
    if tp is HttpUrl or tp is LinkUrl or tp is ImageUrl:
        return st.sampled_from(URLS[:2] * 4 + URLS + ["mailto:a@b.c", "tel:+1", "data:image/png;base64,AA=="])
    # the lenient plugin-output types: mostly what they expect, often what plugins send instead
    if tp is Text:
        return st.text(max_size=12) | st.integers(-5, 1000) | st.booleans() | st.none()
    if tp is Hint:
        return st.sampled_from(["", "primary", "link", "status", "_blank", "email", "30%"]) | st.text(max_size=6) | st.integers()
    if tp is Flag:
        return st.booleans() | st.sampled_from(["true", "FALSE", "", "maybe", 0, 1, 2])
    if tp is Measure:
        return st.integers(-5, 1000) | st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from(["", "tall"])
    if tp is Width:
        return st.integers(0, 1000) | st.sampled_from(["30%", "80px", "", True])
    if tp is Value:
        return json_scalars
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, types.UnionType) and (UnknownTemplate in args or UnknownAction in args):
        known = [a for a in args if a not in (UnknownTemplate, UnknownAction)]
        tag = "template" if UnknownTemplate in args else "action"
        unknown = st.builds(lambda n, d: {tag: n, "data": d}, st.sampled_from(["chart", "map", "x"]) | st.text(max_size=5),
                            st.none() | st.just({}) | st.dictionaries(st.text(max_size=4), json_scalars, max_size=2))
        return shaped(typing.Union[tuple(known)], depth) | unknown
    if origin in (typing.Union, types.UnionType):
        tagged_shape = _tagged_shape([a for a in args if a is not type(None)])
        if tagged_shape is not None:
            tag, envelope = tagged_shape
            members = [a for a in args if a is not type(None)]
            if depth >= 2 and tag == "template":  # keep nesting finite
                members = [m for m in members if m.template in ("text", "empty", "markdown")] or members[:1]
            options = [_member(m, tag, envelope, depth) for m in members]
            return st.one_of(options + ([st.none()] if type(None) in args else []))
        return st.one_of([st.none() if a is type(None) else shaped(a, depth) for a in args])
    if origin is list:
        return st.lists(shaped(args[0], depth + 1), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(max_size=6), json_values, max_size=3)
    if attrs.has(tp):
        return _object(tp, depth)
    return json_values


def _object(cls, depth: int):
    hints = _hints(cls)
    required, optional = {}, {}
    for field in attrs.fields(cls):
        strategy = st.deferred(lambda t=hints[field.name]: shaped(t, depth + 1))
        (required if field.default is attrs.NOTHING else optional)[field.name] = strategy
    return st.fixed_dictionaries(required, optional=optional)


def _member(cls, tag: str, envelope: bool, depth: int):
    name = getattr(cls, tag)
    if name == "show_modal":  # on the wire: {"title", "template", "data"} flattened into data
        template = shaped(_hints(cls)["content"], depth + 1)
        return st.builds(lambda t, title: {"action": name, "data": {**t, **title}}, template,
                         st.just({}) | st.builds(lambda x: {"title": x}, st.text(max_size=5)))
    fields = _object(cls, depth)
    if envelope:
        return fields.map(lambda d: {tag: name, "data": d})
    return fields.map(lambda d: {tag: name, **d})


@st.composite
def mutated(draw, base):
    """``base``'s value, often with one node replaced, deleted or given a junk sibling."""
    value = draw(base)
    if draw(st.integers(0, 2)) == 0:
        return value
    slots = []

    def walk(node):
        if isinstance(node, dict):
            for key in list(node):
                slots.append((node, key))
                walk(node[key])
        elif isinstance(node, list):
            for index in range(len(node)):
                slots.append((node, index))
                walk(node[index])

    walk(value)
    if not slots:
        return draw(json_values)
    container, key = draw(st.sampled_from(slots))
    how = draw(st.sampled_from(["replace", "delete", "junk"]))
    if how == "replace":
        container[key] = draw(json_values)
    elif how == "delete":
        del container[key]
    elif isinstance(container, dict):
        container[draw(json_keys)] = draw(json_values)
    else:
        container.append(draw(json_values))
    return value


templates = mutated(shaped(Template))
actions = mutated(shaped(Action))
registers = mutated(shaped(RegisterParams))
body_classes = st.sampled_from([RenderRequest, EventRequest, VisitorPanelRenderRequest, ToolExecuteRequest,
                                ChannelSendMessageParams, InstallRequest])
result_classes = st.sampled_from([ToolResult, SendMessageResult, IframeConfig, ChannelManifest])

rpc_ids = st.none() | st.integers(-3, 5) | st.text(max_size=4) | st.floats(allow_nan=False, allow_infinity=False) | st.booleans() | st.lists(st.integers(), max_size=2)
good_ids = st.integers(0, 5) | st.text(max_size=4) | st.just(1.0)
rpc_objects = mutated(st.one_of(
    st.builds(lambda i, p: {"jsonrpc": "2.0", "id": i, "method": "register", "params": p}, good_ids, shaped(RegisterParams)),
    st.builds(lambda m, p: {"jsonrpc": "2.0", "method": m, "params": p}, st.text(max_size=8), json_values),
    st.builds(lambda i, m: {"jsonrpc": "2.0", "id": i, "method": m}, good_ids, st.sampled_from(["ping", "x/y", ""])),
    st.builds(lambda i, r: {"jsonrpc": "2.0", "id": i, "result": r}, good_ids | st.none(), shaped(Template) | json_values),
    st.builds(lambda i, c, m, d: {"jsonrpc": "2.0", "id": i, "error": {"code": c, "message": m, **d}}, good_ids | st.none(),
              st.integers(-33000, 0), st.text(max_size=8), st.just({}) | st.builds(lambda v: {"data": v}, json_values)),
    st.fixed_dictionaries({}, optional={"jsonrpc": st.sampled_from(["2.0", "1.0", 2.0]), "id": rpc_ids,
                                         "method": json_scalars, "params": json_values, "result": json_values,
                                         "error": json_values}),
))
any_json = json_values | rpc_objects | templates | actions


def dumps(value, ascii_: bool = True, spaced: bool = False) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_, separators=(", ", ": ") if spaced else (",", ":"), allow_nan=False).encode()


json_frames = st.builds(dumps, any_json, st.booleans(), st.booleans())


# -- framing ------------------------------------------------------------------------

def reference_frames(stream: bytes, limit: int):
    """(frames, oversized header value or None, offset where parsing stopped)."""
    frames, offset = [], 0
    while len(stream) - offset >= 4:
        (length,) = HEADER.unpack_from(stream, offset)
        if length > limit:
            return frames, length, offset
        if len(stream) - offset - 4 < length:
            break
        frames.append(stream[offset + 4 : offset + 4 + length])
        offset += 4 + length
    return frames, None, offset


@st.composite
def framed_streams(draw):
    """A limit and a byte stream mixing junk, whole frames, big headers and cut frames."""
    limit = draw(st.integers(0, 300) | st.just(4 * 1024 * 1024))
    segment = st.one_of(
        st.binary(max_size=40),
        st.binary(max_size=min(limit, 200)).map(encode_frame),
        st.integers(max(0, limit - 3), limit + 3).map(lambda n: HEADER.pack(n)),
        st.integers(0, 2**32 - 1).map(lambda n: HEADER.pack(n)),
        st.binary(min_size=1, max_size=60).map(lambda p: encode_frame(p)[: len(p) // 2 + 2]),
    )
    stream = b"".join(draw(st.lists(segment, max_size=12)))
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=16)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    return limit, stream, chunks


@pytest.mark.timeout(180)  # hypothesis examples: ~20-30 s on a loaded machine
def test_frame_decoder_on_arbitrary_streams_and_chunkings():
    counter = Counter()

    @BOUNDED
    @given(framed_streams())
    def prop(case):
        limit, stream, chunks = case
        ref_frames, oversized, stop = reference_frames(stream, limit)
        decoder = FrameDecoder(limit)
        got: list[bytes] = []
        fed = 0
        raised = None
        for chunk in chunks:
            before = fed
            fed += len(chunk)
            try:
                got += decoder.feed(chunk)
            except FrameTooLarge as exc:  # nothing else may escape
                raised = (exc, before, fed)
                break
            assert decoder.buffered <= limit + 4, "decoder holds more than one frame's worth"
            assert decoder.buffered == fed - sum(4 + len(f) for f in got)
        if oversized is not None:
            assert raised is not None, "an oversized header was complete and not refused"
            exc, before, fed = raised
            assert exc.announced == oversized and exc.limit == limit
            assert before < stop + 4 <= fed, "refused at the feed that completed the header, no later"
            assert got == ref_frames[: len(got)]
            counter.tick("too_large")
        else:
            assert raised is None
            assert got == ref_frames and decoder.buffered == len(stream) - stop
            counter.tick("frames" if got else "no_frame")

    prop()
    record("properties.framing_arbitrary_streams", examples=counter.n, **counter.kinds)


def test_frames_round_trip_under_any_chunking():
    counter = Counter()

    @BOUNDED
    @given(st.data(), st.integers(1, 2000), st.lists(st.binary(max_size=300), max_size=15))
    def prop(data, limit, payloads):
        payloads = [p[:limit] for p in payloads]
        stream = b"".join(encode_frame(p) for p in payloads)
        cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=30)))
        decoder = FrameDecoder(limit)
        got = []
        for a, b in zip([0, *cuts], [*cuts, len(stream)]):
            got += decoder.feed(stream[a:b])
            assert decoder.buffered <= limit + 4
        assert got == payloads and decoder.buffered == 0
        counter.tick()

    prop()
    record("properties.framing_round_trip", examples=counter.n)


# -- JSON-RPC messages ----------------------------------------------------------------------

def _valid_id(value) -> bool:
    return type(value) in (int, str) or (type(value) is float and value == int(value))


def expected_class(obj) -> tuple[str, int | None]:
    """The JSON-RPC 2.0 spec plus the README's choices, written independently of messages.py."""
    if not isinstance(obj, dict):
        return "violation", INVALID_REQUEST
    if "method" in obj:
        if "id" in obj and obj["id"] is not None and not _valid_id(obj["id"]):
            return "violation", INVALID_REQUEST
        if obj.get("jsonrpc") != "2.0" or not isinstance(obj["method"], str):
            return "violation", INVALID_REQUEST
        if obj.get("params") is not None and not isinstance(obj["params"], (dict, list)):
            return "violation", INVALID_REQUEST
        return "request", None
    if "result" in obj or "error" in obj:
        if obj.get("jsonrpc") != "2.0" or "id" not in obj:
            return "violation", INVALID_REQUEST
        if obj["id"] is not None and not _valid_id(obj["id"]):
            return "violation", INVALID_REQUEST
        if "result" in obj:
            return ("violation", INVALID_REQUEST) if obj.get("error") is not None else ("response", None)
        err = obj["error"]
        if isinstance(err, dict) and type(err.get("code")) is int and type(err.get("message")) is str:
            return "response", None
        return "violation", INVALID_REQUEST
    return "violation", INVALID_REQUEST


def check_reply_is_valid_error_response(violation: Violation) -> None:
    """What the host sends back for a violation is itself a valid JSON-RPC error response."""
    reply = encode_error(violation.id, violation.error)
    decoded = decode_message(reply)
    assert type(decoded) is Response and decoded.error is not None
    assert decoded.error.code == violation.error.code and decoded.id == violation.id
    assert orjson.loads(reply)["jsonrpc"] == "2.0"


def classify(message) -> str:
    assert type(message) in (Request, Response, Violation)
    if type(message) is Violation:
        assert message.error.code in (PARSE_ERROR, INVALID_REQUEST)
        assert message.id is None or _valid_id(message.id)
        assert message.response_id is None or _valid_id(message.response_id)
        check_reply_is_valid_error_response(message)
        return f"violation{message.error.code}"
    if type(message) is Request:
        assert type(message.method) is str
        assert message.params is None or type(message.params) in (dict, list)
        assert message.id is None or _valid_id(message.id)
        again = decode_message(encode_request(message.id, message.method, message.params))
        assert again == message
        return "notification" if message.id is None else "request"
    assert message.id is None or _valid_id(message.id)
    assert message.error is None or (type(message.error.code) is int and type(message.error.message) is str)
    return "response"


@pytest.mark.timeout(180)  # hypothesis examples: ~20-30 s on a loaded machine
def test_decode_message_on_arbitrary_bytes():
    counter = Counter()

    @BOUNDED
    @given(st.binary(max_size=200) | json_frames | json_frames.map(lambda b: b[: len(b) * 2 // 3])
           | json_frames.map(lambda b: b + b"\xff") | json_frames.map(lambda b: b"\xef\xbb\xbf" + b))
    def prop(frame):
        message = decode_message(frame)
        kind = classify(message)
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError:
            assert kind == "violation-32700" and "UTF-8" in message.error.message
            counter.tick("invalid_utf8")
            return
        try:
            obj = orjson.loads(frame)
        except orjson.JSONDecodeError:
            assert kind == "violation-32700" and "invalid JSON" in message.error.message
            counter.tick("invalid_json")
            return
        assert kind != "violation-32700"
        if not isinstance(obj, dict):
            assert kind == "violation-32600" and message.id is None
            assert ("batch" in message.error.message) == isinstance(obj, list)
        del text
        counter.tick(kind)

    prop()
    record("properties.decode_message_arbitrary_bytes", examples=counter.n, **counter.kinds)


def test_decode_message_on_arbitrary_json_values():
    counter = Counter()

    @BOUNDED
    @given(rpc_objects | any_json, st.booleans(), st.booleans())
    def prop(obj, ascii_, spaced):
        frame = dumps(obj, ascii_, spaced)
        message = decode_message(frame)
        kind = classify(message)
        expected, code = expected_class(obj)
        if expected == "violation":
            assert type(message) is Violation and message.error.code == code, (obj, message)
        elif expected == "request":
            assert type(message) is Request and message.method == obj["method"] and message.params == obj.get("params")
            assert message.id == obj.get("id")
        else:
            assert type(message) is Response and message.id == obj["id"]
            if "result" in obj:
                assert message.error is None and message.result == obj["result"]
            else:
                assert message.error.code == obj["error"]["code"] and message.error.data == obj["error"].get("data")
        counter.tick(kind)

    prop()
    record("properties.decode_message_arbitrary_json", examples=counter.n, **counter.kinds)


# -- models -------------------------------------------------------------------------------

BODY_CLASSES = (RenderRequest, EventRequest, VisitorPanelRenderRequest, ToolExecuteRequest,
                ChannelSendMessageParams, InstallRequest)
RESULT_PARSERS = {
    ToolResult: parse_tool_result,
    SendMessageResult: parse_send_result,
    IframeConfig: parse_iframe_config,
    ChannelManifest: parse_channel_manifest,
}


def only_validation_errors(parse, value):
    """``parse(value)``: the result, or None after a ValidationError; anything else fails."""
    try:
        return parse(value)
    except ValidationError as exc:
        assert isinstance(exc.path, str) and isinstance(exc.reason, str) and str(exc)
        return None


def test_ui_and_action_parsers_raise_only_validation_errors_and_normalise_idempotently():
    counter = Counter()

    @BOUNDED
    @given(templates | any_json, actions | any_json)
    def prop(ui_value, action_value):
        template = only_validation_errors(parse_ui, ui_value)
        if template is not None:
            normal = ui_to_json(template)
            orjson.dumps(normal)
            assert ui_to_json(parse_ui(normal)) == normal
        counter.tick("ui_" + ("accepted" if template is not None else "refused"))
        action = only_validation_errors(parse_action, action_value)
        if action is not None:
            normal = action_to_json(action)
            orjson.dumps(normal)
            assert action_to_json(parse_action(normal)) == normal
        counter.note("action_" + ("accepted" if action is not None else "refused"))

    prop()
    record("properties.models_ui_action", examples=counter.n, **counter.kinds)


URL_KEYS = frozenset({"url", "link", "image", "href", "src"})


def _script_urls(value, free_form: bool = False):
    """Script URLs in URL positions of normalised output (free-form rows and defaults excepted)."""
    if isinstance(value, dict):
        if not free_form and value.get("type") == "link" and isinstance(value.get("value"), str):
            if is_script_url(value["value"]):
                yield value["value"]
        for key, item in value.items():
            if not free_form and key in URL_KEYS and isinstance(item, str) and is_script_url(item):
                yield item
            yield from _script_urls(item, free_form or key in ("rows", "default", "options"))
    elif isinstance(value, list):
        for item in value:
            yield from _script_urls(item, free_form)


@pytest.mark.timeout(180)  # hypothesis examples: ~20-30 s on a loaded machine
def test_nothing_unsafe_is_passed_on():
    """Whatever is accepted carries no script URL in any URL position, nor in an unknown field's value."""
    counter = Counter()

    @BOUNDED
    @given(templates, actions)
    def prop(ui_value, action_value):
        template = only_validation_errors(parse_ui, ui_value)
        if template is not None:
            assert list(_script_urls(ui_to_json(template))) == []
        action = only_validation_errors(parse_action, action_value)
        if action is not None:
            assert list(_script_urls(action_to_json(action))) == []
        counter.tick("accepted" if template is not None or action is not None else "refused")

    prop()
    record("properties.nothing_unsafe_passed_on", examples=counter.n, **counter.kinds)


@pytest.mark.timeout(180)  # hypothesis examples: ~20-30 s on a loaded machine
def test_register_body_and_result_parsers_raise_only_validation_errors():
    counter = Counter()

    @BOUNDED
    @given(registers | any_json, st.data())
    def prop(reg_value, data):
        reg = only_validation_errors(parse_register, reg_value)
        if reg is not None:
            normal = unstructure(reg)
            orjson.dumps(normal)
            assert unstructure(parse_register(normal)) == normal
        counter.tick("register_" + ("accepted" if reg is not None else "refused"))
        body_cls = data.draw(st.sampled_from(BODY_CLASSES))
        body = only_validation_errors(lambda v: parse_body(v, body_cls), data.draw(mutated(shaped(body_cls)) | any_json))
        if body is not None:
            orjson.dumps(unstructure(body))
        counter.note("body_" + ("accepted" if body is not None else "refused"))
        result_cls = data.draw(st.sampled_from(sorted(RESULT_PARSERS, key=lambda c: c.__name__)))
        result = only_validation_errors(RESULT_PARSERS[result_cls], data.draw(mutated(shaped(result_cls)) | any_json))
        if result is not None:
            orjson.dumps(unstructure(result))
        counter.note("result_" + ("accepted" if result is not None else "refused"))

    prop()
    record("properties.models_register_bodies_results", examples=counter.n, **counter.kinds)


def test_parsers_survive_pathological_nesting():
    deep: object = []
    for _ in range(100_000):
        deep = [deep]
    for parse in (parse_ui, parse_action, parse_register, *RESULT_PARSERS.values(),
                  *(lambda v, c=c: parse_body(v, c) for c in BODY_CLASSES)):
        only_validation_errors(parse, deep)
        only_validation_errors(parse, {"template": "group", "data": {"items": [deep]}})
    nested = {"template": "group", "data": {"items": []}}
    for _ in range(5000):
        nested = {"template": "group", "data": {"items": [nested]}}
    only_validation_errors(parse_ui, nested)
    assert decode_message(b"[" * 100_000 + b"]" * 100_000).error.code in (PARSE_ERROR, INVALID_REQUEST)


# -- a live connection fed arbitrary bytes -----------------------------------------------------

rpc_frames = st.one_of(
    json_frames,
    rpc_objects.map(lambda o: {**o, "jsonrpc": "2.0"} if isinstance(o, dict) else o).map(dumps),
    st.builds(lambda i, r: dumps({"jsonrpc": "2.0", "id": i, "result": r}), st.integers(1, 4), json_values),
    st.builds(lambda i: dumps({"jsonrpc": "2.0", "id": i, "error": {"code": -1, "message": "no"}}), st.integers(1, 4)),
    st.builds(lambda p: dumps({"jsonrpc": "2.0", "id": 1, "method": "register", "params": p}), registers),
    st.binary(max_size=30),
)
chunks = st.one_of(
    rpc_frames.map(encode_frame),
    st.binary(max_size=64),
    rpc_frames.map(lambda f: encode_frame(f)[: max(1, len(f) // 2)]),
    st.integers(0, 2**32 - 1).map(HEADER.pack),
    st.integers(1, 3000).map(lambda n: b"\x00\x00\x00\x01x" * n),  # a flood of tiny bad frames
)


async def feed_peer(stream: trio.SocketStream, raw: socket.socket, pieces: list[bytes]) -> list[bytes]:
    """Send ``pieces`` (then EOF) while reading everything the other side sends until it closes."""
    received = bytearray()

    async def reader():
        while True:
            try:
                data = await stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            received.extend(data)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        try:
            for piece in pieces:
                await stream.send_all(piece)
                await trio.sleep(0)
            raw.shutdown(socket.SHUT_WR)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the host closed first (e.g. oversized frame): also a clean end
    return bytes(received)


def host_frames(received: bytes) -> list[dict]:
    """Split what the host sent into frames: all whole, all JSON-RPC 2.0 objects."""
    frames, rest = [], received
    while rest:
        assert len(rest) >= 4, f"truncated header at the end: {rest!r}"
        (n,) = struct.unpack(">I", rest[:4])
        assert len(rest) >= 4 + n, "truncated frame at the end"
        obj = orjson.loads(rest[4 : 4 + n])
        assert obj["jsonrpc"] == "2.0"
        frames.append(obj)
        rest = rest[4 + n :]
    return frames


def check_host_output(frames: list[dict], methods_sent: set[str], registration: bool = False) -> int:
    """Every frame the host sent is one of its own requests, a valid error response or (when
    ``registration``) the answer to ``register``; returns the number of error responses."""
    errors = 0
    for obj in frames:
        if "method" in obj:
            assert obj["method"] in methods_sent
            continue
        if registration and "result" in obj:
            assert set(obj) == {"jsonrpc", "id", "result"} and obj["result"]["success"] is True, obj
            continue
        assert set(obj) == {"jsonrpc", "id", "error"}, obj
        assert type(obj["error"]["code"]) is int and type(obj["error"]["message"]) is str
        assert obj["error"]["code"] in (PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, -32602, -32000, -32001), obj
        errors += 1
    return errors


@pytest.mark.timeout(180)  # hypothesis examples: ~20-30 s on a loaded machine
def test_connection_fed_arbitrary_bytes_returns_cleanly():
    counter = Counter()

    @BOUNDED
    @given(st.lists(chunks, max_size=12).flatmap(lambda p: st.sampled_from([p, [b"".join(p)]])),  # one send, or several
           st.integers(16, 600), st.sampled_from([None, "register"]), st.integers(0, 3), st.sampled_from([2048, 64 * 1024]))
    # Regression: error replies to a burst of bad frames overflow the send queue and close the
    # connection; a request later in the same receive must not be answered on the closed transport
    # (before the batch reader checked close_reason, ConnectionLost escaped run()).
    @example([b"\x00\x00\x00\x01x" * 100 + encode_frame(b'{"jsonrpc":"2.0","id":5,"method":"foo"}')], 600, None, 1, 2048)
    def prop(pieces, limit, first_method, n_requests, send_buffer):
        outcome = trio.run(run_connection, pieces, limit, first_method, n_requests, send_buffer)
        counter.tick(outcome)

    prop()
    record("properties.connection_arbitrary_bytes", examples=counter.n, **counter.kinds)


async def run_connection(pieces, limit, first_method, n_requests, send_buffer) -> str:
    a, b = socket.socketpair()
    conn = RpcConnection(
        FramedTransport(trio.SocketStream(trio.socket.from_stdlib_socket(a)), max_frame_bytes=limit,
                        partial_frame_timeout=1.0, max_send_buffer=send_buffer),
        name="prop", first_method=first_method, max_in_flight=2, flush_timeout=2.0,
    )
    peer = trio.SocketStream(trio.socket.from_stdlib_socket(b))
    failures: list[BaseException] = []
    results = []
    returned = []

    async def run_conn():
        try:
            await conn.run()
            returned.append(True)
        except BaseException as exc:  # noqa: BLE001 — the property: nothing escapes
            failures.append(exc)

    async def call(i):
        try:
            results.append(await conn.request("visitor_panel/render", {"i": i}, timeout=2.0))
        except RpcFailure as exc:
            results.append(exc)

    with trio.fail_after(15):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_conn)
            for i in range(n_requests):
                nursery.start_soon(call, i)
            await trio.sleep(0)
            received = await feed_peer(peer, b, pieces)
            with trio.fail_after(5):
                await conn.closed.wait()
    await peer.aclose()
    assert not failures, f"exception out of the connection task: {failures[0]!r}"
    assert returned == [True]
    assert conn.close_reason and conn.in_flight == 0 and len(results) == n_requests
    check_host_output(host_frames(received), {"visitor_panel/render"})
    return "closed_by_host" if "violation" in conn.close_reason or "not reading" in conn.close_reason else "closed_by_peer"


def test_live_host_fed_arbitrary_bytes_keeps_serving(short_dir):
    """The real host (sessions, registration) on its Unix socket: nothing a peer sends escapes."""
    from tgo_host.host import Host
    from tgo_host.settings import Settings

    counter = Counter()
    valid_register = encode_frame(dumps({"jsonrpc": "2.0", "id": 1, "method": "register",
                                         "params": {"id": "prop", "name": "prop", "version": "1",
                                                    "capabilities": [{"type": "visitor_panel", "title": "P"}]}}))

    @settings(max_examples=HOST_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.booleans(), st.lists(chunks, max_size=10))
    def prop(register_first, pieces):
        path = os.path.join(short_dir, "p.sock")
        s = Settings(socket_path=path, http_addr="off", register_timeout=2.0, partial_frame_timeout=1.0,
                     max_frame_bytes=4096, shutdown_grace=1.0)
        counter.tick(trio.run(run_host, s, ([valid_register] if register_first else []) + pieces))

    async def run_host(s, pieces) -> str:
        host = Host(s)
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                await nursery.start(host.serve)
                stream = await trio.open_unix_socket(s.socket_path)
                received = await feed_peer(stream, stream.socket, pieces)
                await stream.aclose()
                frames = host_frames(received)
                check_host_output(frames, {"shutdown", "ping"}, registration=True)
                while host.connection_count:
                    await trio.sleep(0.01)
                # still serving: a well-behaved plugin registers
                good = await trio.open_unix_socket(s.socket_path)
                await good.send_all(valid_register)
                reply = bytearray()
                while len(reply) < 4 or len(reply) < 4 + struct.unpack(">I", reply[:4])[0]:
                    reply += await good.receive_some(65536)
                assert orjson.loads(bytes(reply[4:]))["result"]["success"] is True
                await good.aclose()
                host.request_stop()
        registered = any("result" in f for f in frames)
        return "registered" if registered else "refused"

    prop()
    record("properties.live_host_arbitrary_bytes", examples=counter.n, **counter.kinds)
