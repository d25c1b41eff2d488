"""Fluent JSON-UI builders, one per template.

Every builder's ``to_dict()`` returns ``{"template": NAME, "data": {...}}``;
optional fields left unset (``None``) are omitted. Setters return ``self``.
"""

from __future__ import annotations

from typing import Any, Iterable

from .protocol import to_jsonable
from .validation import check_result

__all__ = [
    "Template", "Raw", "Text", "KeyValue", "Column", "Table", "badge", "Card",
    "Cards", "Link", "Links", "Button", "ActionButtons", "ButtonGroup",
    "Markdown", "ListView", "List", "Timeline", "Stats", "Empty", "Loading",
    "Group", "Tabs", "Form", "FormField",
]


def _compact(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class Template:
    """Base class: subclasses set ``template`` and implement ``_data()``."""

    template = ""

    def _data(self) -> dict[str, Any]:
        raise TypeError(f"{type(self).__name__} must implement _data()")

    def to_dict(self) -> dict[str, Any]:
        return {"template": self.template, "data": to_jsonable(self._data())}

    def validate(self) -> Template:
        """Check this template by the host's rules (``tgo_host`` installed); raises ``InvalidResult``."""
        check_result("template", self.to_dict())
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Template):
            return self.to_dict() == other.to_dict()
        if isinstance(other, dict):
            return self.to_dict() == other
        return NotImplemented


class Raw(Template):
    """Any template given as a name and a data dict (escape hatch)."""

    def __init__(self, template: str, data: dict[str, Any]) -> None:
        self.template = template
        self.data = data

    def _data(self) -> dict[str, Any]:
        return dict(self.data)


class Text(Template):
    template = "text"

    def __init__(self, text: str, type: str | None = None, size: str | None = None,
                 bold: bool | None = None, color: str | None = None,
                 copyable: bool | None = None) -> None:
        self.text, self.type, self.size = text, type, size
        self.bold, self.color, self.copyable = bold, color, copyable

    def set_type(self, type: str) -> Text:
        self.type = type
        return self

    def set_size(self, size: str) -> Text:
        self.size = size
        return self

    def set_bold(self, bold: bool = True) -> Text:
        self.bold = bold
        return self

    def set_color(self, color: str) -> Text:
        self.color = color
        return self

    def set_copyable(self, copyable: bool = True) -> Text:
        self.copyable = copyable
        return self

    def _data(self) -> dict[str, Any]:
        return _compact(text=self.text, type=self.type, copyable=self.copyable,
                        size=self.size, bold=self.bold, color=self.color)


class KeyValue(Template):
    template = "key_value"

    def __init__(self, title: str | None = None, items: Iterable[dict[str, Any]] | None = None) -> None:
        self.title = title
        self.items: list[dict[str, Any]] = list(items or [])

    def set_title(self, title: str) -> KeyValue:
        self.title = title
        return self

    def add(self, label: str, value: Any, icon: str | None = None, color: str | None = None,
            type: str | None = None, copyable: bool | None = None,
            link: str | None = None) -> KeyValue:
        self.items.append(_compact(label=label, value=value, icon=icon, color=color,
                                   type=type, copyable=copyable, link=link))
        return self

    def _data(self) -> dict[str, Any]:
        return _compact(title=self.title, items=self.items)


class Column:
    """A ``table`` column."""

    def __init__(self, key: str, label: str | None = None, width: float | None = None,
                 align: str | None = None, type: str | None = None) -> None:
        self.key, self.label = key, label if label is not None else key
        self.width, self.align, self.type = width, align, type

    def to_dict(self) -> dict[str, Any]:
        return _compact(key=self.key, label=self.label, width=self.width,
                        align=self.align, type=self.type)


def badge(text: str, color: str | None = None) -> dict[str, Any]:
    """A ``badge`` table cell: ``{"text", "color"}`` (green/orange/red/blue/gray)."""
    return _compact(text=text, color=color)


