"""A web page on another origin attacks the host through a real browser (headless Chromium), and fails.

The attacker's page is served from its own local origin (127.0.0.1, another
port). It tries what a malicious site open in an operator's browser could:
``fetch`` with ``mode: "no-cors"`` and a ``text/plain`` (or untyped Blob)
body, a CORS ``fetch`` with JSON, and HTML form posts (``enctype=text/plain``
smuggling a JSON body) — to install a plugin, stop a running plugin and send
a customer message through a channel plugin. Nothing may happen: no file
written, the plugin still running with the same pid, no message in the
outbox; and the host logs each refusal. The same requests sent by a
legitimate client (JSON, no Origin) then succeed, so the test would notice if
the payloads were wrong rather than refused.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import httpx
import pytest

from support.console import browser, HostThread, TIMEOUT  # noqa: F401  (browser is a fixture)
from support.paths import EXAMPLES, short_tempdir
from support.waiting import wait_until
from tgo_host.settings import Settings

pytestmark = pytest.mark.timeout(120)

QUICK_REPLY = "com.example.quick-reply"
CUSTOM_IM = "com.example.custom-im"

ATTACK_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>cute cats</title></head>
<body>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe><iframe name="sink3"></iframe>
<form id="f-install" method="POST" enctype="text/plain" target="sink1" action="HOST/plugins/install">
  <input name='{"path": "EVIL", "x": "' value='"}'>
</form>
<form id="f-stop" method="POST" enctype="application/x-www-form-urlencoded" target="sink2"
      action="HOST/plugins/QUICK/stop"><input name="a" value="b"></form>
<form id="f-send" method="POST" enctype="text/plain" target="sink3" action="HOST/plugins/CHANNEL/channel/send">
  <input name='MESSAGE_PREFIX' value='MESSAGE_SUFFIX'>
</form>
<script>
const host = "HOST";
const install = JSON.stringify({path: "EVIL"});
const message = JSON.stringify(MESSAGE);
const results = [];
async function attempt(name, url, init) {
  try { const r = await fetch(url, init); results.push(name + ":" + r.type + ":" + r.status); }
  catch (e) { results.push(name + ":error"); }
}
async function formPost(id, sink) {
  await new Promise((resolve) => {
    const frame = document.querySelector(`iframe[name="${sink}"]`);
    frame.addEventListener("load", resolve, {once: true});
    document.getElementById(id).submit();
  });
  results.push(id + ":loaded");
}
(async () => {
  await attempt("install-text", host + "/plugins/install", {method: "POST", mode: "no-cors", body: install});
  await attempt("install-blob", host + "/plugins/install", {method: "POST", mode: "no-cors", body: new Blob([install])});
  await attempt("install-cors", host + "/plugins/install",
                {method: "POST", headers: {"Content-Type": "application/json"}, body: install});
  await attempt("stop", host + "/plugins/QUICK/stop", {method: "POST", mode: "no-cors"});
  await attempt("stop-text", host + "/plugins/QUICK/stop", {method: "POST", mode: "no-cors", body: "{}"});
  await attempt("send-text", host + "/plugins/CHANNEL/channel/send", {method: "POST", mode: "no-cors", body: message});
  await attempt("send-cors", host + "/plugins/CHANNEL/channel/send",
                {method: "POST", headers: {"Content-Type": "application/json"}, body: message});
  await formPost("f-install", "sink1");
  await formPost("f-stop", "sink2");
  await formPost("f-send", "sink3");
  document.title = "done " + results.join(" ");
})();
</script>
</body></html>
"""


def attack_page(host_url: str, evil: str) -> bytes:
    message = {"channel_id": "c1", "to": {"id": "visitor-1"}, "message": {"type": "text", "content": "pwned"}}
    text = json.dumps(message)
    prefix, suffix = text[:-2] + ', "x": "', '"}'  # text/plain form body: NAME=VALUE → valid JSON
    page = ATTACK_PAGE.replace("MESSAGE_PREFIX", prefix.replace("'", "&#39;")).replace("MESSAGE_SUFFIX", suffix)
    page = page.replace("MESSAGE", text).replace("HOST", host_url).replace("EVIL", evil)
    return page.replace("QUICK", QUICK_REPLY).replace("CHANNEL", CUSTOM_IM).encode()


