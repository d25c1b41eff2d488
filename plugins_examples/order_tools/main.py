"""Order tools: two MCP tools, ``lookup_order`` and ``list_orders``.

Run: TGO_SOCKET_PATH=/path/to/tgo.sock python plugins_examples/order_tools/main.py
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from tgo_plugin import TGOPlugin  # noqa: F401  (the SDK is installed)
except ImportError:  # running from a checkout: use the SDK two directories up
    sys.modules.pop("tgo_plugin", None)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tgo_plugin import Capability, TGOPlugin, Tool, ToolContext, ToolParameter

ORDERS = {
    "ORD-1042": {"order_id": "ORD-1042", "visitor_id": "v-1001", "status": "shipped",
                 "total": 129.0, "currency": "USD", "items": ["Wireless earbuds"],
                 "placed_at": "2024-05-02"},
    "ORD-1038": {"order_id": "ORD-1038", "visitor_id": "v-1001", "status": "delivered",
                 "total": 59.9, "currency": "USD", "items": ["USB-C charger", "Cable"],
                 "placed_at": "2024-04-18"},
    "ORD-1040": {"order_id": "ORD-1040", "visitor_id": "v-1002", "status": "pending",
                 "total": 42.0, "currency": "USD", "items": ["Laptop sleeve"],
                 "placed_at": "2024-04-29"},
}


def describe(order: dict) -> str:
    return (f"Order {order['order_id']} ({order['placed_at']}): {order['status']}, "
            f"{order['total']:.2f} {order['currency']}, items: {', '.join(order['items'])}")


class OrderTools(TGOPlugin):
    id = "com.example.order-tools"
    name = "order-tools"
    version = "1.0.0"
    description = "MCP tools to look up and list orders"
    author = "tgo-host examples"
    capabilities = [Capability.mcp_tools(title="Order tools", icon="package", tools=[
        Tool("lookup_order", "Look up one order by its id", title="Look up order",
             parameters=[ToolParameter("order_id", "string", "Order id, e.g. ORD-1042",
                                       required=True)]),
        Tool("list_orders", "List a visitor's orders (default: the current visitor)",
             title="List orders",
             parameters=[{"name": "visitor_id", "type": "string",
                          "description": "Visitor id; defaults to the conversation's visitor",
                          "required": False}]),
    ])]

    def on_tool_execute(self, ctx: ToolContext, tool_name: str, arguments: dict) -> dict:
        if tool_name == "lookup_order":
            order_id = str(arguments.get("order_id") or "").strip().upper()
            if not order_id:
                return {"success": False, "error": "order_id is required"}
            order = ORDERS.get(order_id)
            if order is None:
                return {"success": False, "error": f"order {order_id} not found"}
            return {"success": True, "content": describe(order), "data": order}
        if tool_name == "list_orders":
            visitor_id = arguments.get("visitor_id") or ctx.visitor_id
            if not visitor_id:
                return {"success": False, "error": "visitor_id is required"}
            orders = [o for o in ORDERS.values() if o["visitor_id"] == visitor_id]
            content = "\n".join(describe(o) for o in orders) or f"No orders for {visitor_id}"
            return {"success": True, "content": content, "data": {"orders": orders}}
        return {"success": False, "error": f"unknown tool {tool_name!r}"}


if __name__ == "__main__":
    OrderTools().run()
