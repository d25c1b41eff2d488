"""Test-only SDK plugin: a slow render, an async handler, failing handlers."""

import asyncio
import sys
import time
from pathlib import Path

try:
    from tgo_plugin import TGOPlugin  # noqa: F401  (the SDK is installed)
except ImportError:  # running from a checkout: use the SDK two directories up
    sys.modules.pop("tgo_plugin", None)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tgo_plugin import Action, Capability, RPCError, Text, TGOPlugin


class SlowPlugin(TGOPlugin):
    id = "test.slow-sdk"
    name = "slow-sdk"
    version = "0.0.1"
    capabilities = [Capability.visitor_panel(title="Slow"), Capability.chat_toolbar(title="Async")]

    def on_visitor_panel_render(self, ctx):
        time.sleep(float(ctx.context.get("sleep", 2)))
        return Text(f"slept for {ctx.visitor_id}")

    def on_visitor_panel_event(self, ctx):
        if ctx.action_id == "boom":
            raise ValueError("boom happened")
        if ctx.action_id == "rpc":
            raise RPCError(-32003, "no such thing", {"id": 7})
        if ctx.action_id == "none":
            return None
        return Action.show_toast(f"clicked {ctx.action_id}")

    async def on_chat_toolbar_render(self, ctx):
        await asyncio.sleep(0.05)
        return {"template": "text", "data": {"text": f"async {ctx.visitor_id}"}}

    def on_sidebar_iframe_config(self, params):
        return {"url": object()}  # not JSON-serialisable


if __name__ == "__main__":
    SlowPlugin().run()
