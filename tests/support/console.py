"""The console in a real browser: headless Chromium through Playwright, a host in a thread, the example plugins.

``browser`` (module-scoped) skips without ``/usr/bin/chromium`` or the ``playwright``
package, and fails instead when ``CI`` is set. :class:`HostThread` runs a host with HTTP
on 127.0.0.1:0 on its own trio loop; :class:`Stack` adds the example plugins (and the
test-only ones, bound to their own projects by :func:`scope_test_plugins`) as
subprocesses; ``page`` is a fresh context that may reach only 127.0.0.1 and fails the
test on an uncaught page error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import trio

from support.paths import EXAMPLES, PLUGINS, ROOT, short_tempdir
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.plugins.auth import GLOBAL, Grant, RegistrationPolicy
from tgo_host.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
EXAMPLE_IDS = {
    "crm_panel": "com.example.crm-panel",
    "quick_reply": "com.example.quick-reply",
    "ticket_form": "com.example.ticket-form",
    "order_dashboard": "com.example.order-dashboard",
    "crm_iframe": "com.example.crm-iframe",
    "raw_panel": "com.example.raw-panel",
    "hello_node": "com.example.hello-node",
}
TIMEOUT = 10_000  # ms, for Playwright waits


def scope_test_plugins(session, params):
    """Registration hook: test-only plugins live in their own projects."""
    plugin_id = params.id or ""
    if plugin_id.startswith("test.xss"):
        return Grant(project_id="xss")
    if plugin_id.startswith("test.victim"):
        return Grant(project_id="victim")
    return GLOBAL


def _browser_missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} not found (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    return None


@pytest.fixture(scope="module")
def browser():
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run on CI: {missing}")
        pytest.skip(f"browser tests skipped: {missing}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class HostThread:
    """A host with HTTP on 127.0.0.1:0 running on its own trio loop in a thread (shared by the module)."""

    def __init__(self, settings: Settings, supervise: list[Path] | None = None, secret: str | None = None) -> None:
        self.settings = settings
        self.supervise = supervise
        self.secret = secret  # checks dev tokens on the TCP debug listener (settings.dev_tcp_addr)
        self.host: Host | None = None
        self.url = ""
        self._token = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="console-host", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError("host did not start")
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            check = scope_test_plugins
            if self.secret:
                policy = RegistrationPolicy(self.secret)

                def check(session, params):
                    granted = policy(session, params)
                    scoped = scope_test_plugins(session, params)
                    return Grant(scoped.project_id, granted.dev_mode) if scoped.project_id else granted

            launched = None
            if self.supervise:
                from tgo_host.plugins.manifest import load_manifest
                from tgo_host.plugins.supervisor import Supervisor

                manifests = [load_manifest(str(d)) for d in self.supervise]
                launched = lambda registry: Supervisor(self.settings, registry, manifests)  # noqa: E731
            self.host = Host(self.settings, services=[http_service], check_registration=check, supervisor_factory=launched)
            async with trio.open_nursery() as nursery:
                await nursery.start(self.host.serve)
                self.url = self.host.http_binds[0]
                self._ready.set()

        try:
            trio.run(main)
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()

    def registered(self) -> set[str]:
        assert self.host is not None
        return {s.plugin_id for s in list(self.host.registry.all_sessions())}

    def stop(self) -> None:
        if self.host is not None and self._token is not None and self._thread.is_alive():
            try:
                trio.from_thread.run_sync(self.host.request_stop, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        self._thread.join(20)


class Stack:
    """The module's host and plugin subprocesses (all killed by pid at the end)."""

    def __init__(self) -> None:
        self.dir = short_tempdir("tgc")
        self.socket = os.path.join(self.dir, "h.sock")
        settings = Settings(
            socket_path=self.socket, http_addr="127.0.0.1:0", render_timeout=3.0, event_timeout=3.0,
            call_timeout=3.0, ping_interval=30.0, ping_timeout=5.0, register_timeout=5.0, shutdown_grace=2.0,
        )
        self.hostthread = HostThread(settings)
        self.procs: dict[str, subprocess.Popen] = {}

    def start_plugin(self, name: str, argv: list[str], **env: str) -> subprocess.Popen:
        full_env = dict(os.environ, TGO_SOCKET_PATH=self.socket, PYTHONPATH=str(ROOT), TGO_LOG_LEVEL="WARNING", **env)
        proc = subprocess.Popen(argv, env=full_env, stdin=subprocess.DEVNULL, cwd=self.dir)
        self.procs[name] = proc
        return proc

    def wait_registered(self, ids, timeout: float = 20.0) -> None:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if set(ids) <= self.hostthread.registered():
                return
            time.sleep(0.05)
        raise AssertionError(f"not registered: {set(ids) - self.hostthread.registered()}")

    def close(self) -> None:
        try:
            self.hostthread.stop()
        finally:
            for proc in self.procs.values():
                if proc.poll() is None:
                    proc.kill()
                proc.wait(timeout=10)
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(browser):
    s = Stack()
    try:
        s.hostthread.start()
        ids = []
        for name, plugin_id in EXAMPLE_IDS.items():
            if name == "hello_node":
                if shutil.which("node") is None:
                    continue
                argv = ["node", str(EXAMPLES / name / "index.js")]
            else:
                argv = [sys.executable, str(EXAMPLES / name / "main.py")]
            s.start_plugin(name, argv, TICKET_DB=os.path.join(s.dir, "tickets.db"))
            ids.append(plugin_id)
        s.start_plugin("xss", [sys.executable, str(PLUGINS / "xss_panel.py"), "--id", "test.xss"])
        s.start_plugin("victim", [sys.executable, str(PLUGINS / "scripted.py"), "--id", "test.victim", "--toolbar"])
        s.start_plugin("broken", [sys.executable, str(PLUGINS / "scripted.py"), "--id", "test.victim-broken",
                                  "--mode", "invalid", "--priority", "2"])
        s.wait_registered([*ids, "test.xss", "test.victim", "test.victim-broken"])
        yield s
    finally:
        s.close()


