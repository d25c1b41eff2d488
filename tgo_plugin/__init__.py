"""TGO plugin SDK for Python (standard library only).

    from tgo_plugin import TGOPlugin, Capability, RenderContext, Text

    class HelloPlugin(TGOPlugin):
        id = "com.example.hello"
        name = "Hello Plugin"
        version = "1.0.0"
        capabilities = [Capability.visitor_panel(title="Hello", icon="hand")]

        def on_visitor_panel_render(self, ctx: RenderContext):
            return Text("Hello, TGO!").set_size("lg").set_bold(True)

    if __name__ == "__main__":
        HelloPlugin().run()
"""

from .actions import Action
from .capabilities import Capability, Tool, ToolParameter
from .context import EventContext, RenderContext, ToolContext, Visitor
from .plugin import DEFAULT_SOCKET_PATH, RegistrationRefused, TGOPlugin
from .protocol import RPCError
from .validation import InvalidResult
from .ui import (
    ActionButtons, Button, ButtonGroup, Card, Cards, Column, Empty, Form, FormField,
    Group, KeyValue, Link, Links, List, ListView, Loading, Markdown, Raw, Stats, Table,
    Tabs, Template, Text, Timeline, badge,
)

__version__ = "0.1.0"

__all__ = [
    "TGOPlugin", "DEFAULT_SOCKET_PATH", "RegistrationRefused", "Capability", "Tool", "ToolParameter",
    "RenderContext", "EventContext", "ToolContext", "Visitor", "Action", "RPCError", "InvalidResult",
    "Template", "Raw", "Text", "KeyValue", "Column", "Table", "badge", "Card", "Cards",
    "Link", "Links", "Button", "ActionButtons", "ButtonGroup", "Markdown", "ListView",
    "List", "Timeline", "Stats", "Empty", "Loading", "Group", "Tabs", "Form", "FormField",
    "__version__",
]
