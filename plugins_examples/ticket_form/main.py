"""Tickets: a chat-toolbar form that stores tickets in SQLite, and a visitor
panel listing the visitor's tickets.

The database is ``$TICKET_DB`` (default: ``tickets.db`` next to this file).
Run: TGO_SOCKET_PATH=/path/to/tgo.sock python plugins_examples/ticket_form/main.py
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from pathlib import Path

try:
    from tgo_plugin import TGOPlugin  # noqa: F401  (the SDK is installed)
except ImportError:  # running from a checkout: use the SDK two directories up
    sys.modules.pop("tgo_plugin", None)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tgo_plugin import (
    Action, Capability, Empty, EventContext, Form, FormField, ListView, RenderContext,
    TGOPlugin,
)

PRIORITIES = {"low": "Low", "normal": "Normal", "high": "High"}
CATEGORIES = {"billing": "Billing", "technical": "Technical", "other": "Other"}
SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    visitor_id  TEXT,
    session_id  TEXT,
    title       TEXT NOT NULL,
    priority    TEXT NOT NULL,
    category    TEXT NOT NULL,
    notify      INTEGER NOT NULL,
    description TEXT NOT NULL,
    created_at  TEXT NOT NULL
)
"""


class TicketStore:
    """A tiny SQLite store; one connection per call, so any thread may use it."""

    def __init__(self, path: str) -> None:
        self.path = path
        with self._db() as db:
            db.execute(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def create(self, **ticket) -> int:
        db = self._db()
        try:
            with db:
                cur = db.execute(
                    "INSERT INTO tickets (visitor_id, session_id, title, priority, category,"
                    " notify, description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (ticket["visitor_id"], ticket["session_id"], ticket["title"],
                     ticket["priority"], ticket["category"], int(ticket["notify"]),
                     ticket["description"], time.strftime("%Y-%m-%d %H:%M:%S")))
                return int(cur.lastrowid)
        finally:
            db.close()

    def for_visitor(self, visitor_id: str) -> list[dict]:
        db = self._db()
        try:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM tickets WHERE visitor_id = ? ORDER BY id DESC",
                              (visitor_id,)).fetchall()
            return [dict(r) for r in rows]
        finally:
            db.close()


def _truthy(value) -> bool:
    if isinstance(value, list):
        return bool(value)
    return value in (True, 1, "1", "true", "on", "yes")


class TicketPlugin(TGOPlugin):
    id = "com.example.ticket-form"
    name = "ticket-form"
    version = "1.0.0"
    description = "Create support tickets from the chat toolbar; list them in the visitor panel"
    author = "tgo-host examples"
    capabilities = [
        Capability.chat_toolbar(title="New ticket", icon="ticket", tooltip="Create a ticket"),
        Capability.visitor_panel(title="Tickets", icon="ticket", priority=20),
    ]

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        db_path = os.environ.get("TICKET_DB") or str(Path(__file__).with_name("tickets.db"))
        self.store = TicketStore(db_path)

    # chat toolbar: the form and its submission

    def on_chat_toolbar_render(self, ctx: RenderContext):
        last = ctx.context.get("last_message")
        last_text = last.get("content") if isinstance(last, dict) else last
        description = FormField("description", "Description", "textarea").set_rows(4)
        if isinstance(last_text, str) and last_text:
            description.set_default(last_text)
        return (Form("Create ticket", action_id="create_ticket", submit_text="Create",
                     cancel_text="Cancel")
                .add(FormField("title", "Title", "text").set_required(True)
                     .set_placeholder("Short summary"))
                .add(FormField("priority", "Priority", "select").set_default("normal")
                     .add_option("Low", "low").add_option("Normal", "normal")
                     .add_option("High", "high"))
                .add(FormField("category", "Category", "radio").set_default("other")
                     .add_option("Billing", "billing").add_option("Technical", "technical")
                     .add_option("Other", "other"))
                .add(FormField("notify", "Email the customer", "checkbox").set_default(False))
                .add(description))

    def on_chat_toolbar_event(self, ctx: EventContext):
        if ctx.event_type != "form_submit" or ctx.action_id not in ("create_ticket", "submit"):
            return Action.noop(log=f"ignored {ctx.event_type}/{ctx.action_id}")
        form = ctx.form_data
        title = str(form.get("title") or "").strip()
        if not title:
            return Action.show_toast("Title is required", type="error")
        priority = form.get("priority") or "normal"
        if priority not in PRIORITIES:
            return Action.show_toast(f"Unknown priority {priority!r}", type="error")
        category = form.get("category") or "other"
        if category not in CATEGORIES:
            return Action.show_toast(f"Unknown category {category!r}", type="error")
        ticket_id = self.store.create(
            visitor_id=ctx.visitor_id, session_id=ctx.session_id, title=title[:200],
            priority=priority, category=category, notify=_truthy(form.get("notify")),
            description=str(form.get("description") or ""))
        self.logger.info("created ticket #%d for visitor %s", ticket_id, ctx.visitor_id)
        return (Action.show_toast(f"Ticket #{ticket_id} created", type="success")
                .then(Action.close_modal())
                .then(Action.refresh()))  # the Tickets panel shows the new ticket at once

    # visitor panel: this visitor's tickets

    def on_visitor_panel_render(self, ctx: RenderContext):
        tickets = self.store.for_visitor(ctx.visitor_id or "")
        if not tickets:
            return Empty(title="No tickets yet", icon="ticket",
                         description="Tickets created from the chat toolbar show up here.")
        out = ListView(title=f"Tickets ({len(tickets)})")
        for t in tickets:
            out.add(id=str(t["id"]), title=f"#{t['id']} {t['title']}",
                    description=f"{PRIORITIES.get(t['priority'], t['priority'])} priority · "
                                f"{CATEGORIES.get(t['category'], t['category'])}",
                    time=t["created_at"], icon="ticket")
        return out


if __name__ == "__main__":
    TicketPlugin().run()
