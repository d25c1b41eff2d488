"""The HTTP API over real HTTP (httpx → api/http1.py) with real plugin subprocesses."""

from __future__ import annotations

import httpx
import pytest
import trio

from support.waiting import wait_for, wait_registered
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.plugins.auth import GLOBAL, Grant


def bind_projects(session, params):
    """Test registration hook: ids starting with 'projA.' are bound to project A."""
    if params.id and params.id.startswith("projA."):
        return Grant(project_id="A")
    return GLOBAL


@pytest.fixture
async def api(settings, nursery):
    settings.http_addr = "127.0.0.1:0"
    host = Host(settings, services=[http_service], check_registration=bind_projects)
    await nursery.start(host.serve)
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=20) as client:
        client.host = host
        yield client
    host.request_stop()


def assert_error(response, status, type_):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["type"] == type_
    assert body["detail"] == body["error"]["message"] and body["detail"]
    return body["error"]


async def test_list_and_get_plugins(api, plugins):
    plugins.scripted("crm", "--toolbar", "--extras")
    await wait_registered(api.host, "crm")
    body = (await api.get("/plugins")).json()
    assert body["total"] == 1
    info = body["plugins"][0]
    assert set(info) >= {"id", "name", "version", "description", "author", "capabilities", "connected_at", "status", "is_dev_mode"}
    assert info["id"] == "crm" and info["status"] == "connected" and info["is_dev_mode"] is False
    assert [c["type"] for c in info["capabilities"]] == [
        "visitor_panel", "chat_toolbar", "sidebar_iframe", "channel_integration", "mcp_tools"]
    assert (await api.get("/plugins/crm")).json() == info
    assert_error(await api.get("/plugins/nope"), 404, "plugin_not_found")


async def test_toolbar_buttons_render_event(api, plugins):
    plugins.scripted("tb", "--toolbar")
    plugins.scripted("panel-only")
    await wait_registered(api.host, "tb", "panel-only")
    buttons = (await api.get("/plugins/chat-toolbar/buttons")).json()
    assert buttons == {"buttons": [{"plugin_id": "tb", "title": "Tool", "icon": "zap", "tooltip": "Do it", "shortcut": "Ctrl+K"}]}
    ui = (await api.post("/plugins/chat-toolbar/tb/render", json={"visitor_id": "v1", "action_id": "open"})).json()
    assert ui["template"] == "key_value"
    action = (await api.post("/plugins/chat-toolbar/tb/event", json={"event_type": "button_click", "action_id": "x"})).json()
    assert action["action"] == "show_toast" and action["data"]["message"] == "clicked x"
    assert_error(await api.post("/plugins/chat-toolbar/panel-only/render", json={}), 404, "capability_not_found")


async def test_generic_render_event_infers_or_takes_extension_type(api, plugins):
    plugins.scripted("both", "--toolbar", record=True)
    plugins.scripted("panel-only", record=True)
    await wait_registered(api.host, "both", "panel-only")
    # without extension_type: chat_toolbar when the plugin declares one (upstream's rule) ...
    assert (await api.post("/plugins/both/render", json={"visitor_id": "v"})).status_code == 200
    assert (await api.post("/plugins/both/event", json={"event_type": "button_click", "action_id": "a"})).status_code == 200
    # ... explicitly either one
    assert (await api.post("/plugins/both/render?extension_type=visitor_panel", json={})).status_code == 200
    ok = await api.post("/plugins/both/event", json={"event_type": "button_click", "action_id": "a", "extension_type": "visitor_panel"})
    assert ok.status_code == 200
    assert (await api.post("/plugins/both/render", json={"extension_type": "visitor_panel"})).status_code == 200
    assert plugins.recorded("both")[1:] == [
        "chat_toolbar/render", "chat_toolbar/event", "visitor_panel/render", "visitor_panel/event", "visitor_panel/render"]
    err = assert_error(await api.post("/plugins/both/render", json={"extension_type": 5}), 422, "invalid_request")
    assert err["path"] == "extension_type"
    # ... and visitor_panel for a plugin without a toolbar
    assert (await api.post("/plugins/panel-only/render", json={"visitor_id": "v"})).status_code == 200
    assert (await api.post("/plugins/panel-only/event", json={"event_type": "button_click", "action_id": "a"})).status_code == 200
    assert plugins.recorded("panel-only")[1:] == ["visitor_panel/render", "visitor_panel/event"]
    err = assert_error(await api.post("/plugins/panel-only/render?extension_type=chat_toolbar", json={}),
                       404, "capability_not_found")
    assert err["plugin_id"] == "panel-only"
    err = assert_error(await api.post("/plugins/both/event", json={"event_type": "x", "action_id": "a", "extension_type": "footer"}),
                       422, "invalid_request")
    assert err["path"] == "extension_type"


