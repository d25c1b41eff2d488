"""Registration promises checked by behaviour, not by a field: generated ids, refused duplicates."""

from __future__ import annotations

import re

from support.rawclient import RawClient
from support.waiting import wait_registered


async def test_generated_id_is_plugin_and_eight_hex_digits(host, settings):
    ids = []
    clients = []
    for _ in range(3):
        client = await RawClient.connect(settings.socket_path)
        await client.send({"jsonrpc": "2.0", "id": 1, "method": "register", "params": {"name": "anon", "version": "1"}})
        reply = await client.recv()
        ids.append(reply["result"]["plugin_id"])
        clients.append(client)
    for plugin_id in ids:
        assert re.fullmatch(r"plugin_[0-9a-f]{8}", plugin_id), plugin_id
        assert host.registry.get(plugin_id) is not None
    assert len(set(ids)) == 3
    for client in clients:
        await client.aclose()


async def test_first_session_keeps_rendering_after_a_refused_duplicate(host, plugins):
    plugins.scripted("dup", record=True)  # the first: a real plugin process
    await wait_registered(host, "dup")
    first = host.registry.get("dup")
    before = await host.dispatcher.render("dup", "visitor_panel", {"visitor_id": "before"})
    assert {"label": "Visitor", "value": "before"} in before["data"]["items"]

    impostor = await RawClient.connect(host.settings.socket_path)
    reply = await impostor.register("dup")
    assert reply["error"]["code"] == -32000 and "already registered" in reply["error"]["message"]
    assert await impostor.recv() is None

    # the first connection still serves renders and events, end to end, as the same session
    after = await host.dispatcher.render("dup", "visitor_panel", {"visitor_id": "after"})
    assert {"label": "Visitor", "value": "after"} in after["data"]["items"]
    action = await host.dispatcher.event("dup", "visitor_panel", {"event_type": "button_click", "action_id": "x"})
    assert action["action"] == "show_toast"
    assert host.registry.get("dup") is first and len(host.registry) == 1
    assert plugins.recorded("dup").count("visitor_panel/render") == 2
    assert "eof" not in plugins.recorded("dup")
