"""The Python SDK and the example plugins, driven as real subprocesses over a
real Unix socket by a minimal fake host written with the ``socket`` module.

Plugins run as ``python -S`` (no site-packages): that proves they need only the
standard library and that the examples find ``tgo_plugin`` from any cwd.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from support.paths import short_tempdir

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "plugins_examples"
SLOW_PLUGIN = Path(__file__).resolve().parent / "plugins" / "slow_sdk_plugin.py"
NODE = "/usr/bin/node"

VISITOR = {"visitor_id": "v-1001", "session_id": "s-1", "language": "en",
           "visitor": {"id": "v-1001", "name": "Alice Visitor", "email": "alice@visitor.test",
                       "phone": None, "metadata": {}},
           "context": {"current_page": "https://shop.example.com/cart"}}


class Conn:
    """The host side of one plugin connection: frames in, frames out, matched by id."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(5)
        self.ids = iter(range(100, 10_000))
        self.pending: dict = {}

    def send_raw(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)

    def send(self, msg: dict) -> None:
        self.send_raw(json.dumps(msg).encode())

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("plugin closed the connection")
            buf += chunk
        return buf

    def recv(self) -> dict:
        (n,) = struct.unpack(">I", self._exact(4))
        body = self._exact(n)
        assert not body.endswith(b"\n"), "frames must not carry a trailing newline"
        return json.loads(body.decode("utf-8"))

    def request(self, method: str, params: dict | None = None) -> int:
        req_id = next(self.ids)
        msg = {"jsonrpc": "2.0", "id": req_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return req_id

    def response(self, req_id) -> dict:
        for _ in range(50):
            if req_id in self.pending:
                return self.pending.pop(req_id)
            msg = self.recv()
            assert msg.get("jsonrpc") == "2.0" and "method" not in msg, msg
            self.pending[msg["id"]] = msg
        raise AssertionError(f"no response to {req_id}")

    def call(self, method: str, params: dict | None = None) -> dict:
        return self.response(self.request(method, params))

    def result(self, method: str, params: dict | None = None):
        msg = self.call(method, params)
        assert "error" not in msg, msg
        return msg["result"]

    def register(self, result: dict | None = None) -> dict:
        msg = self.recv()
        assert msg["method"] == "register", msg
        reply = {"success": True, "plugin_id": msg["params"].get("id", "p"), "host_version": "test"}
        self.send({"jsonrpc": "2.0", "id": msg["id"], "result": result or reply})
        return msg

    def close(self) -> None:
        self.sock.close()


class FakeHost:
    """A listening socket plus the plugin processes started against it."""

    def __init__(self) -> None:
        self.dir = short_tempdir("t")
        self.path = os.path.join(self.dir, "h.sock")
        self.procs: list[subprocess.Popen] = []
        self.conns: list[Conn] = []
        self.listener: socket.socket | None = None
        self.listen()

    def listen(self) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(4)

    def close_listener(self) -> None:
        self.listener.close()
        os.unlink(self.path)

    def accept(self, timeout: float = 10) -> Conn:
        self.listener.settimeout(timeout)
        sock, _ = self.listener.accept()
        conn = Conn(sock)
        self.conns.append(conn)
        return conn

    def spawn(self, script: Path, *, node: bool = False, no_site: bool = True,
              **env: str) -> subprocess.Popen:
        """Start a plugin; Python ones with ``-S`` (stdlib only) unless ``no_site=False``."""
        if node:
            argv = [NODE, str(script)]
        else:
            argv = [sys.executable, *(["-S"] if no_site else []), str(script)]
        full_env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONPATH", "TGO_TCP_ADDR", "TGO_DEV_TOKEN")}
        full_env.update({"TGO_SOCKET_PATH": self.path, "TGO_LOG_LEVEL": "DEBUG", **env})
        proc = subprocess.Popen(argv, env=full_env, cwd=self.dir, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(self.dir, f"err{len(self.procs)}"), "wb"))
        self.procs.append(proc)
        return proc

    def start(self, script: Path, **kw) -> tuple[subprocess.Popen, Conn, dict]:
        proc = self.spawn(script, **kw)
        conn = self.accept()
        return proc, conn, conn.register()

    def cleanup(self) -> None:
        for conn in self.conns:
            conn.close()
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)
        if self.listener is not None:
            self.listener.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def fake():
    h = FakeHost()
    try:
        yield h
    finally:
        h.cleanup()


