"""The web console (/console): served assets, the live event stream, and end-to-end in headless Chromium.

The browser tests drive Debian's ``chromium`` through Playwright's Python
package against a real host (HTTP on 127.0.0.1:0, run in a thread with its
own trio loop) and the real example plugins as subprocesses. Without
``/usr/bin/chromium`` or the ``playwright`` package they skip, unless ``CI``
is set, in which case they fail. The browser may only reach 127.0.0.1: every
other request is aborted.

Test-only plugins are bound to projects so the workspace screenshot
(``make screenshot`` → docs/console.png, taken as project ``demo``) shows the example plugins only: ``test.xss*`` → project
``xss``, ``test.victim*`` → project ``victim``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
import trio

from support.console import (  # noqa: F401  (browser, stack and page are fixtures)
    TIMEOUT, HostThread, browser, expect_toast, open_workspace, page, panel, scope_test_plugins, stack, toast_texts, wait_js,
)
from support.paths import EXAMPLES, PLUGINS, ROOT, short_tempdir
from support.waiting import wait_registered
from tgo_host.api.console import ClientQueue
from tgo_host.api.server import http_service
from tgo_host.plugins.auth import mint_dev_token
from tgo_host.host import Host
from tgo_host.settings import Settings

# The workspace screenshot goes to a build directory; `make screenshot` sets
# TGO_SCREENSHOT=docs/console.png to refresh the README image (tests never touch the tree).
SCREENSHOT = Path(os.environ.get("TGO_SCREENSHOT") or ROOT / "build" / "console.png")


# ---------------------------------------------------------------- no browser needed


@pytest.fixture
async def console_api(settings, nursery):
    settings.http_addr = "127.0.0.1:0"
    host = Host(settings, services=[http_service])
    await nursery.start(host.serve)
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=10) as client:
        client.host = host
        yield client
    host.request_stop()


async def test_pages_and_assets_are_served_with_a_strict_csp(console_api):
    for path in ("/console", "/console/gallery", "/console/plugins"):
        response = await console_api.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "object-src 'none'" in csp and "unsafe-eval" not in csp
        assert "script-src 'self' 'unsafe-inline'" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "<script src=\"/console/static/render.js\"></script>" in response.text
    js = await console_api.get("/console/static/render.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    again = await console_api.get("/console/static/render.js", headers={"If-None-Match": js.headers["etag"]})
    assert again.status_code == 304
    assert (await console_api.get("/console/static/vendor/licenses/dompurify.LICENSE")).status_code == 200
    for bad in ("/console/static/../console.py", "/console/static/%2e%2e/console.py",
                "/console/static/vendor/lucide_subset.py", "/console/static/nope.js"):
        response = await console_api.get(bad)
        assert response.status_code == 404, bad
        assert response.json()["error"]["type"] in ("not_found",)
    assert (await console_api.get("/console/", follow_redirects=False)).headers["location"] == "/console"


async def _read_events(lines, n: int, timeout: float = 10.0) -> list[tuple[str, dict]]:
    """The next ``n`` (event, data) pairs of an SSE line iterator."""
    import json

    out: list[tuple[str, dict]] = []
    name = None
    with trio.fail_after(timeout):
        async for line in lines:
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:") and name:
                out.append((name, json.loads(line[5:])))
                name = None
                if len(out) == n:
                    return out
    raise AssertionError(f"stream ended after {out}")


async def test_event_stream_reports_connects_and_disconnects_and_ends_on_shutdown(console_api, plugins):
    host = console_api.host
    plugins.scripted("early")
    await wait_registered(host, "early")
    async with console_api.stream("GET", "/console/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        [(name, snapshot)] = await _read_events(lines, 1)
        assert name == "snapshot" and [p["id"] for p in snapshot["plugins"]] == ["early"]
        assert snapshot["supervisor"] is False

        late = plugins.scripted("late", "--toolbar")
        [(name, data)] = await _read_events(lines, 1)
        assert (name, data["event"], data["plugin"]["id"], data["plugin"]["status"]) == ("plugin", "connected", "late", "connected")
        assert [c["type"] for c in data["plugin"]["capabilities"]] == ["visitor_panel", "chat_toolbar"]

        late.kill()
        [(name, data)] = await _read_events(lines, 1)
        assert (data["event"], data["plugin"]["id"], data["plugin"]["status"]) == ("disconnected", "late", "disconnected")
        assert data["plugin"]["disconnected_at"]

        start = trio.current_time()
        host.request_stop()
        with trio.fail_after(5):
            async for _ in lines:
                pass
        assert trio.current_time() - start < 5  # the open stream does not hold shutdown up


async def test_event_stream_respects_project_scope(settings, nursery, plugins):
    settings.http_addr = "127.0.0.1:0"
    host = Host(settings, services=[http_service], check_registration=scope_test_plugins)
    await nursery.start(host.serve)
    async with httpx.AsyncClient(base_url=host.http_binds[0], timeout=10) as client:
        async with client.stream("GET", "/console/events?project_id=other") as unscoped, \
                client.stream("GET", "/console/events?project_id=victim") as scoped:
            a, b = unscoped.aiter_lines(), scoped.aiter_lines()
            await _read_events(a, 1)
            await _read_events(b, 1)
            plugins.scripted("test.victim-1")
            plugins.scripted("global-1")
            [(_, seen_by_scoped_1), (_, seen_by_scoped_2)] = await _read_events(b, 2)
            assert {seen_by_scoped_1["plugin"]["id"], seen_by_scoped_2["plugin"]["id"]} == {"test.victim-1", "global-1"}
            [(_, seen)] = await _read_events(a, 1)
            assert seen["plugin"]["id"] == "global-1"  # the project's plugin is invisible to another project
            host.request_stop()


async def test_a_client_leaving_unsubscribes_its_stream(console_api, plugins, caplog):
    host = console_api.host
    listeners = len(host.registry._listeners)
    async with console_api.stream("GET", "/console/events") as response:
        await _read_events(response.aiter_lines(), 1)
        assert len(host.registry._listeners) == listeners + 1
    plugins.scripted("after-leaving")  # an event for nobody
    await wait_registered(host, "after-leaving")
    with trio.fail_after(5):
        while len(host.registry._listeners) != listeners:
            await trio.sleep(0.02)
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


async def test_client_queue_is_bounded_and_drops_the_oldest():
    queue = ClientQueue(4)
    for i in range(10):
        queue.push(str(i).encode())
    assert queue.dropped == 6
    assert [queue.get_nowait() for _ in range(4)] == [b"6", b"7", b"8", b"9"]
    with pytest.raises(trio.WouldBlock):
        queue.get_nowait()


# ---------------------------------------------------------------- workspace with the example plugins


def test_workspace_shows_the_example_plugins_and_takes_the_readme_screenshot(page, stack):
    p = page
    open_workspace(p)
    order = p.locator("#visitor-panels > section.panel").evaluate_all("els => els.map(e => e.dataset.plugin)")
    expected = ["com.example.crm-panel", "com.example.order-dashboard", "com.example.ticket-form"]
    if "hello_node" in stack.procs:
        expected.append("com.example.hello-node")
    expected.append("com.example.raw-panel")
    assert order == expected  # priority order 5, 10, 20, 50, 90; test plugins of other projects invisible
    crm = panel(p, "com.example.crm-panel")
    assert crm.locator(".panel-title").text_content() == "Customer"
    assert crm.locator('.panel-icon svg[data-icon="user"]').count() == 1
    assert crm.locator('[data-template="key_value"] dd').first.text_content() == "Alice Chen"
    assert crm.locator(".badge", has_text="refunded").get_attribute("class") == "badge badge-red"
    dashboard = panel(p, "com.example.order-dashboard")
    assert dashboard.locator(".tab.active").text_content() == "Overview"
    dashboard.locator('.tab[data-tab="notes"]').click()
    assert dashboard.locator(".markdown-body strong").first.text_content() == "VIP since 2021."
    dashboard.locator('.tab[data-tab="overview"]').click()
    toolbar = p.locator("#chat-toolbar .tool-btn").all_text_contents()
    assert toolbar == ["Quick replies", "New ticket"]
    assert p.locator('#app-bar .app-btn[data-plugin="com.example.crm-iframe"]').count() == 1

    # the screenshot for the README: panels, toolbar, and the CRM iframe app open
    p.locator('#app-bar .app-btn[data-plugin="com.example.crm-iframe"]').click()
    p.frame_locator("iframe.app-frame").locator("#v-name").filter(has_text="Alice Chen").wait_for()
    p.set_viewport_size({"width": 1600, "height": 960})
    p.wait_for_timeout(300)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 20_000


def test_crm_panel_buttons_run_their_actions(page):
    p = page
    open_workspace(p)
    crm = panel(p, "com.example.crm-panel")
    crm.locator("button", has_text="Mark as VIP").click()
    dialog = p.locator(".modal-confirm")
    assert dialog.locator(".confirm-message").text_content() == "Mark this customer as VIP?"
    dialog.locator('[data-confirm="cancel"]').click()
    assert p.locator(".modal-confirm").count() == 0 and not toast_texts(p)  # cancelled: no event sent
    crm.locator("button", has_text="Mark as VIP").click()
    p.locator('.modal-confirm [data-confirm="ok"]').click()
    expect_toast(p, "Customer marked as VIP", "success")

    crm.locator("button", has_text="Copy email").click()
    expect_toast(p, "Email copied", "success")
    assert p.evaluate("navigator.clipboard.readText()") == "alice@example.com"

    with p.context.expect_page() as popup:
        crm.locator("button", has_text="Open in CRM").click()
    popup.value.close()
    assert p.evaluate("window.__opened") == ["https://crm.example.com/customers/v-1001"]


def test_quick_reply_inserts_text_into_the_input_box(page):
    p = page
    open_workspace(p)
    p.locator("#composer-input").fill("Sure.")
    p.locator('#chat-toolbar .tool-btn[data-plugin="com.example.quick-reply"]').click()
    modal = p.locator('.modal[data-plugin="com.example.quick-reply"]')
    modal.locator(".list-item").first.wait_for()
    assert modal.locator(".list-item").count() == 5
    modal.locator(".list-search").fill("refund")
    assert modal.locator(".list-item:visible").count() == 1
    modal.locator(".list-item:visible").click()
    wait_js(p, "document.getElementById('composer-input').value.includes('Refunds are processed')")
    assert p.locator("#composer-input").input_value() == (
        "Sure. Refunds are processed within 5-7 business days after we receive the item.")
    modal.wait_for(state="detached")  # the pick is done: the dialog closes by itself
    # the event carried the documented fields
    assert "item_select select selected_id=refund" in p.locator("#activity").text_content()


def test_each_conversation_keeps_its_own_reply_draft(page):
    p = page
    open_workspace(p)
    composer = p.locator("#composer-input")
    composer.fill("Your refund for ORD-1031 is on its way")
    p.locator('[data-visitor="v-1002"]').click()
    assert composer.input_value() == ""  # the draft for Alice does not follow the agent to Bruno
    composer.fill("Hi Bruno")
    p.locator('[data-visitor="v-1001"]').click()
    assert composer.input_value() == "Your refund for ORD-1031 is on its way"
    composer.press("Enter")  # sent: Alice's draft is gone, Bruno's stays
    assert composer.input_value() == ""
    p.locator('[data-visitor="v-1002"]').click()
    assert composer.input_value() == "Hi Bruno"
    p.locator('[data-visitor="v-1001"]').click()
    assert composer.input_value() == ""


def test_ticket_form_validates_creates_and_shows_the_ticket_after_refresh(page):
    p = page
    open_workspace(p)
    p.locator('[data-visitor="v-1002"]').click()
    tickets = panel(p, "com.example.ticket-form")
    tickets.locator(".empty-title", has_text="No tickets yet").wait_for()

    p.locator('#chat-toolbar .tool-btn[data-plugin="com.example.ticket-form"]').click()
    modal = p.locator('.modal[data-plugin="com.example.ticket-form"]')
    modal.locator("form.tpl-form").wait_for()
    # the toolbar render got the conversation context: the description defaults to the last visitor message
    assert "change the shipping address" in modal.locator('[data-field="description"] textarea').input_value()
    assert modal.locator('[data-field="priority"] select').input_value() == "normal"

    modal.locator('button[type="submit"]').click()  # no title: the required check stops it in the browser
    expect_toast(p, "Title is required", "error")
    assert modal.locator('[data-field="title"] .field-error').text_content() == "Title is required"
    assert "form_submit" not in p.locator("#activity").text_content()

    modal.locator('[data-field="title"] input').fill("   ")  # not empty, so it reaches the plugin, which refuses it
    p.locator(".toast-close").first.click()
    modal.locator('button[type="submit"]').click()
    wait_js(p, "document.getElementById('activity').textContent.includes('form_submit create_ticket')")
    expect_toast(p, "Title is required", "error")
    assert modal.is_visible()

    modal.locator('[data-field="title"] input').fill("Parcel lost")
    modal.locator('[data-field="priority"] select').select_option("high")
    modal.locator('[data-field="category"] label', has_text="Technical").click()
    modal.locator('[data-field="notify"] input[type="checkbox"]').check()
    modal.locator('button[type="submit"]').click()
    expect_toast(p, "Ticket #1 created", "success")
    p.locator('.modal[data-plugin="com.example.ticket-form"]').wait_for(state="detached")
    activity = p.locator("#activity").text_content()
    assert '"title":"Parcel lost","priority":"high","category":"technical","notify":true' in activity

    # the plugin's refresh re-renders its Tickets panel: no manual refresh needed
    tickets.locator(".list-title", has_text="#1 Parcel lost").wait_for()
    assert "High priority · Technical" in tickets.locator(".list-description").first.text_content()


def test_iframe_app_gets_context_updates_and_its_messages_run(page):
    p = page
    open_workspace(p)
    p.locator('#app-bar .app-btn[data-plugin="com.example.crm-iframe"]').click()
    frame_el = p.locator("iframe.app-frame")
    frame_el.wait_for()
    assert frame_el.get_attribute("sandbox") == "allow-scripts allow-forms"  # as the plugin asked, nothing more
    frame = p.frame_locator("iframe.app-frame")
    frame.locator("#v-name").filter(has_text="Alice Chen").wait_for()
    assert frame.locator("#v-session").text_content() == "s-5001"

    p.locator('[data-visitor="v-1003"]').click()
    frame.locator("#v-name").filter(has_text="Chloé Martin").wait_for()
    assert frame.locator("#v-id").text_content() == "v-1003"

    frame.locator("#greet").click()  # iframe -> host page: tgo_plugin_message insert_text
    wait_js(p, "document.getElementById('composer-input').value.startsWith('Hi Chloé Martin')")
    assert p.evaluate("TGO.workspace.sandboxFor('allow-scripts allow-same-origin allow-popups allow-top-navigation', 'http://127.0.0.1:9/x')") == [
        "allow-scripts", "allow-same-origin"]
    assert p.evaluate(f"TGO.workspace.sandboxFor(undefined, {p.base!r} + '/console')") == ["allow-scripts", "allow-forms"]


# ---------------------------------------------------------------- live updates


def test_iframe_app_fits_a_1280x800_screen(page):
    """With the CRM app open on a laptop screen nothing is cut off: chat header, panels, the iframe's page, the app bar."""
    p = page
    p.set_viewport_size({"width": 1280, "height": 800})
    open_workspace(p)
    p.locator('#app-bar .app-btn[data-plugin="com.example.crm-iframe"]').click()
    p.frame_locator("iframe.app-frame").locator("#v-email").filter(has_text="alice@example.com").wait_for()
    panel(p, "com.example.order-dashboard").locator(".stat-value").first.wait_for()
    layout = p.evaluate("""() => {
        const right = (s) => document.querySelector(s).getBoundingClientRect().right;
        const meta = document.querySelector('.chat-meta');
        const clipped = (e) => e.scrollWidth > e.clientWidth + 1;
        return { page: document.documentElement.scrollWidth, pane: right('#app-pane'), bar: right('#app-bar'),
                 meta: meta.textContent, metaClipped: clipped(meta) || clipped(meta.parentElement),
                 metaRight: meta.getBoundingClientRect().right, header: right('.chat-header'),
                 statsClipped: [...document.querySelectorAll('.stat')].filter(clipped).map((e) => e.textContent) };
    }""")
    assert layout["page"] <= 1280 and layout["pane"] <= 1280 and layout["bar"] <= 1280, layout
    assert "alice@example.com" in layout["meta"] and "session s-" in layout["meta"]
    assert not layout["metaClipped"] and layout["metaRight"] <= layout["header"], layout
    assert layout["statsClipped"] == [], layout
    frame = p.locator("iframe.app-frame").element_handle().content_frame()
    inner = frame.evaluate("""() => ({ width: innerWidth, page: document.documentElement.scrollWidth,
        email: document.getElementById('v-email').getBoundingClientRect().right,
        font: getComputedStyle(document.body).fontFamily })""")
    assert inner["page"] <= inner["width"] and inner["email"] <= inner["width"], inner
    assert "serif" not in inner["font"].replace("sans-serif", ""), inner  # the example page is styled


