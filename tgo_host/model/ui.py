"""JSON-UI: the templates a ``*/render`` returns (templates.md).

A rendered template is ``{"template": NAME, "data": {...}}``; each class below
is one template's ``data``, and names itself in the ``template`` ClassVar.
``group`` and ``tabs`` nest templates. Optional fields default to None and are
left out of `ui_to_json` output; the front end applies the spec's defaults.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Union

import attrs

from .converter import structure, unstructure
from .errors import ValidationError
from .fields import JSONObject, LinkUrl, Number, Scalar, model
from .tagged import register_tagged_union

# -- parts of templates -----------------------------------------------------------


@model
class KeyValueItem:
    label: str
    value: Scalar
    icon: str | None = None
    color: str | None = None
    type: Literal["text", "date", "datetime", "currency", "badge"] | None = None
    copyable: bool | None = None
    link: LinkUrl | None = None


@model
class TableColumn:
    key: str
    label: str
    width: Number | None = None
    align: Literal["left", "center", "right"] | None = None
    type: Literal["text", "badge", "link", "date", "datetime"] | None = None


@model
class Pagination:
    total: Number | None = None
    page: Number | None = None
    page_size: Number | None = None


@model
class CardField:
    label: str | None = None
    value: Scalar | None = None
    highlight: bool | None = None


@model
class Tag:
    text: str | None = None
    color: str | None = None


@model
class CardAction:
    id: str | None = None
    label: str | None = None
    type: str | None = None


@model
class CardsItem:
    """One item of ``cards``; keys beyond the modelled ones are dropped."""

    id: str | None = None
    title: str | None = None
    image: str | None = None
    description: str | None = None
    price: Scalar | None = None


@model
class LinkItem:
    text: str | None = None
    url: LinkUrl | None = None
    icon: str | None = None


@model
class ActionButton:
    id: str
    label: str
    icon: str | None = None
    type: Literal["primary", "default", "danger", "ghost"] | None = None
    size: str | None = None
    disabled: bool | None = None
    confirm: str | None = None
    loading: bool | None = None


@model
class ListItem:
    """One ``list`` entry: needs ``text`` or ``title``."""

    id: str | None = None
    text: str | None = None
    title: str | None = None
    description: str | None = None
    time: str | None = None
    icon: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.text is None and self.title is None:
            raise ValidationError("text", "required (or title)")


@model
class TimelineItem:
    time: str | None = None
    title: str | None = None
    description: str | None = None
    status: Literal["success", "info", "warning", "error", "default"] | None = None


@model
class StatItem:
    label: str | None = None
    value: Scalar | None = None
    icon: str | None = None
    trend: Scalar | None = None
    trend_type: Literal["up", "down"] | None = None
    color: str | None = None


@model
class EmptyAction:
    id: str | None = None
    label: str | None = None


@model
class TabItem:
    key: str
    label: str
    content: Template
    icon: str | None = None


@model
class FormOption:
    value: Scalar | None = None
    label: str | None = None


@model
class FormField:
    name: str
    type: Literal[
        "text", "textarea", "number", "select", "radio", "checkbox", "date", "datetime", "switch", "hidden"
    ]
    label: str | None = None
    required: bool | None = None
    placeholder: str | None = None
    options: list[FormOption] | None = None
    default: Any = None
    rows: Number | None = None


# -- templates --------------------------------------------------------------------


@model
class TextTemplate:
    template: ClassVar[str] = "text"
    text: str
    type: Literal["default", "info", "success", "warning", "error", "markdown"] | None = None
    copyable: bool | None = None
    size: Literal["sm", "base", "lg", "xl"] | None = None
    bold: bool | None = None
    color: str | None = None


@model
class KeyValueTemplate:
    template: ClassVar[str] = "key_value"
    title: str | None = None
    items: list[KeyValueItem]


@model
class TableTemplate:
    template: ClassVar[str] = "table"
    title: str | None = None
    columns: list[TableColumn]
    rows: list[JSONObject]
    pagination: Pagination | None = None
    row_click_action: str | None = None


@model
class CardTemplate:
    template: ClassVar[str] = "card"
    title: str | None = None
    subtitle: str | None = None
    image: str | None = None
    image_size: Literal["small", "medium", "large"] | None = None
    fields: list[CardField] | None = None
    tags: list[Tag] | None = None
    actions: list[CardAction] | None = None
    footer: str | None = None


@model
class CardsTemplate:
    template: ClassVar[str] = "cards"
    title: str | None = None
    layout: Literal["grid", "list"] | None = None
    columns: Number | None = None
    items: list[CardsItem]
    item_click_action: str | None = None


@model
class LinkTemplate:
    template: ClassVar[str] = "link"
    text: str
    url: LinkUrl
    icon: str | None = None
    target: Literal["_blank", "_self"] | None = None
    description: str | None = None


@model
class LinksTemplate:
    template: ClassVar[str] = "links"
    title: str | None = None
    items: list[LinkItem] | None = None


@model
class ButtonTemplate:
    template: ClassVar[str] = "button"
    label: str
    action_id: str
    type: Literal["primary", "secondary", "danger", "link"] | None = None
    size: Literal["xs", "sm", "md", "lg"] | None = None
    icon: str | None = None
    disabled: bool | None = None


@model
class ActionTemplate:
    template: ClassVar[str] = "action"
    buttons: list[ActionButton]


@model
class MarkdownTemplate:
    template: ClassVar[str] = "markdown"
    content: str
    max_height: Number | None = None


@model
class ListTemplate:
    template: ClassVar[str] = "list"
    title: str | None = None
    searchable: bool | None = None
    items: list[ListItem] | None = None
    show_more: bool | None = None
    more_action: str | None = None


@model
class TimelineTemplate:
    template: ClassVar[str] = "timeline"
    title: str | None = None
    items: list[TimelineItem] | None = None


@model
class StatsTemplate:
    template: ClassVar[str] = "stats"
    items: list[StatItem] | None = None


@model
class EmptyTemplate:
    template: ClassVar[str] = "empty"
    icon: str | None = None
    title: str | None = None
    description: str | None = None
    action: EmptyAction | None = None


@model
class LoadingTemplate:
    template: ClassVar[str] = "loading"
    text: str | None = None


@model
class GroupTemplate:
    template: ClassVar[str] = "group"
    items: list[Template]
    layout: Literal["vertical", "horizontal"] | None = None


@model
class TabsTemplate:
    template: ClassVar[str] = "tabs"
    items: list[TabItem]
    default_tab: str | None = None


@model
class FormTemplate:
    template: ClassVar[str] = "form"
    title: str | None = None
    fields: list[FormField]
    submit_text: str | None = None
    cancel_text: str | None = None
    action_id: str | None = None


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
TEMPLATE_NAMES: tuple[str, ...] = tuple(cls.template for cls in Template.__args__)

for _cls in (TabItem, GroupTemplate):
    attrs.resolve_types(_cls, globals())

register_tagged_union(Template, tag="template", noun="template", envelope=True, what="a JSON-UI template")


def parse_ui(obj: Any) -> Template:
    """Validate a render result (``{"template": ..., "data": {...}}``); raises ValidationError."""
    return structure(obj, Template)


def ui_to_json(template: Template) -> dict[str, Any]:
    """``{"template": NAME, "data": {...}}`` for ``template``, None fields left out."""
    return unstructure(template)