def shutdown(conn: Conn, proc: subprocess.Popen) -> None:
    """Send shutdown; expect the ack, then EOF, then exit status 0."""
    assert conn.result("shutdown") == {"success": True}
    with pytest.raises(EOFError):
        conn.recv()                                # the plugin half-closes after the ack
    conn.close()
    assert proc.wait(timeout=5) == 0


# -- SDK behaviour --------------------------------------------------------------


def test_register_render_event_ping_unknown_shutdown(fake):
    proc, conn, reg = fake.start(EXAMPLES / "crm_panel" / "main.py")
    assert reg["jsonrpc"] == "2.0" and isinstance(reg["id"], int)
    params = reg["params"]
    assert params == {
        "id": "com.example.crm-panel", "name": "crm-panel", "version": "1.0.0",
        "description": "Customer profile, recent orders and CRM shortcuts",
        "author": "tgo-host examples",
        "capabilities": [{"type": "visitor_panel", "title": "Customer", "icon": "user",
                          "priority": 5}],
    }  # no dev_token unless one is set

    ui = conn.result("visitor_panel/render", VISITOR)
    assert ui["template"] == "group"
    profile, orders, buttons = ui["data"]["items"]
    assert profile["template"] == "key_value"
    values = {i["label"]: i["value"] for i in profile["data"]["items"]}
    assert values["Name"] == "Alice Visitor"          # the visitor's own data wins
    assert values["Email"] == "alice@visitor.test"
    assert values["Phone"] == "+1 555 0100"           # completed from crm.json
    assert values["Level"] == "Gold" and values["Total spent"] == 12840.5
    assert orders["template"] == "table"
    assert orders["data"]["rows"][0]["status"] == {"text": "shipped", "color": "blue"}
    assert [b["id"] for b in buttons["data"]["buttons"]] == ["open_crm", "copy_email", "mark_vip"]

    ev = {"event_type": "button_click", "visitor_id": "v-1001", "session_id": "s-1"}
    act = conn.result("visitor_panel/event", {**ev, "action_id": "open_crm"})
    assert act == {"action": "open_url", "data": {"url": "https://crm.example.com/customers/v-1001",
                                                  "target": "_blank"}}
    act = conn.result("visitor_panel/event", {**ev, "action_id": "copy_email"})
    assert act == {"action": "copy_text", "data": {"text": "alice@example.com", "toast": "Email copied"}}
    act = conn.result("visitor_panel/event", {**ev, "action_id": "mark_vip"})
    assert act["action"] == "show_toast" and act["data"]["type"] == "success"

    pong = conn.result("ping")
    assert pong["pong"] is True and abs(pong["timestamp"] - time.time() * 1000) < 60_000

    err = conn.call("chat_toolbar/render", {})  # no handler: never a fake success
    assert err["error"]["code"] == -32601 and "result" not in err
    err = conn.call("no/such_method", {})
    assert err["error"]["code"] == -32601

    conn.send({"jsonrpc": "2.0", "id": 424242, "result": {"late": True}})  # unknown id: ignored
    shutdown(conn, proc)


