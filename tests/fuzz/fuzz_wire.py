#!/usr/bin/env python3
"""Coverage-guided fuzzing (atheris + libFuzzer) of everything a plugin's bytes reach
before any I/O: frame decoding, JSON-RPC classification and the model parsers.

Each input is used twice: as one frame's payload (``decode_message``, then every
model parser on the JSON inside) and as a byte stream (``FrameDecoder`` under three
chunkings that must agree, then the same checks on every frame). Anything but the
documented outcome is a crash that libFuzzer saves:

* ``FrameDecoder.feed`` raises only ``FrameTooLarge`` and never buffers more than
  ``limit + 4`` bytes;
* ``decode_message`` never raises; a ``Violation`` carries ``-32700`` or ``-32600``
  and its reply is a valid JSON-RPC error response;
* every parser raises only ``ValidationError``; what it accepts normalises
  idempotently and serialises.

Usage (new inputs go to the first corpus directory; keep the committed one second)::

    mkdir -p .run/fuzz-corpus
    python tests/fuzz/fuzz_wire.py .run/fuzz-corpus tests/fuzz/corpus -max_total_time=300 -artifact_prefix=.run/fuzz-

``-runs=N`` bounds by count instead; a crashing input is replayed with
``python tests/fuzz/fuzz_wire.py .run/fuzz-crash-<sha1>``.
"""

from __future__ import annotations

import gc
import os
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import atheris  # noqa: E402

with atheris.instrument_imports(include=["tgo_host"]):
    import orjson

    from tgo_host.api.lifecycle import InstallRequest
    from tgo_host.model import (
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
    from tgo_host.wire.framing import FrameDecoder, FrameTooLarge
    from tgo_host.wire.messages import (
        INVALID_REQUEST,
        PARSE_ERROR,
        Request,
        Response,
        Violation,
        decode_message,
        encode_error,
    )

LIMIT = 1024
BODIES = (RenderRequest, EventRequest, VisitorPanelRenderRequest, ToolExecuteRequest, ChannelSendMessageParams, InstallRequest)
RESULTS = (parse_tool_result, parse_send_result, parse_iframe_config, parse_channel_manifest)


def _parse(parse, value):
    try:
        return parse(value)
    except ValidationError:
        return None


def check_models(value) -> None:
    """Every parser on ``value``: only ValidationError; accepted values normalise idempotently."""
    template = _parse(parse_ui, value)
    if template is not None:
        normal = ui_to_json(template)
        orjson.dumps(normal)
        assert ui_to_json(parse_ui(normal)) == normal, "parse_ui is not idempotent"
    action = _parse(parse_action, value)
    if action is not None:
        normal = action_to_json(action)
        orjson.dumps(normal)
        assert action_to_json(parse_action(normal)) == normal, "parse_action is not idempotent"
    reg = _parse(parse_register, value)
    if reg is not None:
        normal = unstructure(reg)
        orjson.dumps(normal)
        assert unstructure(parse_register(normal)) == normal, "parse_register is not idempotent"
    for cls in BODIES:
        body = _parse(lambda v: parse_body(v, cls), value)
        if body is not None:
            orjson.dumps(unstructure(body))
    for parse in RESULTS:
        result = _parse(parse, value)
        if result is not None:
            orjson.dumps(unstructure(result))


def check_frame(frame: bytes) -> None:
    message = decode_message(frame)
    kind = type(message)
    assert kind in (Request, Response, Violation), kind
    if kind is Violation:
        assert message.error.code in (PARSE_ERROR, INVALID_REQUEST), message
        reply = decode_message(encode_error(message.id, message.error))
        assert type(reply) is Response and reply.error.code == message.error.code
        if message.error.code == PARSE_ERROR:
            return
    try:
        obj = orjson.loads(frame)
    except orjson.JSONDecodeError:
        raise AssertionError(f"decode_message accepted non-JSON: {message}") from None
    check_models(obj)
    if type(obj) is dict:
        for key in ("params", "result", "data"):
            if key in obj:
                check_models(obj[key])


def feed(data: bytes, cuts: list[int]) -> tuple[list[bytes], str | None]:
    decoder = FrameDecoder(LIMIT)
    frames: list[bytes] = []
    for a, b in zip([0, *cuts], [*cuts, len(data)]):
        try:
            frames += decoder.feed(data[a:b])
        except FrameTooLarge as exc:
            assert exc.announced > LIMIT
            return frames, f"too large {exc.announced}"
        assert decoder.buffered <= LIMIT + 4, decoder.buffered
    return frames, f"buffered {decoder.buffered}"


def TestOneInput(data: bytes) -> None:
    check_frame(data)
    n = len(data)
    whole = feed(data, [])
    bytewise = feed(data, list(range(1, n))) if n <= 256 else feed(data, list(range(1, n, 7)))
    thirds = feed(data, [n // 3, 2 * n // 3])
    # frames completed before a refusal are lost with it; those that come back must agree
    if not whole[1].startswith("too large"):
        assert whole == bytewise == thirds, (whole, bytewise, thirds)
    for frame in whole[0]:
        check_frame(frame)


def instrument_generated_hooks() -> int:
    """Instrument the structure/unstructure functions cattrs generated (they hold the model logic)."""
    count = 0
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType) and obj.__code__.co_filename.startswith("<cattrs"):
            atheris.instrument_func(obj)
            count += 1
    return count


def main() -> None:
    # Warm the converter so the hooks cattrs generates lazily exist, then instrument them
    # (instrument_all() would do it too, but takes a minute on the whole interpreter).
    for value in ({}, {"template": "text", "data": {"text": "x"}}, {"action": "noop"}, {"name": "x"}):
        check_models(value)
    instrument_generated_hooks()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