def test_killed_plugin_shows_as_disconnected_without_reload(page, stack):
    p = page
    plugins_page = p.context.new_page()
    plugins_page.goto(p.base + "/console/plugins?project_id=victim")
    plugins_page.wait_for_selector('#live-state[data-state="live"]')
    card = plugins_page.locator('.plugin-card[data-plugin="test.victim"]')
    assert card.locator('[data-role="conn-status"]').text_content() == "connected"
    assert "chat_toolbar" in card.locator(".caps").text_content()

    open_workspace(p, "victim")
    victim = panel(p, "test.victim")
    assert victim.locator("dd").first.text_content() == "v-1001"
    broken = panel(p, "test.victim-broken")  # an invalid template is an inline error, the others still render
    assert broken.get_attribute("data-state") == "error"
    assert "Invalid template" in broken.locator(".panel-error").text_content()
    assert p.locator('#chat-toolbar .tool-btn[data-plugin="test.victim"]').count() == 1

    stack.procs["victim"].kill()
    stack.procs["victim"].wait(timeout=5)
    plugins_page.locator('.plugin-card[data-plugin="test.victim"][data-conn="disconnected"]').wait_for()
    assert card.locator('[data-role="conn-status"]').text_content() == "disconnected"
    p.locator('section.panel[data-plugin="test.victim"][data-state="disconnected"]').wait_for()
    assert victim.locator(".panel-state").text_content() == "disconnected"
    p.locator('#chat-toolbar .tool-btn[data-plugin="test.victim"]').wait_for(state="detached")
    plugins_page.close()