def test_slow_handler_does_not_block_ping_and_errors_are_reported(fake):
    proc, conn, reg = fake.start(SLOW_PLUGIN, TGO_DEV_TOKEN="dev-secret")
    assert reg["params"]["dev_token"] == "dev-secret"

    t0 = time.monotonic()
    slow = conn.request("visitor_panel/render", {"visitor_id": "v9", "context": {"sleep": 2}})
    ping = conn.request("ping")
    first = conn.recv()
    assert first["id"] == ping and first["result"]["pong"] is True
    assert time.monotonic() - t0 < 1.0
    # other requests are served while the slow one runs, too
    assert conn.result("chat_toolbar/render", {"visitor_id": "v9"}) == \
        {"template": "text", "data": {"text": "async v9"}}              # async handler
    assert time.monotonic() - t0 < 1.5
    assert conn.response(slow)["result"] == {"template": "text", "data": {"text": "slept for v9"}}
    assert time.monotonic() - t0 >= 1.9

    err = conn.call("visitor_panel/event", {"event_type": "button_click", "action_id": "boom"})
    assert err["error"] == {"code": -32603, "message": "boom happened"}
    err = conn.call("visitor_panel/event", {"event_type": "button_click", "action_id": "rpc"})
    assert err["error"] == {"code": -32003, "message": "no such thing", "data": {"id": 7}}
    assert conn.result("visitor_panel/event", {"action_id": "none"}) == {"action": "noop", "data": {}}
    err = conn.call("sidebar_iframe/config")
    assert err["error"]["code"] == -32603

    conn.send_raw(b"{not json")
    bad = conn.recv()
    assert bad["id"] is None and bad["error"]["code"] == -32700
    conn.send_raw(b"[1, 2]")
    bad = conn.recv()
    assert bad["id"] is None and bad["error"]["code"] == -32600
    conn.send({"jsonrpc": "2.0", "method": "ping"})                   # notification: no answer
    assert conn.result("ping")["pong"] is True                         # connection still up
    shutdown(conn, proc)


def test_sdk_reconnects_when_host_comes_back(fake):
    proc, conn, _ = fake.start(SLOW_PLUGIN)
    conn.close()
    fake.close_listener()
    time.sleep(0.3)
    fake.listen()
    conn2 = fake.accept(timeout=10)
    assert conn2.register()["params"]["id"] == "test.slow-sdk"
    assert conn2.result("ping")["pong"] is True
    shutdown(conn2, proc)


def test_sdk_waits_for_a_host_that_is_not_up_yet(fake):
    fake.close_listener()
    proc = fake.spawn(SLOW_PLUGIN)
    time.sleep(0.8)
    assert proc.poll() is None
    fake.listen()
    conn = fake.accept(timeout=10)
    conn.register()
    shutdown(conn, proc)


def test_rejected_register_backs_off(fake):
    proc = fake.spawn(SLOW_PLUGIN)
    conn = fake.accept()
    msg = conn.recv()
    conn.send({"jsonrpc": "2.0", "id": msg["id"],
               "error": {"code": -32000, "message": "plugin id already registered"}})
    t0 = time.monotonic()
    with pytest.raises(socket.timeout):
        fake.accept(timeout=2.5)                  # no hot reconnect loop
    assert proc.poll() is None
    conn2 = fake.accept(timeout=8)                # but it does come back
    assert time.monotonic() - t0 >= 3.5
    conn2.register()
    shutdown(conn2, proc)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("phase", ["serving", "busy", "waiting_for_host"])