class AttackerSite:
    """The attacker's web server: another origin (127.0.0.1, its own port), serving the attack page."""

    def __init__(self, page: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def test_a_cross_site_page_cannot_install_stop_or_send(browser, monkeypatch, caplog):  # noqa: F811
    workdir = short_tempdir("tga")
    marker = os.path.join(workdir, "MARKER")
    outbox = os.path.join(workdir, "outbox.jsonl")
    evil = os.path.join(workdir, "src", "evil")
    os.makedirs(evil)
    with open(os.path.join(evil, "plugin.yml"), "w") as fh:
        fh.write("id: sec.evil\nbuild: {language: python, python: {entrypoint: main.py}}\n")
    with open(os.path.join(evil, "main.py"), "w") as fh:
        fh.write(f"open({marker!r}, 'w').write('ran')\n")
    monkeypatch.setenv("CUSTOM_IM_OUTBOX", outbox)  # inherited by the launched custom_im plugin
    settings = Settings(
        socket_path=os.path.join(workdir, "h.sock"), http_addr="127.0.0.1:0", shutdown_grace=2.0, restart_delay=0.2,
        managed_plugins_dir=os.path.join(workdir, "managed"), install_sources=[os.path.join(workdir, "src")],
    )
    hostthread = HostThread(settings, supervise=[EXAMPLES / "quick_reply", EXAMPLES / "custom_im"])
    site = None
    context = browser.new_context()
    try:
        hostthread.start()
        wait_until(lambda: {QUICK_REPLY, CUSTOM_IM} <= hostthread.registered(), 20, "the example plugins")
        supervisor = hostthread.host.supervisor
        pid = supervisor.get(QUICK_REPLY).pid
        site = AttackerSite(attack_page(hostthread.url, evil))
        # No request interception here (it would answer CORS preflights itself): the page names
        # 127.0.0.1 addresses only, and every request the browser made is checked below.
        requested = []
        context.on("request", lambda request: requested.append(request.url))
        context.set_default_timeout(TIMEOUT)
        page = context.new_page()
        page.goto(site.url)
        page.wait_for_function("document.title.startsWith('done')", timeout=30_000)
        outcomes = page.title().split()[1:]
        assert all(urlparse(url).hostname == "127.0.0.1" for url in requested), requested
        # the browser got nowhere: opaque or refused answers, the CORS attempts failed at the preflight
        assert "install-cors:error" in outcomes and "send-cors:error" in outcomes, outcomes
        assert {"f-install:loaded", "f-stop:loaded", "f-send:loaded"} <= set(outcomes), outcomes
        time.sleep(1.0)  # anything that did get through would have acted by now
        assert not os.path.exists(marker)
        assert not os.path.exists(settings.managed_plugins_dir) or os.listdir(settings.managed_plugins_dir) == []
        assert "sec.evil" not in supervisor
        assert supervisor.get(QUICK_REPLY).status == "running" and supervisor.get(QUICK_REPLY).pid == pid
        assert QUICK_REPLY in hostthread.registered()
        assert not os.path.exists(outbox) or open(outbox).read() == ""
        refusals = [r.getMessage() for r in caplog.records if r.name == "tgo_host.api.guard"]
        for path in ("/plugins/install", f"/plugins/{QUICK_REPLY}/stop", f"/plugins/{CUSTOM_IM}/channel/send"):
            assert any(f"refused POST {path} from 127.0.0.1:" in m and "cross-origin" in m for m in refusals), path
        assert any("OPTIONS /plugins/install" in m for m in refusals)  # the CORS preflight, refused too

        # the same payloads from a legitimate caller (the gateway: JSON, no Origin) do act
        with httpx.Client(base_url=hostthread.url, timeout=20) as gateway:
            message = {"channel_id": "c1", "to": {"id": "visitor-1"}, "message": {"type": "text", "content": "hi"}}
            sent = gateway.post(f"/plugins/{CUSTOM_IM}/channel/send", json=message)
            assert sent.status_code == 200 and sent.json()["success"] is True, sent.text
            assert json.loads(open(outbox).read())["message"]["content"] == "hi"
            assert gateway.post("/plugins/install", json={"path": evil}).status_code == 201
            wait_until(lambda: os.path.exists(marker), 10, "the installed plugin to run")
    finally:
        context.close()
        if site is not None:
            site.close()
        hostthread.stop()
        shutil.rmtree(workdir, ignore_errors=True)