@pytest.fixture
def page(browser, stack):
    """A fresh browser context (only 127.0.0.1 reachable, clipboard allowed) and page; fails on page errors."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, permissions=["clipboard-read", "clipboard-write"])

    def local_only(route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", local_only)
    context.add_init_script("""
        window.__opened = [];
        window.__csp = [];
        const realOpen = window.open;
        window.open = function (url, target, features) { window.__opened.push(String(url)); return realOpen.call(this, url, target, features); };
        document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
    """)
    context.set_default_timeout(TIMEOUT)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.base = stack.hostthread.url
    yield p
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def wait_js(p, expression: str, timeout: float = TIMEOUT / 1000) -> None:
    """Poll a JS expression until truthy (Playwright's wait_for_function needs eval, which the console's CSP forbids)."""
    import time

    deadline = time.monotonic() + timeout
    while not p.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        p.wait_for_timeout(50)


def toast_texts(p) -> list[str]:
    return [t.strip() for t in p.locator(".toast .toast-message").all_text_contents()]


def expect_toast(p, text: str, type_: str | None = None) -> None:
    selector = ".toast:not(.leaving)" + (f'[data-type="{type_}"]' if type_ else "")
    p.locator(selector, has_text=text).first.wait_for()


def panel(p, plugin_id: str):
    return p.locator(f'section.panel[data-plugin="{plugin_id}"]')


def open_workspace(p, project: str = "demo") -> None:
    """The workspace as project ``project`` sees it (the example plugins are global; the test-only ones are bound to
    their own projects, so an unscoped caller, who sees every plugin, would see them too)."""
    p.goto(p.base + "/console?project_id=" + project)
    p.wait_for_selector('body[data-ready="1"]')
    p.wait_for_selector('#live-state[data-state="live"]')