def test_signal_ends_the_plugin_promptly(fake, signum, phase):
    """SIGTERM/SIGINT: exit status 0 well within a second (200 ms on an idle machine; see the report)."""
    if phase == "waiting_for_host":
        fake.close_listener()
        proc = fake.spawn(SLOW_PLUGIN)
        err = os.path.join(fake.dir, "err0")
        deadline = time.monotonic() + 10
        while "cannot connect" not in open(err).read():  # now in its reconnect back-off
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    else:
        proc, conn, _ = fake.start(SLOW_PLUGIN)
        assert conn.result("ping")["pong"] is True
        if phase == "busy":  # handler threads running: the kernel may hand the signal to one of them
            for _ in range(4):
                conn.request("visitor_panel/render", {"visitor_id": "v", "context": {"sleep": 30}})
            time.sleep(0.3)
    assert proc.poll() is None
    t0 = time.monotonic()
    proc.send_signal(signum)
    assert proc.wait(timeout=5) == 0
    elapsed = time.monotonic() - t0
    assert elapsed < 1.0, f"{signal.Signals(signum).name} took {elapsed:.3f} s"
    log = open(os.path.join(fake.dir, f"err{len(fake.procs) - 1}")).read()
    assert f"{signal.Signals(signum).name} received; exiting" in log and "Traceback" not in log


@pytest.mark.parametrize("code, reason", [(-32001, "dev token expired"), (-32002, "uid 1000 is not allowed")])
def test_authentication_refusal_exits_with_the_reason_and_never_retries(fake, code, reason):
    proc = fake.spawn(SLOW_PLUGIN)
    conn = fake.accept()
    msg = conn.recv()
    conn.send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": code, "message": reason}})
    assert proc.wait(timeout=5) == 1
    log = open(os.path.join(fake.dir, "err0")).read()
    assert f"the host refused registration (code {code}): {reason}" in log
    assert "not retrying" in log and "reconnecting" not in log
    with pytest.raises(socket.timeout):
        fake.accept(timeout=1.0)  # and it did not come back


def test_tcp_debug_mode_sends_dev_token(fake):
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        port = listener.getsockname()[1]
        proc = fake.spawn(SLOW_PLUGIN, TGO_SOCKET_PATH="", TGO_TCP_ADDR=f"127.0.0.1:{port}",
                          TGO_DEV_TOKEN="tok")
        listener.settimeout(10)
        sock, _ = listener.accept()
        conn = Conn(sock)
        fake.conns.append(conn)
        assert conn.register()["params"]["dev_token"] == "tok"
        shutdown(conn, proc)
    finally:
        listener.close()


# -- examples -------------------------------------------------------------------


def test_quick_reply(fake):
    # with the venv's site-packages this time: the installed (editable) SDK path
    proc, conn, reg = fake.start(EXAMPLES / "quick_reply" / "main.py", no_site=False)
    cap = reg["params"]["capabilities"][0]
    assert cap["type"] == "chat_toolbar" and cap["shortcut"] == "Ctrl+Shift+R"
    ui = conn.result("chat_toolbar/render", {"action_id": "quick", "visitor_id": "v1",
                                             "context": {"last_messages": []}})
    assert ui["template"] == "list" and ui["data"]["searchable"] is True
    ids = [i["id"] for i in ui["data"]["items"]]
    assert "greeting" in ids and all(i["title"] for i in ui["data"]["items"])
    act = conn.result("chat_toolbar/event", {"event_type": "item_select", "action_id": "quick",
                                             "selected_id": "greeting"})
    assert act == {"action": "insert_text",
                   "data": {"text": "Hello! Thanks for reaching out. How can I help you today?"}}
    shutdown(conn, proc)


