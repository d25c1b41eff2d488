"""JSON-UI: the templates a ``*/render`` returns (templates.md).

A rendered template is ``{"template": NAME, "data": {...}}``; each class below
is one template's ``data``, and names itself in the ``template`` ClassVar.
``group``, ``tabs`` and ``show_modal`` nest templates: a nested template with
an unknown name becomes an `UnknownTemplate` placeholder (the web app and the
console show a small "unknown template" box in its place); an unknown name at
the top is an error. Fields use the lenient types of `fields` (see the policy
in `tgo_host.model`); the known values of each display hint are listed in a
comment, other strings are kept. Optional fields default to None and are left
out of `ui_to_json` output; keys no model knows are passed through.
"""

from __future__ import annotations

from typing import Any, ClassVar, Union, get_args

import attrs

from . import lenient  # noqa: F401  (registers the hooks of the lenient field types)
from .converter import structure, to_validation_error, unstructure
from .converter import converter
from .errors import ValidationError
from .fields import Flag, Hint, ImageUrl, JSONObject, LinkUrl, Measure, Open, Text, Value, Width, model
from .fixups import PLACEHOLDER, note
from .tagged import register_tagged_union
from .urls import link_url_problem

# -- parts of templates -----------------------------------------------------------


@model
class KeyValueItem(Open):
    """``type: "link"`` makes ``value`` the link's URL, so it is checked like one."""

    label: Text
    value: Value = Value("")
    icon: Text | None = None
    color: Text | None = None
    type: Hint | None = None  # text, date, datetime, currency, badge, link, status
    copyable: Flag | None = None
    link: LinkUrl | None = None

    def __attrs_post_init__(self) -> None:
        if self.type == "link" and isinstance(self.value, str):
            reason = link_url_problem(self.value)
            if reason is not None:
                raise ValidationError("value", reason)


@model
class TableColumn(Open):
    key: Text
    label: Text
    width: Width | None = None  # a number of pixels or a CSS length ("30%")
    align: Hint | None = None  # left, center, right
    type: Hint | None = None  # text, badge, link, date, datetime


@model
class Pagination(Open):
    total: Measure | None = None
    page: Measure | None = None
    page_size: Measure | None = None


@model
class CardField(Open):
    label: Text | None = None
    value: Value | None = None
    highlight: Flag | None = None


@model
class Tag(Open):
    text: Text | None = None
    color: Text | None = None


@model
class CardAction(Open):
    id: Text | None = None
    label: Text | None = None
    type: Text | None = None


@model
class CardsItem(Open):
    """One item of ``cards``; keys beyond the modelled ones are kept (``extra``)."""

    id: Text | None = None
    title: Text | None = None
    image: ImageUrl | None = None
    description: Text | None = None
    price: Value | None = None


@model
class LinkItem(Open):
    text: Text | None = None
    url: LinkUrl | None = None
    icon: Text | None = None


@model
class ActionButton(Open):
    id: Text
    label: Text
    icon: Text | None = None
    type: Hint | None = None  # primary, default, danger, ghost
    size: Text | None = None
    disabled: Flag | None = None
    confirm: Text | None = None
    loading: Flag | None = None


@model
class ListItem(Open):
    """One ``list`` entry: needs ``text`` or ``title`` (given as null: shown empty)."""

    id: Text | None = None
    text: Text | None = None
    title: Text | None = None
    description: Text | None = None
    time: Text | None = None
    icon: Text | None = None


_structure_list_item_fields = converter.get_structure_hook(ListItem)


def _structure_list_item(value: Any, _: Any) -> ListItem:
    item: ListItem = _structure_list_item_fields(value, ListItem)
    if item.text is None and item.title is None:
        if "text" not in value and "title" not in value:
            raise ValidationError("text", "required (or title)")
        item.text = Text("")  # a null text: the front end shows an empty entry
    return item


converter.register_structure_hook(ListItem, _structure_list_item)


@model
class TimelineItem(Open):
    time: Text | None = None
    title: Text | None = None
    description: Text | None = None
    status: Hint | None = None  # success, info, warning, error, default


