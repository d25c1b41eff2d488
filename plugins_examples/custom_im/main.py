"""Custom IM: a ``channel_integration`` whose outgoing messages are appended
as JSON lines to a local outbox file (``$CUSTOM_IM_OUTBOX``, default
``outbox.jsonl`` next to this file) instead of a real IM API.

Run: TGO_SOCKET_PATH=/path/to/tgo.sock python plugins_examples/custom_im/main.py
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path

try:
    from tgo_plugin import TGOPlugin  # noqa: F401  (the SDK is installed)
except ImportError:  # running from a checkout: use the SDK two directories up
    sys.modules.pop("tgo_plugin", None)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tgo_plugin import Capability, RPCError, TGOPlugin

CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "title": "Custom IM connection",
    "required": ["api_base", "api_token"],
    "properties": {
        "api_base": {"type": "string", "format": "uri", "title": "API base URL",
                     "description": "e.g. https://im.example.com/api"},
        "api_token": {"type": "string", "title": "API token", "writeOnly": True,
                      "minLength": 8},
        "bot_name": {"type": "string", "title": "Bot display name", "default": "Support"},
        "rate_limit_per_minute": {"type": "integer", "minimum": 1, "maximum": 600,
                                  "default": 60},
    },
    "additionalProperties": False,
}

SETUP_GUIDE = """\
## Connect Custom IM

1. In the Custom IM admin console, create a **bot** and copy its API token.
2. Fill in the *API base URL* and *API token* below.
3. Point the bot's webhook at `{webhook}` so visitor messages reach TGO.

Outgoing messages are written to a local outbox file in this demo.
"""


class CustomIM(TGOPlugin):
    id = "com.example.custom-im"
    name = "custom-im"
    version = "1.0.0"
    description = "Custom IM channel integration writing outgoing messages to a local outbox"
    author = "tgo-host examples"
    capabilities = [Capability.channel_integration(channel_type="custom_im", name="Custom IM",
                                                   icon="message-circle")]

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.outbox = Path(os.environ.get("CUSTOM_IM_OUTBOX")
                           or Path(__file__).with_name("outbox.jsonl"))
        self._lock = threading.Lock()

    def on_channel_integration_manifest(self, params: dict) -> dict:
        webhook = "/webhooks/custom_im"
        return {
            "channel_type": "custom_im",
            "name": "Custom IM",
            "icon": "message-circle",
            "description": "Talk to visitors on Custom IM",
            "config_schema": CONFIG_SCHEMA,
            "setup_guide": SETUP_GUIDE.format(webhook=webhook),
            "webhook_endpoint": webhook,
            "capabilities": {"send_text": True, "send_image": False, "send_file": False,
                             "receive_text": True},
        }

    def on_channel_integration_send_message(self, params: dict) -> dict:
        to = params.get("to") if isinstance(params.get("to"), dict) else {}
        message = params.get("message") if isinstance(params.get("message"), dict) else {}
        if not to.get("id"):
            raise RPCError(-32602, "to.id is required")
        if not isinstance(message.get("content"), str):
            raise RPCError(-32602, "message.content must be a string")
        message_id = "cim_" + uuid.uuid4().hex[:16]
        record = {"message_id": message_id, "channel_id": params.get("channel_id"),
                  "to": to, "message": {"type": message.get("type", "text"),
                                        "content": message["content"]},
                  "sent_at": int(time.time() * 1000)}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock, self.outbox.open("a", encoding="utf-8") as fh:
            fh.write(line)
        self.logger.info("queued %s for %s", message_id, to["id"])
        return {"success": True, "message_id": message_id}


if __name__ == "__main__":
    CustomIM().run()
