"""JSON-UI and JSON-ACTION payloads for tests: builders, and one valid example of every template."""

from __future__ import annotations

from typing import Any


def ui(name: str, **data: Any) -> dict[str, Any]:
    return {"template": name, "data": data}


def act(name: str, **data: Any) -> dict[str, Any]:
    return {"action": name, "data": data}


#: One example of each of the 18 templates, every field set (test_models checks each parses and round-trips).
TEMPLATE_EXAMPLES: dict[str, dict[str, Any]] = {
    "text": ui("text", text="Hello", type="markdown", copyable=True, size="lg", bold=True, color="#333"),
    "key_value": ui("key_value", title="Customer", items=[
        {"label": "Name", "value": "Ada", "icon": "user", "color": "#ff0000", "type": "text", "copyable": True,
         "link": "https://crm.example.com/ada"},
        {"label": "Orders", "value": 12},
        {"label": "Spent", "value": 1234.5, "type": "currency"},
        {"label": "VIP", "value": True, "type": "badge"},
        {"label": "Since", "value": "2024-01-01", "type": "date"},
    ]),
    "table": ui("table", title="Orders",
                columns=[{"key": "id", "label": "ID", "width": 80, "align": "left", "type": "link"},
                         {"key": "status", "label": "Status", "type": "badge"},
                         {"key": "total", "label": "Total", "align": "right", "width": 12.5}],
                rows=[{"id": "o1", "status": {"text": "paid", "color": "green"}, "total": 10},
                      {"id": "o2", "status": {"text": "late", "color": "red"}, "total": None, "note": [1, 2]}],
                pagination={"total": 2, "page": 1, "page_size": 10}, row_click_action="open_order"),
    "card": ui("card", title="Order #1", subtitle="today", image="https://img.example.com/1.png",
               image_size="small", fields=[{"label": "Total", "value": 9.99, "highlight": True}],
               tags=[{"text": "paid", "color": "green"}], actions=[{"id": "refund", "label": "Refund", "type": "danger"}],
               footer="footer"),
    "cards": ui("cards", title="Products", layout="grid", columns=3, item_click_action="pick",
                items=[{"id": "p1", "title": "Shoe", "image": "https://img.example.com/s.png", "description": "Red",
                        "price": 19.9}, {"id": "p2", "price": "$5"}]),
    "link": ui("link", text="Docs", url="https://docs.example.com", icon="book", target="_blank",
               description="Read"),
    "links": ui("links", title="More", items=[{"text": "A", "url": "https://a.example.com", "icon": "a"},
                                              {"text": "Mail", "url": "mailto:help@example.com"}]),
    "button": ui("button", label="Go", action_id="go", type="primary", size="sm", icon="play", disabled=False),
    "action": ui("action", buttons=[
        {"id": "a", "label": "A", "icon": "x", "type": "primary", "size": "sm", "disabled": False,
         "confirm": "Sure?", "loading": False},
        {"id": "b", "label": "B", "type": "ghost"},
    ]),
    "markdown": ui("markdown", content="# Title", max_height=300),
    "list": ui("list", title="Replies", searchable=True, show_more=True, more_action="more", items=[
        {"id": "r1", "text": "Hello!", "description": "greeting", "time": "10:00", "icon": "msg"},
        {"id": "r2", "title": "Bye"},
    ]),
    "timeline": ui("timeline", title="History", items=[
        {"time": "10:00", "title": "Created", "description": "order", "status": "success"},
        {"title": "Shipped", "status": "default"},
    ]),
    "stats": ui("stats", items=[
        {"label": "Orders", "value": 12, "icon": "box", "trend": "+5%", "trend_type": "up", "color": "green"},
        {"label": "Refunds", "value": 0.5, "trend": -1, "trend_type": "down"},
    ]),
    "empty": ui("empty", icon="inbox", title="Nothing", description="No orders",
                action={"id": "create", "label": "Create"}),
    "loading": ui("loading", text="Loading..."),
    "group": ui("group", layout="horizontal", items=[
        ui("text", text="a"),
        ui("group", items=[ui("markdown", content="*b*")]),
    ]),
    "tabs": ui("tabs", default_tab="one", items=[
        {"key": "one", "label": "One", "icon": "1", "content": ui("text", text="first")},
        {"key": "two", "label": "Two", "content": ui("tabs", items=[
            {"key": "inner", "label": "Inner", "content": ui("loading")}])},
    ]),
    "form": ui("form", title="Ticket", submit_text="Send", cancel_text="Cancel", action_id="submit_ticket", fields=[
        {"name": "subject", "label": "Subject", "type": "text", "required": True, "placeholder": "..."},
        {"name": "body", "type": "textarea", "rows": 4, "default": ""},
        {"name": "prio", "type": "select", "options": [{"value": "low", "label": "Low"}, {"value": 2, "label": "Two"}],
         "default": "low"},
        {"name": "notify", "type": "switch", "default": True},
        {"name": "ref", "type": "hidden", "default": {"any": ["json"]}},
    ]),
}