async def test_fan_out_shape_order_and_errors_within_deadline(api, plugins, settings):
    plugins.scripted("p3", "--priority", "3")
    plugins.scripted("p1", "--priority", "1")
    plugins.scripted("hang", "--priority", "2", "--mode", "hang")
    plugins.scripted("broken", "--priority", "0", "--mode", "invalid")
    await wait_registered(api.host, "p3", "p1", "hang", "broken")
    start = trio.current_time()
    response = await api.post("/plugins/visitor-panel/render", json={"visitor_id": "v-9", "language": "en"})
    elapsed = trio.current_time() - start
    assert response.status_code == 200
    assert elapsed < settings.render_timeout + 1.0
    body = response.json()
    assert [p["plugin_id"] for p in body["panels"]] == ["p1", "p3"]
    panel = body["panels"][0]
    assert set(panel) == {"plugin_id", "title", "icon", "priority", "ui", "warnings"}
    assert panel["warnings"] == []
    assert panel["ui"]["template"] == "key_value" and "v-9" in str(panel["ui"])
    errors = {e["plugin_id"]: e for e in body["errors"]}
    assert errors["hang"]["error"] == "timeout" and errors["broken"]["error"] == "invalid_result"


async def test_status_codes_for_plugin_failures(api, plugins):
    plugins.scripted("slow", "--mode", "hang")
    plugins.scripted("err", "--mode", "error")
    plugins.scripted("gosdk", "--mode", "invalid")
    plugins.scripted("js", "--event-mode", "js")
    await wait_registered(api.host, "slow", "err", "gosdk", "js")
    err = assert_error(await api.post("/plugins/slow/render", json={}), 504, "plugin_timeout")
    assert err["plugin_id"] == "slow"
    err = assert_error(await api.post("/plugins/err/render", json={}), 502, "plugin_error")
    assert err["rpc_error"] == {"code": -32000, "message": "CRM unavailable", "data": {"retry": True}}
    err = assert_error(await api.post("/plugins/gosdk/render", json={}), 502, "invalid_plugin_result")
    assert err["validation"].startswith("template: required")
    err = assert_error(await api.post("/plugins/js/event", json={"event_type": "button_click", "action_id": "a"}),
                       502, "invalid_plugin_result")
    assert "data.actions[1].data.url" in err["validation"] and "javascript" in err["validation"]


async def test_invalid_bodies_are_422_with_path(api, plugins):
    plugins.scripted("crm", "--extras")
    await wait_registered(api.host, "crm")
    err = assert_error(await api.post("/plugins/visitor-panel/render", json={"visitor_id": 5}), 422, "invalid_request")
    assert err["path"] == "visitor_id" and "visitor_id" in err["message"]
    err = assert_error(await api.post("/plugins/visitor-panel/render", json={}), 422, "invalid_request")
    assert err["path"] == "visitor_id"
    err = assert_error(await api.post("/plugins/crm/event", json={"event_type": "click"}), 422, "invalid_request")
    assert err["path"] == "action_id"
    err = assert_error(await api.post("/plugins/crm/render", json={"visitor": {"name": ["x"]}}), 422, "invalid_request")
    assert err["path"] == "visitor.name"
    as_json = {"content-type": "application/json"}
    assert_error(await api.post("/plugins/crm/render", content=b"{oops", headers=as_json), 422, "invalid_request")
    assert_error(await api.post("/plugins/crm/render", content=b"[1]", headers=as_json), 422, "invalid_request")
    big = b'{"visitor_id": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert_error(await api.post("/plugins/crm/render", content=big, headers=as_json), 413, "body_too_large")
    # a body that does not say it is JSON never reaches the route (api/guard.py)
    assert_error(await api.post("/plugins/crm/render", content=b"{}"), 415, "unsupported_media_type")


async def test_tools_iframe_channel_routes(api, plugins):
    plugins.scripted("crm", "--extras")
    await wait_registered(api.host, "crm")
    result = (await api.post("/plugins/tools/execute/crm/lookup_order",
                             json={"arguments": {"order_id": "A-1"}, "context": {"visitor_id": "v1"}})).json()
    assert result == {"success": True, "content": "order A-1", "data": {"tool": "lookup_order", "visitor_id": "v1"}}
    err = assert_error(await api.post("/plugins/tools/execute/crm/drop_tables", json={}), 404, "tool_not_found")
    assert "lookup_order" in err["message"]
    iframe = (await api.get("/plugins/crm/iframe")).json()
    assert iframe["url"] == "http://127.0.0.1:9/crm" and iframe["width"] == 400
    manifest = (await api.get("/plugins/crm/channel/manifest")).json()
    assert manifest["channel_type"] == "custom_im" and manifest["config_schema"]["type"] == "object"
    sent = (await api.post("/plugins/crm/channel/send",
                           json={"channel_id": "c1", "to": {"id": "u7"}, "message": {"type": "text", "content": "hi"}})).json()
    assert sent == {"success": True, "message_id": "m-u7"}
    assert_error(await api.post("/plugins/crm/channel/send", json={"channel_id": "c1"}), 422, "invalid_request")


