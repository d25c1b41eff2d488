"""Order dashboard: a visitor panel of tabs (stats, timeline, cards, markdown,
empty, loading) built from demo data derived from the visitor id.

Run: TGO_SOCKET_PATH=/path/to/tgo.sock python plugins_examples/order_dashboard/main.py
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
    Action, Capability, Cards, Empty, EventContext, Loading, Markdown, RenderContext,
    Stats, Tabs, TGOPlugin, Timeline,
)

SHOP_URL = "https://shop.example.com/products/"
CRM_FILE = Path(__file__).resolve().parents[1] / "crm_panel" / "crm.json"
CUSTOMERS: dict = json.loads(CRM_FILE.read_text(encoding="utf-8"))["customers"] if CRM_FILE.exists() else {}

PRODUCTS = [
    {"id": "p-100", "title": "Wireless earbuds", "price": "$79.00",
     "image": "https://shop.example.com/img/p-100.png", "description": "Noise cancelling"},
    {"id": "p-200", "title": "USB-C charger", "price": "$25.00",
     "image": "https://shop.example.com/img/p-200.png", "description": "65 W, foldable plug"},
    {"id": "p-300", "title": "Laptop sleeve", "price": "$39.00",
     "image": "https://shop.example.com/img/p-300.png", "description": "14 inch, recycled felt"},
]


class OrderDashboard(TGOPlugin):
    id = "com.example.order-dashboard"
    name = "order-dashboard"
    version = "1.0.0"
    description = "Tabbed order dashboard for the visitor panel"
    author = "tgo-host examples"
    capabilities = [Capability.visitor_panel(title="Orders", icon="shopping-cart", priority=10,
                                             refresh_on=["session_change", "manual"])]

    def on_visitor_panel_render(self, ctx: RenderContext):
        # the same demo customers as the CRM panel, so the two panels agree
        customer = CUSTOMERS.get(ctx.visitor_id or "", {})
        recent = customer.get("orders", [])
        orders = customer.get("order_count", len(recent))
        spent = customer.get("total_spent", 0)
        returns = sum(1 for o in recent if o.get("status") == "refunded")

        stats = (Stats()
                 .add("Orders", orders, icon="package", trend="+2", trend_type="up")
                 .add("Total spent", f"${spent:,.2f}", icon="wallet", color="#10B981")
                 .add("Returns", returns, icon="rotate-ccw"))
        timeline = (Timeline(title="Latest order")
                    .add("Order placed", time="2024-05-02 09:14", status="success",
                         description="ORD-1042, 2 items")
                    .add("Payment confirmed", time="2024-05-02 09:15", status="success")
                    .add("Shipped", time="2024-05-03 16:40", status="info",
                         description="Carrier: DHL, tracking JD0146")
                    .add("Out for delivery", status="default"))
        cards = Cards(title="Recommended", layout="grid", columns=2,
                      item_click_action="view_product")
        for p in PRODUCTS:
            cards.add(p)
        notes = Markdown("**VIP since 2021.** Prefers *email* contact.\n\n"
                         "- Ships to: Berlin, DE\n- Last contact: 2024-04-30", max_height=200)
        returns = Empty(title="No open returns", icon="inbox",
                        description="Returns started by this customer appear here.")
        returns.set_action("start_return", "Start a return")
        live = Loading("Fetching live tracking…")

        return (Tabs(default_tab="overview")
                .add("overview", "Overview", stats, icon="bar-chart")
                .add("history", "History", timeline, icon="clock")
                .add("products", "Products", cards, icon="shopping-bag")
                .add("notes", "Notes", notes, icon="file-text")
                .add("returns", "Returns", returns, icon="rotate-ccw")
                .add("tracking", "Tracking", live, icon="truck"))

    def on_visitor_panel_event(self, ctx: EventContext):
        if ctx.action_id == "view_product":
            product_id = ctx.payload.get("id") or ctx.selected_id
            if product_id:
                return Action.open_url(SHOP_URL + quote(str(product_id), safe=""), target="_blank")
            return Action.show_toast("No product selected", type="warning")
        if ctx.action_id == "start_return":
            return Action.show_toast("Return flow started", type="info").then(Action.refresh())
        return Action.noop(log=f"ignored {ctx.event_type}/{ctx.action_id}")


if __name__ == "__main__":
    OrderDashboard().run()
