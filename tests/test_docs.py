"""The docs stay true: links resolve inside the repository, examples match the models, the error table is complete.

Every ```json block of the reference docs (docs/protocol.md, templates.md,
http-api.md) is preceded by ``<!-- example: KIND ... -->`` saying what it is,
and is checked here against the same models (or the same OpenAPI document)
the host validates with. An example without a marker fails the test.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import attrs
import jsonschema_rs
import pytest

from support.paths import ROOT
from tgo_host import model
from tgo_host.api.lifecycle import InstallRequest
from tgo_host.api.openapi import build_openapi

REFERENCE_DOCS = ["docs/protocol.md", "docs/templates.md", "docs/http-api.md"]
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
MARKER = re.compile(r"^<!--\s*example:\s*(.+?)\s*-->$")


def tracked_markdown() -> list[Path]:
    """Every markdown file of the repository (tracked by git, or the tree outside hidden/build dirs)."""
    if (ROOT / ".git").exists():
        out = subprocess.run(["git", "ls-files", "-z", "--", "*.md"], cwd=ROOT, capture_output=True, check=True)
        return [ROOT / name for name in out.stdout.decode().split("\0") if name and (ROOT / name).exists()]
    skip = {"build", "node_modules", "__pycache__"}
    return [p for p in ROOT.rglob("*.md")
            if not any(part.startswith(".") or part in skip for part in p.relative_to(ROOT).parts[:-1])]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, inline code removed."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, re.sub(r"`[^`]*`", "", line)))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose_lines_with_code(path.read_text()):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def prose_lines_with_code(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, inline code kept (headings may hold it)."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def test_the_repository_has_markdown_to_check():
    names = {str(p.relative_to(ROOT)) for p in tracked_markdown()}
    assert {"README.md", "docs/writing-a-plugin.md", "plugins_examples/README.md", *REFERENCE_DOCS} <= names


def test_every_relative_link_in_markdown_resolves_inside_the_repository():
    problems = []
    checked = 0
    for path in tracked_markdown():
        where = path.relative_to(ROOT)
        for number, line in prose_lines(path.read_text()):
            for target in LINK.findall(line):
                if SCHEME.match(target) or target.startswith("//"):
                    continue  # a web address, not a file of the repository
                checked += 1
                file_part, _, anchor = target.partition("#")
                resolved = (path.parent / file_part).resolve() if file_part else path
                if not resolved.is_relative_to(ROOT):
                    problems.append(f"{where}:{number}: {target} leaves the repository")
                elif not resolved.exists():
                    problems.append(f"{where}:{number}: {target} does not exist")
                elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                    problems.append(f"{where}:{number}: {target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    assert not problems, "\n".join(problems)
    assert checked >= 20


def test_no_markdown_points_outside_the_repository_in_prose_either():
    outside = re.compile(r"\.\./shared/|/work/shared")  # the project's private notes, never part of the repo
    problems = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
                for p in tracked_markdown() for n, line in enumerate(p.read_text().splitlines(), 1)
                if outside.search(line)]
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------ JSON examples


def examples(doc: str) -> list[tuple[int, str, object]]:
    """(line, marker, parsed JSON) for every ```json block of ``doc``; a block without marker fails."""
    lines = (ROOT / doc).read_text().splitlines()
    found = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```json":
            start = i
            j = i + 1
            while lines[j].strip() != "```":
                j += 1
            k = start - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            marker = MARKER.match(lines[k].strip()) if k >= 0 else None
            assert marker, f"{doc}:{start + 1}: JSON example without an <!-- example: KIND --> marker"
            body = "\n".join(lines[start + 1:j])
            try:
                value = json.loads(body)
            except ValueError as exc:
                pytest.fail(f"{doc}:{start + 1}: not valid JSON: {exc}")
            found.append((start + 1, marker.group(1), value))
            i = j
        i += 1
    return found


