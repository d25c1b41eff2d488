"""Quick replies: a searchable list of canned replies in the chat toolbar.

Picking one (``item_select``) inserts its text into the agent's input box.
Run: TGO_SOCKET_PATH=/path/to/tgo.sock python plugins_examples/quick_reply/main.py
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from tgo_plugin import TGOPlugin  # noqa: F401  (the SDK is installed)
except ImportError:  # running from a checkout: use the SDK two directories up
    sys.modules.pop("tgo_plugin", None)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tgo_plugin import Action, Capability, EventContext, ListView, RenderContext, TGOPlugin

REPLIES = [
    {"id": "greeting", "title": "Greeting", "icon": "smile",
     "text": "Hello! Thanks for reaching out. How can I help you today?"},
    {"id": "wait", "title": "Please wait", "icon": "clock",
     "text": "Thanks for your patience, I'm looking into this right now."},
    {"id": "order_status", "title": "Order status", "icon": "package",
     "text": "Could you share your order number so I can check its status?"},
    {"id": "refund", "title": "Refund policy", "icon": "rotate-ccw",
     "text": "Refunds are processed within 5-7 business days after we receive the item."},
    {"id": "goodbye", "title": "Goodbye", "icon": "hand",
     "text": "Is there anything else I can help you with? Have a great day!"},
]
BY_ID = {r["id"]: r for r in REPLIES}


class QuickReply(TGOPlugin):
    id = "com.example.quick-reply"
    name = "quick-reply"
    version = "1.0.0"
    description = "Searchable canned replies for the chat toolbar"
    author = "tgo-host examples"
    capabilities = [Capability.chat_toolbar(title="Quick replies", icon="zap",
                                            tooltip="Insert a canned reply",
                                            shortcut="Ctrl+Shift+R")]

    def on_chat_toolbar_render(self, ctx: RenderContext):
        replies = ListView(title="Quick replies", searchable=True)
        for r in REPLIES:
            preview = r["text"] if len(r["text"]) <= 60 else r["text"][:57] + "..."
            replies.add(id=r["id"], title=r["title"], description=preview, icon=r["icon"])
        return replies

    def on_chat_toolbar_event(self, ctx: EventContext):
        if ctx.event_type == "item_select":
            reply = BY_ID.get(ctx.selected_id or "")
            if reply is None:
                return Action.show_toast(f"Unknown reply {ctx.selected_id!r}", type="error")
            return Action.insert_text(reply["text"])
        return Action.noop(log=f"ignored event {ctx.event_type}")


if __name__ == "__main__":
    QuickReply().run()
