"""The real host (in-process) with real plugin subprocesses over its real Unix socket."""

from __future__ import annotations

import os
import stat
import sys

import pytest
import trio

from support.paths import EXAMPLES
from support.rawclient import RawClient
from support.waiting import wait_for, wait_registered
from tgo_host.plugins.dispatch import InvalidResult
from tgo_host.wire.errors import ConnectionLost, RemoteError, RequestTimeout


async def test_register_render_event_shutdown(host, plugins):
    proc = plugins.scripted("crm", "--toolbar", record=True)
    await wait_registered(host, "crm")
    session = host.registry.get("crm")
    assert [c.type for c in session.capabilities] == ["visitor_panel", "chat_toolbar"]
    assert session.peer.pid == proc.pid  # SO_PEERCRED
    ui = await host.dispatcher.render("crm", "visitor_panel", {"visitor_id": "v-42"})
    assert ui["template"] == "key_value"
    assert {"label": "Visitor", "value": "v-42"} in ui["data"]["items"]
    assert {"label": "Orders", "value": 3} in ui["data"]["items"]  # numbers are valid values
    action = await host.dispatcher.event(
        "crm", "chat_toolbar", {"event_type": "button_click", "action_id": "refund"}
    )
    # validated and normalised: the default duration is filled in
    assert action == {"action": "show_toast", "data": {"message": "clicked refund", "type": "success", "duration": 3000}}
    await session.shutdown(2.0)
    assert session.shutdown_acknowledged
    assert await trio.to_thread.run_sync(proc.wait, 5) == 0
    await wait_for(lambda: host.registry.get("crm") is None)
    assert plugins.recorded("crm")[1:] == ["visitor_panel/render", "chat_toolbar/event", "shutdown"]


async def test_render_past_deadline_times_out_and_session_stays_usable(host, plugins, settings):
    plugins.scripted("slow", "--mode", "slow", "--delay", "3")
    await wait_registered(host, "slow")
    session = host.registry.get("slow")
    start = trio.current_time()
    with pytest.raises(RequestTimeout) as info:
        await host.dispatcher.render("slow", "visitor_panel", {"visitor_id": "v"})
    elapsed = trio.current_time() - start
    assert settings.render_timeout - 0.1 <= elapsed < settings.render_timeout + 1.0
    assert "slow" in str(info.value) and "visitor_panel/render" in str(info.value)
    assert session.conn.in_flight == 0
    # still usable; and the late reply (after 3 s) is dropped, never answered
    action = await host.dispatcher.event("slow", "visitor_panel", {"event_type": "button_click", "action_id": "a"})
    assert action["action"] == "show_toast"
    await wait_for(lambda: session.conn.stats.dropped_responses == 1, timeout=5)
    assert host.registry.get("slow") is session


async def test_plugin_killed_mid_request_fails_caller_at_once(host, plugins, settings):
    plugins.scripted("crashy", "--mode", "crash")
    await wait_registered(host, "crashy")
    start = trio.current_time()
    with pytest.raises(ConnectionLost) as info:
        await host.dispatcher.render("crashy", "visitor_panel", {"visitor_id": "v"})
    assert trio.current_time() - start < settings.render_timeout / 2
    assert "crashy" in str(info.value)
    await wait_for(lambda: host.registry.get("crashy") is None)


async def test_fan_out_with_hung_and_invalid_plugins(host, plugins, settings):
    plugins.scripted("p-late", "--priority", "30")
    plugins.scripted("p-first", "--priority", "1")
    plugins.scripted("p-hang", "--priority", "5", "--mode", "hang")
    plugins.scripted("p-invalid", "--priority", "2", "--mode", "invalid")
    plugins.scripted("p-error", "--priority", "3", "--mode", "error")
    plugins.scripted("p-mid", "--priority", "20")
    await wait_registered(host, "p-late", "p-first", "p-hang", "p-invalid", "p-error", "p-mid")
    start = trio.current_time()
    result = await host.dispatcher.render_visitor_panels({"visitor_id": "v1"})
    elapsed = trio.current_time() - start
    assert elapsed < settings.render_timeout + 0.5  # one deadline, not the sum
    assert [p.plugin_id for p in result.panels] == ["p-first", "p-mid", "p-late"]
    assert [p.priority for p in result.panels] == [1, 20, 30]
    assert result.panels[0].title == "Panel p-first" and result.panels[0].icon == "user"
    errors = {e.plugin_id: e for e in result.errors}
    assert set(errors) == {"p-hang", "p-invalid", "p-error"}
    assert errors["p-hang"].error == "timeout"
    assert errors["p-invalid"].error == "invalid_result"
    assert "template" in errors["p-invalid"].message
    assert (errors["p-error"].error, errors["p-error"].code, errors["p-error"].data) == ("plugin_error", -32000, {"retry": True})