RPC_PARAMS = {
    "visitor_panel/render": model.VisitorPanelRenderParams,
    "visitor_panel/event": model.VisitorPanelEventParams,
    "chat_toolbar/render": model.ChatToolbarRenderParams,
    "chat_toolbar/event": model.ChatToolbarEventParams,
    "tool/execute": model.ToolExecuteParams,
    "channel_integration/send_message": model.ChannelSendMessageParams,
}
NO_PARAMS = {"ping", "shutdown", "sidebar_iframe/config", "channel_integration/manifest"}


def _register_result(value):
    assert set(value) == {"success", "plugin_id", "host_version"} and value["success"] is True
    assert isinstance(value["plugin_id"], str) and isinstance(value["host_version"], str)
    return value


def _pong(value):
    assert value.get("pong") is True and set(value) <= {"pong", "timestamp"}
    assert isinstance(value.get("timestamp", 0), int)
    return value


RESULTS = {
    "register": _register_result,
    "ping": _pong,
    "tool/execute": model.parse_tool_result,
    "sidebar_iframe/config": model.parse_iframe_config,
    "channel_integration/manifest": model.parse_channel_manifest,
    "channel_integration/send_message": model.parse_send_result,
}


def unknown_fields(example, normal, path=""):
    """Paths of non-null fields in ``example`` that the model's normalised form does not have (typos)."""
    if isinstance(example, dict) and isinstance(normal, dict):
        for key, value in example.items():
            if key not in normal:
                if value is not None:
                    yield f"{path}{key}"
            else:
                yield from unknown_fields(value, normal[key], f"{path}{key}.")
    elif isinstance(example, list) and isinstance(normal, list):
        for i, (a, b) in enumerate(zip(example, normal)):
            yield from unknown_fields(a, b, f"{path}[{i}].")


def kept_extras(parsed, path=""):
    """Paths of unknown fields the lenient models kept to pass on (``extra``): typos in a doc example."""
    if isinstance(parsed, list):
        for i, item in enumerate(parsed):
            yield from kept_extras(item, f"{path}[{i}].")
    elif attrs.has(type(parsed)):
        for key in getattr(parsed, "extra", None) or ():
            yield f"{path}{key}"
        for field in attrs.fields(type(parsed)):
            if field.name != "extra":
                yield from kept_extras(getattr(parsed, field.name), f"{path}{field.name}.")


def check_model(value, parse):
    parsed = parse(value)
    if not isinstance(parsed, dict):
        extra = list(unknown_fields(value, model.unstructure(parsed))) + list(kept_extras(parsed))
        assert not extra, f"fields the model does not know (typos?): {extra}"


def check_rpc_request(value):
    assert value.get("jsonrpc") == "2.0" and isinstance(value.get("id"), (int, str)), "not a JSON-RPC request"
    method = value["method"]
    if method == "register":
        check_model(value["params"], model.parse_register)
    elif method in RPC_PARAMS:
        check_model(value.get("params", {}), lambda v: model.parse_body(v, RPC_PARAMS[method]))
    else:
        assert method in NO_PARAMS, f"unknown host method {method!r}"


def check_rpc_response(value):
    assert value.get("jsonrpc") == "2.0" and "id" in value
    assert ("result" in value) != ("error" in value), "exactly one of result and error"
    if "error" in value:
        error = value["error"]
        assert isinstance(error["code"], int) and isinstance(error["message"], str)


def openapi_validator(method: str, path: str, status: str):
    document = build_openapi()
    operation = document["paths"][path][method.lower()]
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    return jsonschema_rs.validator_for(
        {**_nullable_to_json_schema(schema), "components": _nullable_to_json_schema(document["components"])})


