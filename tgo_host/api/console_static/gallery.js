// tgo-host console: the template gallery — every JSON-UI template with sample data, every JSON-ACTION
// runnable, and a playground to paste a render result into. Gestures here are not sent to a plugin:
// the event a plugin would receive is shown in the "Events" column instead.
"use strict";

(function () {
  const TGO = window.TGO;
  const { h, clear, icon, str, toast, renderUI, runAction } = TGO;

  const IMG = "data:image/svg+xml;base64," + btoa(
    '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="100"><defs><linearGradient id="g" x1="0" x2="1" y1="0" y2="1">' +
    '<stop offset="0" stop-color="#dbe4ff"/><stop offset="1" stop-color="#f3d9fa"/></linearGradient></defs>' +
    '<rect width="160" height="100" fill="url(#g)"/><circle cx="80" cy="50" r="22" fill="#748ffc" opacity=".6"/></svg>');

  const SAMPLES = [
    ["text", "Plain, typed (info/success/warning/error), sized, bold, coloured, copyable, or markdown text.", {
      template: "group", data: { items: [
        { template: "text", data: { text: "Default text with a copy button", copyable: true } },
        { template: "text", data: { text: "Info: the customer has an open return", type: "info" } },
        { template: "text", data: { text: "Payment received", type: "success", bold: true } },
        { template: "text", data: { text: "Shipping address unverified", type: "warning" } },
        { template: "text", data: { text: "Card declined twice", type: "error" } },
        { template: "text", data: { text: "Large purple text", size: "lg", color: "#7048e8" } },
        { template: "text", data: { text: "**Markdown** text with a [link](https://example.com)", type: "markdown" } },
      ] } }],
    ["key_value", "Label/value rows: icons, colours, dates, currency, badges, links, copy buttons.", {
      template: "key_value", data: { title: "Customer", items: [
        { label: "Name", value: "Alice Chen", icon: "user" },
        { label: "Email", value: "alice@example.com", icon: "mail", copyable: true, link: "mailto:alice@example.com" },
        { label: "Level", value: "Gold", icon: "crown", type: "badge", color: "#F59E0B" },
        { label: "Total spent", value: 12840.5, type: "currency" },
        { label: "Since", value: "2021-03-14", type: "date" },
        { label: "Last seen", value: "2024-05-02T09:14:00Z", type: "datetime" },
        { label: "Risk", value: "low", color: "#2b8a3e" },
        { label: "Profile", value: "Open CRM", link: "https://crm.example.com/customers/v-1001", icon: "external-link" },
      ] } }],
    ["table", "Columns with types and alignment, badge cells, pagination, and row clicks (button_click with payload).", {
      template: "table", data: {
        title: "Orders", row_click_action: "open_order", pagination: { total: 7, page: 1, page_size: 4 },
        columns: [
          { key: "id", label: "Order", width: 90 }, { key: "date", label: "Date", type: "date" },
          { key: "amount", label: "Amount", align: "right" }, { key: "status", label: "Status", type: "badge" },
          { key: "tracking", label: "Tracking", type: "link" },
        ],
        rows: [
          { id: "ORD-1042", date: "2024-05-02", amount: "$129.00", status: { text: "shipped", color: "blue" }, tracking: "https://track.example.com/JD0146" },
          { id: "ORD-1038", date: "2024-04-18", amount: "$59.90", status: { text: "delivered", color: "green" }, tracking: "https://track.example.com/JD0139" },
          { id: "ORD-1031", date: "2024-03-30", amount: "$310.00", status: { text: "refunded", color: "red" } },
          { id: "ORD-1027", date: "2024-03-02", amount: "$18.00", status: { text: "pending", color: "orange" } },
          { id: "ORD-1019", date: "2024-02-11", amount: "$42.50", status: { text: "cancelled", color: "gray" } },
          { id: "ORD-1011", date: "2024-01-20", amount: "$99.00", status: "delivered" },
          { id: "ORD-1003", date: "2023-12-24", amount: "$12.00", status: { text: "delivered", color: "green" } },
        ],
      } }],
    ["card", "One card: image, title, subtitle, fields (highlighted), tags, action buttons, footer.", {
      template: "card", data: {
        title: "Wireless earbuds", subtitle: "SKU p-100 · in stock", image: IMG, image_size: "medium",
        fields: [{ label: "Price", value: "$79.00", highlight: true }, { label: "Stock", value: 42 }, { label: "Warehouse", value: "Berlin" }, { label: "Rating", value: "4.6 / 5" }],
        tags: [{ text: "bestseller", color: "green" }, { text: "noise cancelling", color: "blue" }],
        actions: [{ id: "recommend", label: "Recommend", type: "primary" }, { id: "details", label: "Details" }],
        footer: "Updated 5 minutes ago",
      } }],
    ["cards", "A grid or list of items; clicking one sends button_click with the item as payload.", {
      template: "group", data: { items: [
        { template: "cards", data: { title: "Grid", layout: "grid", columns: 3, item_click_action: "view_product", items: [
          { id: "p-100", title: "Earbuds", description: "Noise cancelling", price: "$79.00", image: IMG },
          { id: "p-200", title: "Charger", description: "65 W USB-C", price: "$25.00", image: IMG },
          { id: "p-300", title: "Sleeve", description: "14 inch felt", price: "$39.00", image: IMG },
        ] } },
        { template: "cards", data: { title: "List", layout: "list", item_click_action: "view_product", items: [
          { id: "p-400", title: "Desk lamp", description: "Warm white, dimmable", price: "$45.00", image: IMG },
          { id: "p-500", title: "Notebook", description: "A5, dotted", price: "$9.00" },
        ] } },
      ] } }],
    ["link", "A single link with icon and description (only http(s), mailto and tel become links).", {
      template: "group", data: { items: [
        { template: "link", data: { text: "Open the order in the shop admin", url: "https://admin.example.com/orders/ORD-1042", icon: "external-link", description: "Opens in a new tab" } },
        { template: "link", data: { text: "Call the customer", url: "tel:+15550100", icon: "phone", target: "_self" } },
      ] } }],
    ["links", "A titled list of links.", {
      template: "links", data: { title: "Help centre", items: [
        { text: "Refund policy", url: "https://help.example.com/refunds", icon: "rotate-ccw" },
        { text: "Shipping times", url: "https://help.example.com/shipping", icon: "truck" },
        { text: "Contact billing", url: "mailto:billing@example.com", icon: "mail" },
      ] } }],
    ["button", "One button; types primary/secondary/danger/link, sizes xs–lg, icon, disabled.", {
      template: "group", data: { layout: "horizontal", items: [
        { template: "button", data: { label: "Primary", action_id: "b1", type: "primary", icon: "check" } },
        { template: "button", data: { label: "Secondary", action_id: "b2", type: "secondary", size: "sm" } },
        { template: "button", data: { label: "Danger", action_id: "b3", type: "danger", size: "xs" } },
        { template: "button", data: { label: "Link", action_id: "b4", type: "link" } },
        { template: "button", data: { label: "Large", action_id: "b5", size: "lg", icon: "star" } },
        { template: "button", data: { label: "Disabled", action_id: "b6", disabled: true } },
      ] } }],
    ["action", "A row of buttons; `confirm` asks before the event is sent, `loading` shows a spinner.", {
      template: "action", data: { buttons: [
        { id: "open_crm", label: "Open in CRM", icon: "external-link", type: "primary" },
        { id: "copy_email", label: "Copy email", icon: "copy" },
        { id: "mark_vip", label: "Mark as VIP", icon: "crown", confirm: "Mark this customer as VIP?" },
        { id: "block", label: "Block", type: "danger", confirm: "Block this visitor?" },
        { id: "ghost", label: "Ghost", type: "ghost" },
        { id: "busy", label: "Saving", loading: true },
      ] } }],
    ["markdown", "Markdown rendered by markdown-it and sanitised by DOMPurify; max_height scrolls.", {
      template: "markdown", data: { max_height: 180, content:
        "### Notes\n**VIP since 2021.** Prefers *email* contact.\n\n- Ships to: Berlin, DE\n- Last contact: 2024-04-30\n\n" +
        "> Asked about the loyalty programme.\n\n`ORD-1042` · [order page](https://shop.example.com/orders/ORD-1042)\n\n" +
        "| channel | count |\n|---|---|\n| email | 12 |\n| chat | 4 |\n\n1. first\n2. second\n3. third" } }],
    ["list", "Items with icon, description and time; `searchable` filters, picking one sends item_select.", {
      template: "list", data: { title: "Quick replies", searchable: true, show_more: true, more_action: "more_replies", items: [
        { id: "greeting", title: "Greeting", description: "Hello! Thanks for reaching out.", icon: "smile" },
        { id: "wait", title: "Please wait", description: "I'm looking into this right now.", icon: "clock" },
        { id: "order_status", title: "Order status", description: "Could you share your order number?", icon: "package", time: "used 3×" },
        { id: "refund", text: "Refund policy (text instead of title)", icon: "rotate-ccw" },
      ] } }],
    ["timeline", "Dated steps with a status colour each.", {
      template: "timeline", data: { title: "Latest order", items: [
        { title: "Order placed", time: "2024-05-02 09:14", status: "success", description: "ORD-1042, 2 items" },
        { title: "Payment confirmed", time: "2024-05-02 09:15", status: "success" },
        { title: "Shipped", time: "2024-05-03 16:40", status: "info", description: "Carrier: DHL" },
        { title: "Delivery delayed", time: "2024-05-06 08:00", status: "warning" },
        { title: "Lost in transit?", status: "error" },
        { title: "Out for delivery", status: "default" },
      ] } }],
    ["stats", "Figures with icon, trend (up/down) and colour.", {
      template: "stats", data: { items: [
        { label: "Orders", value: 16, icon: "package", trend: "+2", trend_type: "up" },
        { label: "Total spent", value: "$1,072", icon: "wallet", color: "#10B981" },
        { label: "Returns", value: 1, icon: "rotate-ccw", trend: "-1", trend_type: "down" },
        { label: "NPS", value: 72 },
      ] } }],
    ["empty", "Nothing to show, with an optional action (button_click).", {
      template: "empty", data: { icon: "inbox", title: "No open returns", description: "Returns started by this customer appear here.", action: { id: "start_return", label: "Start a return" } } }],
    ["loading", "A placeholder while something loads.", { template: "loading", data: { text: "Fetching live tracking…" } }],
    ["group", "Templates stacked vertically (default) or side by side; groups nest.", {
      template: "group", data: { items: [
        { template: "text", data: { text: "A vertical group holding a horizontal one:", size: "sm" } },
        { template: "group", data: { layout: "horizontal", items: [
          { template: "stats", data: { items: [{ label: "Open tickets", value: 3 }] } },
          { template: "group", data: { items: [
            { template: "text", data: { text: "Nested group", bold: true } },
            { template: "button", data: { label: "Nested button", action_id: "nested", size: "sm" } },
          ] } },
        ] } },
      ] } }],
    ["tabs", "Tabs of templates (with icons and a default tab); tabs nest too.", {
      template: "tabs", data: { default_tab: "history", items: [
        { key: "overview", label: "Overview", icon: "bar-chart", content: { template: "stats", data: { items: [{ label: "Orders", value: 16 }, { label: "Returns", value: 1 }] } } },
        { key: "history", label: "History", icon: "clock", content: { template: "timeline", data: { items: [{ title: "Order placed", status: "success", time: "09:14" }, { title: "Shipped", status: "info" }] } } },
        { key: "nested", label: "Nested tabs", icon: "layout-dashboard", content: { template: "tabs", data: { items: [
          { key: "a", label: "Inner A", content: { template: "text", data: { text: "Inner tab A" } } },
          { key: "b", label: "Inner B", content: { template: "empty", data: { title: "Inner tab B" } } },
        ] } } },
      ] } }],
    ["form", "Every field type, required checks, defaults; submitting sends form_submit with form_data.", {
      template: "form", data: { title: "Create ticket", action_id: "create_ticket", submit_text: "Create", cancel_text: "Reset", fields: [
        { name: "title", label: "Title", type: "text", required: true, placeholder: "Short summary" },
        { name: "details", label: "Details", type: "textarea", rows: 3, placeholder: "What happened?" },
        { name: "quantity", label: "Quantity", type: "number", default: 1 },
        { name: "priority", label: "Priority", type: "select", required: true, default: "normal", options: [{ value: "low", label: "Low" }, { value: "normal", label: "Normal" }, { value: "high", label: "High" }] },
        { name: "category", label: "Category", type: "radio", default: "other", options: [{ value: "billing", label: "Billing" }, { value: "technical", label: "Technical" }, { value: "other", label: "Other" }] },
        { name: "channels", label: "Notify via", type: "checkbox", options: [{ value: "email", label: "Email" }, { value: "sms", label: "SMS" }], default: ["email"] },
        { name: "agree", label: "Customer consent", type: "checkbox", required: true, placeholder: "The customer agreed to be contacted" },
        { name: "due", label: "Due date", type: "date" },
        { name: "callback", label: "Call back at", type: "datetime" },
        { name: "urgent", label: "Urgent", type: "switch", placeholder: "Page the on-call agent" },
        { name: "source", type: "hidden", default: "console-gallery" },
      ] } }],
  ];

  const ACTION_SAMPLES = [
    ["open_url", "Opens http(s) in a new tab.", { action: "open_url", data: { url: "https://example.com/", target: "_blank" } }],
    ["open_url (javascript:)", "Refused: script URLs are never opened.", { action: "open_url", data: { url: "javascript:window.__xss=1" } }],
    ["insert_text", "Appends to the input box.", { action: "insert_text", data: { text: "Thanks for waiting!" } }],
    ["insert_text (replace)", "Replaces the input box.", { action: "insert_text", data: { text: "Replaced text.", replace: true } }],
    ["send_message", "Adds a message to the transcript.", { action: "send_message", data: { content: "Your order **ORD-1042** ships today.", content_type: "markdown" } }],
    ["show_toast (success)", "3 s notice.", { action: "show_toast", data: { message: "Customer marked as VIP", type: "success" } }],
    ["show_toast (error, 6 s)", "Longer notice.", { action: "show_toast", data: { message: "CRM unavailable", type: "error", duration: 6000 } }],
    ["show_toast (warning)", "", { action: "show_toast", data: { message: "Address unverified", type: "warning" } }],
    ["copy_text", "Copies, then a notice.", { action: "copy_text", data: { text: "alice@example.com", toast: "Email copied" } }],
    ["refresh", "Re-renders this gallery's samples.", { action: "refresh", data: {} }],
    ["show_modal", "A dialog with a template; its events go to the same plugin.", { action: "show_modal", data: { title: "Quick survey", template: "form", data: { action_id: "survey", submit_text: "Send", fields: [{ name: "score", label: "Score", type: "select", required: true, options: [{ value: 5, label: "Great" }, { value: 3, label: "OK" }, { value: 1, label: "Bad" }] }] } } }],
    ["close_modal", "Closes the dialog (opens one first, closes it after 1 s).", { action: "batch", data: { actions: [{ action: "show_modal", data: { title: "About to close", template: "text", data: { text: "close_modal closes this in a second…" } } }] } }],
    ["noop", "Does nothing (logs).", { action: "noop", data: { log: "ignored" } }],
    ["batch", "Runs its actions in order.", { action: "batch", data: { actions: [
      { action: "insert_text", data: { text: "Step 1." } }, { action: "show_toast", data: { message: "Step 2: toast", type: "info" } },
      { action: "send_message", data: { content: "Step 3: message" } }] } }],
  ];

  // ---------------------------------------------------------------- page

  const app = document.getElementById("app");
  const events = h("ol", { class: "event-log", id: "event-log" });
  const demoInput = h("textarea", { class: "demo-input", id: "demo-input", placeholder: "insert_text lands here" });
  const transcript = h("div", { class: "demo-transcript", id: "demo-transcript" });
  const main = h("div", { class: "gallery-main", id: "gallery-main" });
  let renders = 0;

  function logEvent(template, event) {
    events.prepend(h("li", { dataset: { event: event.event_type } },
      h("div", { class: "bold", text: `${event.event_type} · ${event.action_id}` }),
      h("div", { class: "muted", text: `from ${template}` }),
      h("pre", { class: "json", text: JSON.stringify(event, null, 1) })));
  }

  const actx = {
    insertText: (text, replace) => {
      demoInput.value = replace || !demoInput.value ? text : demoInput.value + " " + text;
    },
    sendMessage: (content, type) => {
      transcript.appendChild(h("div", { class: "message from-agent" }, h("div", { class: "bubble" }, type === "markdown" ? TGO.markdown(content) : h("div", { text: content }))));
    },
    refresh: () => drawSpecimens(),
    showModal: (title, ui) => {
      const modal = TGO.openModal({ title });
      modal.setBody(renderUI(ui, ctxFor("show_modal", modal)));
    },
  };

  function ctxFor(name, modal) {
    return {
      emit: async (event) => {
        logEvent(name, event);
        if (event.event_type === "form_submit" && modal) modal.close();
      },
      closeModal: modal ? () => modal.close() : null,
    };
  }

  function specimen(id, name, desc, ui) {
    return h("section", { class: "specimen", id: "t-" + id, dataset: { specimen: name } },
      h("div", { class: "specimen-head" }, h("h2", { text: name })),
      h("div", { class: "specimen-desc", text: desc }),
      h("div", { class: "specimen-body" },
        h("div", { class: "preview" }, renderUI(ui, ctxFor(name))),
        h("details", { class: "specimen-json", open: true }, h("summary", { class: "muted small", text: "JSON" }), h("pre", { class: "json", text: JSON.stringify(ui, null, 2) }))));
  }

  const specimens = h("div", { id: "specimens" });
  function drawSpecimens() {
    renders++;
    clear(specimens);
    for (const [name, desc, ui] of SAMPLES) specimens.appendChild(specimen(name, name, desc, ui));
    specimens.dataset.renders = String(renders);
  }

  function actionsSection() {
    const grid = h("div", { class: "action-grid" });
    for (const [label, desc, action] of ACTION_SAMPLES) {
      const run = h("button", { class: "btn btn-sm", type: "button", dataset: { run: label }, text: "Run" });
      run.addEventListener("click", async () => {
        await runAction(action, actx);
        if (label === "close_modal") setTimeout(() => runAction({ action: "close_modal", data: {} }, actx), 1000);
      });
      grid.appendChild(h("div", { class: "action-demo" },
        h("div", { class: "bold mono", text: label }), desc ? h("div", { class: "muted small", text: desc }) : null,
        h("code", { text: JSON.stringify(action).slice(0, 140) }), run));
    }
    return h("section", { class: "specimen", id: "actions" },
      h("div", { class: "specimen-head" }, h("h2", { text: "actions" })),
      h("div", { class: "specimen-desc", text: "Every JSON-ACTION, executed by the same code the workspace uses." }),
      h("div", { class: "specimen-body" },
        h("div", {}, grid),
        h("div", { class: "preview" }, h("div", { class: "bold small", text: "Input box" }), demoInput,
          h("div", { class: "bold small", text: "Transcript", style: { marginTop: "8px" } }), transcript)));
  }

  function playground() {
    const area = h("textarea", { id: "playground-input", spellcheck: false, value: JSON.stringify(SAMPLES[1][2], null, 2) });
    const out = h("div", { class: "preview", id: "playground-output" });
    const draw = () => {
      clear(out);
      let ui;
      try {
        ui = JSON.parse(area.value);
      } catch (exc) {
        out.appendChild(h("div", { class: "panel-error" }, h("span", { text: "Not JSON: " + exc.message })));
        return;
      }
      out.appendChild(renderUI(ui, ctxFor("playground")));
    };
    area.addEventListener("input", draw);
    draw();
    return h("section", { class: "specimen playground", id: "playground" },
      h("div", { class: "specimen-head" }, h("h2", { text: "playground" })),
      h("div", { class: "specimen-desc", text: "Paste a render result ({\"template\", \"data\"}) to preview it." }),
      h("div", { class: "specimen-body" }, area, out));
  }

  const toc = h("nav", { class: "gallery-toc" },
    h("div", { class: "toc-head", text: `Templates (${SAMPLES.length})` }),
    SAMPLES.map(([name]) => h("a", { href: "#t-" + name, text: name })),
    h("div", { class: "toc-head", text: "More" }),
    h("a", { href: "#actions", text: "actions" }), h("a", { href: "#playground", text: "playground" }));

  drawSpecimens();
  main.append(h("div", { class: "page-head" }, h("h1", { text: "Template gallery" }),
    h("span", { class: "muted", text: "Every JSON-UI template of spec/templates.md with sample data. Click things: the event a plugin would get appears on the right." })),
    specimens, actionsSection(), playground());
  app.append(TGO.header("gallery"),
    h("div", { class: "gallery" }, toc, main,
      h("aside", { class: "gallery-side" }, h("h2", { text: "Events" }), h("p", { class: "muted small", text: "What a plugin would receive as <extension_point>/event." }), events)));
  TGO.liveEvents(() => {}, TGO.setLiveState);
  TGO.gallery = { SAMPLES, ACTION_SAMPLES, actx };
  document.body.dataset.ready = "1";
})();