class Table(Template):
    template = "table"

    def __init__(self, title: str | None = None) -> None:
        self.title = title
        self._columns: list[Any] = []
        self._rows: list[dict[str, Any]] = []
        self.pagination: dict[str, Any] | None = None
        self.row_click_action: str | None = None

    def columns(self, *cols: Any) -> Table:
        """Add columns: ``Column`` objects, dicts, or strings (key = label)."""
        if len(cols) == 1 and isinstance(cols[0], (list, tuple)):
            cols = tuple(cols[0])
        for col in cols:
            self._columns.append(Column(col) if isinstance(col, str) else col)
        return self

    def column(self, key: str, label: str | None = None, **kw: Any) -> Table:
        self._columns.append(Column(key, label, **kw))
        return self

    def row(self, row: dict[str, Any] | None = None, **cells: Any) -> Table:
        self._rows.append({**(row or {}), **cells})
        return self

    def rows(self, rows: Iterable[dict[str, Any]]) -> Table:
        self._rows.extend(rows)
        return self

    def set_title(self, title: str) -> Table:
        self.title = title
        return self

    def set_pagination(self, total: int, page: int = 1, page_size: int = 10) -> Table:
        self.pagination = {"total": total, "page": page, "page_size": page_size}
        return self

    def set_row_click_action(self, action_id: str) -> Table:
        self.row_click_action = action_id
        return self

    def _data(self) -> dict[str, Any]:
        return _compact(title=self.title, columns=self._columns, rows=self._rows,
                        pagination=self.pagination, row_click_action=self.row_click_action)


class Card(Template):
    template = "card"

    def __init__(self, title: str | None = None, subtitle: str | None = None,
                 image: str | None = None, image_size: str | None = None,
                 footer: str | None = None) -> None:
        self.title, self.subtitle, self.image = title, subtitle, image
        self.image_size, self.footer = image_size, footer
        self.fields: list[dict[str, Any]] = []
        self.tags: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []

    def add_field(self, label: str, value: Any, highlight: bool | None = None) -> Card:
        self.fields.append(_compact(label=label, value=value, highlight=highlight))
        return self

    def add_tag(self, text: str, color: str | None = None) -> Card:
        self.tags.append(_compact(text=text, color=color))
        return self

    def add_action(self, id: str, label: str, type: str | None = None) -> Card:
        self.actions.append(_compact(id=id, label=label, type=type))
        return self

    def set_title(self, title: str) -> Card:
        self.title = title
        return self

    def set_subtitle(self, subtitle: str) -> Card:
        self.subtitle = subtitle
        return self

    def set_image(self, image: str, size: str | None = None) -> Card:
        self.image = image
        if size is not None:
            self.image_size = size
        return self

    def set_footer(self, footer: str) -> Card:
        self.footer = footer
        return self

    def _data(self) -> dict[str, Any]:
        return _compact(title=self.title, subtitle=self.subtitle, image=self.image,
                        image_size=self.image_size, fields=self.fields or None,
                        tags=self.tags or None, actions=self.actions or None,
                        footer=self.footer)


class Cards(Template):
    template = "cards"

    def __init__(self, title: str | None = None, layout: str | None = None,
                 columns: int | None = None, item_click_action: str | None = None) -> None:
        self.title, self.layout, self.columns = title, layout, columns
        self.item_click_action = item_click_action
        self.items: list[dict[str, Any]] = []

    def add(self, item: dict[str, Any] | str | None = None, title: str | None = None,
            image: str | None = None, description: str | None = None,
            price: Any = None, **extra: Any) -> Cards:
        """Add an item: a dict, or ``add(id, title, image=..., ...)``."""
        if isinstance(item, dict):
            self.items.append({**item, **extra})
        else:
            self.items.append(_compact(id=item, title=title, image=image,
                                       description=description, price=price, **extra))
        return self

    def set_layout(self, layout: str, columns: int | None = None) -> Cards:
        self.layout = layout
        if columns is not None:
            self.columns = columns
        return self

    def set_item_click_action(self, action_id: str) -> Cards:
        self.item_click_action = action_id
        return self

    def _data(self) -> dict[str, Any]:
        return _compact(title=self.title, layout=self.layout, columns=self.columns,
                        items=self.items, item_click_action=self.item_click_action)


class Link(Template):
    template = "link"

    def __init__(self, text: str, url: str, icon: str | None = None,
                 target: str | None = None, description: str | None = None) -> None:
        self.text, self.url, self.icon = text, url, icon
        self.target, self.description = target, description

    def set_icon(self, icon: str) -> Link:
        self.icon = icon
        return self

    def set_target(self, target: str) -> Link:
        self.target = target
        return self

    def set_description(self, description: str) -> Link:
        self.description = description
        return self

    def _data(self) -> dict[str, Any]:
        return _compact(text=self.text, url=self.url, icon=self.icon,
                        target=self.target, description=self.description)