async def test_invalid_render_result_is_an_error_with_reason(host, plugins):
    plugins.scripted("gosdk", "--mode", "invalid")
    await wait_registered(host, "gosdk")
    with pytest.raises(InvalidResult) as info:
        await host.dispatcher.render("gosdk", "visitor_panel", {"visitor_id": "v"})
    assert "gosdk" in str(info.value) and "template" in info.value.validation


async def test_plugin_error_is_reported_with_code(host, plugins):
    plugins.scripted("err", "--mode", "error")
    await wait_registered(host, "err")
    with pytest.raises(RemoteError) as info:
        await host.dispatcher.render("err", "visitor_panel", {"visitor_id": "v"})
    assert info.value.code == -32000 and info.value.error_message == "CRM unavailable"


async def test_raw_protocol_examples_render_and_event(host, plugins):
    plugins.start([sys.executable, str(EXAMPLES / "raw_panel" / "main.py")])
    plugins.start([sys.executable, str(EXAMPLES / "raw_toolbar" / "main.py")])
    await wait_for(lambda: len(host.registry) == 2)
    panel = host.registry.with_capability("visitor_panel")[0][1]
    toolbar = host.registry.with_capability("chat_toolbar")[0][1]
    ui = await host.dispatcher.render(panel.plugin_id, "visitor_panel", {"visitor_id": "v-7"})
    assert ui["template"] == "key_value" and "v-7" in str(ui)
    action = await host.dispatcher.event(panel.plugin_id, "visitor_panel", {"event_type": "button_click", "action_id": "hello"})
    assert action["action"] == "show_toast"
    ui = await host.dispatcher.render(toolbar.plugin_id, "chat_toolbar", {"action_id": "open"})
    assert ui["template"] == "list" and ui["data"]["items"]
    item = ui["data"]["items"][0]
    action = await host.dispatcher.event(
        toolbar.plugin_id, "chat_toolbar", {"event_type": "item_select", "action_id": "open", "selected_id": item["id"]}
    )
    assert action["action"] == "insert_text" and action["data"]["text"]


# -- registration rules over a raw socket --------------------------------------

async def test_register_without_id_gets_generated_id(host, settings):
    client = await RawClient.connect(settings.socket_path)
    await client.send({"jsonrpc": "2.0", "id": 1, "method": "register", "params": {"name": "anon", "version": "1"}})
    reply = await client.recv()
    assert reply["result"]["success"] is True
    assert reply["result"]["plugin_id"].startswith("plugin_") and reply["result"]["host_version"]
    assert host.registry.get(reply["result"]["plugin_id"]) is not None
    await client.aclose()


async def test_duplicate_plugin_id_is_rejected_while_first_alive(host, settings):
    first = await RawClient.connect(settings.socket_path)
    assert (await first.register("dup"))["result"]["plugin_id"] == "dup"
    second = await RawClient.connect(settings.socket_path)
    reply = await second.register("dup")
    assert reply["error"]["code"] == -32000 and "already registered" in reply["error"]["message"]
    assert await second.recv() is None  # closed
    assert host.registry.get("dup").conn.close_reason is None  # the first one is untouched
    await first.aclose()
    await wait_for(lambda: host.registry.get("dup") is None)
    third = await RawClient.connect(settings.socket_path)  # free again
    assert (await third.register("dup"))["result"]["success"] is True
    await third.aclose()


async def test_invalid_register_params_name_the_field(host, settings):
    client = await RawClient.connect(settings.socket_path)
    await client.send({"jsonrpc": "2.0", "id": 1, "method": "register", "params": {
        "name": "x", "capabilities": [{"type": "visitor_panel", "title": "ok"}, {"type": "teleport", "title": "t"}]}})
    reply = await client.recv()
    assert reply["error"]["code"] == -32602
    assert "capabilities[1].type" in reply["error"]["message"]
    assert await client.recv() is None


async def test_first_message_not_register_is_refused(host, settings):
    client = await RawClient.connect(settings.socket_path)
    await client.send({"jsonrpc": "2.0", "id": 9, "method": "visitor_panel/render", "params": {}})
    reply = await client.recv()
    assert reply["error"]["code"] == -32600 and "register" in reply["error"]["message"]
    assert await client.recv() is None
    assert host.connection_count == 0 or await wait_for(lambda: host.connection_count == 0) is None


async def test_no_register_within_deadline_closes(host, settings):
    client = await RawClient.connect(settings.socket_path)
    start = trio.current_time()
    reply = await client.recv(timeout=settings.register_timeout + 3)
    assert reply["error"]["code"] == -32600 and "no register" in reply["error"]["message"]
    assert await client.recv() is None
    assert trio.current_time() - start >= settings.register_timeout - 0.2