# ---------------------------------------------------------------- safety


def test_injected_markup_never_runs_and_javascript_urls_are_not_opened(page):
    p = page
    open_workspace(p, "xss")
    xss = panel(p, "test.xss")
    xss.locator('[data-template="markdown"]').wait_for()
    p.wait_for_timeout(300)
    assert p.evaluate("window.__xss") is None
    # the markup is shown as text, not parsed
    assert xss.locator(".panel-title").text_content() == 'XSS <img src=x onerror="window.__xss=1">'
    assert xss.locator('[data-template="text"] .text-body').first.text_content() == '<img src=x onerror="window.__xss=1">'
    assert p.evaluate("[...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => /^on/i.test(a.name))).length") == 0
    assert xss.locator("img, script, iframe, svg:not(.icon), object, embed").count() == 0
    hrefs = xss.locator("a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
    assert hrefs and all(h == "https://example.com/safe" for h in hrefs), hrefs
    assert "raw html link" not in xss.locator(".markdown-body a").all_text_contents()
    assert '<script>window.__xss=3</script>' in xss.locator('[data-template="markdown"]').text_content()
    assert p.evaluate("window.__csp") == []  # nothing was even attempted and blocked by the CSP

    # the plugin answers open_url javascript:...; the host refuses it (502) and the console says so
    xss.locator("button", has_text="Open").click()
    expect_toast(p, "scheme 'javascript' is not allowed", "error")
    p.locator('#chat-toolbar .tool-btn[data-plugin="test.xss"]').click()
    modal = p.locator('.modal[data-plugin="test.xss"]')
    modal.locator('[data-template="markdown"]').wait_for()
    assert modal.locator(".modal-title").text_content() == 'XSS <img src=x onerror="window.__xss=1">'
    modal.locator(".list-item").click()
    wait_js(p, "document.querySelectorAll('.toast[data-type=\"error\"]').length >= 2")

    # and the console's own guard, for actions that do not come through the host's validation
    p.evaluate("TGO.runAction({action: 'open_url', data: {url: ' JaVa\\tScRiPt:window.__xss=12'}})")
    p.evaluate("TGO.runAction({action: 'batch', data: {actions: [{action: 'open_url', data: {url: 'data:text/html,<script>1</script>'}}]}})")
    expect_toast(p, "Refused to open", "error")
    assert p.evaluate("window.__opened") == []
    assert p.evaluate("window.__xss") is None


# ---------------------------------------------------------------- the gallery


def test_gallery_renders_every_template_and_runs_every_action(page):
    from tgo_host.model.actions import ACTION_NAMES
    from tgo_host.model.ui import TEMPLATE_NAMES

    p = page
    p.goto(p.base + "/console/gallery")
    p.wait_for_selector('body[data-ready="1"]')
    shown = p.locator(".specimen[data-specimen]").evaluate_all("els => els.map(e => e.dataset.specimen)")
    assert sorted(shown) == sorted(TEMPLATE_NAMES)
    for name in TEMPLATE_NAMES:
        assert p.locator(f'.specimen[data-specimen="{name}"] [data-template="{name}"]').count() >= 1, name
    assert p.locator(".tpl-unknown").count() == 0
    assert sorted(p.evaluate("TGO.TEMPLATES")) == sorted(TEMPLATE_NAMES)
    assert sorted(p.evaluate("TGO.ACTIONS")) == sorted(ACTION_NAMES)
    events = p.locator("#event-log")

    def last_event():
        import json

        return json.loads(events.locator("li pre").first.text_content())

    # action buttons: confirm first, then button_click
    action = p.locator('.specimen[data-specimen="action"]')
    assert action.locator('button[data-action-id="busy"]').is_disabled()
    action.locator('button[data-action-id="mark_vip"]').click()
    p.locator('.modal-confirm [data-confirm="ok"]').click()
    assert last_event() == {"event_type": "button_click", "action_id": "mark_vip"}
    # table: badges, pagination, row click payload
    table = p.locator('.specimen[data-specimen="table"]')
    assert table.locator("tbody tr").count() == 4 and "1–4 of 7" in table.locator(".pager-info").text_content()
    table.locator('button[aria-label="Next page"]').click()
    assert table.locator("tbody tr").count() == 3
    table.locator("tbody tr").first.click()
    ev = last_event()
    assert ev["action_id"] == "open_order" and ev["payload"]["id"] == "ORD-1019"
    assert table.locator(".badge-gray", has_text="cancelled").count() == 1
    # cards: item click payload
    p.locator('.specimen[data-specimen="cards"] .cards-item[data-id="p-200"]').click()
    assert last_event() == {"event_type": "button_click", "action_id": "view_product", "payload": {
        "id": "p-200", "title": "Charger", "description": "65 W USB-C", "price": "$25.00",
        "image": p.evaluate("TGO.gallery.SAMPLES.find(s => s[0] === 'cards')[2].data.items[0].data.items[1].image")}}
    # list: search and item_select
    lst = p.locator('.specimen[data-specimen="list"]')
    lst.locator(".list-search").fill("zzz")
    assert lst.locator(".list-item:visible").count() == 0 and lst.locator(".list-empty").is_visible()
    lst.locator(".list-search").fill("order")
    assert lst.locator(".list-item:visible").count() == 1
    lst.locator(".list-item:visible").click()
    assert last_event() == {"event_type": "item_select", "action_id": "select", "selected_id": "order_status"}
    # nested tabs
    tabs = p.locator('.specimen[data-specimen="tabs"]')
    assert tabs.locator(".tab.active").first.text_content() == "History"
    tabs.locator('.tab[data-tab="nested"]').click()
    tabs.locator('.tab[data-tab="b"]').click()
    assert tabs.locator('.tab-panel[data-tab="b"] .empty-title').text_content() == "Inner tab B"
    # form: every field type, required checks, typed form_data
    form = p.locator('.specimen[data-specimen="form"] form')
    form.locator('button[type="submit"]').click()
    errors = form.locator(".field.invalid").evaluate_all("els => els.map(e => e.dataset.field)")
    assert errors == ["title", "agree"]
    form.locator('[data-field="title"] input').fill("Refund")
    form.locator('[data-field="quantity"] input').fill("3")
    form.locator('[data-field="agree"] input').check()
    form.locator('[data-field="channels"] label', has_text="SMS").click()
    form.locator('[data-field="due"] input').fill("2024-06-01")
    form.locator('[data-field="urgent"] .switch').click()
    form.locator('button[type="submit"]').click()
    ev = last_event()
    assert ev["event_type"] == "form_submit" and ev["action_id"] == "create_ticket"
    assert ev["form_data"] == {
        "title": "Refund", "details": "", "quantity": 3, "priority": "normal", "category": "other",
        "channels": ["email", "sms"], "agree": True, "due": "2024-06-01", "callback": "", "urgent": True,
        "source": "console-gallery"}

    # every action
    def run(label):
        p.locator(f'.action-demo button[data-run="{label}"]').click()

    run("open_url (javascript:)")
    expect_toast(p, "Refused to open", "error")
    assert p.evaluate("window.__opened") == []
    with p.context.expect_page() as popup:
        run("open_url")
    popup.value.close()  # a background page would throttle this one's animation frames
    p.bring_to_front()
    assert p.evaluate("window.__opened") == ["https://example.com/"]
    run("insert_text")
    run("insert_text")
    assert p.locator("#demo-input").input_value() == "Thanks for waiting! Thanks for waiting!"
    run("insert_text (replace)")
    assert p.locator("#demo-input").input_value() == "Replaced text."
    run("send_message")
    assert p.locator("#demo-transcript strong").text_content() == "ORD-1042"
    run("show_toast (error, 6 s)")
    expect_toast(p, "CRM unavailable", "error")
    run("copy_text")
    expect_toast(p, "Email copied", "success")
    assert p.evaluate("navigator.clipboard.readText()") == "alice@example.com"
    before = p.locator("#specimens").get_attribute("data-renders")
    run("refresh")
    assert p.locator("#specimens").get_attribute("data-renders") == str(int(before) + 1)
    run("show_modal")
    modal = p.locator(".modal", has_text="Quick survey")
    modal.locator("select").select_option("5")
    modal.locator('button[type="submit"]').click()
    modal.wait_for(state="detached")
    assert last_event()["form_data"] == {"score": 5}
    run("close_modal")
    p.locator(".modal", has_text="About to close").wait_for()
    p.locator(".modal", has_text="About to close").wait_for(state="detached", timeout=4000)
    run("noop")
    p.locator("#demo-input").fill("")
    run("batch")
    assert p.locator("#demo-input").input_value() == "Step 1."
    expect_toast(p, "Step 2: toast", "info")
    assert p.locator("#demo-transcript .bubble").last.text_content() == "Step 3: message"


def test_every_lucide_icon_name_renders_and_unknown_names_show_a_box(page):
    table = json.loads((ROOT / "tgo_host" / "api" / "console_static" / "vendor" / "lucide-icons.json").read_text())
    names = sorted({*table["icons"], *table["aliases"]})
    assert len(names) >= 2000 and {"sticky-note", "bug", "alert-triangle", "triangle-alert"} <= set(names)
    p = page
    open_workspace(p)
    result = p.evaluate("""async (names) => {
        const early = TGO.icon('sticky-note');  // not in the inline subset: filled once the full set is in
        await TGO.loadAllIcons();
        const drawn = (s) => !s.classList.contains('icon-unknown') && !s.classList.contains('icon-loading')
            && s.querySelector('path, circle, rect, line, polyline, polygon, ellipse') !== null;
        const bad = names.filter((n) => !drawn(TGO.icon(n)));
        const logged = [];
        const previous = TGO.onUnknownIcon;
        TGO.onUnknownIcon = (name, plugin) => logged.push(plugin + ':' + name);
        const unknown = TGO.icon('no-such-icon-xyz', { plugin: 'p1' });
        TGO.icon('no-such-icon-xyz', { plugin: 'p1' });
        TGO.icon('no-such-icon-xyz', { plugin: 'p2' });
        // icons inside a plugin's template are attributed to that plugin
        TGO.renderingFor('p3', () => TGO.renderUI({ template: 'key_value', data: { items: [
            { label: 'a', value: 'b', icon: 'zzz-not-an-icon' }] } }, { emit() {} }));
        TGO.onUnknownIcon = previous;
        return { earlyDrawn: drawn(early), bad, logged,
                 unknownClass: unknown.getAttribute('class'), unknownTitle: unknown.querySelector('title').textContent,
                 unknownShapes: unknown.querySelectorAll('rect, path').length };
    }""", names)
    assert result["bad"] == [], f"{len(result['bad'])} icons not drawn, e.g. {result['bad'][:10]}"
    assert result["earlyDrawn"]
    assert "icon-unknown" in result["unknownClass"] and "no-such-icon-xyz" in result["unknownTitle"]
    assert result["unknownShapes"] >= 2  # a visible dashed box with a question mark, not a dot
    assert result["logged"] == ["p1:no-such-icon-xyz", "p2:no-such-icon-xyz", "p3:zzz-not-an-icon"]  # once per plugin


def test_unknown_template_is_a_visible_box(page):
    p = page
    p.goto(p.base + "/console/gallery")
    p.wait_for_selector('body[data-ready="1"]')
    p.locator("#playground-input").fill('{"template": "carousel", "data": {"items": []}}')
    box = p.locator("#playground-output .tpl-unknown")
    assert "Unknown template “carousel”" in box.text_content()
    p.locator("#playground-input").fill('{"template": "group", "data": {"items": [{"template": "text", "data": {"text": "ok"}}, {"oops": 1}]}}')
    assert p.locator("#playground-output .tpl-text").text_content() == "ok"
    assert "not a JSON-UI template" in p.locator("#playground-output .tpl-unknown").text_content()


# ---------------------------------------------------------------- launched plugins


def test_plugins_page_shows_and_controls_launched_processes(browser):
    """With a process supervisor: status, pid, restarts, logs and start/stop/restart from the page."""
    workdir = short_tempdir("tgs")
    settings = Settings(socket_path=os.path.join(workdir, "h.sock"), http_addr="127.0.0.1:0", shutdown_grace=2.0,
                        restart_delay=0.2, dev_tcp_addr="127.0.0.1:0")
    secret = "console-dev-secret-0123456789abcdef"
    hostthread = HostThread(settings, supervise=[EXAMPLES / "quick_reply"], secret=secret)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    dev = None
    try:
        hostthread.start()
        # a connected dev-mode plugin: listed by /plugins/installed (as the gateway expects), but not a process here
        dev = subprocess.Popen(
            [sys.executable, str(PLUGINS / "gateway_plugin.py"), "--id", "gw.dev", "--tcp",
             "%s:%d" % hostthread.host.dev_tcp_address, "--dev-token", mint_dev_token(secret, "P", "dev", 600)],
            stdin=subprocess.DEVNULL)
        context.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).hostname == "127.0.0.1" else route.abort())
        context.set_default_timeout(TIMEOUT)
        p = context.new_page()
        errors: list[str] = []
        p.on("pageerror", lambda exc: errors.append(str(exc)))
        p.goto(hostthread.url + "/console/plugins")
        p.wait_for_selector('#live-state[data-state="live"]')
        card = '.plugin-card[data-plugin="com.example.quick-reply"]'
        p.locator(f'{card}[data-conn="connected"]').wait_for()
        p.locator(f'{card} [data-role="process-status"]', has_text="process running").wait_for()
        pid = p.locator(f"{card} dd.mono").text_content()
        assert pid.isdigit()
        p.locator(f"{card} details.logs summary").click()
        p.locator(f"{card} pre.log-lines", has_text="registered as com.example.quick-reply").wait_for()

        p.locator(f'{card} [data-op="restart"]').click()
        wait_js(p, f"(() => {{ const c = document.querySelector('{card}'); return c && c.dataset.conn === 'connected'"
                   f" && c.querySelector('dd.mono').textContent !== '{pid}' && c.textContent.includes('Restarts1'); }})()")
        p.locator(f'{card} [data-op="stop"]').click()
        p.locator(f'{card}[data-conn="disconnected"]').wait_for()  # live, from the event stream
        p.locator(f'{card} [data-role="process-status"]', has_text="process stopped").wait_for()
        assert p.locator(f'{card} [data-op="start"]').is_enabled()
        p.locator(f'{card} [data-op="start"]').click()
        p.locator(f'{card}[data-conn="connected"]').wait_for()

        dev_card = '.plugin-card[data-plugin="gw.dev"]'
        p.locator(f'{dev_card}[data-conn="connected"] [data-role="dev"]').wait_for()
        p.reload()
        p.locator(f'{dev_card}[data-conn="connected"] [data-role="dev"]').wait_for()
        p.wait_for_selector('body[data-ready="1"]')
        p.locator(f'{card} [data-role="process-status"]').wait_for()  # processes loaded
        assert p.locator(f'{dev_card} [data-op]').count() == 0  # no start/stop/restart for a dev plugin
        assert p.locator(f'{dev_card} [data-role="process-status"]').count() == 0
        assert not errors, errors
    finally:
        if dev is not None:
            dev.kill()
            dev.wait(timeout=5)
        context.close()
        hostthread.stop()
        shutil.rmtree(workdir, ignore_errors=True)
