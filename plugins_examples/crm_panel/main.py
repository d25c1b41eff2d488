"""CRM panel: a visitor panel merging the visitor's profile with a local CRM file.

Run: TGO_SOCKET_PATH=/path/to/tgo.sock python plugins_examples/crm_panel/main.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote

try:
    from tgo_plugin import TGOPlugin  # noqa: F401  (the SDK is installed)
except ImportError:  # running from a checkout: use the SDK two directories up
    sys.modules.pop("tgo_plugin", None)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tgo_plugin import (
    Action, ActionButtons, Capability, EventContext, Group, KeyValue, RenderContext,
    Table, TGOPlugin, badge,
)

CRM_FILE = Path(__file__).with_name("crm.json")
CRM_URL = "https://crm.example.com/customers/"
STATUS_COLORS = {"delivered": "green", "shipped": "blue", "pending": "orange",
                 "refunded": "red", "cancelled": "gray"}


def load_crm() -> dict:
    with CRM_FILE.open(encoding="utf-8") as fh:
        return json.load(fh)["customers"]


class CRMPanel(TGOPlugin):
    id = "com.example.crm-panel"
    name = "crm-panel"
    version = "1.0.0"
    description = "Customer profile, recent orders and CRM shortcuts"
    author = "tgo-host examples"
    capabilities = [Capability.visitor_panel(title="Customer", icon="user", priority=5)]

    def customer(self, visitor_id: str | None, visitor: dict) -> dict:
        """The visitor's own fields, completed by the CRM record (visitor data wins)."""
        record = dict(load_crm().get(visitor_id or "", {}))
        for key in ("name", "email", "phone"):
            if visitor.get(key):
                record[key] = visitor[key]
        return record

    def on_visitor_panel_render(self, ctx: RenderContext):
        visitor = ctx.visitor.raw if ctx.visitor else {}
        c = self.customer(ctx.visitor_id, visitor)

        profile = KeyValue(title="Customer profile")
        profile.add("Name", c.get("name") or "Unknown visitor", icon="user")
        if c.get("email"):
            profile.add("Email", c["email"], icon="mail", copyable=True)
        if c.get("phone"):
            profile.add("Phone", c["phone"], icon="phone", copyable=True)
        if c.get("company"):
            profile.add("Company", c["company"], icon="building")
        if c.get("level"):
            profile.add("Level", c["level"], icon="crown", type="badge", color="#F59E0B")
        if c.get("total_spent") is not None:
            profile.add("Total spent", c["total_spent"], type="currency")
        if c.get("customer_since"):
            profile.add("Customer since", c["customer_since"], type="date")

        orders = (Table("Recent orders")
                  .columns({"key": "order_id", "label": "Order"},
                           {"key": "date", "label": "Date", "type": "date"},
                           {"key": "amount", "label": "Amount", "align": "right"},
                           {"key": "status", "label": "Status", "type": "badge"}))
        for o in c.get("orders", []):
            orders.row({**o, "status": badge(o["status"], STATUS_COLORS.get(o["status"], "gray"))})

        buttons = (ActionButtons()
                   .add("open_crm", "Open in CRM", icon="external-link", type="primary")
                   .add("copy_email", "Copy email", icon="copy", disabled=not c.get("email"))
                   .add("mark_vip", "Mark as VIP", icon="crown", confirm="Mark this customer as VIP?"))
        return Group().add(profile, orders, buttons)

    def on_visitor_panel_event(self, ctx: EventContext):
        if ctx.event_type != "button_click":
            return Action.noop(log=f"ignored event {ctx.event_type}")
        if ctx.action_id == "open_crm":
            return Action.open_url(CRM_URL + quote(ctx.visitor_id or "", safe=""), target="_blank")
        if ctx.action_id == "copy_email":
            email = self.customer(ctx.visitor_id, {}).get("email")
            if not email:
                return Action.show_toast("No email on file", type="warning")
            return Action.copy_text(email, toast="Email copied")
        if ctx.action_id == "mark_vip":
            return Action.show_toast("Customer marked as VIP", type="success")
        return Action.show_toast(f"Unknown action {ctx.action_id!r}", type="error")


if __name__ == "__main__":
    CRMPanel().run()