class Links(Template):
    template = "links"

    def __init__(self, title: str | None = None) -> None:
        self.title = title
        self.items: list[dict[str, Any]] = []

    def add(self, text: str, url: str, icon: str | None = None) -> Links:
        self.items.append(_compact(text=text, url=url, icon=icon))
        return self

    def _data(self) -> dict[str, Any]:
        return _compact(title=self.title, items=self.items)


class Button(Template):
    template = "button"

    def __init__(self, label: str, action_id: str, type: str | None = None,
                 size: str | None = None, icon: str | None = None,
                 disabled: bool | None = None) -> None:
        self.label, self.action_id, self.type = label, action_id, type
        self.size, self.icon, self.disabled = size, icon, disabled

    def set_type(self, type: str) -> Button:
        self.type = type
        return self

    def set_size(self, size: str) -> Button:
        self.size = size
        return self

    def set_icon(self, icon: str) -> Button:
        self.icon = icon
        return self

    def set_disabled(self, disabled: bool = True) -> Button:
        self.disabled = disabled
        return self

    def _data(self) -> dict[str, Any]:
        return _compact(label=self.label, action_id=self.action_id, type=self.type,
                        size=self.size, icon=self.icon, disabled=self.disabled)


class ActionButtons(Template):
    """The ``action`` template: a row of buttons (alias ``ButtonGroup``)."""

    template = "action"

    def __init__(self, buttons: Iterable[dict[str, Any]] | None = None) -> None:
        self.buttons: list[dict[str, Any]] = list(buttons or [])

    def add(self, id: str, label: str, icon: str | None = None, type: str | None = None,
            size: str | None = None, disabled: bool | None = None,
            confirm: str | None = None, loading: bool | None = None) -> ActionButtons:
        self.buttons.append(_compact(id=id, label=label, icon=icon, type=type, size=size,
                                     disabled=disabled, confirm=confirm, loading=loading))
        return self

    def _data(self) -> dict[str, Any]:
        return {"buttons": self.buttons}


ButtonGroup = ActionButtons


class Markdown(Template):
    template = "markdown"

    def __init__(self, content: str, max_height: float | None = None) -> None:
        self.content, self.max_height = content, max_height

    def set_max_height(self, max_height: float) -> Markdown:
        self.max_height = max_height
        return self

    def _data(self) -> dict[str, Any]:
        return _compact(content=self.content, max_height=self.max_height)


class ListView(Template):
    """The ``list`` template (alias ``List``)."""

    template = "list"

    def __init__(self, title: str | None = None, searchable: bool | None = None) -> None:
        self.title, self.searchable = title, searchable
        self.items: list[dict[str, Any]] = []
        self.show_more: bool | None = None
        self.more_action: str | None = None

    def add(self, id: str | None = None, text: str | None = None, title: str | None = None,
            description: str | None = None, time: str | None = None,
            icon: str | None = None, **extra: Any) -> ListView:
        self.items.append(_compact(id=id, text=text, title=title, description=description,
                                   time=time, icon=icon, **extra))
        return self

    def set_searchable(self, searchable: bool = True) -> ListView:
        self.searchable = searchable
        return self

    def set_show_more(self, show_more: bool = True, more_action: str | None = None) -> ListView:
        self.show_more = show_more
        if more_action is not None:
            self.more_action = more_action
        return self

    def _data(self) -> dict[str, Any]:
        return _compact(title=self.title, searchable=self.searchable, items=self.items,
                        show_more=self.show_more, more_action=self.more_action)


List = ListView


class Timeline(Template):
    template = "timeline"

    def __init__(self, title: str | None = None) -> None:
        self.title = title
        self.items: list[dict[str, Any]] = []

    def add(self, title: str, time: str | None = None, description: str | None = None,
            status: str | None = None) -> Timeline:
        self.items.append(_compact(time=time, title=title, description=description,
                                   status=status))
        return self

    def _data(self) -> dict[str, Any]:
        return _compact(title=self.title, items=self.items)