@model
class StatItem(Open):
    label: Text | None = None
    value: Value | None = None
    icon: Text | None = None
    trend: Value | None = None
    trend_type: Hint | None = None  # up, down
    color: Text | None = None


@model
class EmptyAction(Open):
    id: Text | None = None
    label: Text | None = None


@model
class TabItem(Open):
    key: Text
    label: Text
    content: Child
    icon: Text | None = None


@model
class FormOption(Open):
    value: Value | None = None
    label: Text | None = None


@model
class FormField(Open):
    name: Text
    #: text, textarea, number, select, radio, checkbox, date, datetime, switch, hidden,
    #: or any other HTML input type (email, tel, ...); ``""`` reads as text.
    type: Hint = attrs.field(converter=lambda value: value or "text")
    label: Text | None = None
    required: Flag | None = None
    placeholder: Text | None = None
    options: list[FormOption] | None = None
    default: Any = None
    rows: Measure | None = None


# -- templates --------------------------------------------------------------------


@model
class TextTemplate(Open):
    template: ClassVar[str] = "text"
    text: Text
    type: Hint | None = None  # default, info, success, warning, error, markdown
    copyable: Flag | None = None
    size: Hint | None = None  # sm, base, lg, xl
    bold: Flag | None = None
    color: Text | None = None


@model
class KeyValueTemplate(Open):
    template: ClassVar[str] = "key_value"
    title: Text | None = None
    items: list[KeyValueItem]


@model
class TableTemplate(Open):
    template: ClassVar[str] = "table"
    title: Text | None = None
    columns: list[TableColumn]
    rows: list[JSONObject]
    pagination: Pagination | None = None
    row_click_action: Text | None = None

    def __attrs_post_init__(self) -> None:
        links = [c.key for c in self.columns if c.type == "link"]
        for index, row in enumerate(self.rows if links else ()):
            for key in links:
                problem = _cell_url_problem(row.get(key))
                if problem is not None:
                    raise ValidationError(f"rows[{index}].{key}", problem)


def _cell_url_problem(cell: Any) -> str | None:
    """Why a cell of a ``link`` column may not be shown as a link (a URL, or ``{text, url}``)."""
    if cell.__class__ is str:
        return link_url_problem(cell)
    if cell.__class__ is dict:
        for key in ("url", "href", "link"):
            if cell.get(key).__class__ is str:
                problem = link_url_problem(cell[key])
                if problem is not None:
                    return f"{key}: {problem}"
    return None


@model
class CardTemplate(Open):
    template: ClassVar[str] = "card"
    title: Text | None = None
    subtitle: Text | None = None
    image: ImageUrl | None = None
    image_size: Hint | None = None  # small, medium, large
    fields: list[CardField] | None = None
    tags: list[Tag] | None = None
    actions: list[CardAction] | None = None
    footer: Text | None = None


@model
class CardsTemplate(Open):
    template: ClassVar[str] = "cards"
    title: Text | None = None
    layout: Hint | None = None  # grid, list
    columns: Measure | None = None
    items: list[CardsItem]
    item_click_action: Text | None = None


@model
class LinkTemplate(Open):
    template: ClassVar[str] = "link"
    text: Text
    url: LinkUrl
    icon: Text | None = None
    target: Hint | None = None  # _blank, _self
    description: Text | None = None


@model
class LinksTemplate(Open):
    template: ClassVar[str] = "links"
    title: Text | None = None
    items: list[LinkItem] | None = None


@model
class ButtonTemplate(Open):
    template: ClassVar[str] = "button"
    label: Text
    action_id: Text
    type: Hint | None = None  # primary, secondary, danger, link
    size: Hint | None = None  # xs, sm, md, lg
    icon: Text | None = None
    disabled: Flag | None = None


@model
class ActionTemplate(Open):
    template: ClassVar[str] = "action"
    buttons: list[ActionButton]


@model
class MarkdownTemplate(Open):
    template: ClassVar[str] = "markdown"
    content: Text
    max_height: Measure | None = None