def test_ticket_form_sqlite_survives_restart(fake):
    db = os.path.join(fake.dir, "tickets.db")
    proc, conn, reg = fake.start(EXAMPLES / "ticket_form" / "main.py", TICKET_DB=db)
    assert [c["type"] for c in reg["params"]["capabilities"]] == ["chat_toolbar", "visitor_panel"]
    form = conn.result("chat_toolbar/render", {"visitor_id": "v-7",
                                               "context": {"last_message": {"content": "it broke"}}})
    assert form["template"] == "form" and form["data"]["action_id"] == "create_ticket"
    types = {f["name"]: f["type"] for f in form["data"]["fields"]}
    assert types == {"title": "text", "priority": "select", "category": "radio",
                     "notify": "checkbox", "description": "textarea"}
    assert form["data"]["fields"][-1]["default"] == "it broke"

    submit = {"event_type": "form_submit", "action_id": "create_ticket", "visitor_id": "v-7",
              "session_id": "s-7"}
    act = conn.result("chat_toolbar/event", {**submit, "form_data": {"title": "  "}})
    assert act == {"action": "show_toast", "data": {"message": "Title is required", "type": "error"}}
    act = conn.result("chat_toolbar/event", {**submit, "form_data": {
        "title": "Login fails", "priority": "high", "category": "technical", "notify": True,
        "description": "since Monday"}})
    assert act["action"] == "batch"
    toast, close, refresh = act["data"]["actions"]
    assert toast["action"] == "show_toast" and toast["data"]["type"] == "success"
    assert close == {"action": "close_modal", "data": {}} and refresh == {"action": "refresh", "data": {}}
    assert conn.result("visitor_panel/render", {"visitor_id": "nobody"})["template"] == "empty"
    shutdown(conn, proc)

    with sqlite3.connect(db) as check:
        assert check.execute("SELECT title, priority FROM tickets").fetchall() == \
            [("Login fails", "high")]

    proc, conn, _ = fake.start(EXAMPLES / "ticket_form" / "main.py", TICKET_DB=db)
    panel = conn.result("visitor_panel/render", {"visitor_id": "v-7"})
    assert panel["template"] == "list"
    assert [i["title"] for i in panel["data"]["items"]] == ["#1 Login fails"]
    shutdown(conn, proc)


def test_order_dashboard_tabs(fake):
    proc, conn, _ = fake.start(EXAMPLES / "order_dashboard" / "main.py")
    ui = conn.result("visitor_panel/render", VISITOR)
    assert ui["template"] == "tabs" and ui["data"]["default_tab"] == "overview"
    inner = [t["content"]["template"] for t in ui["data"]["items"]]
    assert inner == ["stats", "timeline", "cards", "markdown", "empty", "loading"]
    act = conn.result("visitor_panel/event", {"event_type": "button_click",
                                              "action_id": "view_product", "payload": {"id": "p-200"}})
    assert act == {"action": "open_url", "data": {"url": "https://shop.example.com/products/p-200",
                                                  "target": "_blank"}}
    shutdown(conn, proc)


def test_crm_iframe_serves_its_page(fake):
    proc, conn, reg = fake.start(EXAMPLES / "crm_iframe" / "main.py", CRM_IFRAME_PORT="0")
    cap = reg["params"]["capabilities"][0]
    assert cap["type"] == "sidebar_iframe" and cap["url"].startswith("http://127.0.0.1:")
    cfg = conn.result("sidebar_iframe/config")
    assert cfg == {"url": cap["url"], "title": "CRM", "icon": "users", "width": 400,
                   "allow_fullscreen": True, "sandbox": "allow-scripts allow-forms",
                   "permissions": []}
    with urllib.request.urlopen(cfg["url"], timeout=5) as resp:
        page = resp.read().decode()
    assert "tgo_context_update" in page and "tgo_plugin_message" in page
    assert "insert_text" in page and "window.parent.postMessage" in page
    shutdown(conn, proc)


def test_custom_im_channel(fake):
    outbox = os.path.join(fake.dir, "out.jsonl")
    proc, conn, reg = fake.start(EXAMPLES / "custom_im" / "main.py", CUSTOM_IM_OUTBOX=outbox)
    cap = reg["params"]["capabilities"][0]
    assert cap == {"type": "channel_integration", "channel_type": "custom_im", "name": "Custom IM",
                   "icon": "message-circle"}
    manifest = conn.result("channel_integration/manifest")
    assert manifest["channel_type"] == "custom_im"
    assert manifest["config_schema"]["type"] == "object"
    assert manifest["setup_guide"].startswith("## ")
    sent = conn.result("channel_integration/send_message", {
        "channel_id": "ch1", "to": {"id": "u42"}, "message": {"type": "text", "content": "hi"}})
    assert sent["success"] is True and sent["message_id"]
    lines = Path(outbox).read_text().splitlines()
    assert [json.loads(line)["message_id"] for line in lines] == [sent["message_id"]]
    err = conn.call("channel_integration/send_message", {"message": {"content": "x"}})
    assert err["error"]["code"] == -32602
    shutdown(conn, proc)


