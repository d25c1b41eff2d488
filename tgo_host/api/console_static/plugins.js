// tgo-host console: the plugins page — connected plugins (live over /console/events) and, when the
// host launches plugins itself, their processes (status, pid, restarts, logs, start/stop/restart);
// "Install from URL" (fetch-info preview, then install with live progress) and, for plugins
// installed that way, "Check for update" / "Upgrade" (streamed the same way).
"use strict";

(function () {
  const TGO = window.TGO;
  const { h, clear, icon, str, isObj, arr, api, toast } = TGO;
  const enc = encodeURIComponent;

  const connected = new Map(); // id -> PluginInfo (status connected/disconnected)
  const processes = new Map(); // id -> installed entry + status fields
  let fixups = {}; // id -> {total, counts, recent, registration} from /console/fixups
  let supervisor = null; // null: unknown yet, false: no supervisor routes, true: present
  let hostSupervisor = null; // what /console/events said: does the host have a process supervisor?
  const openLogs = new Set();
  const openFixups = new Set();
  const updates = new Map(); // id -> last check-update answer
  const cards = new Map(); // id -> card element

  const app = document.getElementById("app");
  const summary = h("div", { class: "page-head" });
  const note = h("div", { class: "page-note", hidden: true });
  const grid = h("div", { class: "plugin-grid", id: "plugin-grid" });
  app.append(TGO.header("plugins"), h("div", { class: "page" }, summary, note, grid));

  const CAP_ICONS = { visitor_panel: "panel-right", chat_toolbar: "zap", sidebar_iframe: "app-window", channel_integration: "message-circle", mcp_tools: "terminal" };

  function capLabel(c) {
    const bits = [];
    if (c.title || c.name) bits.push(str(c.title || c.name));
    if (c.type === "visitor_panel" && c.priority !== undefined && c.priority !== null) bits.push("priority " + c.priority);
    if (c.type === "chat_toolbar" && c.shortcut) bits.push(str(c.shortcut));
    if (c.type === "mcp_tools") bits.push(arr(c.tools).map((t) => str(t.name)).join(", ") || "no tools");
    if (c.type === "channel_integration" && c.channel_type) bits.push(str(c.channel_type));
    return bits.join(" · ");
  }

  function statusBadge(text, color, role) {
    const b = TGO.badge({ text, color });
    b.dataset.role = role;
    return b;
  }

  const PROCESS_COLORS = { running: "green", starting: "blue", stopped: "gray", error: "red", backoff: "orange" };

  function fact(label, value, cls) {
    if (value === undefined || value === null || value === "") return null;
    return [h("dt", { text: label }), h("dd", { class: cls }, value instanceof Node ? value : str(value))];
  }

  function timeFact(iso) {
    if (!iso) return null;
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return str(iso);
    return h("span", { title: iso }, `${d.toLocaleString("en-US")} (${TGO.relTime(iso)})`);
  }

  // What validation fixed up or refused in this plugin's output, so its author can fix it.
  function fixupsEl(id) {
    const f = fixups[id];
    if (!isObj(f) || !f.total) return null;
    const kinds = Object.entries(isObj(f.counts) ? f.counts : {}).map(([k, n]) => `${n} ${k}`);
    if (arr(f.registration).length) kinds.push(`${arr(f.registration).length} of them at registration`);
    const line = (e) => h("li", {},
      h("span", { class: "mono", text: str(e.path) || "(result)" }), " ",
      TGO.badge({ text: str(e.kind), color: e.kind === "rejected" ? "red" : "orange" }), " ",
      h("span", { text: str(e.message) }),
      e.method ? h("span", { class: "muted small", text: ` (${str(e.method)})` }) : null);
    const things = f.total === 1 ? "1 thing" : `${f.total} things`;
    const el = h("details", { class: "fixups", dataset: { role: "fixups" }, open: openFixups.has(id) },
      h("summary", { text: `This plugin sent ${things} we fixed up or refused: ${kinds.join(", ")}` }),
      h("ul", { class: "fixup-list" }, [
        ...arr(f.registration).map((e) => ({ ...e, method: "register" })),
        ...arr(f.recent).filter((e) => e.method !== "register").reverse()].map(line)));
    el.addEventListener("toggle", () => (el.open ? openFixups.add(id) : openFixups.delete(id)));
    return el;
  }

  function card(id) {
    const info = connected.get(id);
    const proc = processes.get(id);
    const name = (info && info.name) || (proc && proc.name) || id;
    const caps = arr(info && info.status === "connected" ? info.capabilities : (info && info.capabilities) || (proc && proc.capabilities));
    const conn = info ? info.status : "not connected";
    const firstIcon = caps.map((c) => c.icon).find(Boolean) || "puzzle";

    const badges = h("div", { class: "plugin-badges" },
      statusBadge(conn, conn === "connected" ? "green" : conn === "disconnected" ? "red" : "gray", "conn-status"),
      proc ? statusBadge("process " + str(proc.status), PROCESS_COLORS[proc.status] || "gray", "process-status") : null,
      info && info.is_dev_mode ? statusBadge("dev mode", "purple", "dev") : null);

    const facts = h("dl", { class: "facts" },
      fact("Version", (info && info.version) || (proc && proc.version)),
      fact("Author", (info && info.author) || (proc && proc.author)),
      fact("Connected", info && info.status === "connected" ? timeFact(info.connected_at) : null),
      fact("Disconnected", info && info.status === "disconnected" ? timeFact(info.disconnected_at) : null),
      fact("Project", info && info.project_id),
      proc ? fact("PID", proc.pid === null || proc.pid === undefined ? "–" : String(proc.pid), "mono") : null,
      proc ? fact("Restarts", String(proc.restart_count ?? 0)) : null,
      proc ? fact("Started", timeFact(proc.started_at)) : null,
      proc && proc.source_url ? fact("Source", proc.source_url, "mono") : null,
      proc && proc.latest_version && proc.latest_version !== proc.version ? fact("Latest", proc.latest_version) : null,
      proc && proc.last_error ? fact("Last error", proc.last_error, "last-error") : null);

    const capsEl = h("div", { class: "caps" }, caps.length
      ? caps.map((c) => h("span", { class: "cap", dataset: { cap: str(c.type) }, title: JSON.stringify(c) }, icon(CAP_ICONS[c.type] || "puzzle", { size: 12 }), h("b", { text: str(c.type) }), capLabel(c) ? h("span", { text: " " + capLabel(c) }) : null))
      : h("span", { class: "muted small", text: "no capabilities known (not registered)" }));

    let actions = null;
    let logs = null;
    if (proc) {
      const verb = (v, label, ic, disabled) => h("button", {
        class: ["btn", "btn-sm", v === "stop" && "btn-danger"], type: "button", disabled, dataset: { op: v },
        on: { click: (e) => operate(id, v, e.currentTarget) },
      }, icon(ic, { size: 14 }), h("span", { text: label }));
      const running = proc.status === "running" || proc.status === "starting";
      const fromUrl = proc.source_url && proc.install_type && !["local", "dev"].includes(proc.install_type);
      const update = updates.get(id);
      actions = h("div", { class: "plugin-actions" },
        verb("start", "Start", "play", running), verb("stop", "Stop", "square", !running && proc.status !== "error"), verb("restart", "Restart", "rotate-cw", false),
        fromUrl ? h("button", { class: ["btn", "btn-sm"], type: "button", dataset: { op: "check-update" }, on: { click: (e) => checkUpdate(id, e.currentTarget) } },
          icon("refresh-cw", { size: 14 }), h("span", { text: "Check for update" })) : null,
        update && update.has_update ? h("button", { class: ["btn", "btn-sm", "btn-primary"], type: "button", dataset: { op: "upgrade" }, on: { click: () => upgrade(id, update) } },
          icon("arrow-up", { size: 14 }), h("span", { text: "Upgrade to " + str(update.latest_version) })) : null);
      const pre = h("pre", { class: "log-lines", text: "loading…" });
      logs = h("details", { class: "logs", open: openLogs.has(id) }, h("summary", { text: "Recent log lines" }), pre);
      logs.addEventListener("toggle", () => {
        if (logs.open) {
          openLogs.add(id);
          loadLogs(id, pre);
        } else openLogs.delete(id);
      });
      if (logs.open) loadLogs(id, pre);
    }

    return h("article", { class: "plugin-card", dataset: { plugin: id, conn } },
      h("div", { class: "plugin-head" },
        h("span", { class: "plugin-icon" }, icon(firstIcon, { size: 18 })),
        h("div", {}, h("div", { class: "plugin-name", text: name }), h("div", { class: "plugin-id mono", text: id })),
        badges),
      (info && info.description) || (proc && proc.description) ? h("div", { class: "muted", text: str((info && info.description) || proc.description) }) : null,
      facts, capsEl, fixupsEl(id), actions, logs);
  }

  async function loadLogs(id, pre) {
    try {
      const res = await api("GET", `/plugins/${enc(id)}/logs`);
      const lines = arr(res.logs).slice(-100);
      pre.textContent = lines.length ? lines.map(str).join("\n") : "(no output yet)";
      pre.scrollTop = pre.scrollHeight;
    } catch (exc) {
      pre.textContent = "could not load logs: " + exc.message;
    }
  }

  async function operate(id, verb, button) {
    button.classList.add("is-loading");
    button.disabled = true;
    try {
      const res = await api("POST", `/plugins/${enc(id)}/${verb}`);
      toast(res && res.message ? res.message : `${verb} ${id}: ${res && res.status}`, res && res.success === false ? "warning" : "success");
    } catch (exc) {
      toast(`${verb} ${id} failed: ${exc.message}`, "error", 6000);
    } finally {
      await loadProcesses();
      draw();
    }
  }

  // ------------------------------------------------------------ marketplace: install, update, upgrade

  /** POST ``path`` and read its text/event-stream; ``onEvent({stage, message})`` per event; resolves to the last. */
  async function eventStream(path, body, onEvent) {
    const token = sessionStorage.getItem("tgo_token");
    const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
    if (token) headers.Authorization = "Bearer " + token;
    const response = await fetch(TGO.withProject(path), { method: "POST", headers, body: JSON.stringify(body) });
    if (!response.ok || !response.body) {
      let detail = "HTTP " + response.status;
      try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
      const last = { stage: "error", message: detail };
      onEvent(last);
      return last;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let last = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const chunk = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of chunk.split("\n")) {
          if (!line.startsWith("data: ")) continue;
          try { last = JSON.parse(line.slice(6)); } catch (_) { continue; }
          onEvent(last);
        }
      }
    }
    if (!last || (last.stage !== "complete" && last.stage !== "error")) {
      last = { stage: "error", message: "the stream ended without a result" };
      onEvent(last);
    }
    return last;
  }

  const STAGE_ICONS = { cloning: "code", downloading: "download", copying: "copy", building: "package", stopping: "square", starting: "play", complete: "check-circle", error: "x-circle" };

  function progressList() {
    const list = h("ol", { class: "install-progress", id: "install-progress" });
    const add = (e) => {
      list.appendChild(h("li", { class: "stage-" + str(e.stage), dataset: { stage: str(e.stage) } },
        icon(STAGE_ICONS[e.stage] || "circle", { size: 13 }), h("b", { text: str(e.stage) }), h("span", { text: " " + str(e.message) })));
      list.scrollTop = list.scrollHeight;
    };
    return { list, add };
  }

  function openInstall() {
    const url = h("input", { type: "text", id: "install-url", attrs: { placeholder: "https://github.com/owner/repo", spellcheck: "false" } });
    const project = h("input", { type: "text", id: "install-project", value: TGO.projectId || "" });
    const preview = h("div", { class: "install-preview", id: "install-preview" });
    const fetchBtn = h("button", { class: ["btn", "btn-sm"], type: "button", id: "install-fetch" }, icon("search", { size: 14 }), h("span", { text: "Preview" }));
    const installBtn = h("button", { class: ["btn", "btn-sm", "btn-primary"], type: "button", id: "install-go", disabled: true }, icon("download", { size: 14 }), h("span", { text: "Install" }));
    let config = null;
    const body = h("div", { class: "install-form" },
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Plugin URL (GitHub, Gitee, or a plugin.yml URL)" }), url),
      h("label", { class: "field" }, h("span", { class: "field-label", text: "Project" }), project),
      h("div", { class: "plugin-actions" }, fetchBtn, installBtn), preview);
    const modal = TGO.openModal({ title: "Install from URL", body, className: "install-modal" });
    fetchBtn.addEventListener("click", async () => {
      fetchBtn.classList.add("is-loading");
      installBtn.disabled = true;
      config = null;
      clear(preview);
      try {
        config = await api("POST", "/plugins/fetch-info", { url: url.value.trim() });
        const source = config.source || {};
        const where = source.github ? `${source.github.repo} @ ${source.github.ref}${source.github.path !== "/" ? " " + source.github.path : ""}` : source.binary ? source.binary.url : source.gitee ? source.gitee.repo : "";
        TGO.append(preview, [h("dl", { class: "facts", id: "install-manifest" },
          fact("Plugin", `${str(config.name)} ${str(config.version)}`), fact("Id", config.id, "mono"),
          fact("Author", config.author), fact("Description", config.description),
          fact("Source", where, "mono"), fact("Build", config.build ? config.build.language : "none"))]);
        installBtn.disabled = false;
      } catch (exc) {
        TGO.append(preview, [h("div", { class: "last-error", id: "install-error", text: "Cannot use this URL: " + exc.message })]);
      } finally {
        fetchBtn.classList.remove("is-loading");
      }
    });
    installBtn.addEventListener("click", async () => {
      if (!config) return;
      installBtn.disabled = true;
      fetchBtn.disabled = true;
      const { list, add } = progressList();
      preview.appendChild(list);
      const last = await eventStream("/plugins/install-stream", { ...config, project_id: project.value.trim() || null }, add);
      fetchBtn.disabled = false;
      if (last.stage === "complete") {
        toast(last.message, "success", 5000);
        await loadProcesses();
        draw();
      } else toast("Install failed: " + last.message, "error", 8000);
      if (modal.closed) return;
    });
  }

  async function checkUpdate(id, button) {
    button.classList.add("is-loading");
    try {
      const res = await api("GET", `/plugins/${enc(id)}/check-update`);
      updates.set(id, res);
      toast(res.has_update ? `${id}: ${res.latest_version} is available (running ${res.current_version})` : `${id}: ${res.message || "up to date"}`,
        res.has_update ? "info" : "success", 5000);
    } catch (exc) {
      toast(`check for update of ${id} failed: ${exc.message}`, "error", 6000);
    } finally {
      await loadProcesses();
      draw();
    }
  }

  async function upgrade(id, update) {
    const { list, add } = progressList();
    TGO.openModal({ title: `Upgrade ${id} to ${str(update.latest_version)}`, body: list, className: "install-modal" });
    const last = await eventStream(`/plugins/${enc(id)}/upgrade`, update.latest_config ? { latest_config: update.latest_config } : {}, add);
    updates.delete(id);
    toast(last.stage === "complete" ? last.message : "Upgrade failed: " + last.message, last.stage === "complete" ? "success" : "error", 8000);
    await loadProcesses();
    draw();
  }

  function draw() {
    const ids = new Set([...connected.keys(), ...processes.keys()]);
    const sorted = [...ids].sort();
    for (const [id, el] of cards) if (!ids.has(id)) { el.remove(); cards.delete(id); }
    for (const id of sorted) {
      const fresh = card(id);
      const old = cards.get(id);
      if (old) old.replaceWith(fresh);
      cards.set(id, fresh);
    }
    for (const id of sorted) grid.appendChild(cards.get(id));
    const live = [...connected.values()].filter((p) => p.status === "connected").length;
    const gone = [...connected.values()].filter((p) => p.status === "disconnected").length;
    TGO.append(clear(summary), [
      h("h1", { text: "Plugins" }),
      h("span", { class: "chip", id: "count-connected", text: `${live} connected` }),
      gone ? h("span", { class: "chip", id: "count-disconnected", text: `${gone} disconnected` }) : null,
      supervisor && hostSupervisor !== false ? h("span", { class: "chip", text: `${processes.size} launched by this host` }) : null,
      supervisor ? h("button", { class: ["btn", "btn-sm", "btn-primary"], type: "button", id: "install-from-url", on: { click: openInstall } },
        icon("download", { size: 14 }), h("span", { text: "Install from URL" })) : null]);
    if (supervisor === false || (hostSupervisor === false && !processes.size)) {
      note.hidden = false;
      clear(note).append(icon("info"), h("span", { text: "This host does not launch plugins (no process supervisor): plugins connect to its socket on their own. Start tgo-host with plugin directories to manage their processes here." }));
    } else if (supervisor && !processes.size) {
      note.hidden = false;
      clear(note).append(icon("info"), h("span", { text: "No plugin is launched by this host; connected plugins are listed below." }));
    } else note.hidden = true;
    if (!ids.size) grid.appendChild(h("div", { class: "muted", id: "no-plugins", text: "No plugin has connected yet." }));
    else { const none = document.getElementById("no-plugins"); if (none) none.remove(); }
  }

  async function loadConnected() {
    try {
      const list = arr((await api("GET", "/plugins")).plugins);
      const ids = new Set(list.map((p) => p.id));
      for (const [id, p] of connected) if (!ids.has(id) && p.status === "connected") connected.set(id, { ...p, status: "disconnected", disconnected_at: new Date().toISOString() });
      for (const p of list) connected.set(p.id, p);
    } catch (exc) {
      toast("Could not list plugins: " + exc.message, "error");
    }
  }

  async function loadFixups() {
    try {
      const res = await api("GET", "/console/fixups");
      fixups = isObj(res) && isObj(res.plugins) ? res.plugins : {};
    } catch (exc) {
      fixups = {};
    }
  }

  async function loadProcesses() {
    if (supervisor === false) return;
    let list;
    try {
      // dev-mode plugins are listed there too (as the gateway expects), but they are not processes of this host
      list = arr((await api("GET", "/plugins/installed")).plugins).filter((p) => isObj(p) && p.install_type !== "dev");
    } catch (exc) {
      if (exc.status === 404 || exc.status === 405) {
        supervisor = false;
        processes.clear();
        return;
      }
      toast("Could not list launched plugins: " + exc.message, "error");
      return;
    }
    supervisor = true;
    const statuses = await Promise.all(list.map((p) => api("GET", `/plugins/${enc(p.plugin_id)}/status`).catch(() => null)));
    processes.clear();
    list.forEach((p, i) => processes.set(p.plugin_id, { ...p, ...(isObj(statuses[i]) ? statuses[i] : {}) }));
  }

  function onLive(name, data) {
    if (name === "snapshot" && typeof data.supervisor === "boolean") hostSupervisor = data.supervisor;
    if (name === "snapshot" || name === "resync") {
      loadConnected().then(loadProcesses).then(loadFixups).then(draw);
      return;
    }
    if (name !== "plugin" || !isObj(data.plugin)) return;
    connected.set(data.plugin.id, data.plugin);
    draw();
    // the process side changes too (crash -> restart); look again shortly
    setTimeout(() => loadProcesses().then(draw), 300);
  }

  (async () => {
    await loadConnected();
    await loadProcesses();
    await loadFixups();
    draw();
    document.body.dataset.ready = "1";
  })();
  TGO.liveEvents(onLive, TGO.setLiveState);
  setInterval(async () => {
    if (document.visibilityState === "visible") {
      if (supervisor) await loadProcesses();
      await loadFixups();
      draw();
    }
  }, 3000);
  setInterval(draw, 30000); // keep "n min ago" honest
})();
