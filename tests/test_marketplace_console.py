"""The console's plugins page in headless Chromium: Install from URL (preview, live progress), then
Check for update and Upgrade, against the stand-in git server on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlparse
from functools import partial

import trio

from marketplugins import python_tree
from marketserver import MarketServer
from support.console import browser, HostThread  # noqa: F401  (fixture)
from support.market import point_at
from support.paths import short_tempdir
from tgo_host.api.server import http_service
from tgo_host.host import Host
from tgo_host.marketplace.installer import open_marketplace
from tgo_host.plugins.supervisor import Supervisor
from tgo_host.settings import Settings

TIMEOUT = 60_000  # ms: an install clones and builds a venv


class MarketHostThread(HostThread):
    """:class:`HostThread` with a supervisor and the marketplace attached."""

    def _main(self) -> None:
        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            self.host = Host(self.settings, services=[http_service], supervisor_factory=partial(Supervisor, self.settings),
                             marketplace_factory=partial(open_marketplace, self.settings))
            async with trio.open_nursery() as nursery:
                await nursery.start(self.host.serve)
                self.url = self.host.http_binds[0]
                self._ready.set()

        try:
            trio.run(main)
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()


def test_install_from_url_then_check_for_update_and_upgrade(browser):  # noqa: F811
    workdir = short_tempdir("tgm")
    with MarketServer(os.path.join(workdir, "srv")) as market:
        settings = Settings(socket_path=os.path.join(workdir, "h.sock"), http_addr="127.0.0.1:0", shutdown_grace=2.0,
                            register_timeout=15.0, managed_plugins_dir=os.path.join(workdir, "managed"))
        point_at(settings, market)
        market.git_repo("acme/hello", python_tree(os.path.join(workdir, "v1"), "test.console-hello", "1.0.0"))
        hostthread = MarketHostThread(settings)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            hostthread.start()
            context.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).hostname == "127.0.0.1" else route.abort())
            context.set_default_timeout(TIMEOUT)
            p = context.new_page()
            errors: list[str] = []
            p.on("pageerror", lambda exc: errors.append(str(exc)))
            p.goto(hostthread.url + "/console/plugins?project_id=proj-9")
            p.wait_for_selector('body[data-ready="1"]')
            p.locator("#install-from-url").click()
            # a URL that resolves to nothing: the reason is shown, Install stays disabled
            p.locator("#install-url").fill(f"{market.base}/gh/acme/nothing-here")
            p.locator("#install-fetch").click()
            p.locator("#install-error", has_text="no plugin.yml found").wait_for()
            assert p.locator("#install-go").is_disabled()
            p.locator("#install-url").fill(f"{market.base}/gh/acme/hello")
            p.locator("#install-fetch").click()
            p.locator("#install-manifest", has_text="test.console-hello").wait_for()
            assert "acme/hello @ main" in p.locator("#install-manifest").text_content()
            assert p.locator("#install-project").input_value() == "proj-9"
            p.locator("#install-go").click()
            p.locator('#install-progress li[data-stage="complete"]').wait_for()
            stages = p.locator("#install-progress li").evaluate_all("els => els.map(e => e.dataset.stage)")
            assert stages[0] == "cloning" and stages[-2:] == ["starting", "complete"], stages
            card = '.plugin-card[data-plugin="test.console-hello"]'
            p.locator(f'{card} [data-role="process-status"]', has_text="process running").wait_for()
            record = hostthread.host.marketplace.records["test.console-hello"]
            assert record.project_id == "proj-9" and record.install_type == "github"
            p.locator(".modal-close").click()

            market.git_repo("acme/hello", python_tree(os.path.join(workdir, "v2"), "test.console-hello", "1.1.0"))
            p.locator(f'{card} [data-op="check-update"]').click()
            p.locator(f'{card} [data-op="upgrade"]', has_text="Upgrade to 1.1.0").click()
            p.locator('.install-modal li[data-stage="complete"]').wait_for()
            p.locator(".modal-close").click()
            p.locator(f"{card} .facts", has_text="1.1.0").wait_for()
            assert hostthread.host.marketplace.records["test.console-hello"].version == "1.1.0"
            assert not errors, errors
        finally:
            context.close()
            hostthread.stop()
            shutil.rmtree(workdir, ignore_errors=True)
