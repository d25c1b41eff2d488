// tgo-host console: the agent workspace — a mock conversation with every plugin extension point live.
"use strict";

(function () {
  const TGO = window.TGO;
  const { h, clear, icon, str, isObj, arr, api, toast, openModal, renderUI, runAction } = TGO;

  const AGENT = { id: "agent-1", name: "Sam Rivera", email: "sam@support.example.com" };
  const VISITORS = [
    {
      id: "v-1001", session_id: "s-5001", name: "Alice Chen", email: "alice@example.com", phone: "+1 555 0100",
      platform_open_id: "web-alice", metadata: { plan: "Gold", source: "website" },
      page: "https://shop.example.com/orders/ORD-1042", device: "desktop", browser: "Firefox 126",
      location: { country: "US", city: "Seattle" },
      messages: [
        ["visitor", "Hi! My order ORD-1042 still hasn't arrived, it was supposed to come yesterday."],
        ["agent", "Hello Alice, sorry about that. Let me check the shipment for you."],
        ["visitor", "Thanks. Could you also tell me when my refund for ORD-1031 goes through?"],
      ],
    },
    {
      id: "v-1002", session_id: "s-5002", name: "Bruno Diaz", email: "bruno@globex.example", phone: "",
      platform_open_id: "web-bruno", metadata: { plan: "Silver", source: "mobile app" },
      page: "https://shop.example.com/account/addresses", device: "mobile", browser: "Safari 17",
      location: { country: "ES", city: "Madrid" },
      messages: [
        ["visitor", "Hola, can I still change the shipping address for ORD-1040?"],
      ],
    },
    {
      id: "v-1003", session_id: "s-5003", name: "Chloé Martin", email: "chloe.martin@example.fr", phone: "+33 6 12 34 56 78",
      platform_open_id: "web-chloe", metadata: { plan: "Free", source: "newsletter" },
      page: "https://shop.example.com/products/p-200", device: "desktop", browser: "Chrome 125",
      location: { country: "FR", city: "Lyon" },
      messages: [
        ["visitor", "Do you ship to Canada? And how long does it usually take?"],
      ],
    },
  ];
  const transcripts = new Map(
    VISITORS.map((v, i) => [v.id, v.messages.map(([role, content], j) => ({
      role, content, content_type: "text", at: new Date(Date.now() - (30 - i * 7 - j * 2) * 60000),
    }))]));

  let current = VISITORS[0];
  let plugins = new Map(); // plugin id -> PluginInfo (connected ones, plus those seen disconnecting)
  const panels = new Map(); // plugin id -> {el, body, title, icon, priority, state}
  let openApp = null; // {id, iframe, targetOrigin, url}
  let panelSeq = 0;
  const modals = new Map(); // plugin id -> Set of modal handles
  const drafts = new Map(); // visitor id -> the reply typed but not sent in that conversation
  // "Show as the TGO web app would": answers in the tgo-web profile, drawn with only the web app's 7 templates
  let webApp = sessionStorage.getItem("tgo_web_app") === "1";
  const profile = () => (webApp ? "tgo-web" : "full");

  // ---------------------------------------------------------------- layout

  const el = {};
  function layout() {
    const app = document.getElementById("app");
    clear(app);
    el.conversations = h("ul", { class: "conv-list" });
    el.chatHeader = h("div", { class: "chat-header" });
    el.messages = h("div", { class: "messages", id: "messages", attrs: { "aria-live": "polite" } });
    el.toolbar = h("div", { class: "chat-toolbar", id: "chat-toolbar" });
    el.input = h("textarea", { id: "composer-input", class: "composer-input", rows: 3, placeholder: "Type a reply… (Enter to send, Shift+Enter for a new line)" });
    el.send = h("button", { class: "btn btn-primary", type: "button", id: "composer-send" }, icon("send", { size: 14 }), h("span", { text: "Send" }));
    el.panels = h("div", { class: "panels", id: "visitor-panels" });
    el.panelNote = h("div", { class: "panel-note muted", hidden: true });
    el.activity = h("ol", { class: "activity-list", id: "activity" });
    el.appBar = h("nav", { class: "app-bar", id: "app-bar", attrs: { "aria-label": "iframe apps" } });
    el.appPane = h("aside", { class: "app-pane", id: "app-pane", hidden: true });

    const webSwitch = h("input", { type: "checkbox", id: "web-app-mode", checked: webApp, on: { change: (e) => {
      webApp = e.currentTarget.checked;
      sessionStorage.setItem("tgo_web_app", webApp ? "1" : "0");
      document.body.dataset.webApp = webApp ? "1" : "0";
      loadPanels();
    } } });
    document.body.dataset.webApp = webApp ? "1" : "0";
    const refreshAll = h("button", { class: "icon-btn", type: "button", title: "Re-render all panels", attrs: { "aria-label": "Re-render all panels" }, on: { click: () => loadPanels() } }, icon("refresh-cw"));
    app.append(
      TGO.header("workspace"),
      h("main", { class: "workspace" },
        h("aside", { class: "conversations" }, h("div", { class: "column-head" }, h("h2", { text: "Conversations" }), h("span", { class: "chip", text: String(VISITORS.length) })), el.conversations),
        h("section", { class: "chat" }, el.chatHeader, el.messages,
          h("div", { class: "composer" }, el.toolbar, h("div", { class: "composer-row" }, el.input, el.send))),
        h("aside", { class: "panel-column" },
          h("div", { class: "column-head" }, h("h2", { text: "Visitor panels" }), refreshAll),
          h("label", { class: "web-app-switch small", title: "Ask for the tgo-web profile and draw only the 7 templates the TGO web app renders" },
            webSwitch, h("span", { text: " Show as the TGO web app would" })),
          el.panelNote, el.panels,
          h("details", { class: "activity" }, h("summary", {}, icon("activity", { size: 14 }), h("span", { text: "Plugin activity" })), el.activity)),
        el.appPane,
        el.appBar));

    el.send.addEventListener("click", sendComposer);
    el.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        sendComposer();
      }
    });
  }

  // ---------------------------------------------------------------- conversation

  function initials(name) {
    return str(name).split(/\s+/).map((p) => p[0] || "").join("").slice(0, 2).toUpperCase();
  }

  function drawConversations() {
    clear(el.conversations);
    for (const v of VISITORS) {
      const msgs = transcripts.get(v.id);
      const last = msgs[msgs.length - 1];
      const item = h("li", {},
        h("button", { class: ["conv", v.id === current.id && "active"], type: "button", dataset: { visitor: v.id }, on: { click: () => selectVisitor(v) } },
          h("span", { class: "avatar", text: initials(v.name) }),
          h("span", { class: "conv-text" },
            h("span", { class: "conv-top" }, h("span", { class: "conv-name", text: v.name }), h("span", { class: "conv-time", text: last ? timeOf(last.at) : "" })),
            h("span", { class: "conv-preview", text: last ? (last.role === "agent" ? "You: " : "") + last.content : "" }))));
      el.conversations.appendChild(item);
    }
  }

  const timeOf = (d) => d.toLocaleTimeString("en-US", { hour: "2-digit", minute: "2-digit" });

  function drawChat() {
    clear(el.chatHeader);
    el.chatHeader.append(
      h("span", { class: "avatar large", text: initials(current.name) }),
      h("div", {},
        h("div", { class: "chat-name", id: "chat-name", text: current.name }),
        h("div", { class: "chat-meta muted" },
          h("span", { text: current.email || "no email" }), h("span", { text: " · " }),
          h("span", { class: "mono", text: current.id }), h("span", { text: " · session " }),
          h("span", { class: "mono", text: current.session_id }))),
      h("div", { class: "chat-header-right muted" }, icon("globe", { size: 14 }), h("span", { text: `${current.location.city}, ${current.location.country} · ${current.device}` })));
    clear(el.messages);
    for (const m of transcripts.get(current.id)) el.messages.appendChild(messageEl(m));
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  function messageEl(m) {
    const body = m.content_type === "markdown" ? TGO.markdown(m.content) : h("div", { class: "bubble-text", text: m.content });
    return h("div", { class: ["message", "from-" + m.role], dataset: { role: m.role } },
      h("div", { class: "bubble" }, body),
      h("div", { class: "message-meta muted" },
        h("span", { text: m.role === "agent" ? AGENT.name : m.role === "visitor" ? current.name : "system" }),
        m.via ? h("span", { class: "via", text: " · via " + m.via }) : null,
        h("span", { text: " · " + timeOf(m.at) })));
  }

  function addMessage(role, content, contentType = "text", via = null) {
    const m = { role, content, content_type: contentType, at: new Date(), via };
    transcripts.get(current.id).push(m);
    el.messages.appendChild(messageEl(m));
    el.messages.scrollTop = el.messages.scrollHeight;
    drawConversations();
  }

  function sendComposer() {
    const text = el.input.value.trim();
    if (!text) return;
    addMessage("agent", text);
    el.input.value = "";
    drafts.delete(current.id);
    el.input.focus();
  }

  function insertText(text, replace) {
    const v = el.input.value;
    el.input.value = replace || !v ? text : v + (/\s$/.test(v) ? "" : " ") + text;
    el.input.focus();
    el.input.setSelectionRange(el.input.value.length, el.input.value.length);
  }

  function selectVisitor(v) {
    if (v.id === current.id) return;
    drafts.set(current.id, el.input.value);  // each conversation keeps its own unsent reply
    current = v;
    el.input.value = drafts.get(v.id) || "";
    drawConversations();
    drawChat();
    loadPanels();
    postContext();
  }

  // ---------------------------------------------------------------- request bodies

  function visitorInfo() {
    return {
      id: current.id, name: current.name, email: current.email || null, phone: current.phone || null,
      platform_open_id: current.platform_open_id, metadata: current.metadata,
    };
  }

  function renderBody(extra = {}) {
    return { visitor_id: current.id, session_id: current.session_id, visitor: visitorInfo(), agent_id: AGENT.id, language: "en", ...extra };
  }

  function panelContext() {
    return { current_page: current.page, device: current.device, browser: current.browser, location: current.location };
  }

  function chatContext() {
    const msgs = transcripts.get(current.id);
    const lastVisitor = [...msgs].reverse().find((m) => m.role === "visitor");
    return {
      last_message: lastVisitor ? lastVisitor.content : "",
      last_messages: msgs.slice(-10).map((m) => ({ role: m.role, content: m.content, timestamp: m.at.toISOString() })),
    };
  }

  // ---------------------------------------------------------------- activity log

  function activity(pluginId, arrow, text, kind) {
    const info = plugins.get(pluginId);
    const entry = h("li", { class: ["activity-item", kind && "activity-" + kind] },
      h("span", { class: "activity-time mono", text: new Date().toLocaleTimeString("en-US", { hour12: false }) }),
      h("span", { class: "activity-plugin", text: info ? info.name : pluginId }),
      h("span", { class: "activity-arrow", text: arrow }),
      h("span", { class: "activity-text", text }));
    el.activity.prepend(entry);
    while (el.activity.children.length > 80) el.activity.lastChild.remove();
  }

  function describeEvent(ev) {
    let s = `${ev.event_type} ${ev.action_id}`;
    if (ev.selected_id) s += ` selected_id=${ev.selected_id}`;
    if (ev.form_data) s += ` form_data=${JSON.stringify(ev.form_data)}`;
    if (ev.payload) s += ` payload=${JSON.stringify(ev.payload).slice(0, 120)}`;
    return s;
  }

  // ---------------------------------------------------------------- plugin calls

  const enc = encodeURIComponent;

  /** Send one gesture's event to a plugin and execute the action it answers. */
  async function sendEvent(pluginId, extension, event, modal) {
    const body = { ...event, extension_type: extension, visitor_id: current.id, session_id: current.session_id, language: "en" };
    activity(pluginId, "→", describeEvent(event));
    const path = extension === "chat_toolbar" ? `/plugins/chat-toolbar/${enc(pluginId)}/event?profile=${profile()}` : `/plugins/${enc(pluginId)}/event?profile=${profile()}`;
    let action;
    try {
      action = await api("POST", path, body);
    } catch (exc) {
      activity(pluginId, "✕", exc.message, "error");
      toast(`${pluginName(pluginId)}: ${exc.message}`, "error", 7000);
      return;
    }
    await runAction(action, actionContext(pluginId, extension, modal));
    if (modal && modal.toolbar && !modal.closed && event.event_type === "item_select" && !keepsModalOpen(action)) {
      modal.close();  // a pick is done once its action ran (a quick reply went into the input box)
    }
  }

  /** Whether an action asks for the dialog it came from to stay: it shows or re-renders something. */
  function keepsModalOpen(action) {
    if (!isObj(action)) return false;
    if (action.action === "batch") return arr(isObj(action.data) ? action.data.actions : []).some(keepsModalOpen);
    return ["show_modal", "refresh", "noop"].includes(action.action)
      || (action.action === "show_toast" && isObj(action.data) && action.data.type === "error");
  }

  function pluginName(id) {
    const info = plugins.get(id);
    return info ? info.name : id;
  }

  function actionContext(pluginId, extension, modal) {
    return {
      insertText,
      sendMessage: (content, type) => addMessage("agent", content, type, pluginName(pluginId)),
      refresh: () => refreshPlugin(pluginId, modal),
      closeModal: () => (modal ? modal.close() : closeModalsOf(pluginId)),
      showModal: (title, ui) => showPluginModal(pluginId, extension, title, ui),
      log: (name, data) => activity(pluginId, "←", name === "batch" ? `batch (${arr(data.actions).length})` : `${name} ${JSON.stringify(data).slice(0, 160)}`),
    };
  }

  function trackModal(pluginId, modal) {
    if (!modals.has(pluginId)) modals.set(pluginId, new Set());
    modals.get(pluginId).add(modal);
  }

  function closeModalsOf(pluginId) {
    for (const m of modals.get(pluginId) || []) m.close();
  }

  function uiContext(pluginId, extension, modal) {
    return {
      emit: (event) => sendEvent(pluginId, extension, event, modal),
      closeModal: modal ? () => modal.close() : null,
      webApp,
    };
  }

  function showPluginModal(pluginId, extension, title, ui) {
    const modal = openModal({
      title: title || pluginName(pluginId), plugin: pluginId,
      onClose: () => modals.get(pluginId) && modals.get(pluginId).delete(modal),
    });
    trackModal(pluginId, modal);
    modal.setBody(TGO.renderingFor(pluginId, () => renderUI(ui, uiContext(pluginId, extension, modal))));
    return modal;
  }

  async function refreshPlugin(pluginId, modal) {
    const jobs = [];
    if (modal && modal.toolbar && !modal.closed) jobs.push(renderToolbarModal(pluginId, modal));
    else for (const m of modals.get(pluginId) || []) if (m.toolbar && !m.closed) jobs.push(renderToolbarModal(pluginId, m));
    if (panels.has(pluginId)) jobs.push(renderPanel(pluginId));
    await Promise.all(jobs);
  }

  // ---------------------------------------------------------------- visitor panels

  function errorBox(kind, message) {
    const labels = {
      timeout: "Timed out", invalid_result: "Invalid template", plugin_error: "Plugin error",
      plugin_timeout: "Timed out", invalid_plugin_result: "Invalid template", plugin_disconnected: "Disconnected",
      plugin_not_found: "Not connected", disconnected: "Disconnected",
    };
    return h("div", { class: "panel-error", dataset: { error: str(kind) } },
      icon("alert-triangle", { size: 16 }),
      h("div", {}, h("div", { class: "panel-error-kind", text: labels[kind] || str(kind || "Error") }), h("div", { class: "panel-error-message", text: str(message) })));
  }

  function capOf(pluginId, type) {
    const info = plugins.get(pluginId);
    return info ? arr(info.capabilities).find((c) => c.type === type) : null;
  }

  function panelShell(pluginId, title, iconName, priority) {
    let entry = panels.get(pluginId);
    if (entry) {
      entry.titleEl.textContent = str(title);
      entry.priority = priority;
      return entry;
    }
    const body = h("div", { class: "panel-body" });
    const titleEl = h("span", { class: "panel-title", text: str(title) });
    const iconSlot = h("span", { class: "panel-icon" }, icon(iconName || "puzzle", { plugin: pluginId }));
    const state = h("span", { class: "panel-state", hidden: true });
    const section = h("section", { class: "panel", dataset: { plugin: pluginId } },
      h("header", { class: "panel-header" },
        h("button", { class: "panel-toggle", type: "button", title: "Collapse", on: { click: () => section.classList.toggle("collapsed") } },
          icon("chevron-down", { size: 14, class: "chev" }), iconSlot, titleEl, state),
        h("button", { class: "icon-btn panel-refresh", type: "button", title: "Refresh this panel", attrs: { "aria-label": "Refresh " + str(title) }, on: { click: () => renderPanel(pluginId) } }, icon("refresh-cw", { size: 14 }))),
      body);
    entry = { el: section, body, titleEl, iconSlot, state, priority };
    panels.set(pluginId, entry);
    return entry;
  }

  function setPanelState(entry, state, text) {
    entry.el.dataset.state = state;
    entry.state.hidden = state === "ok";
    entry.state.textContent = text || state;
  }

  function fillPanel(pluginId, entry, ui, warnings) {
    clear(entry.body);
    entry.body.appendChild(TGO.renderingFor(pluginId, () => renderUI(ui, uiContext(pluginId, "visitor_panel", null))));
    // what the host fixed up in this render (docs/validation.md), so the plugin's author sees it here too
    const fixed = arr(warnings);
    if (fixed.length) setPanelState(entry, "fixed", fixed.length === 1 ? "1 fix-up" : `${fixed.length} fix-ups`);
    else setPanelState(entry, "ok");
    entry.state.title = fixed.map((w) => `${str(w.path)}: ${str(w.message)}`).join("\n");
  }

  function orderPanels() {
    const sorted = [...panels.entries()].sort((a, b) => (a[1].priority ?? 10) - (b[1].priority ?? 10) || a[0].localeCompare(b[0]));
    for (const [, entry] of sorted) el.panels.appendChild(entry.el);
    el.panelNote.hidden = panels.size > 0;
    if (!panels.size) el.panelNote.textContent = "No visitor_panel plugin is connected.";
  }

  /** Render every visitor panel through the fan-out route (one request, per-plugin errors). */
  async function loadPanels() {
    const seq = ++panelSeq;
    const visitorId = current.id;
    for (const entry of panels.values()) entry.el.classList.add("stale");
    let result;
    try {
      result = await api("POST", `/plugins/visitor-panel/render?profile=${profile()}`, {
        visitor_id: visitorId, session_id: current.session_id, visitor: visitorInfo(), language: "en", context: panelContext(),
      });
    } catch (exc) {
      if (seq !== panelSeq) return;
      el.panelNote.hidden = false;
      el.panelNote.textContent = "Could not load the visitor panels: " + exc.message;
      return;
    }
    if (seq !== panelSeq) return;
    const seen = new Set();
    for (const p of arr(result.panels)) {
      seen.add(p.plugin_id);
      const entry = panelShell(p.plugin_id, p.title, p.icon, p.priority);
      entry.iconSlot.replaceChildren(icon(p.icon || "puzzle", { plugin: p.plugin_id }));
      fillPanel(p.plugin_id, entry, p.ui, p.warnings);
    }
    for (const e of arr(result.errors)) {
      seen.add(e.plugin_id);
      const cap = capOf(e.plugin_id, "visitor_panel");
      const entry = panelShell(e.plugin_id, e.title || (cap && cap.title) || e.plugin_id, cap && cap.icon, cap ? cap.priority : 10);
      clear(entry.body);
      entry.body.appendChild(errorBox(e.error, e.message));
      setPanelState(entry, "error", e.error === "timeout" ? "timed out" : "error");
    }
    for (const [id, entry] of [...panels.entries()]) {
      if (!seen.has(id)) {
        entry.el.remove();
        panels.delete(id);
      } else entry.el.classList.remove("stale");
    }
    orderPanels();
  }

  /** Re-render one plugin's panel (refresh action, refresh button, reconnect). */
  async function renderPanel(pluginId) {
    const cap = capOf(pluginId, "visitor_panel");
    const existing = panels.get(pluginId);
    const entry = existing || panelShell(pluginId, cap ? cap.title : pluginId, cap && cap.icon, cap ? cap.priority ?? 10 : 10);
    if (!existing) orderPanels();
    entry.el.classList.add("stale");
    const visitorId = current.id;
    try {
      const ui = await api("POST", `/plugins/${enc(pluginId)}/render?extension_type=visitor_panel&profile=${profile()}`, renderBody({ context: panelContext() }));
      if (visitorId !== current.id) return;
      fillPanel(pluginId, entry, ui, ui && ui.warnings);
    } catch (exc) {
      if (visitorId !== current.id) return;
      clear(entry.body);
      entry.body.appendChild(errorBox(exc.type, exc.message));
      setPanelState(entry, exc.type === "plugin_not_found" ? "disconnected" : "error", exc.type === "plugin_not_found" ? "disconnected" : "error");
    } finally {
      entry.el.classList.remove("stale");
    }
  }

  // ---------------------------------------------------------------- chat toolbar

  async function loadToolbar() {
    let buttons = [];
    try {
      buttons = arr((await api("GET", "/plugins/chat-toolbar/buttons")).buttons);
    } catch (exc) {
      clear(el.toolbar).appendChild(h("span", { class: "muted", text: "toolbar unavailable: " + exc.message }));
      return;
    }
    clear(el.toolbar);
    if (!buttons.length) el.toolbar.appendChild(h("span", { class: "muted small", text: "No chat_toolbar plugins connected" }));
    for (const b of buttons) {
      const tip = [b.tooltip, b.shortcut && `(${b.shortcut})`].filter(Boolean).join(" ");
      el.toolbar.appendChild(h("button", { class: "tool-btn", type: "button", title: tip || b.title, dataset: { plugin: b.plugin_id, shortcut: str(b.shortcut) }, on: { click: () => openToolbar(b) } },
        icon(b.icon || "puzzle", { size: 14, plugin: b.plugin_id }), h("span", { text: str(b.title) })));
    }
  }

  function openToolbar(b) {
    const modal = openModal({
      title: b.title, plugin: b.plugin_id, className: "modal-toolbar",
      onClose: () => modals.get(b.plugin_id) && modals.get(b.plugin_id).delete(modal),
    });
    modal.toolbar = true;
    trackModal(b.plugin_id, modal);
    renderToolbarModal(b.plugin_id, modal);
  }

  async function renderToolbarModal(pluginId, modal) {
    if (!modal.body.firstChild) modal.setBody(TGO.renderUI({ template: "loading", data: { text: "Loading…" } }));
    try {
      const ui = await api("POST", `/plugins/chat-toolbar/${enc(pluginId)}/render?profile=${profile()}`, renderBody({ context: chatContext() }));
      if (!modal.closed) modal.setBody(TGO.renderingFor(pluginId, () => renderUI(ui, uiContext(pluginId, "chat_toolbar", modal))));
    } catch (exc) {
      if (!modal.closed) modal.setBody(errorBox(exc.type, exc.message));
    }
  }

  function matchesShortcut(e, shortcut) {
    if (!shortcut) return false;
    const parts = shortcut.toLowerCase().split("+").map((s) => s.trim());
    const key = parts.pop();
    const want = { ctrl: parts.includes("ctrl"), shift: parts.includes("shift"), alt: parts.includes("alt"), meta: parts.includes("cmd") || parts.includes("meta") };
    return e.key.toLowerCase() === key && e.ctrlKey === want.ctrl && e.shiftKey === want.shift && e.altKey === want.alt && e.metaKey === want.meta;
  }

  document.addEventListener("keydown", (e) => {
    for (const btn of el.toolbar.querySelectorAll(".tool-btn")) {
      if (matchesShortcut(e, btn.dataset.shortcut)) {
        e.preventDefault();
        btn.click();
        return;
      }
    }
  });

  // ---------------------------------------------------------------- iframe apps (sidebar_iframe)

  const ALLOWED_SANDBOX = ["allow-scripts", "allow-same-origin", "allow-forms"];

  /** The plugin's sandbox tokens, never more than allow-scripts allow-same-origin allow-forms;
   *  allow-same-origin is dropped for a page on the console's own origin (it could escape its sandbox). */
  function sandboxFor(requested, url) {
    const tokens = typeof requested === "string" ? requested.split(/\s+/).filter(Boolean) : ALLOWED_SANDBOX;
    const kept = ALLOWED_SANDBOX.filter((t) => tokens.includes(t));
    let sameOrigin = false;
    try {
      sameOrigin = new URL(url).origin === window.location.origin;
    } catch (_) {
      sameOrigin = true;
    }
    return sameOrigin ? kept.filter((t) => t !== "allow-same-origin") : kept;
  }

  function drawAppBar() {
    clear(el.appBar);
    const apps = [...plugins.values()].filter((p) => p.status !== "disconnected")
      .flatMap((p) => arr(p.capabilities).filter((c) => c.type === "sidebar_iframe").map((c) => ({ id: p.id, cap: c })));
    for (const a of apps) {
      el.appBar.appendChild(h("button", {
        class: ["app-btn", openApp && openApp.id === a.id && "active"], type: "button", title: str(a.cap.title), dataset: { plugin: a.id },
        on: { click: () => (openApp && openApp.id === a.id ? closeApp() : openAppPane(a.id, a.cap)) },
      }, icon(a.cap.icon || "app-window", { size: 18, plugin: a.id }), h("span", { class: "app-btn-label", text: str(a.cap.title) })));
    }
    if (!apps.length) el.appBar.appendChild(h("span", { class: "app-bar-empty", title: "No sidebar_iframe plugins connected" }, icon("app-window", { size: 18 })));
    if (openApp && !apps.some((a) => a.id === openApp.id)) closeApp();
  }

  function closeApp() {
    openApp = null;
    el.appPane.hidden = true;
    clear(el.appPane);
    drawAppBar();
  }

  async function openAppPane(pluginId, cap) {
    clear(el.appPane);
    el.appPane.hidden = false;
    openApp = { id: pluginId, iframe: null };
    drawAppBar();
    const head = h("div", { class: "app-pane-head" },
      icon(cap.icon || "app-window", { plugin: pluginId }), h("span", { class: "app-pane-title", text: str(cap.title) }),
      h("button", { class: "icon-btn", type: "button", title: "Close", attrs: { "aria-label": "Close app" }, on: { click: closeApp } }, icon("x")));
    el.appPane.appendChild(head);
    let config;
    try {
      config = await api("GET", `/plugins/${enc(pluginId)}/iframe`);
    } catch (exc) {
      el.appPane.appendChild(errorBox(exc.type, exc.message));
      return;
    }
    if (!openApp || openApp.id !== pluginId) return;
    const url = TGO.httpUrl(config.url);
    if (!url) {
      el.appPane.appendChild(errorBox("invalid_result", "the iframe URL is not http(s)"));
      return;
    }
    const width = Number(config.width || cap.width) || 400;
    const min = Number(cap.min_width) || 240;
    const max = Number(cap.max_width) || 720;
    el.appPane.style.width = Math.min(max, Math.max(min, width)) + "px";
    el.appPane.style.minWidth = Math.min(min, width) + "px"; // on a narrow screen it gives way down to min_width
    const sandbox = sandboxFor(config.sandbox, url);
    const iframe = h("iframe", {
      class: "app-frame", src: url, title: str(config.title || cap.title), referrerPolicy: "no-referrer",
      attrs: { sandbox: sandbox.join(" "), allow: config.allow_fullscreen ? "fullscreen" : "" },
      dataset: { plugin: pluginId },
    });
    let targetOrigin = "*";
    if (sandbox.includes("allow-same-origin")) targetOrigin = new URL(url).origin;
    openApp = { id: pluginId, iframe, targetOrigin, url };
    iframe.addEventListener("load", () => postContext());
    el.appPane.appendChild(iframe);
    el.appPane.appendChild(h("div", { class: "app-pane-foot muted mono", title: "sandbox of this iframe", text: "sandbox: " + (sandbox.join(" ") || "(none)") }));
  }

  /** host page -> iframe: {type: "tgo_context_update", data: {visitor_id, session_id, visitor, agent}}. */
  function postContext() {
    if (!openApp || !openApp.iframe || !openApp.iframe.contentWindow) return;
    const message = { type: "tgo_context_update", data: { visitor_id: current.id, session_id: current.session_id, visitor: visitorInfo(), agent: AGENT } };
    openApp.iframe.contentWindow.postMessage(message, openApp.targetOrigin);
    activity(openApp.id, "→", `tgo_context_update ${current.id}`);
  }

  // iframe -> host page: {type: "tgo_plugin_message", action, data}; only from the open app's frame.
  window.addEventListener("message", (e) => {
    if (!openApp || !openApp.iframe || e.source !== openApp.iframe.contentWindow) return;
    const m = e.data;
    if (!isObj(m) || m.type !== "tgo_plugin_message" || typeof m.action !== "string") return;
    runAction({ action: m.action, data: isObj(m.data) ? m.data : {} }, actionContext(openApp.id, "sidebar_iframe", null));
  });

  // ---------------------------------------------------------------- plugins and live updates

  async function loadPlugins() {
    try {
      const list = arr((await api("GET", "/plugins")).plugins);
      const next = new Map(list.map((p) => [p.id, p]));
      for (const [id, p] of plugins) if (!next.has(id) && p.status === "disconnected") next.set(id, p);
      plugins = next;
    } catch (exc) {
      toast("Could not list plugins: " + exc.message, "error");
    }
    drawAppBar();
  }

  let reloadTimer = null;
  function scheduleReload(connectedPanelIds) {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(async () => {
      await loadPlugins();
      await loadToolbar();
      for (const id of connectedPanelIds) if (capOf(id, "visitor_panel")) renderPanel(id);
      connectedPanelIds.clear();
    }, 150);
  }
  const pendingPanels = new Set();

  function onLive(name, data) {
    if (name === "snapshot" || name === "resync") {
      const ids = new Set(arr(data.plugins).map((p) => p.id));
      for (const [id, entry] of panels) if (name === "snapshot" && !ids.has(id)) markDisconnected(id, entry);
      scheduleReload(pendingPanels);
      return;
    }
    if (name !== "plugin" || !isObj(data.plugin)) return;
    const info = data.plugin;
    plugins.set(info.id, info);
    if (data.event === "disconnected") {
      const entry = panels.get(info.id);
      if (entry) markDisconnected(info.id, entry);
      activity(info.id, "✕", "disconnected", "error");
      for (const m of modals.get(info.id) || []) m.el.classList.add("disconnected");
    } else {
      activity(info.id, "✓", "connected");
      if (arr(info.capabilities).some((c) => c.type === "visitor_panel")) pendingPanels.add(info.id);
    }
    scheduleReload(pendingPanels);
  }

  function markDisconnected(id, entry) {
    setPanelState(entry, "disconnected", "disconnected");
    if (entry.body.querySelector(':scope > .panel-error[data-error="disconnected"]')) return;
    entry.body.prepend(errorBox("disconnected", "This plugin disconnected from tgo-host; the panel shows its last render."));
  }

  // ---------------------------------------------------------------- start

  layout();
  drawConversations();
  drawChat();
  (async () => {
    await loadPlugins();
    await Promise.all([loadToolbar(), loadPanels()]);
    document.body.dataset.ready = "1";
  })();
  TGO.liveEvents(onLive, TGO.setLiveState);
  // a plugin naming an icon Lucide does not have: once per plugin and name, in the activity log
  TGO.onUnknownIcon = (name, pluginId) => {
    if (pluginId) activity(pluginId, "!", `unknown icon "${name}" (shown as a dashed ? box; see lucide.dev/icons)`, "error");
  };

  TGO.workspace = { selectVisitor: (id) => selectVisitor(VISITORS.find((v) => v.id === id)), insertText, loadPanels, renderPanel, sandboxFor };
})();
