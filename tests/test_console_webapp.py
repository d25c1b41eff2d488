"""Browser test: the workspace's "Show as the TGO web app would" switch.

With it on, the console asks for the tgo-web profile and draws only the 7
templates the TGO web app renders (anything else is the web app's "unknown
template" box). Every example plugin must show without a single box, and the
down-levelled buttons must still work (a quick reply is inserted, a CRM
button runs its action). Uses the real host, real example plugins and a real
Chromium, through test_console's fixtures.
"""

from __future__ import annotations

from support.console import browser, expect_toast, open_workspace, page, panel, stack, wait_js  # noqa: F401  (fixtures)

WEB = ["key_value", "table", "form", "button", "group", "tabs", "text"]
EXAMPLE_PANELS = ["com.example.crm-panel", "com.example.order-dashboard", "com.example.ticket-form",
                  "com.example.raw-panel"]


def drawn_templates(p, selector: str) -> list[str]:
    return p.locator(f"{selector} [data-template]").evaluate_all("els => els.map(e => e.dataset.template)")


def test_web_app_mode_shows_every_example_without_unknown_boxes(page, stack):  # noqa: F811
    p = page
    example_panels = EXAMPLE_PANELS + (["com.example.hello-node"] if "hello_node" in stack.procs else [])
    open_workspace(p)
    # the full console first: the Orders panel draws its stats
    panel(p, "com.example.order-dashboard").locator('[data-template="stats"]').first.wait_for()
    # the renderer in web-app mode turns any template outside the 7 into the box, as the web app does
    assert p.evaluate("TGO.renderUI({template: 'stats', data: {items: []}}, {webApp: true}).classList.contains('tpl-unknown')")
    assert not p.evaluate("TGO.renderUI({template: 'text', data: {text: 'x'}}, {webApp: true}).classList.contains('tpl-unknown')")

    p.locator("#web-app-mode").check()
    assert p.evaluate("document.body.dataset.webApp") == "1"
    # re-rendered in the tgo-web profile: the Orders timeline is a table now, the CRM action row a button group
    panel(p, "com.example.order-dashboard").locator('[data-template="table"]').first.wait_for(state="attached")
    wait_js(p, "!document.querySelector('#visitor-panels [data-template=\"action\"]')")
    for plugin_id in example_panels:
        section = panel(p, plugin_id)
        section.locator("[data-template]").first.wait_for(state="attached")
        names = drawn_templates(p, f'section.panel[data-plugin="{plugin_id}"]')
        assert names and set(names) <= set(WEB), (plugin_id, names)
        assert section.locator(".tpl-unknown").count() == 0, plugin_id
    # every tab of the Orders panel (stats, timeline, cards, markdown, empty, loading) is drawn, none is a box
    dashboard = panel(p, "com.example.order-dashboard")
    for tab in dashboard.locator(".tab").all():
        tab.click()
        assert dashboard.locator(".tpl-unknown").count() == 0

    # the Customer panel's action row: its buttons still run their actions
    crm = panel(p, "com.example.crm-panel")
    crm.locator("button", has_text="Copy email").click()
    expect_toast(p, "Email copied", "success")

    # quick replies: a list of buttons in the dialog; a click inserts the reply
    p.locator('#chat-toolbar .tool-btn[data-plugin="com.example.quick-reply"]').click()
    modal = p.locator('.modal[data-plugin="com.example.quick-reply"]')
    modal.locator("button", has_text="Greeting").wait_for()
    assert modal.locator(".tpl-unknown").count() == 0
    assert set(drawn_templates(p, '.modal[data-plugin="com.example.quick-reply"]')) <= set(WEB)
    modal.locator("button", has_text="Greeting").click()
    wait_js(p, "document.getElementById('composer-input').value.includes('Hello! Thanks for reaching out')")

    modal.locator(".modal-close").click()
    modal.wait_for(state="detached")
    # switching back gives the full rendering again
    p.locator("#web-app-mode").uncheck()
    panel(p, "com.example.order-dashboard").locator('[data-template="stats"]').first.wait_for(state="attached")