@model
class ListTemplate(Open):
    template: ClassVar[str] = "list"
    title: Text | None = None
    searchable: Flag | None = None
    items: list[ListItem] | None = None
    show_more: Flag | None = None
    more_action: Text | None = None


@model
class TimelineTemplate(Open):
    template: ClassVar[str] = "timeline"
    title: Text | None = None
    items: list[TimelineItem] | None = None


@model
class StatsTemplate(Open):
    template: ClassVar[str] = "stats"
    items: list[StatItem] | None = None


@model
class EmptyTemplate(Open):
    template: ClassVar[str] = "empty"
    icon: Text | None = None
    title: Text | None = None
    description: Text | None = None
    action: EmptyAction | None = None


@model
class LoadingTemplate(Open):
    template: ClassVar[str] = "loading"
    text: Text | None = None


@model
class GroupTemplate(Open):
    template: ClassVar[str] = "group"
    items: list[Child]
    layout: Hint | None = None  # vertical, horizontal


@model
class TabsTemplate(Open):
    template: ClassVar[str] = "tabs"
    items: list[TabItem]
    default_tab: Text | None = None


@model
class FormTemplate(Open):
    template: ClassVar[str] = "form"
    title: Text | None = None
    fields: list[FormField]
    submit_text: Text | None = None
    cancel_text: Text | None = None
    action_id: Text | None = None


@model
class UnknownTemplate:
    """A nested template whose name no front end knows: shown as a placeholder box.

    Its ``data`` is not passed on (nothing renders it, and it was not checked).
    """

    name: str

Template = Union[
    TextTemplate,
    KeyValueTemplate,
    TableTemplate,
    CardTemplate,
    CardsTemplate,
    LinkTemplate,
    LinksTemplate,
    ButtonTemplate,
    ActionTemplate,
    MarkdownTemplate,
    ListTemplate,
    TimelineTemplate,
    StatsTemplate,
    EmptyTemplate,
    LoadingTemplate,
    GroupTemplate,
    TabsTemplate,
    FormTemplate,
]
TEMPLATE_NAMES: tuple[str, ...] = tuple(cls.template for cls in get_args(Template))
_KNOWN_NAMES = frozenset(TEMPLATE_NAMES)
#: A template nested in ``group``/``tabs``/``show_modal``: known, or a placeholder.
Child = Union[Template, UnknownTemplate]


def _structure_child(obj: Any, _: Any) -> Any:
    name = obj.get("template") if obj.__class__ is dict else None
    if name.__class__ is str and name not in _KNOWN_NAMES:
        if obj.get("data") is not None and obj["data"].__class__ is not dict:
            raise ValidationError("data", "expected an object")
        note(PLACEHOLDER, f"unknown template {name[:60]!r} shown as an \"unknown template\" box")
        return UnknownTemplate(name=name)
    return _structure_template(obj, Template)


converter.register_structure_hook(Child, _structure_child)
converter.register_unstructure_hook(UnknownTemplate, lambda unknown: {"template": unknown.name, "data": {}})
for _cls in (TabItem, GroupTemplate):
    attrs.resolve_types(_cls, globals())

_structure_template = register_tagged_union(
    Template, tag="template", noun="template", envelope=True, what="a JSON-UI template"
)


def structure_child(obj: Any) -> Template | UnknownTemplate:
    """A nested template (``show_modal`` content): unknown names become placeholders."""
    try:
        child: Template | UnknownTemplate = _structure_child(obj, Child)
    except Exception as exc:
        raise to_validation_error(exc) from None
    return child


def parse_ui(obj: Any) -> Template:
    """Validate a render result (``{"template": ..., "data": {...}}``); raises ValidationError."""
    template: Template = structure(obj, Template)
    return template


def ui_to_json(template: Template | UnknownTemplate) -> dict[str, Any]:
    """``{"template": NAME, "data": {...}}`` for ``template``, None fields left out."""
    out: dict[str, Any] = unstructure(template)
    return out