async def test_project_scoping(api, plugins):
    plugins.scripted("projA.crm", "--toolbar")
    plugins.scripted("global", "--toolbar")
    await wait_registered(api.host, "projA.crm", "global")
    ids = lambda r: [p["id"] for p in r.json()["plugins"]]
    assert ids(await api.get("/plugins?project_id=A")) == ["global", "projA.crm"]
    assert ids(await api.get("/plugins?project_id=B")) == ["global"]
    assert ids(await api.get("/plugins")) == ["global", "projA.crm"]  # unscoped callers (the gateway's tool calls) see all
    assert (await api.get("/plugins/projA.crm")).json()["project_id"] == "A"
    panels = (await api.post("/plugins/visitor-panel/render", json={"visitor_id": "v"})).json()["panels"]
    assert sorted(p["plugin_id"] for p in panels) == ["global", "projA.crm"]
    assert (await api.get("/plugins/projA.crm?project_id=A")).json()["project_id"] == "A"
    assert_error(await api.get("/plugins/projA.crm?project_id=B"), 404, "plugin_not_found")
    assert_error(await api.post("/plugins/projA.crm/render?project_id=B", json={}), 404, "plugin_not_found")
    assert_error(await api.post("/plugins/chat-toolbar/projA.crm/event?project_id=B",
                                json={"event_type": "button_click", "action_id": "a"}), 404, "plugin_not_found")
    buttons = (await api.get("/plugins/chat-toolbar/buttons?project_id=B")).json()["buttons"]
    assert [b["plugin_id"] for b in buttons] == ["global"]
    panels = (await api.post("/plugins/visitor-panel/render?project_id=B", json={"visitor_id": "v"})).json()["panels"]
    assert [p["plugin_id"] for p in panels] == ["global"]
    panels = (await api.post("/plugins/visitor-panel/render?project_id=A", json={"visitor_id": "v"})).json()["panels"]
    assert sorted(p["plugin_id"] for p in panels) == ["global", "projA.crm"]


async def test_operations_endpoints(api, plugins):
    plugins.scripted("m")
    await wait_registered(api.host, "m")
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    assert (await api.get("/readyz")).json() == {"status": "ready", "plugins": 1}
    await api.post("/plugins/m/render", json={})
    text = (await api.get("/metrics")).text
    assert "tgo_plugins_connected 1.0" in text
    assert 'tgo_plugin_requests_total{method="visitor_panel/render",outcome="ok"} 1.0' in text
    assert "tgo_plugin_request_seconds_bucket" in text and "tgo_protocol_violations_total" in text
    assert (await api.get("/openapi.json")).json()["openapi"].startswith("3.")
    docs = await api.get("/docs")
    assert docs.status_code == 200 and "/plugins/visitor-panel/render" in docs.text
    assert_error(await api.get("/no/such/route"), 404, "not_found")


async def test_shutdown_lets_in_flight_http_request_finish(settings, nursery, plugins):
    settings.http_addr = "127.0.0.1:0"
    host = Host(settings, services=[http_service])
    finished = trio.Event()

    async def serve(task_status):
        try:
            await host.serve(task_status=task_status)
        finally:
            finished.set()

    await nursery.start(serve)
    plugins.scripted("slowish", "--mode", "slow", "--delay", "1.0", record=True)
    await wait_registered(host, "slowish")
    responses = []
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=20) as client:
        async def call():
            responses.append(await client.post("/plugins/slowish/render", json={"visitor_id": "v"}))

        async with trio.open_nursery() as n:
            n.start_soon(call)
            await wait_for(lambda: "visitor_panel/render" in plugins.recorded("slowish"))
            host.request_stop()
            await trio.sleep(0.1)
            with pytest.raises(httpx.ConnectError):  # no longer accepting connections
                await client.get("/plugins")
    assert responses[0].status_code == 200 and responses[0].json()["template"] == "key_value"
    with trio.fail_after(10):
        await finished.wait()
    log = plugins.recorded("slowish")
    assert log.index("visitor_panel/render") < log.index("shutdown")  # plugin cascade after HTTP drained


async def test_api_refuses_new_requests_with_503_while_stopping(settings):
    """Requests that reach the app after shutdown began (e.g. on a kept-alive connection) get 503."""
    from tgo_host.api.app import build_app

    host = Host(settings)
    host.stopping.set()
    transport = httpx.ASGITransport(app=build_app(host))
    async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
        err = assert_error(await client.get("/plugins"), 503, "shutting_down")
        assert "shutting down" in err["message"]
        assert (await client.get("/healthz")).status_code == 200
        assert_error(await client.get("/readyz"), 503, "not_ready")