def _nullable_to_json_schema(node):
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema (``type: [T, "null"]``)."""
    if isinstance(node, list):
        return [_nullable_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def check_example(kind: str, value) -> None:
    word, *args = kind.split()
    if word == "ui":
        check_model(value, model.parse_ui)
    elif word == "action":
        check_model(value, model.parse_action)
    elif word == "rpc-request":
        check_rpc_request(value)
    elif word == "rpc-response":
        check_rpc_response(value)
    elif word == "result":
        (method,) = args
        parse = RESULTS.get(method) or (model.parse_ui if method.endswith("/render") else model.parse_action)
        check_model(value, parse)
    elif word == "request":
        (name,) = args
        cls = InstallRequest if name == "InstallRequest" else getattr(model, name)
        check_model(value, lambda v: model.parse_body(v, cls))
    elif word == "response":
        method, path, status = args
        validator = openapi_validator(method, path, status)
        errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(value)]
        assert not errors, errors
    else:
        raise AssertionError(f"unknown example kind {kind!r}")


@pytest.mark.parametrize("doc", REFERENCE_DOCS)
def test_every_json_example_matches_the_models(doc):
    found = examples(doc)
    assert len(found) >= 5, f"{doc} has only {len(found)} checked examples"
    failures = []
    for line, kind, value in found:
        try:
            check_example(kind, value)
        except (AssertionError, model.ValidationError, KeyError, ValueError) as exc:
            failures.append(f"{doc}:{line} ({kind}): {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures)


def test_the_example_checker_catches_wrong_examples():
    """The checks above can fail: a wrong example of each kind is refused."""
    wrong = [
        ("ui", {"template": "key_value", "data": {"items": [{"value": "x"}]}}),
        ("ui", {"template": "text", "data": {"text": "x", "colour": "red"}}),
        ("action", {"action": "open_url", "data": {"url": "javascript:alert(1)"}}),
        ("rpc-request", {"jsonrpc": "2.0", "id": 1, "method": "register", "params": {"version": "1"}}),
        ("rpc-request", {"jsonrpc": "2.0", "id": 1, "method": "visitor_panel/evnt", "params": {}}),
        ("rpc-response", {"jsonrpc": "2.0", "id": 1}),
        ("result register", {"success": True}),
        ("request EventRequest", {"event_type": "button_click"}),
        ("response GET /plugins/{plugin_id} 200", {"id": "x"}),
        ("response POST /plugins/visitor-panel/render 200", {"panels": [], "errors": [{"plugin_id": "p"}]}),
    ]
    for kind, value in wrong:
        with pytest.raises((AssertionError, model.ValidationError, KeyError, ValueError)):
            check_example(kind, value)


# ------------------------------------------------------------------------ the error table


def error_types_in_code() -> set[tuple[int, str]]:
    found = set()
    for path in (ROOT / "tgo_host").rglob("*.py"):
        text = path.read_text()
        found |= {(int(s), t) for s, t in re.findall(r'ApiError\(\s*(\d{3}),\s*"([a-z_]+)"', text)}
    app = (ROOT / "tgo_host" / "api" / "app.py").read_text()
    found |= {(int(s), t) for s, t in re.findall(r'(\d{3}): "([a-z_]+)"', app)}  # the generic 404/405
    from tgo_host.api.server import SERVER_ERROR_TYPES  # what the HTTP server answers itself (api/http1.py)

    found |= set(SERVER_ERROR_TYPES.items())
    found |= {(cls.status_hint, cls.kind) for cls in host_errors() if cls.status_hint is not None}
    return found


def host_errors() -> list[type]:
    """Every class of the error tree (tgo_host/errors.py) that routes answer by lookup."""
    import tgo_host.cli  # noqa: F401 - imports every module that defines one
    from tgo_host.errors import HostError

    classes, todo = [], [HostError]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    return classes


def error_types_in_docs() -> set[tuple[int, str]]:
    text = (ROOT / "docs" / "http-api.md").read_text()
    rows = re.findall(r"^\| (\d{3}) \| (.+?) \|", text, re.M)
    return {(int(status), t) for status, types in rows for t in re.findall(r"`([a-z_]+)`", types)}


def test_the_error_table_lists_every_error_the_api_answers():
    in_code, in_docs = error_types_in_code(), error_types_in_docs()
    assert len(in_code) >= 15
    missing = sorted(in_code - in_docs)
    stale = sorted(in_docs - in_code)
    assert not missing, f"docs/http-api.md's error table lacks {missing}: add a row saying when it happens"
    assert not stale, f"docs/http-api.md's error table lists errors the code never answers: {stale}"

