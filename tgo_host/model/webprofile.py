"""The ``tgo-web`` render profile: JSON-UI expressed with the 7 templates the TGO web app renders.

The web app renders only ``key_value``, ``table``, ``form``, ``button``,
``group``, ``tabs`` and ``text``; every other template shows as an "unknown
template" box. `downlevel_ui` rewrites a validated render result (the JSON
``ui_to_json`` produced) into those 7, keeping meaning and interaction; what it
cannot express is returned as `FixUp` s of kind ``"profile"`` (the caller adds
them to the answer's ``warnings``). `downlevel_action` does the same for the
templates inside ``show_modal`` actions (also inside ``batch``).

Interactions the web app cannot send (a ``list`` pick is ``item_select`` with
``selected_id``; a ``cards`` item click carries the item as ``payload``)
become ``button`` s whose ``action_id`` encodes the original event
(`encode_event`); `restore_event` turns such a ``button_click`` back into the
event the original template would have sent, so the plugin's handler sees no
difference. The encoding carries nothing a caller could not send directly.

Pure JSON → JSON: no I/O, input is never modified. The mapping table is in
docs/templates.md ("The TGO web app profile").
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Callable

from .errors import ValidationError
from .fixups import FixUp

#: The templates the TGO web app renders.
WEB_TEMPLATES = frozenset({"key_value", "table", "form", "button", "group", "tabs", "text"})
#: The profiles a host can answer with: everything, or what the TGO web app renders.
PROFILES = ("full", "tgo-web")
#: The fix-up kind of what the profile could not express.
PROFILE = "profile"
#: ``action_id`` prefix of a button standing in for a gesture the web app cannot send.
EVENT_PREFIX = "tgo-web:"
#: The ``action_id`` the console sends with a ``list`` pick (``item_select``).
LIST_ACTION_ID = "select"

_TREND_COLORS = {"up": "#16a34a", "down": "#dc2626"}
_TREND_ARROWS = {"up": "▲", "down": "▼"}
_STATUS_BADGES = {"success": "green", "info": "blue", "warning": "orange", "error": "red", "default": "gray"}
_BUTTON_TYPES = {"primary": "primary", "default": "secondary", "danger": "danger", "ghost": "link"}
_FORM_TYPES = {"radio": "select", "datetime": "datetime-local", "switch": "checkbox"}
_HIGHLIGHT = "#2563eb"


class _Down:
    """One down-levelling: the warnings noted so far."""

    def __init__(self) -> None:
        self.warnings: list[FixUp] = []

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(FixUp(path, PROFILE, message))

    def ui(self, ui: Any, path: str) -> Any:
        if not isinstance(ui, dict):
            return ui
        name = ui.get("template")
        given = ui.get("data")
        data: dict[str, Any] = given if isinstance(given, dict) else {}
        mapper = _MAPPERS.get(name) if isinstance(name, str) else None
        if mapper is None:  # a web template without children, or a placeholder: the web app shows it as is
            return ui
        return mapper(self, data, f"{path}.data" if path else "data")


# -- helpers ----------------------------------------------------------------------


def _t(name: str, **data: Any) -> dict[str, Any]:
    return {"template": name, "data": {k: v for k, v in data.items() if v is not None}}


def _text(text: str, type: str | None = None) -> dict[str, Any]:
    return _t("text", text=text, type=type)


def _button(label: str, action_id: str, **extra: Any) -> dict[str, Any]:
    return _t("button", label=label, action_id=action_id, **extra)


def _group(items: list[dict[str, Any]], layout: str | None = None) -> dict[str, Any]:
    return items[0] if len(items) == 1 and layout is None else _t("group", items=items, layout=layout)


def _str(value: Any) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def encode_event(event_type: str, action_id: str, *, selected_id: str | None = None, payload: Any = None) -> str:
    """An ``action_id`` standing for the event ``(event_type, action_id, selected_id, payload)``."""
    record: dict[str, Any] = {"t": event_type, "a": action_id}
    if selected_id is not None:
        record["s"] = selected_id
    if payload is not None:
        record["p"] = payload
    raw = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()
    return EVENT_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def restore_event(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` as the original template would have sent it, when it is a click on an encoded button.

    Any other event is returned as is. A malformed encoded id raises
    `ValidationError` at ``action_id``.
    """
    action_id = event.get("action_id")
    if event.get("event_type") != "button_click" or not isinstance(action_id, str):
        return event
    if not action_id.startswith(EVENT_PREFIX):
        return event
    encoded = action_id[len(EVENT_PREFIX):]
    try:
        record = json.loads(base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("action_id", f"not a tgo-web event id ({exc.__class__.__name__})") from None
    if not isinstance(record, dict) or not isinstance(record.get("t"), str) or not isinstance(record.get("a"), str):
        raise ValidationError("action_id", "not a tgo-web event id (needs an event type and an action id)")
    if "s" in record and not isinstance(record["s"], str):
        raise ValidationError("action_id", "not a tgo-web event id (selected id must be a string)")
    if "p" in record and not isinstance(record["p"], dict):
        raise ValidationError("action_id", "not a tgo-web event id (payload must be an object)")
    restored = {**event, "event_type": record["t"], "action_id": record["a"]}
    if "s" in record:
        restored["selected_id"] = record["s"]
    if "p" in record:
        restored["payload"] = record["p"]
    return restored


# -- containers and web templates with fields the web app ignores ------------------


def _group_t(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    items = [down.ui(child, f"{path}.items[{i}]") for i, child in enumerate(data.get("items") or ())]
    return {"template": "group", "data": {**data, "items": items}}


def _tabs_t(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    tabs = [
        {**tab, "content": down.ui(tab.get("content"), f"{path}.items[{i}].content")} if isinstance(tab, dict) else tab
        for i, tab in enumerate(data.get("items") or ())
    ]
    return {"template": "tabs", "data": {**data, "items": tabs}}


def _table_t(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    if data.get("row_click_action"):
        down.warn(f"{path}.row_click_action", "rows cannot be clicked in the TGO web app")
    if data.get("pagination"):
        down.warn(f"{path}.pagination", "the TGO web app shows no pagination")
    return {"template": "table", "data": data}


def _form_t(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    fields = []
    for field in data.get("fields") or ():
        if isinstance(field, dict) and field.get("type") in _FORM_TYPES:
            field = {**field, "type": _FORM_TYPES[field["type"]]}
        fields.append(field)
    return {"template": "form", "data": {**data, "fields": fields}}


# -- the templates the web app lacks ----------------------------------------------


def _stats(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    items = []
    for stat in data.get("items") or ():
        value = _str(stat.get("value"))
        trend, trend_type = stat.get("trend"), stat.get("trend_type")
        if trend is not None:
            arrow = _TREND_ARROWS.get(trend_type, "")
            value = f"{value} ({arrow}{_str(trend)})" if value else f"{arrow}{_str(trend)}"
        item = {"label": _str(stat.get("label")), "value": value}
        color = _TREND_COLORS.get(trend_type) if trend is not None else None
        for key, given in (("icon", stat.get("icon")), ("color", color or stat.get("color"))):
            if given is not None:
                item[key] = given
        items.append(item)
    return _t("key_value", items=items)


def _list(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    if data.get("title"):
        out.append(_text(data["title"]))
    if data.get("searchable"):
        down.warn(f"{path}.searchable", "the TGO web app has no search box: every item is listed")
    for i, item in enumerate(data.get("items") or ()):
        label = item.get("title") or item.get("text") or ""
        selected = _str(item.get("id"))
        button = _button(label, encode_event("item_select", LIST_ACTION_ID, selected_id=selected),
                         type="secondary", icon=item.get("icon"))
        detail = " · ".join(_str(item[k]) for k in ("description", "time") if item.get(k))
        if item.get("title") and item.get("text") and item["text"] != item["title"]:
            detail = " · ".join(x for x in (detail, item["text"]) if x) if not item.get("description") else detail
        out.append(_group([button, _text(detail)]) if detail else button)
    if data.get("show_more") and data.get("more_action"):
        out.append(_button("More", data["more_action"], type="link"))
    elif data.get("show_more"):
        down.warn(f"{path}.show_more", "\"more\" without more_action: nothing to send, left out")
    if not out:
        out.append(_text("Nothing to show"))
    return _t("group", items=out)


def _action_buttons(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    buttons = []
    for i, b in enumerate(data.get("buttons") or ()):
        if b.get("confirm"):
            down.warn(f"{path}.buttons[{i}].confirm", "the TGO web app cannot ask before firing: the button fires at once")
        buttons.append(_button(
            b.get("label") or "", b.get("id") or "", type=_BUTTON_TYPES.get(b.get("type"), b.get("type")),
            size=b.get("size"), icon=b.get("icon"), disabled=True if b.get("loading") else b.get("disabled"),
        ))
    return _t("group", items=buttons, layout="horizontal")


def _link_item(text: Any, url: Any, icon: Any = None) -> dict[str, Any]:
    item: dict[str, Any] = {"label": _str(text), "value": _str(url)}
    if url:
        item["type"] = "link"
    if icon is not None:
        item["icon"] = icon
    return item


def _link(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    if data.get("target") == "_self":
        down.warn(f"{path}.target", "the TGO web app chooses where a link opens")
    items = [_link_item(data.get("text"), data.get("url"), data.get("icon"))]
    if data.get("description"):
        items.append({"label": "", "value": data["description"]})
    return _t("key_value", items=items)


def _links(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    items = [_link_item(i.get("text") or i.get("url"), i.get("url"), i.get("icon")) for i in data.get("items") or ()]
    return _t("key_value", title=data.get("title"), items=items)


def _card(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    title = " · ".join(_str(data[k]) for k in ("title", "subtitle") if data.get(k)) or None
    items = []
    for f in data.get("fields") or ():
        item = {"label": _str(f.get("label")), "value": f.get("value") if f.get("value") is not None else ""}
        if f.get("highlight"):
            item["color"] = _HIGHLIGHT
        items.append(item)
    if data.get("tags"):
        items.append({"label": "Tags", "value": ", ".join(_str(t.get("text")) for t in data["tags"] if t.get("text"))})
    if data.get("footer"):
        items.append({"label": "", "value": data["footer"]})
    if data.get("image"):
        down.warn(f"{path}.image", "the TGO web app shows no images: left out")
    out = [_t("key_value", title=title, items=items)]
    buttons = [
        _button(a.get("label") or a.get("id") or "", a.get("id") or "", type=_BUTTON_TYPES.get(a.get("type"), a.get("type")))
        for a in data.get("actions") or ()
    ]
    if buttons:
        out.append(_t("group", items=buttons, layout="horizontal"))
    return _group(out)


_CARDS_ITEM_KEYS = ("id", "title", "image", "description", "price")


def _cards(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    if data.get("title"):
        out.append(_text(data["title"]))
    click = data.get("item_click_action")
    for i, item in enumerate(data.get("items") or ()):
        rows = []
        if item.get("description"):
            rows.append({"label": "", "value": item["description"]})
        if item.get("price") is not None:
            rows.append({"label": "Price", "value": item["price"]})
        for key, value in item.items():  # the extra fields a plugin put on the item, when shown as text
            if key not in _CARDS_ITEM_KEYS and (value is None or isinstance(value, (str, int, float, bool))):
                rows.append({"label": key.replace("_", " ").capitalize(), "value": value if value is not None else ""})
        if item.get("image"):
            down.warn(f"{path}.items[{i}].image", "the TGO web app shows no images: left out")
        card = [_t("key_value", title=item.get("title"), items=rows)]
        if click:
            card.append(_button("Open", encode_event("button_click", click, payload=item), type="link"))
        out.append(_group(card))
    if not out:
        out.append(_text("Nothing to show"))
    return _t("group", items=out)


def _timeline(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    entries = data.get("items") or ()
    columns = [{"key": "time", "label": "Time"}, {"key": "title", "label": "Event"},
               {"key": "description", "label": "Details"}]
    with_status = any(e.get("status") for e in entries)
    if with_status:
        columns.append({"key": "status", "label": "Status"})
    rows = []
    for e in entries:
        row: dict[str, Any] = {k: _str(e.get(k)) for k in ("time", "title", "description")}
        if with_status:
            status = e.get("status")
            row["status"] = {"text": status, "color": _STATUS_BADGES.get(status, "gray")} if status else ""
        rows.append(row)
    return _t("table", title=data.get("title"), columns=columns, rows=rows)


def _markdown(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    return _text(_str(data.get("content")), "markdown")


def _empty(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    text = "\n\n".join(_str(data[k]) for k in ("title", "description") if data.get(k)) or "Nothing to show"
    action = data.get("action")
    if isinstance(action, dict) and action.get("id"):
        return _t("group", items=[_text(text, "info"), _button(action.get("label") or action["id"], action["id"])])
    if isinstance(action, dict) and action:
        down.warn(f"{path}.action", "an empty-state action without an id sends nothing: left out")
    return _text(text, "info")


def _loading(down: _Down, data: dict[str, Any], path: str) -> dict[str, Any]:
    return _text(data.get("text") or "Loading…", "info")


_MAPPERS: dict[str, Callable[[_Down, dict[str, Any], str], dict[str, Any]]] = {
    "group": _group_t,
    "tabs": _tabs_t,
    "table": _table_t,
    "form": _form_t,
    "stats": _stats,
    "list": _list,
    "action": _action_buttons,
    "link": _link,
    "links": _links,
    "card": _card,
    "cards": _cards,
    "timeline": _timeline,
    "markdown": _markdown,
    "empty": _empty,
    "loading": _loading,
}


# -- entry points -----------------------------------------------------------------


def downlevel_ui(ui: dict[str, Any]) -> tuple[dict[str, Any], list[FixUp]]:
    """``ui`` (a validated render result) with only the web app's 7 templates, and what could not be kept."""
    down = _Down()
    return down.ui(ui, ""), down.warnings


def downlevel_action(action: dict[str, Any]) -> tuple[dict[str, Any], list[FixUp]]:
    """``action`` (a validated event result) with the templates of its ``show_modal`` s down-levelled."""
    down = _Down()
    return _action(down, action, ""), down.warnings


def _action(down: _Down, action: Any, path: str) -> Any:
    if not isinstance(action, dict) or not isinstance(action.get("data"), dict):
        return action
    data = action["data"]
    head = f"{path}.data" if path else "data"
    if action.get("action") == "show_modal" and isinstance(data.get("template"), str):
        ui = down.ui({"template": data["template"], "data": data.get("data") or {}}, head)
        return {**action, "data": {**data, "template": ui["template"], "data": ui["data"]}}
    if action.get("action") == "batch" and isinstance(data.get("actions"), list):
        subs = [_action(down, a, f"{head}.actions[{i}]") for i, a in enumerate(data["actions"])]
        return {**action, "data": {**data, "actions": subs}}
    return action


def apply_profile(profile: str, ui: dict[str, Any]) -> tuple[dict[str, Any], list[FixUp]]:
    """``ui`` for ``profile`` (``full``: unchanged) and the warnings of the change."""
    if profile == "full":
        return ui, []
    return downlevel_ui(ui)
