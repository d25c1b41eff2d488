// tgo-host console: JSON-UI renderer (all 18 templates), markdown, and the JSON-ACTION executor.
//
// renderUI(ui, ctx) -> Element. ctx.emit(event) sends a gesture's event and resolves when its
// action has run; ctx.closeModal (set inside dialogs) closes the dialog a form sits in.
// Events follow spec/templates.md:
//   button / action / card action / empty action  -> {event_type: "button_click", action_id}
//   list item                                     -> {event_type: "item_select", action_id, selected_id}
//   form submit                                   -> {event_type: "form_submit", action_id, form_data}
//   table row / cards item                        -> {event_type: "button_click", action_id, payload}
"use strict";

(function () {
  const TGO = window.TGO;
  const { h, clear, icon, str, isObj, arr, httpUrl, safeHref, cssColor, fmtDate, fmtCurrency, toast } = TGO;

  const MAX_DEPTH = 24;
  const NAMED_COLORS = ["green", "orange", "red", "blue", "gray", "grey", "yellow", "purple"];
  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  // ---------------------------------------------------------------- markdown

  let md = null;
  const PURIFY = {
    RETURN_DOM_FRAGMENT: true,
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "option", "iframe", "object", "embed", "svg", "math"],
    FORBID_ATTR: ["style", "class", "id"],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|tel:)/i,
  };

  /** Markdown source -> sanitised DocumentFragment (markdown-it with raw HTML off, then DOMPurify). */
  function markdown(source) {
    if (!md) md = window.markdownit({ html: false, linkify: true, breaks: true, typographer: false });
    const html = md.render(str(source));
    const fragment = window.DOMPurify.sanitize(html, PURIFY);
    for (const a of fragment.querySelectorAll("a")) {
      if (!safeHref(a.getAttribute("href"))) a.removeAttribute("href");
      a.setAttribute("target", "_blank");
      a.setAttribute("rel", "noopener noreferrer");
    }
    for (const img of fragment.querySelectorAll("img")) {
      if (!httpUrl(img.getAttribute("src"))) img.removeAttribute("src");
      img.setAttribute("loading", "lazy");
      img.setAttribute("referrerpolicy", "no-referrer");
    }
    return h("div", { class: "markdown-body" }, fragment);
  }

  // ---------------------------------------------------------------- small parts

  function badge(value, color) {
    const text = isObj(value) ? str(value.text) : str(value);
    const c = isObj(value) && value.color ? value.color : color;
    const el = h("span", { class: "badge", text });
    if (typeof c === "string" && NAMED_COLORS.includes(c.toLowerCase())) el.classList.add("badge-" + c.toLowerCase().replace("grey", "gray"));
    else if (cssColor(c)) {
      el.style.color = c;
      el.style.borderColor = c;
      el.classList.add("badge-custom");
    } else el.classList.add("badge-gray");
    return el;
  }

  function copyButton(value, label = "Copy") {
    return h("button", {
      class: "icon-btn copy-btn", type: "button", title: label, attrs: { "aria-label": label },
      on: {
        click: async (e) => {
          e.stopPropagation();
          const ok = await TGO.copyText(value);
          toast(ok ? "Copied to clipboard" : "Could not copy", ok ? "success" : "error");
        },
      },
    }, icon("copy", { size: 14 }));
  }

  function linkOrText(text, url, extraClass) {
    const href = safeHref(url);
    if (!href) return h("span", { class: ["blocked-link", extraClass], title: "link not shown: only http(s), mailto and tel links are allowed", text });
    return h("a", { class: extraClass, href, target: "_blank", rel: "noopener noreferrer", text });
  }

  function title(text, tag = "h3") {
    return text ? h(tag, { class: "tpl-title", text: str(text) }) : null;
  }

  function setBusy(button, busy) {
    if (!button) return;
    button.classList.toggle("is-loading", busy);
    if (busy) {
      button.dataset.wasDisabled = button.disabled ? "1" : "";
      button.disabled = true;
    } else button.disabled = button.dataset.wasDisabled === "1";
  }

  /** Send an event for a gesture; `source` shows a spinner meanwhile. Errors become toasts. */
  async function emit(ctx, event, source) {
    if (!ctx || typeof ctx.emit !== "function") return;
    setBusy(source, true);
    try {
      return await ctx.emit(event);
    } catch (exc) {
      toast(exc && exc.message ? exc.message : String(exc), "error", 6000);
    } finally {
      setBusy(source, false);
    }
  }

  function button({ label, action_id, type, size, iconName, disabled, loading, confirm, cls }, ctx) {
    const variant = { primary: "btn-primary", danger: "btn-danger", link: "btn-link", ghost: "btn-ghost", secondary: "btn-secondary" }[type] || "";
    const el = h("button", {
      class: ["btn", variant, size ? "btn-" + size : null, cls],
      type: "button",
      disabled: !!disabled || !!loading,
      dataset: { actionId: str(action_id) },
    }, iconName ? icon(iconName, { size: 14 }) : null, h("span", { text: str(label) }));
    if (loading) el.classList.add("is-loading");
    el.addEventListener("click", async () => {
      if (confirm && !(await TGO.confirmDialog(confirm, { danger: type === "danger" }))) return;
      await emit(ctx, { event_type: "button_click", action_id: str(action_id) }, el);
    });
    return el;
  }

  // ---------------------------------------------------------------- templates

  const T = {};

  T.text = (d) => {
    const type = d.type || "default";
    const classes = ["tpl-text", "text-" + type, d.size ? "size-" + d.size : null, d.bold ? "bold" : null];
    const body = type === "markdown" ? markdown(d.text) : h("span", { class: "text-body", text: str(d.text) });
    const callout = ["info", "success", "warning", "error"].includes(type);
    const el = h("div", { class: classes },
      callout ? icon({ info: "info", success: "check-circle", warning: "alert-triangle", error: "x-circle" }[type]) : null,
      body, d.copyable ? copyButton(d.text) : null);
    const color = cssColor(d.color);
    if (color) el.style.color = color;
    return el;
  };

  T.key_value = (d) => {
    const rows = arr(d.items).map((item) => {
      const it = isObj(item) ? item : {};
      let value;
      const raw = it.value;
      switch (it.type) {
        case "badge": value = badge(raw, it.color); break;
        case "date": value = h("span", { text: fmtDate(raw, false) }); break;
        case "datetime": value = h("span", { text: fmtDate(raw, true) }); break;
        case "currency": value = h("span", { class: "currency", text: fmtCurrency(raw) }); break;
        case "status": value = badge(raw, it.color); break;
        case "link": value = linkOrText(str(raw), raw); break; // the value is the link (as in the web app)
        default: value = h("span", { text: str(raw) });
      }
      if (it.link) value = linkOrText(value.textContent, it.link);
      const color = it.type !== "badge" && cssColor(it.color);
      if (color) value.style.color = color;
      return h("div", { class: "kv-row" },
        h("dt", {}, it.icon ? icon(it.icon, { size: 14 }) : null, h("span", { text: str(it.label) })),
        h("dd", {}, value, it.copyable ? copyButton(raw) : null));
    });
    return h("section", { class: "tpl-key-value" }, title(d.title), h("dl", { class: "kv" }, rows));
  };

  T.table = (d, ctx) => {
    const columns = arr(d.columns).filter(isObj);
    const rows = arr(d.rows).filter(isObj);
    const pagination = isObj(d.pagination) ? d.pagination : null;
    const pageSize = pagination && Number(pagination.page_size) > 0 ? Math.floor(Number(pagination.page_size)) : rows.length || 1;
    const total = pagination && Number.isFinite(Number(pagination.total)) ? Number(pagination.total) : rows.length;
    const pages = Math.max(1, Math.ceil(rows.length / pageSize));
    let page = pagination && Number(pagination.page) >= 1 ? Math.min(pages, Math.floor(Number(pagination.page))) : 1;
    const tbody = h("tbody");
    const info = h("span", { class: "pager-info" });
    const prev = h("button", { class: "icon-btn", type: "button", title: "Previous page", attrs: { "aria-label": "Previous page" } }, icon("chevron-left"));
    const next = h("button", { class: "icon-btn", type: "button", title: "Next page", attrs: { "aria-label": "Next page" } }, icon("chevron-right"));

    function cell(col, row) {
      const v = row[col.key];
      switch (col.type) {
        case "badge": return v === undefined || v === null ? "" : badge(v);
        case "link":
          if (isObj(v)) return linkOrText(str(v.text || v.url), v.url);
          return typeof v === "string" ? linkOrText(v, v) : str(v);
        case "date": return fmtDate(v, false);
        case "datetime": return fmtDate(v, true);
        default: return isObj(v) && "text" in v ? str(v.text) : str(v);
      }
    }

    function draw() {
      clear(tbody);
      const start = (page - 1) * pageSize;
      const slice = pagination ? rows.slice(start, start + pageSize) : rows;
      if (!slice.length) tbody.appendChild(h("tr", {}, h("td", { class: "muted", colSpan: Math.max(1, columns.length), text: "No rows" })));
      for (const row of slice) {
        const tr = h("tr", {}, columns.map((col) => {
          const td = h("td", { class: [col.align && "align-" + col.align, col.type && "col-" + col.type] }, cell(col, row));
          if (td.textContent.length <= 16) td.classList.add("nowrap");
          return td;
        }));
        if (d.row_click_action) {
          tr.classList.add("clickable");
          tr.tabIndex = 0;
          const fire = () => emit(ctx, { event_type: "button_click", action_id: str(d.row_click_action), payload: row }, null);
          tr.addEventListener("click", (e) => { if (!e.target.closest("a, button")) fire(); });
          tr.addEventListener("keydown", (e) => { if (e.key === "Enter") fire(); });
        }
        tbody.appendChild(tr);
      }
      if (pagination) {
        const shownFrom = slice.length ? start + 1 : 0;
        info.textContent = `${shownFrom}–${start + slice.length} of ${Math.max(total, rows.length)} · page ${page} of ${pages}`;
        prev.disabled = page <= 1;
        next.disabled = page >= pages;
      }
    }
    prev.addEventListener("click", () => { if (page > 1) { page--; draw(); } });
    next.addEventListener("click", () => { if (page < pages) { page++; draw(); } });
    draw();
    const thead = h("thead", {}, h("tr", {}, columns.map((col) => {
      const th = h("th", { class: col.align ? "align-" + col.align : null, text: str(col.label) });
      if (Number(col.width) > 0) th.style.width = Number(col.width) + "px";
      else if (typeof col.width === "string") th.style.width = col.width; // a CSS length ("30%"); invalid ones are ignored
      return th;
    })));
    return h("section", { class: "tpl-table" }, title(d.title),
      h("div", { class: "table-wrap" }, h("table", {}, thead, tbody)),
      pagination ? h("div", { class: "pager" }, info, h("span", { class: "pager-buttons" }, prev, next)) : null);
  };

  function image(url, cls, alt) {
    const src = httpUrl(url) || (typeof url === "string" && /^data:image\/(png|gif|jpeg|webp|svg\+xml);/i.test(url) ? url : null);
    if (!src) return null;
    const img = h("img", { class: cls, src, alt: str(alt), loading: "lazy", referrerPolicy: "no-referrer" });
    img.addEventListener("error", () => img.classList.add("broken"));
    return img;
  }

  T.card = (d, ctx) => {
    const fields = arr(d.fields).filter(isObj).map((f) =>
      h("div", { class: ["card-field", f.highlight && "highlight"] }, h("span", { class: "card-field-label", text: str(f.label) }), h("span", { class: "card-field-value", text: str(f.value) })));
    const tags = arr(d.tags).filter(isObj).map((t) => badge(t.text, t.color));
    const actions = arr(d.actions).filter(isObj).map((a) =>
      button({ label: a.label, action_id: a.id, type: a.type === "default" ? null : a.type, size: "sm" }, ctx));
    return h("article", { class: ["tpl-card", "image-" + (d.image_size || "medium")] },
      image(d.image, "card-image", d.title),
      h("div", { class: "card-main" },
        d.title ? h("h3", { class: "card-title", text: str(d.title) }) : null,
        d.subtitle ? h("p", { class: "card-subtitle", text: str(d.subtitle) }) : null,
        tags.length ? h("div", { class: "tags" }, tags) : null,
        fields.length ? h("div", { class: "card-fields" }, fields) : null,
        actions.length ? h("div", { class: "card-actions" }, actions) : null,
        d.footer ? h("p", { class: "card-footer", text: str(d.footer) }) : null));
  };

  T.cards = (d, ctx) => {
    const layout = d.layout === "list" ? "list" : "grid";
    const grid = h("div", { class: ["cards", "cards-" + layout] });
    const cols = Math.min(6, Math.max(1, Math.floor(Number(d.columns) || 2)));
    if (layout === "grid") grid.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
    for (const item of arr(d.items).filter(isObj)) {
      const el = h("div", { class: "cards-item", dataset: { id: str(item.id) } },
        image(item.image, "cards-image", item.title),
        h("div", { class: "cards-text" },
          item.title ? h("div", { class: "cards-title", text: str(item.title) }) : null,
          item.description ? h("div", { class: "cards-description", text: str(item.description) }) : null,
          item.price !== undefined && item.price !== null ? h("div", { class: "cards-price", text: str(item.price) }) : null));
      if (d.item_click_action) {
        el.classList.add("clickable");
        el.tabIndex = 0;
        const fire = () => emit(ctx, { event_type: "button_click", action_id: str(d.item_click_action), payload: item }, null);
        el.addEventListener("click", fire);
        el.addEventListener("keydown", (e) => { if (e.key === "Enter") fire(); });
      }
      grid.appendChild(el);
    }
    return h("section", { class: "tpl-cards" }, title(d.title), grid);
  };

  T.link = (d) => {
    const href = safeHref(d.url);
    const content = [d.icon ? icon(d.icon, { size: 14 }) : icon("external-link", { size: 14 }), h("span", { text: str(d.text) })];
    const target = d.target === "_self" ? "_self" : "_blank";
    const link = href
      ? h("a", { class: "tpl-link-a", href, target, rel: "noopener noreferrer" }, content)
      : h("span", { class: "tpl-link-a blocked-link", title: "link not shown: only http(s), mailto and tel links are allowed" }, content);
    return h("div", { class: "tpl-link" }, link, d.description ? h("p", { class: "muted", text: str(d.description) }) : null);
  };

  T.links = (d) =>
    h("section", { class: "tpl-links" }, title(d.title),
      h("ul", {}, arr(d.items).filter(isObj).map((it) =>
        h("li", {}, it.icon ? icon(it.icon, { size: 14 }) : icon("link", { size: 14 }), linkOrText(str(it.text || it.url), it.url)))));

  T.button = (d, ctx) =>
    h("div", { class: "tpl-button" },
      button({ label: d.label, action_id: d.action_id, type: d.type, size: d.size, iconName: d.icon, disabled: d.disabled }, ctx));

  T.action = (d, ctx) =>
    h("div", { class: "tpl-action" }, arr(d.buttons).filter(isObj).map((b) =>
      button({
        label: b.label, action_id: b.id, type: b.type === "default" ? null : b.type, size: b.size, iconName: b.icon,
        disabled: b.disabled, loading: b.loading, confirm: b.confirm,
      }, ctx)));

  T.markdown = (d) => {
    const el = markdown(d.content);
    el.classList.add("tpl-markdown");
    if (Number(d.max_height) > 0) {
      el.style.maxHeight = Number(d.max_height) + "px";
      el.style.overflowY = "auto";
    }
    return el;
  };

  T.list = (d, ctx) => {
    const items = arr(d.items).filter(isObj);
    const ul = h("ul", { class: "list-items" });
    const none = h("li", { class: "list-empty muted", text: "No matches", hidden: true });
    const entries = items.map((item) => {
      const label = str(item.title !== undefined && item.title !== null ? item.title : item.text);
      const hasId = item.id !== undefined && item.id !== null;
      const li = h("li", { class: ["list-item", hasId && "clickable"], dataset: { id: str(item.id) }, tabIndex: hasId ? 0 : -1 },
        item.icon ? h("span", { class: "list-icon" }, icon(item.icon)) : null,
        h("div", { class: "list-text" },
          h("div", { class: "list-title" }, h("span", { text: label }), item.time ? h("span", { class: "list-time", text: str(item.time) }) : null),
          item.description ? h("div", { class: "list-description", text: str(item.description) }) : null));
      if (hasId) {
        const fire = () => emit(ctx, { event_type: "item_select", action_id: ctx.listActionId || "select", selected_id: str(item.id) }, null);
        li.addEventListener("click", fire);
        li.addEventListener("keydown", (e) => { if (e.key === "Enter") fire(); });
      }
      ul.appendChild(li);
      return { li, haystack: [label, item.text, item.description].map(str).join("\n").toLowerCase() };
    });
    ul.appendChild(none);
    if (!items.length) none.hidden = false, (none.textContent = "Nothing here yet");
    let search = null;
    if (d.searchable) {
      search = h("input", { class: "list-search", type: "search", placeholder: "Search…", attrs: { "aria-label": "Search" } });
      search.addEventListener("input", () => {
        const q = search.value.trim().toLowerCase();
        let shown = 0;
        for (const e of entries) {
          const match = !q || e.haystack.includes(q);
          e.li.hidden = !match;
          if (match) shown++;
        }
        none.hidden = shown > 0 || !items.length;
        none.textContent = "No matches";
      });
    }
    const more = d.show_more
      ? h("button", { class: "btn btn-link btn-sm list-more", type: "button", text: "Show more",
          on: { click: (e) => d.more_action && emit(ctx, { event_type: "button_click", action_id: str(d.more_action) }, e.currentTarget) } })
      : null;
    return h("section", { class: "tpl-list" }, title(d.title), search, ul, more);
  };

  T.timeline = (d) =>
    h("section", { class: "tpl-timeline" }, title(d.title),
      h("ol", { class: "timeline" }, arr(d.items).filter(isObj).map((it) =>
        h("li", { class: ["timeline-item", "status-" + (["success", "info", "warning", "error"].includes(it.status) ? it.status : "default")] },
          h("span", { class: "timeline-dot" }),
          h("div", { class: "timeline-body" },
            h("div", { class: "timeline-head" }, h("span", { class: "timeline-title", text: str(it.title) }), it.time ? h("span", { class: "timeline-time", text: str(it.time) }) : null),
            it.description ? h("div", { class: "timeline-description", text: str(it.description) }) : null)))));

  T.stats = (d) =>
    h("section", { class: "tpl-stats" }, arr(d.items).filter(isObj).map((it) => {
      const value = h("div", { class: "stat-value", text: str(it.value) });
      const color = cssColor(it.color);
      if (color) value.style.color = color;
      const trend = it.trend !== undefined && it.trend !== null
        ? h("span", { class: ["stat-trend", it.trend_type === "down" ? "down" : it.trend_type === "up" ? "up" : null] },
            it.trend_type ? icon(it.trend_type === "down" ? "trending-down" : "trending-up", { size: 12 }) : null, h("span", { text: str(it.trend) }))
        : null;
      return h("div", { class: "stat" },
        h("div", { class: "stat-label" }, it.icon ? icon(it.icon, { size: 14 }) : null, h("span", { text: str(it.label) })),
        value, trend);
    }));

  T.empty = (d, ctx) => {
    const a = isObj(d.action) ? d.action : null;
    return h("div", { class: "tpl-empty" },
      h("div", { class: "empty-icon" }, icon(d.icon || "inbox", { size: 28 })),
      d.title ? h("div", { class: "empty-title", text: str(d.title) }) : null,
      d.description ? h("div", { class: "empty-description muted", text: str(d.description) }) : null,
      a && a.id ? button({ label: a.label || a.id, action_id: a.id, type: "primary", size: "sm" }, ctx) : null);
  };

  T.loading = (d) => h("div", { class: "tpl-loading" }, h("span", { class: "spinner" }), h("span", { text: str(d.text || "Loading…") }));

  T.group = (d, ctx, depth) =>
    h("div", { class: ["tpl-group", d.layout === "horizontal" ? "horizontal" : "vertical"] },
      arr(d.items).map((item) => render(item, ctx, depth + 1)));

  T.tabs = (d, ctx, depth) => {
    const items = arr(d.items).filter(isObj);
    const bar = h("div", { class: "tab-bar", attrs: { role: "tablist" } });
    const panels = h("div", { class: "tab-panels" });
    const keys = items.map((it) => str(it.key));
    let current = keys.includes(str(d.default_tab)) ? str(d.default_tab) : keys[0];
    const buttons = [];
    const sections = [];
    items.forEach((it, i) => {
      const key = keys[i];
      const btn = h("button", { class: "tab", type: "button", dataset: { tab: key }, attrs: { role: "tab" } },
        it.icon ? icon(it.icon, { size: 14 }) : null, h("span", { text: str(it.label) }));
      const panel = h("div", { class: "tab-panel", dataset: { tab: key }, attrs: { role: "tabpanel" } }, render(it.content, ctx, depth + 1));
      btn.addEventListener("click", () => { current = key; sync(); });
      bar.appendChild(btn);
      panels.appendChild(panel);
      buttons.push(btn);
      sections.push(panel);
    });
    function sync() {
      items.forEach((_, i) => {
        const on = keys[i] === current;
        buttons[i].classList.toggle("active", on);
        buttons[i].setAttribute("aria-selected", on ? "true" : "false");
        sections[i].hidden = !on;
      });
    }
    sync();
    return h("div", { class: "tpl-tabs" }, bar, panels);
  };

  T.form = (d, ctx) => {
    const formId = nextId("form");
    const fields = arr(d.fields).filter(isObj);
    const controls = [];
    const form = h("form", { class: "tpl-form", noValidate: true, attrs: { autocomplete: "off" } });
    if (d.title) form.appendChild(h("h3", { class: "tpl-title", text: str(d.title) }));

    for (const f of fields) {
      const name = str(f.name);
      const id = `${formId}-${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
      const label = str(f.label || f.name);
      const options = arr(f.options).filter(isObj);
      const error = h("div", { class: "field-error", hidden: true });
      let input = null;
      let get;
      const labelEl = h("label", { class: "field-label", htmlFor: id }, h("span", { text: label }), f.required ? h("span", { class: "required", text: " *", title: "required" }) : null);

      switch (f.type) {
        case "hidden":
          input = h("input", { type: "hidden", name, value: str(f.default) });
          get = () => (f.default === undefined ? input.value : f.default);
          form.appendChild(input);
          controls.push({ f, label, get, error, input, hidden: true });
          continue;
        case "textarea":
          input = h("textarea", { id, name, rows: Math.max(1, Math.floor(Number(f.rows) || 3)), placeholder: str(f.placeholder), value: str(f.default) });
          get = () => input.value;
          break;
        case "number":
          input = h("input", { id, name, type: "number", step: "any", placeholder: str(f.placeholder), value: f.default === undefined || f.default === null ? "" : str(f.default) });
          get = () => (input.value === "" ? null : Number(input.value));
          break;
        case "date":
        case "datetime":
          input = h("input", { id, name, type: f.type === "date" ? "date" : "datetime-local", value: str(f.default) });
          get = () => input.value;
          break;
        case "select": {
          input = h("select", { id, name });
          if (f.default === undefined || f.default === null || !f.required) {
            input.appendChild(h("option", { value: "", text: f.placeholder ? str(f.placeholder) : f.required ? "Select…" : "—" }));
          }
          for (const o of options) input.appendChild(h("option", { value: str(o.value), text: str(o.label !== undefined ? o.label : o.value) }));
          input.value = f.default === undefined || f.default === null ? "" : str(f.default);
          const byValue = new Map(options.map((o) => [str(o.value), o.value]));
          get = () => (input.value === "" ? null : byValue.has(input.value) ? byValue.get(input.value) : input.value);
          break;
        }
        case "radio": {
          const group = `${formId}-${name}`;
          const radios = options.map((o, i) => {
            const r = h("input", { type: "radio", name: group, id: `${id}-${i}`, value: str(o.value), checked: str(o.value) === str(f.default) });
            return { r, o, el: h("label", { class: "choice", htmlFor: `${id}-${i}` }, r, h("span", { text: str(o.label !== undefined ? o.label : o.value) })) };
          });
          input = h("div", { class: "choices", id, attrs: { role: "radiogroup" } }, radios.map((x) => x.el));
          get = () => {
            const hit = radios.find((x) => x.r.checked);
            return hit ? hit.o.value : null;
          };
          break;
        }
        case "checkbox":
          if (options.length) {
            const defaults = Array.isArray(f.default) ? f.default.map(str) : [];
            const boxes = options.map((o, i) => {
              const c = h("input", { type: "checkbox", id: `${id}-${i}`, value: str(o.value), checked: defaults.includes(str(o.value)) });
              return { c, o, el: h("label", { class: "choice", htmlFor: `${id}-${i}` }, c, h("span", { text: str(o.label !== undefined ? o.label : o.value) })) };
            });
            input = h("div", { class: "choices", id }, boxes.map((x) => x.el));
            get = () => boxes.filter((x) => x.c.checked).map((x) => x.o.value);
          } else {
            const c = h("input", { type: "checkbox", id, name, checked: f.default === true || f.default === "true" || f.default === 1 });
            input = h("label", { class: "choice single" }, c, h("span", { text: str(f.placeholder || label) }),
              !f.placeholder && f.required ? h("span", { class: "required", text: " *" }) : null);
            if (!f.placeholder) labelEl.hidden = true; // the box's own label says it already
            get = () => c.checked;
          }
          break;
        case "switch": {
          const c = h("input", { type: "checkbox", id, name, class: "switch-input", checked: f.default === true || f.default === "true" || f.default === 1, attrs: { role: "switch" } });
          input = h("label", { class: "switch" }, c, h("span", { class: "switch-track" }, h("span", { class: "switch-thumb" })), h("span", { class: "switch-label", text: f.placeholder ? str(f.placeholder) : "" }));
          get = () => c.checked;
          break;
        }
        default:
          // any HTML input type that holds a value (email, tel, url, ...); anything else is a text box
          input = h("input", { id, name, type: VALUE_INPUTS.has(f.type) ? f.type : "text", placeholder: str(f.placeholder), value: str(f.default) });
          get = () => input.value;
      }
      controls.push({ f, label, get, error, input });
      form.appendChild(h("div", { class: ["field", "field-" + (f.type || "text")], dataset: { field: name } }, labelEl, input, error));
    }

    const submit = h("button", { class: "btn btn-primary", type: "submit" }, h("span", { text: str(d.submit_text || "Submit") }));
    const cancelNeeded = d.cancel_text || ctx.closeModal;
    const cancel = cancelNeeded
      ? h("button", { class: "btn", type: "button", text: str(d.cancel_text || "Cancel"), dataset: { role: "cancel" },
          on: { click: () => (ctx.closeModal ? ctx.closeModal() : form.reset()) } })
      : null;
    form.appendChild(h("div", { class: "form-actions" }, cancel, submit));

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const data = {};
      const missing = [];
      for (const c of controls) {
        const value = c.get();
        const empty = value === null || value === undefined || value === "" || value === false || (Array.isArray(value) && !value.length);
        const badNumber = c.f.type === "number" && value !== null && !Number.isFinite(value);
        const wrong = (c.f.required && empty && !c.hidden) || badNumber;
        if (!c.hidden) {
          c.error.hidden = !wrong;
          c.error.textContent = badNumber ? `${c.label} must be a number` : wrong ? `${c.label} is required` : "";
          const fieldEl = c.error.parentElement;
          if (fieldEl) fieldEl.classList.toggle("invalid", wrong);
        }
        if (wrong) missing.push(c);
        data[str(c.f.name)] = value;
      }
      if (missing.length) {
        toast(missing.length === 1 ? missing[0].error.textContent : `Please fill in: ${missing.map((c) => c.label).join(", ")}`, "error");
        const first = missing[0].input;
        const focusable = first.matches("input, textarea, select") ? first : first.querySelector("input");
        if (focusable) focusable.focus();
        return;
      }
      await emit(ctx, { event_type: "form_submit", action_id: str(d.action_id || "submit"), form_data: data }, submit);
    });
    return form;
  };

  const TEMPLATES = Object.keys(T);
  const VALUE_INPUTS = new Set(["text", "email", "tel", "url", "password", "search", "color", "time", "month", "week"]);

  // What the TGO web app renders; with ctx.webApp ("show as the TGO web app would") every other
  // template is the web app's small "unknown template" box, in its place.
  const WEB_APP_TEMPLATES = new Set(["key_value", "table", "form", "button", "group", "tabs", "text"]);

  function unknown(ui, reason) {
    return h("div", { class: "tpl-unknown" },
      icon("alert-triangle"),
      h("div", {},
        h("div", { class: "bold", text: reason }),
        h("pre", { class: "json", text: JSON.stringify(ui, null, 2).slice(0, 2000) })));
  }

  /** Render one JSON-UI value {template, data}. */
  function render(ui, ctx = {}, depth = 0) {
    if (depth > MAX_DEPTH) return unknown({}, "templates nested too deeply");
    if (!isObj(ui) || typeof ui.template !== "string") return unknown(ui, "not a JSON-UI template (expected {template, data})");
    const fn = Object.prototype.hasOwnProperty.call(T, ui.template) ? T[ui.template] : null;
    if (!fn) return unknown(ui, `Unknown template “${ui.template}”`);
    if (ctx.webApp && !WEB_APP_TEMPLATES.has(ui.template)) return unknown(ui, `Unknown template “${ui.template}” (the TGO web app shows this box)`);
    const data = isObj(ui.data) ? ui.data : {};
    try {
      const el = fn(data, ctx, depth);
      el.classList.add("tpl");
      el.dataset.template = ui.template;
      return el;
    } catch (exc) {
      console.error("rendering", ui.template, "failed", exc);
      return unknown(ui, `Could not render “${ui.template}”: ${exc && exc.message}`);
    }
  }

  // ---------------------------------------------------------------- actions

  const ACTIONS = ["open_url", "insert_text", "send_message", "show_toast", "copy_text", "refresh", "close_modal", "show_modal", "noop", "batch"];

  function describeUrl(url) {
    const s = str(url);
    return s.length > 60 ? s.slice(0, 57) + "…" : s;
  }

  /** Execute a JSON-ACTION. actx: {insertText(text, replace), sendMessage(content, type), refresh(),
   *  closeModal(), showModal(title, ui), openUrl(url, target), log(name, data)} — all optional. */
  async function runAction(action, actx = {}, depth = 0) {
    if (!isObj(action) || typeof action.action !== "string") {
      toast("The plugin returned something that is not an action", "error");
      return;
    }
    const name = action.action;
    const data = isObj(action.data) ? action.data : {};
    if (actx.log) actx.log(name, data);
    switch (name) {
      case "open_url": {
        const url = safeHref(data.url);
        if (!url) {
          toast(`Refused to open “${describeUrl(data.url)}”: only http(s), mailto:, tel: and relative links are opened`, "error", 6000);
          return;
        }
        const target = typeof data.target === "string" && data.target ? data.target : "_blank";
        if (actx.openUrl) actx.openUrl(url, target);
        else if (target === "_self") window.location.assign(url);
        else window.open(url, target, "noopener,noreferrer");
        return;
      }
      case "insert_text":
        if (actx.insertText) actx.insertText(str(data.text), data.replace === true);
        else toast("insert_text: " + str(data.text), "info");
        return;
      case "send_message":
        if (actx.sendMessage) actx.sendMessage(str(data.content), data.content_type === "markdown" ? "markdown" : "text");
        else toast("send_message: " + str(data.content), "info");
        return;
      case "show_toast":
        toast(str(data.message), data.type, data.duration);
        return;
      case "copy_text": {
        const ok = await TGO.copyText(data.text);
        if (!ok) toast("Could not copy to the clipboard", "error");
        else toast(str(data.toast || "Copied to clipboard"), "success");
        return;
      }
      case "refresh":
        if (actx.refresh) await actx.refresh();
        return;
      case "close_modal":
        if (actx.closeModal) actx.closeModal();
        else if (TGO.topModal()) TGO.topModal().close();
        return;
      case "show_modal": {
        const ui = { template: data.template, data: data.data };
        if (actx.showModal) actx.showModal(data.title, ui);
        else TGO.openModal({ title: data.title, body: render(ui, {}) });
        return;
      }
      case "noop":
        if (data.log) console.info("[tgo plugin noop]", data.log);
        return;
      case "batch":
        if (depth > MAX_DEPTH) return;
        for (const a of arr(data.actions)) {
          // like the web app, skip a sub-action it does not know and run the rest
          if (isObj(a) && !ACTIONS.includes(a.action)) console.warn("[tgo] skipped unknown action in batch", a.action);
          else await runAction(a, actx, depth + 1);
        }
        return;
      default:
        toast(`Unknown action “${name}”`, "error");
    }
  }

  Object.assign(TGO, { renderUI: render, runAction, markdown, TEMPLATES, ACTIONS, badge });
})();