def test_order_tools(fake):
    proc, conn, reg = fake.start(EXAMPLES / "order_tools" / "main.py")
    cap = reg["params"]["capabilities"][0]
    assert cap["type"] == "mcp_tools"
    assert [t["name"] for t in cap["tools"]] == ["lookup_order", "list_orders"]
    assert cap["tools"][0]["parameters"][0] == {"name": "order_id", "type": "string",
                                                "description": "Order id, e.g. ORD-1042",
                                                "required": True}
    ok = conn.result("tool/execute", {"tool_name": "lookup_order",
                                      "arguments": {"order_id": "ORD-1042"}})
    assert ok["success"] is True and "ORD-1042" in ok["content"] and ok["data"]["status"] == "shipped"
    missing = conn.result("tool/execute", {"tool_name": "lookup_order",
                                           "arguments": {"order_id": "ORD-0"}})
    assert missing == {"success": False, "error": "order ORD-0 not found"}
    listed = conn.result("tool/execute", {"tool_name": "list_orders", "arguments": {},
                                          "visitor_id": "v-1001"})
    assert [o["order_id"] for o in listed["data"]["orders"]] == ["ORD-1042", "ORD-1038"]
    shutdown(conn, proc)


def test_hello_node(fake):
    if not os.path.exists(NODE):
        message = f"Node.js not installed at {NODE}: the hello_node example cannot run"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI installs it: make system-deps)")
        pytest.skip(message)
    proc, conn, reg = fake.start(EXAMPLES / "hello_node" / "index.js", node=True)
    assert reg["params"]["id"] == "com.example.hello-node"
    assert reg["params"]["capabilities"][0]["type"] == "visitor_panel"
    ui = conn.result("visitor_panel/render", VISITOR)
    assert ui["template"] == "key_value"
    assert ui["data"]["items"][0] == {"label": "Visitor", "value": "Alice Visitor"}
    act = conn.result("visitor_panel/event", {"event_type": "button_click", "action_id": "hi"})
    assert act["action"] == "show_toast"
    assert conn.result("ping")["pong"] is True
    assert conn.call("nope/nope")["error"]["code"] == -32601
    shutdown(conn, proc)


def test_raw_panel(fake):
    proc, conn, reg = fake.start(EXAMPLES / "raw_panel" / "main.py")
    assert reg["params"]["capabilities"][0]["title"] == "Raw panel"
    ui = conn.result("visitor_panel/render", VISITOR)
    assert ui["template"] == "key_value"
    assert ui["data"]["items"][0]["value"] == "v-1001"
    act = conn.result("visitor_panel/event", {"event_type": "button_click", "action_id": "go"})
    assert act["action"] == "show_toast"
    assert conn.result("ping")["pong"] is True
    assert conn.call("x/y")["error"]["code"] == -32601
    shutdown(conn, proc)


def test_raw_toolbar(fake):
    proc, conn, reg = fake.start(EXAMPLES / "raw_toolbar" / "main.py")
    assert reg["params"]["capabilities"][0]["type"] == "chat_toolbar"
    ui = conn.result("chat_toolbar/render", {"visitor_id": "v1"})
    assert ui["template"] == "list" and ui["data"]["items"][0]["id"] == "hello"
    act = conn.result("chat_toolbar/event", {"event_type": "item_select", "selected_id": "hello"})
    assert act == {"action": "insert_text", "data": {"text": "Hello! How can I help you today?"}}
    shutdown(conn, proc)
