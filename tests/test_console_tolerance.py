"""The console under the validation policy, in headless Chromium (set-up as in test_console.py).

A real plugin subprocess (tests/plugins/sloppy_panel.py) sends what the TGO web
app renders but a strict host refused: the workspace renders its panel with
"unknown template" boxes where the web app shows them, key_value links, CSS
widths and an email field; its batch runs without the unknown sub-action; the
plugins page tells the author what was fixed up. Skips without a browser
(fails under CI), like test_console.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from urllib.parse import urlparse

import pytest

from support.console import browser, expect_toast, HostThread, TIMEOUT, wait_js  # noqa: F401  (browser: fixture)
from support.paths import PLUGINS, ROOT, short_tempdir
from tgo_host.settings import Settings

SLOPPY = "test.sloppy"


@pytest.fixture(scope="module")
def sloppy_host(browser):  # noqa: F811
    workdir = short_tempdir("tgt")
    settings = Settings(socket_path=os.path.join(workdir, "h.sock"), http_addr="127.0.0.1:0", shutdown_grace=2.0,
                        render_timeout=3.0, event_timeout=3.0)
    hostthread = HostThread(settings)
    proc = None
    try:
        hostthread.start()
        env = dict(os.environ, TGO_SOCKET_PATH=settings.socket_path, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen([sys.executable, str(PLUGINS / "sloppy_panel.py"), "--id", SLOPPY], env=env,
                                stdin=subprocess.DEVNULL, cwd=workdir)
        deadline = time.monotonic() + 20
        while SLOPPY not in hostthread.registered():
            assert time.monotonic() < deadline, "the sloppy plugin did not register"
            time.sleep(0.05)
        yield hostthread
    finally:
        hostthread.stop()
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def page(browser, sloppy_host):  # noqa: F811
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.route("**/*", lambda route: route.continue_()
                  if urlparse(route.request.url).hostname == "127.0.0.1" else route.abort())
    context.add_init_script("""
        window.__opened = [];
        window.open = function (url, target, features) { window.__opened.push([String(url), String(target)]); return null; };
    """)
    context.set_default_timeout(TIMEOUT)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.base = sloppy_host.url
    yield p
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def test_workspace_renders_the_panel_with_placeholders_where_the_web_app_shows_boxes(page):
    p = page
    p.goto(p.base + "/console")
    p.wait_for_selector('body[data-ready="1"]')
    panel = p.locator(f'section.panel[data-plugin="{SLOPPY}"]')
    panel.locator('[data-template="key_value"]').wait_for()

    state = panel.locator(".panel-state")
    assert state.is_visible() and state.text_content() == "4 fix-ups"  # the panel's warnings, in its header
    assert "data.items[1]: unknown template 'sparkline'" in state.get_attribute("title")

    # the unknown nested template is one small box; everything around it renders
    boxes = panel.locator(".tpl-unknown:visible")
    assert boxes.count() == 1
    assert "Unknown template “sparkline”" in boxes.first.text_content()
    for template in ("key_value", "table", "tabs", "form", "button"):
        assert panel.locator(f'[data-template="{template}"]').count() == 1, template
    panel.locator(".tab", has_text="Map").click()
    assert "Unknown template “map”" in panel.locator(".tpl-unknown:visible").last.text_content()
    assert panel.locator(".tpl-unknown").count() == 2

    kv = panel.locator('[data-template="key_value"]')
    link = kv.locator("a", has_text="https://shop.example.com/c/1")
    assert link.get_attribute("href") == "https://shop.example.com/c/1"  # type "link": the value is the link
    assert kv.locator(".badge", has_text="active").count() == 1  # type "status"
    assert kv.locator("dd").first.text_content() == ""  # null value: shown empty
    assert panel.locator('[data-template="table"] th').first.evaluate("th => th.style.width") == "30%"
    assert panel.locator('[data-template="form"] input[name="email"]').get_attribute("type") == "email"

    # the batch with an unknown sub-action: the rest runs (toast, then the mailto link)
    panel.locator('[data-template="button"] button', has_text="Open shop").click()
    expect_toast(p, "opened")
    wait_js(p, "window.__opened.length === 1")
    assert p.evaluate("window.__opened") == [["mailto:help@example.com", "_blank"]]

    # a modal whose template is unknown shows the box, like the web app
    p.evaluate("TGO.runAction({action: 'show_modal', data: {title: 'Chart', template: 'chart', data: {}}})")
    assert "Unknown template “chart”" in p.locator(".modal .tpl-unknown").text_content()


def test_console_never_opens_script_urls_the_host_would_refuse(page):
    p = page
    p.goto(p.base + "/console/gallery")
    p.wait_for_selector('body[data-ready="1"]')
    for url in ("javascript:window.__xss=1", " JaVa\tScRiPt:window.__xss=2", "vbscript:x", "data:text/html,<script>1</script>"):
        p.evaluate(f"TGO.runAction({{action: 'open_url', data: {{url: {json.dumps(url)}}}}})")
    p.evaluate("TGO.runAction({action: 'batch', data: {actions: [{action: 'zap'}, {action: 'open_url', data: {url: 'javascript:1'}}]}})")
    expect_toast(p, "Refused to open", "error")
    p.evaluate("TGO.runAction({action: 'open_url', data: {url: '/orders/1', target: 'crm'}})")
    wait_js(p, "window.__opened.length === 1")
    assert p.evaluate("window.__opened")[0][1] == "crm"
    assert p.evaluate("window.__opened")[0][0].endswith("/orders/1")
    assert p.evaluate("window.__xss") is None


def test_plugins_page_tells_the_author_what_was_fixed_up(page):
    p = page
    p.goto(p.base + "/console")
    p.locator(f'section.panel[data-plugin="{SLOPPY}"] [data-template="key_value"]').wait_for()  # one render
    p.goto(p.base + "/console/plugins")
    card = p.locator(f'.plugin-card[data-plugin="{SLOPPY}"]')
    fixups = card.locator('[data-role="fixups"]')
    fixups.wait_for()
    summary = fixups.locator("summary").text_content()
    assert summary.startswith("This plugin sent") and "we fixed up" in summary
    assert "placeholder" in summary and "at registration" in summary
    fixups.locator("summary").click()
    lines = fixups.locator("li").all_text_contents()
    assert any("data.items[1]" in line and "sparkline" in line for line in lines), lines
    assert any("enum_values" in line for line in lines), lines
