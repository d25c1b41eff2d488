"""The example plugins (plugins_examples/) in tests: their ids, a visitor to render for, starting one."""

from __future__ import annotations

import sys

from support.paths import EXAMPLES

CRM, QUICK, TICKETS, DASHBOARD = (
    "com.example.crm-panel", "com.example.quick-reply", "com.example.ticket-form", "com.example.order-dashboard")
IFRAME, IM, TOOLS, NODE_ID = (
    "com.example.crm-iframe", "com.example.custom-im", "com.example.order-tools", "com.example.hello-node")
RAW_PANEL, RAW_TOOLBAR = "com.example.raw-panel", "com.example.raw-toolbar"

VISITOR = {
    "visitor_id": "v-1001", "session_id": "s-1", "language": "en",
    "visitor": {"id": "v-1001", "name": "Alice Chen", "email": "alice@example.com", "metadata": {}},
    "context": {"current_page": "https://shop.example.com/cart"},
}


def example(plugins, name: str, **env: str):
    """Start ``plugins_examples/<name>/main.py`` as a subprocess (killed at teardown)."""
    return plugins.start([sys.executable, str(EXAMPLES / name / "main.py")], **env)
