// tgo-host console: shared helpers (DOM building, HTTP API client, toasts, modals, live events).
// Rule: text from plugins goes into the page only through text nodes (h() children / textContent);
// this file never assigns innerHTML.
"use strict";

(function () {
  const TGO = (window.TGO = window.TGO || {});

  // ---------------------------------------------------------------- DOM building

  const SVG_NS = "http://www.w3.org/2000/svg";

  /** h("div", {class, attrs, dataset, style, on, text, title, ...}, ...children) -> element.
   *  Strings among the children become text nodes. Attribute names starting with "on" are refused. */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    applyProps(el, props || {});
    append(el, children);
    return el;
  }

  function applyProps(el, props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
      else if (key === "text") el.textContent = String(value);
      else if (key === "style") Object.assign(el.style, value);
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key === "on") for (const [name, fn] of Object.entries(value)) el.addEventListener(name, fn);
      else if (key === "attrs") for (const [name, v] of Object.entries(value)) setAttr(el, name, v);
      else if (key in el && typeof el[key] !== "function" && !key.startsWith("on")) el[key] = value;
      else setAttr(el, key, value);
    }
  }

  function setAttr(el, name, value) {
    if (value === undefined || value === null || value === false) return;
    if (/^on/i.test(name)) throw new Error("refusing event-handler attribute " + name);
    el.setAttribute(name, value === true ? "" : String(value));
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  /** A Lucide icon by name as an inline <svg>; an unknown name gives a neutral dot. */
  // Icons: the inline subset (vendor/lucide-icons.js) draws at once; the first other name
  // fetches every Lucide icon (vendor/lucide-icons.json, once) and fills in what waited for it.
  // A name Lucide does not have is drawn as a dashed "?" box and reported once per plugin.
  const DOT = [["circle", { cx: "12", cy: "12", r: "3" }]];
  const UNKNOWN = [
    ["rect", { x: "3", y: "3", width: "18", height: "18", rx: "4", "stroke-dasharray": "3 3" }],
    ["path", { d: "M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .8-1 1.5v.4" }],
    ["path", { d: "M12 17h.01" }],
  ];
  let allIcons = null; // {icons, aliases} once fetched
  let allIconsLoading = null;
  const waiting = new Map(); // icon name -> [svg, …] drawn before the full set arrived
  const reported = new Set(); // "plugin\u0000name" already reported
  let renderingPlugin = null; // whose UI is being drawn right now (see renderingFor)

  /** Run ``fn`` (a synchronous render) so that icons it draws are attributed to ``pluginId``. */
  function renderingFor(pluginId, fn) {
    const outer = renderingPlugin;
    renderingPlugin = pluginId;
    try {
      return fn();
    } finally {
      renderingPlugin = outer;
    }
  }

  function lookupIcon(key) {
    const subset = window.LUCIDE_ICONS || {};
    if (Object.prototype.hasOwnProperty.call(subset, key)) return subset[key];
    if (!allIcons) return undefined;
    const canonical = Object.prototype.hasOwnProperty.call(allIcons.aliases, key) ? allIcons.aliases[key] : key;
    return Object.prototype.hasOwnProperty.call(allIcons.icons, canonical) ? allIcons.icons[canonical] : null;
  }

  function drawIcon(svg, key, nodes, plugin) {
    svg.replaceChildren();
    svg.classList.remove("icon-loading");
    if (nodes === null) {
      nodes = UNKNOWN;
      svg.classList.add("icon-unknown");
      svg.setAttribute("aria-hidden", "false");
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", `unknown icon "${key}"`);
      const title = document.createElementNS(SVG_NS, "title");
      title.textContent = `unknown icon "${key}" (not a Lucide icon name)`;
      svg.appendChild(title);
      reportUnknownIcon(key, plugin);
    }
    for (const [tag, attrs] of nodes) {
      const child = document.createElementNS(SVG_NS, tag);
      for (const [k, v] of Object.entries(attrs)) child.setAttribute(k, v);
      svg.appendChild(child);
    }
  }

  function reportUnknownIcon(key, plugin) {
    const id = (plugin || "") + "\u0000" + key;
    if (reported.has(id)) return;
    reported.add(id);
    console.warn(`tgo console: unknown icon "${key}"` + (plugin ? ` from plugin ${plugin}` : ""));
    if (typeof TGO.onUnknownIcon === "function") TGO.onUnknownIcon(key, plugin);
  }

  /** Fetch every Lucide icon once; resolves when the icons that waited for it are drawn. */
  function loadAllIcons() {
    if (!allIconsLoading) {
      allIconsLoading = fetch("/console/static/vendor/lucide-icons.json")
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
        .catch((exc) => {
          console.warn("tgo console: cannot load the Lucide icon set: " + exc.message);
          return { icons: {}, aliases: {} };
        })
        .then((table) => {
          allIcons = { icons: isObj(table.icons) ? table.icons : {}, aliases: isObj(table.aliases) ? table.aliases : {} };
          for (const [key, svgs] of waiting) for (const [svg, plugin] of svgs) drawIcon(svg, key, lookupIcon(key), plugin);
          waiting.clear();
        });
    }
    return allIconsLoading;
  }

  function icon(name, opts = {}) {
    const key = typeof name === "string" ? name.trim().toLowerCase() : "";
    const plugin = opts.plugin || renderingPlugin || undefined;
    const svg = document.createElementNS(SVG_NS, "svg");
    const size = String(opts.size || 16);
    for (const [k, v] of Object.entries({
      viewBox: "0 0 24 24", width: size, height: size, fill: "none", stroke: "currentColor",
      "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true",
    })) svg.setAttribute(k, v);
    svg.setAttribute("class", "icon" + (opts.class ? " " + opts.class : ""));
    if (key) svg.dataset.icon = key;
    const nodes = key ? lookupIcon(key) : DOT;
    if (nodes === undefined) {
      svg.classList.add("icon-loading");
      if (!waiting.has(key)) waiting.set(key, []);
      waiting.get(key).push([svg, plugin]);
      loadAllIcons();
    } else {
      drawIcon(svg, key, nodes, plugin);
    }
    return svg;
  }

  // ---------------------------------------------------------------- values

  const str = (v) => (v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
  const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const arr = (v) => (Array.isArray(v) ? v : []);

  /** The URL if its scheme is http or https (absolute), else null. */
  function httpUrl(url) {
    if (typeof url !== "string") return null;
    try {
      const parsed = new URL(url.trim());
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  /** A link target that is safe to put in href: http(s), mailto:, tel:, or relative; else null. */
  function safeHref(url) {
    if (typeof url !== "string" || !url.trim()) return null;
    try {
      const parsed = new URL(url.trim(), window.location.href);
      return ["http:", "https:", "mailto:", "tel:"].includes(parsed.protocol) ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  /** A CSS colour if the browser accepts it (plugins send hex codes or names), else null. */
  function cssColor(value) {
    return typeof value === "string" && value.length < 64 && CSS.supports("color", value) ? value : null;
  }

  function fmtDate(value, withTime) {
    if (value === undefined || value === null || value === "") return "";
    const d = typeof value === "number" ? new Date(value < 1e12 ? value * 1000 : value) : new Date(String(value));
    if (Number.isNaN(d.getTime())) return str(value);
    const opts = withTime
      ? { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }
      : { year: "numeric", month: "short", day: "numeric" };
    if (!withTime && /^\d{4}-\d{2}-\d{2}$/.test(String(value))) opts.timeZone = "UTC";
    return d.toLocaleString("en-US", opts);
  }

  function fmtCurrency(value) {
    if (typeof value === "number") {
      return value.toLocaleString("en-US", { style: "currency", currency: "USD" });
    }
    return str(value);
  }

  function relTime(iso) {
    const t = new Date(iso).getTime();
    if (Number.isNaN(t)) return "";
    const s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }

  // ---------------------------------------------------------------- HTTP API

  const params = new URLSearchParams(window.location.search);
  const projectId = params.get("project_id") || null;
  // A bearer token (hosts started with TGO_HTTP_TOKEN) comes from "#token=…" once and is kept for the tab.
  (function takeToken() {
    const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
    if (m) {
      sessionStorage.setItem("tgo_token", decodeURIComponent(m[1]));
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  })();

  class ApiFailure extends Error {
    constructor(status, body, path) {
      const err = isObj(body) && isObj(body.error) ? body.error : {};
      const message = err.message || (isObj(body) && body.detail) || `HTTP ${status} from ${path}`;
      super(String(message));
      this.status = status;
      this.type = err.type || (status === 0 ? "network_error" : "http_error");
      this.body = body;
      this.pluginId = err.plugin_id;
    }
  }

  function withProject(path) {
    if (!projectId) return path;
    return path + (path.includes("?") ? "&" : "?") + "project_id=" + encodeURIComponent(projectId);
  }

  function authHeaders() {
    const token = sessionStorage.getItem("tgo_token");
    return token ? { Authorization: "Bearer " + token } : {};
  }

  /** Call the host's HTTP API; resolves to the JSON body, rejects with ApiFailure. */
  async function api(method, path, body, opts = {}) {
    const init = { method, headers: { Accept: "application/json", ...authHeaders() }, signal: opts.signal };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(withProject(path), init);
    } catch (exc) {
      if (exc && exc.name === "AbortError") throw exc;
      throw new ApiFailure(0, { detail: "cannot reach tgo-host: " + (exc && exc.message) }, path);
    }
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = { detail: text.slice(0, 300) };
      }
    }
    if (!response.ok) throw new ApiFailure(response.status, data, path);
    return data;
  }

  // ---------------------------------------------------------------- toasts

  const TOAST_ICONS = { success: "check-circle", error: "x-circle", warning: "alert-triangle", info: "info" };

  function toastHost() {
    let host = document.getElementById("toasts");
    if (!host) {
      host = h("div", { id: "toasts", class: "toasts", attrs: { role: "status", "aria-live": "polite" } });
      document.body.appendChild(host);
    }
    return host;
  }

  /** A transient notice; type success/error/warning/info, duration in ms (default 3000). */
  function toast(message, type = "info", duration = 3000) {
    const kind = TOAST_ICONS[type] ? type : "info";
    let ms = Number(duration);
    if (!Number.isFinite(ms) || ms <= 0) ms = 3000;
    ms = Math.min(ms, 60000);
    const close = h("button", { class: "toast-close", type: "button", title: "Dismiss", attrs: { "aria-label": "Dismiss" } }, icon("x", { size: 14 }));
    const el = h("div", { class: ["toast", "toast-" + kind], dataset: { type: kind } },
      icon(TOAST_ICONS[kind]), h("span", { class: "toast-message", text: str(message) }), close);
    const remove = () => {
      el.classList.add("leaving");
      setTimeout(() => el.remove(), 200);
    };
    close.addEventListener("click", remove);
    toastHost().appendChild(el);
    setTimeout(remove, ms);
    return el;
  }

  // ---------------------------------------------------------------- modals

  const modalStack = [];

  /** Open a dialog; returns {el, body, close()}. onClose runs once when it closes. */
  function openModal({ title, body, onClose, className, plugin } = {}) {
    const bodyEl = h("div", { class: "modal-body" }, body);
    const closeBtn = h("button", { class: "icon-btn modal-close", type: "button", title: "Close", attrs: { "aria-label": "Close" } }, icon("x"));
    const dialog = h("div", { class: ["modal", className], attrs: { role: "dialog", "aria-modal": "true" }, dataset: plugin ? { plugin } : {} },
      h("div", { class: "modal-header" }, h("h2", { class: "modal-title", text: str(title || "") }), closeBtn),
      bodyEl);
    const backdrop = h("div", { class: "modal-backdrop" }, dialog);
    let closed = false;
    const handle = {
      el: dialog,
      body: bodyEl,
      plugin,
      close() {
        if (closed) return;
        closed = true;
        backdrop.remove();
        const i = modalStack.indexOf(handle);
        if (i >= 0) modalStack.splice(i, 1);
        if (onClose) onClose();
      },
      setBody(node) {
        clear(bodyEl);
        append(bodyEl, [node]);
      },
      get closed() {
        return closed;
      },
    };
    closeBtn.addEventListener("click", () => handle.close());
    backdrop.addEventListener("mousedown", (e) => {
      if (e.target === backdrop) handle.close();
    });
    document.body.appendChild(backdrop);
    modalStack.push(handle);
    const focusable = dialog.querySelector("input, textarea, select, button:not(.modal-close)");
    (focusable || closeBtn).focus();
    return handle;
  }

  function topModal() {
    return modalStack[modalStack.length - 1] || null;
  }

  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && modalStack.length) {
      e.preventDefault();
      topModal().close();
    }
  });

  /** Ask before firing (action buttons with `confirm`); resolves true when confirmed. */
  function confirmDialog(message, { okText = "Confirm", cancelText = "Cancel", danger = false } = {}) {
    return new Promise((resolve) => {
      let answered = false;
      const done = (value) => {
        if (answered) return;
        answered = true;
        modal.close();
        resolve(value);
      };
      const ok = h("button", { class: ["btn", danger ? "btn-danger" : "btn-primary"], type: "button", text: okText, dataset: { confirm: "ok" }, on: { click: () => done(true) } });
      const cancel = h("button", { class: "btn", type: "button", text: cancelText, dataset: { confirm: "cancel" }, on: { click: () => done(false) } });
      const modal = openModal({
        title: "Please confirm",
        className: "modal-confirm",
        body: [h("p", { class: "confirm-message", text: str(message) }), h("div", { class: "modal-actions" }, cancel, ok)],
        onClose: () => done(false),
      });
      ok.focus();
    });
  }

  // ---------------------------------------------------------------- clipboard

  async function copyText(text) {
    const value = str(text);
    try {
      await navigator.clipboard.writeText(value);
      return true;
    } catch (_) {
      const ta = h("textarea", { value, style: { position: "fixed", top: "-1000px", opacity: "0" } });
      document.body.appendChild(ta);
      ta.select();
      let ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (_) {
        ok = false;
      }
      ta.remove();
      return ok;
    }
  }

  // ---------------------------------------------------------------- live events (SSE over fetch)

  /** Follow /console/events; onEvent(name, data) per event, onState("live"|"connecting"|"offline").
   *  Uses fetch streaming (not EventSource) so the bearer token header can be sent. Reconnects with backoff. */
  function liveEvents(onEvent, onState) {
    let stopped = false;
    let delay = 1000;
    let controller = null;

    async function run() {
      while (!stopped) {
        onState && onState("connecting");
        controller = new AbortController();
        try {
          const response = await fetch(withProject("/console/events"), {
            headers: { Accept: "text/event-stream", ...authHeaders() },
            signal: controller.signal,
            cache: "no-store",
          });
          if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
          delay = 1000;
          onState && onState("live");
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let cut;
            while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
              const block = buffer.slice(0, cut);
              buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
              let name = "message";
              const data = [];
              for (const line of block.split(/\r?\n/)) {
                if (line.startsWith("event:")) name = line.slice(6).trim();
                else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
              }
              if (!data.length) continue;
              let parsed;
              try {
                parsed = JSON.parse(data.join("\n"));
              } catch (_) {
                continue;
              }
              try {
                onEvent(name, parsed);
              } catch (exc) {
                console.error("console event handler failed", exc);
              }
            }
          }
        } catch (exc) {
          if (stopped) return;
        }
        if (stopped) return;
        onState && onState("offline");
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10000);
      }
    }
    run();
    return {
      stop() {
        stopped = true;
        if (controller) controller.abort();
      },
    };
  }

  // ---------------------------------------------------------------- page chrome

  function header(active) {
    const link = (href, label, name, ic) =>
      h("a", { href: withProject(href), class: ["nav-link", active === name && "active"], dataset: { nav: name } }, icon(ic), label);
    const live = h("span", { class: "live-state", id: "live-state", dataset: { state: "connecting" }, title: "Live updates from tgo-host" },
      h("span", { class: "dot" }), h("span", { class: "live-label", text: "connecting" }));
    return h("header", { class: "topbar" },
      h("div", { class: "brand" }, icon("plug", { size: 18 }), h("span", { text: "tgo-host" }), h("span", { class: "brand-sub", text: "console" })),
      h("nav", { class: "nav" },
        link("/console", "Workspace", "workspace", "message-square"),
        link("/console/gallery", "Template gallery", "gallery", "layout-dashboard"),
        link("/console/plugins", "Plugins", "plugins", "puzzle")),
      h("div", { class: "topbar-right" }, projectId ? h("span", { class: "chip", text: "project " + projectId }) : null, live));
  }

  function setLiveState(state) {
    const el = document.getElementById("live-state");
    if (!el) return;
    el.dataset.state = state;
    el.querySelector(".live-label").textContent = state === "live" ? "live" : state === "offline" ? "offline — retrying" : "connecting";
  }

  Object.assign(TGO, {
    h, append, clear, icon, loadAllIcons, renderingFor, str, isObj, arr, httpUrl, safeHref, cssColor, fmtDate, fmtCurrency, relTime,
    api, ApiFailure, withProject, projectId, toast, openModal, topModal, confirmDialog, copyText,
    liveEvents, header, setLiveState,
  });
})();
