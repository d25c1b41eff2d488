"""CRM iframe: a ``sidebar_iframe`` whose page this plugin serves itself.

The page (``page.html``) is served on 127.0.0.1:``$CRM_IFRAME_PORT`` (default
0: a free port) by ``http.server`` in a daemon thread. It shows the visitor
from ``tgo_context_update`` messages and posts ``insert_text`` to the parent.
Run: TGO_SOCKET_PATH=/path/to/tgo.sock python plugins_examples/crm_iframe/main.py
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

try:
    from tgo_plugin import TGOPlugin  # noqa: F401  (the SDK is installed)
except ImportError:  # running from a checkout: use the SDK two directories up
    sys.modules.pop("tgo_plugin", None)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tgo_plugin import Capability, TGOPlugin

PAGE = Path(__file__).with_name("page.html")
log = logging.getLogger("crm_iframe.http")


class PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        if self.path.split("?", 1)[0] not in ("/", "/index.html"):
            self.send_error(404)
            return
        body = PAGE.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)


def start_page_server(port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), PageHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="crm-iframe-http", daemon=True).start()
    return server


class CRMIframe(TGOPlugin):
    id = "com.example.crm-iframe"
    name = "crm-iframe"
    version = "1.0.0"
    description = "CRM page embedded as a sidebar iframe, served by the plugin itself"
    author = "tgo-host examples"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.server = start_page_server(int(os.environ.get("CRM_IFRAME_PORT") or 0))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.capabilities = [Capability.sidebar_iframe(
            title="CRM", url=self.url, icon="users", width=400, min_width=300, max_width=600,
            allow_fullscreen=True)]

    def on_sidebar_iframe_config(self, params: dict) -> dict:
        return {"url": self.url, "title": "CRM", "icon": "users", "width": 400,
                "allow_fullscreen": True, "sandbox": "allow-scripts allow-forms",
                "permissions": []}

    def on_shutdown(self) -> None:
        self.server.shutdown()


if __name__ == "__main__":
    plugin = CRMIframe()
    plugin.logger.info("serving the CRM page at %s", plugin.url)
    plugin.run()