class Stats(Template):
    template = "stats"

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, label: str, value: Any, icon: str | None = None, trend: str | None = None,
            trend_type: str | None = None, color: str | None = None) -> Stats:
        self.items.append(_compact(label=label, value=value, icon=icon, trend=trend,
                                   trend_type=trend_type, color=color))
        return self

    def _data(self) -> dict[str, Any]:
        return {"items": self.items}


class Empty(Template):
    template = "empty"

    def __init__(self, title: str | None = None, description: str | None = None,
                 icon: str | None = None) -> None:
        self.title, self.description, self.icon = title, description, icon
        self.action: dict[str, Any] | None = None

    def set_action(self, id: str, label: str) -> Empty:
        self.action = {"id": id, "label": label}
        return self

    def _data(self) -> dict[str, Any]:
        return _compact(icon=self.icon, title=self.title, description=self.description,
                        action=self.action)


class Loading(Template):
    template = "loading"

    def __init__(self, text: str | None = None) -> None:
        self.text = text

    def _data(self) -> dict[str, Any]:
        return _compact(text=self.text)


class Group(Template):
    template = "group"

    def __init__(self, layout: str | None = None) -> None:
        self.layout = layout
        self.items: list[Any] = []

    def add(self, *templates: Any) -> Group:
        self.items.extend(templates)
        return self

    def set_layout(self, layout: str) -> Group:
        self.layout = layout
        return self

    def set_horizontal(self) -> Group:
        return self.set_layout("horizontal")

    def _data(self) -> dict[str, Any]:
        return _compact(items=self.items, layout=self.layout)


class Tabs(Template):
    template = "tabs"

    def __init__(self, default_tab: str | None = None) -> None:
        self.default_tab = default_tab
        self.items: list[dict[str, Any]] = []

    def add(self, key: str, label: str, content: Any, icon: str | None = None) -> Tabs:
        self.items.append(_compact(key=key, label=label, icon=icon, content=content))
        return self

    add_tab = add

    def set_default_tab(self, key: str) -> Tabs:
        self.default_tab = key
        return self

    def _data(self) -> dict[str, Any]:
        return _compact(items=self.items, default_tab=self.default_tab)


class FormField:
    """One ``form`` field."""

    def __init__(self, name: str, label: str | None = None, type: str = "text",
                 required: bool | None = None, placeholder: str | None = None,
                 default: Any = None, rows: int | None = None,
                 options: Iterable[dict[str, Any]] | None = None) -> None:
        self.name, self.label, self.type = name, label, type
        self.required, self.placeholder = required, placeholder
        self.default, self.rows = default, rows
        self.options: list[dict[str, Any]] | None = list(options) if options is not None else None

    def set_required(self, required: bool = True) -> FormField:
        self.required = required
        return self

    def set_placeholder(self, placeholder: str) -> FormField:
        self.placeholder = placeholder
        return self

    def set_default(self, default: Any) -> FormField:
        self.default = default
        return self

    def set_rows(self, rows: int) -> FormField:
        self.rows = rows
        return self

    def add_option(self, label: str, value: Any) -> FormField:
        if self.options is None:
            self.options = []
        self.options.append({"value": value, "label": label})
        return self

    def to_dict(self) -> dict[str, Any]:
        return _compact(name=self.name, label=self.label, type=self.type,
                        required=self.required, placeholder=self.placeholder,
                        options=self.options, default=self.default, rows=self.rows)


class Form(Template):
    template = "form"

    def __init__(self, title: str | None = None, action_id: str | None = None,
                 submit_text: str | None = None, cancel_text: str | None = None) -> None:
        self.title, self.action_id = title, action_id
        self.submit_text, self.cancel_text = submit_text, cancel_text
        self.fields: list[Any] = []

    def add(self, *fields: Any) -> Form:
        self.fields.extend(fields)
        return self

    def add_field(self, name: str, label: str | None = None, type: str = "text",
                  **kw: Any) -> Form:
        return self.add(FormField(name, label, type, **kw))

    def set_action_id(self, action_id: str) -> Form:
        self.action_id = action_id
        return self

    def set_submit_text(self, text: str) -> Form:
        self.submit_text = text
        return self

    def set_cancel_text(self, text: str) -> Form:
        self.cancel_text = text
        return self

    def _data(self) -> dict[str, Any]:
        return _compact(title=self.title, fields=self.fields, submit_text=self.submit_text,
                        cancel_text=self.cancel_text, action_id=self.action_id)