async def test_malformed_frames_after_register_keep_session(host, settings):
    client = await RawClient.connect(settings.socket_path)
    await client.register("raw")
    for payload in (b"[1,2]", b"\xff\xfe", b"7", b'{"id":1,"result":{}}'):
        await client.send_frame(payload)
        reply = await client.recv()
        assert reply["id"] is None and reply["error"]["code"] in (-32600, -32700)
    await client.send({"jsonrpc": "2.0", "id": 5, "method": "logs/write", "params": {}})
    assert (await client.recv())["error"]["code"] == -32601  # unknown method from a plugin
    assert host.registry.get("raw") is not None
    await client.aclose()


async def test_oversized_frame_drops_only_that_plugin(host, settings, plugins):
    plugins.scripted("neighbour")
    await wait_registered(host, "neighbour")
    client = await RawClient.connect(settings.socket_path)
    await client.register("bad")
    await client.send_raw((settings.max_frame_bytes + 1).to_bytes(4, "big"))
    reply = await client.recv()
    assert reply["error"]["code"] == -32600 and str(settings.max_frame_bytes) in reply["error"]["message"]
    assert await client.recv() is None
    await wait_for(lambda: host.registry.get("bad") is None)
    ui = await host.dispatcher.render("neighbour", "visitor_panel", {"visitor_id": "v"})
    assert ui["template"] == "key_value"


async def test_missed_heartbeat_unregisters(settings, nursery, plugins):
    from tgo_host.host import Host

    settings.ping_interval = 0.3
    settings.ping_timeout = 0.5
    host = Host(settings)
    await nursery.start(host.serve)
    plugins.scripted("deaf", "--ignore-ping")
    plugins.scripted("alive")
    await wait_registered(host, "deaf", "alive")
    deaf = host.registry.get("deaf")
    await wait_for(lambda: host.registry.get("deaf") is None, timeout=5)
    assert "missed heartbeat" in deaf.end_reason
    await trio.sleep(1.0)
    assert host.registry.get("alive") is not None  # answered every ping
    host.request_stop()


async def test_plugin_ignoring_shutdown_is_disconnected_after_grace(settings, nursery, plugins):
    from tgo_host.host import Host

    settings.shutdown_grace = 1.0
    host = Host(settings)
    done = trio.Event()
    await nursery.start(lambda task_status: _serve_reporting(host, done, task_status))
    plugins.scripted("stubborn", "--ignore-shutdown", record=True)
    plugins.scripted("polite", record=True)
    await wait_registered(host, "stubborn", "polite")
    start = trio.current_time()
    host.request_stop()
    with trio.fail_after(settings.shutdown_grace + 3):
        await done.wait()
    assert trio.current_time() - start < settings.shutdown_grace + 2
    assert "shutdown" in plugins.recorded("stubborn") and "shutdown" in plugins.recorded("polite")
    assert not os.path.exists(settings.socket_path)


async def _serve_reporting(host, done, task_status):
    try:
        await host.serve(task_status=task_status)
    finally:
        done.set()


# -- socket file hygiene --------------------------------------------------------

async def test_socket_created_with_mode_0660_in_new_parent_dir(short_dir, settings, nursery):
    from tgo_host.host import Host

    settings.socket_path = os.path.join(short_dir, "new", "dir", "t.sock")
    host = Host(settings)
    await nursery.start(host.serve)
    mode = stat.S_IMODE(os.stat(settings.socket_path).st_mode)
    assert mode == 0o660
    host.request_stop()


async def test_stale_socket_is_replaced_and_live_one_refused(short_dir, settings, nursery):
    import socket as s

    from tgo_host.host import Host
    from tgo_host.plugins.listener import SocketPathError

    stale = s.socket(s.AF_UNIX, s.SOCK_STREAM)
    stale.bind(settings.socket_path)
    stale.close()  # file left behind, nobody listening
    host = Host(settings)
    await nursery.start(host.serve)
    with pytest.raises(SocketPathError, match="already listening"):
        await Host(settings).serve()
    assert os.path.exists(settings.socket_path)  # not stolen
    host.request_stop()


def test_non_socket_and_too_long_paths_refused(short_dir):
    from tgo_host.plugins.listener import SocketPathError, bind_unix_listener

    regular = os.path.join(short_dir, "file")
    open(regular, "w").close()
    with pytest.raises(SocketPathError, match="not a socket"):
        bind_unix_listener(regular)
    with pytest.raises(SocketPathError, match="107"):
        bind_unix_listener(os.path.join(short_dir, "x" * 120 + ".sock"))
