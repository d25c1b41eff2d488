#!/usr/bin/env node
// hello-node: a TGO plugin in plain Node.js (>= 18, no npm dependencies).
// Frames: 4-byte big-endian length + UTF-8 JSON (JSON-RPC 2.0).
// Run: TGO_SOCKET_PATH=/path/to/tgo.sock node plugins_examples/hello_node/index.js
"use strict";

const net = require("net");

const SOCKET_PATH = process.env.TGO_SOCKET_PATH || "/var/run/tgo/tgo.sock";
const MAX_FRAME = 16 * 1024 * 1024;
const PLUGIN = {
  id: "com.example.hello-node",
  name: "hello-node",
  version: "1.0.0",
  description: "Minimal Node.js plugin (no npm dependencies)",
  author: "tgo-host examples",
  capabilities: [{ type: "visitor_panel", title: "Hello from Node", icon: "hand", priority: 50 }],
};

const log = (...args) => console.error(`[${PLUGIN.id}]`, ...args);

const handlers = {
  "visitor_panel/render": (p) => ({
    template: "key_value",
    data: {
      title: "Hello from Node.js",
      items: [
        { label: "Visitor", value: (p.visitor && p.visitor.name) || p.visitor_id || "unknown" },
        { label: "Visitor id", value: p.visitor_id || "", copyable: true },
        { label: "Node", value: process.version },
      ],
    },
  }),
  "visitor_panel/event": (p) => ({
    action: "show_toast",
    data: { message: `Node got ${p.event_type || "event"} ${p.action_id || ""}`.trim(), type: "info" },
  }),
};

let delay = 500;
let shuttingDown = false;

function connect() {
  const sock = net.createConnection(SOCKET_PATH);
  let buf = Buffer.alloc(0);
  let registered = false;

  const send = (msg) => {
    const body = Buffer.from(JSON.stringify(msg), "utf8");
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length, 0);
    sock.write(Buffer.concat([head, body]));
  };
  const reply = (id, result) => send({ jsonrpc: "2.0", id, result });
  const fail = (id, code, message) => send({ jsonrpc: "2.0", id, error: { code, message } });

  function onMessage(msg) {
    if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
      return fail(null, -32600, "invalid request");
    }
    if (!("method" in msg)) { // a response: only register's is expected
      if (msg.id === 1 && !registered) {
        if (msg.error) {
          log("register rejected:", msg.error.code, msg.error.message);
          sock.destroy();
          delay = Math.max(delay, 5000);
          return;
        }
        registered = true;
        delay = 500;
        log("registered", JSON.stringify(msg.result));
      }
      return;
    }
    const { id, method } = msg;
    const params = msg.params || {};
    const notify = !("id" in msg);
    if (method === "ping") {
      if (!notify) reply(id, { pong: true, timestamp: Date.now() });
    } else if (method === "shutdown") {
      log("shutdown requested");
      shuttingDown = true;
      if (!notify) reply(id, { success: true });
      sock.end(() => process.exit(0)); // exit once the reply is flushed
      setTimeout(() => process.exit(0), 1000).unref();
    } else if (Object.prototype.hasOwnProperty.call(handlers, method)) {
      let result;
      try {
        result = handlers[method](params);
      } catch (err) {
        if (!notify) fail(id, -32603, String((err && err.message) || err));
        return;
      }
      if (!notify) reply(id, result);
    } else if (!notify) {
      fail(id, -32601, `method not found: ${method}`);
    }
  }

  sock.on("connect", () => {
    log("connected to", SOCKET_PATH);
    send({ jsonrpc: "2.0", id: 1, method: "register", params: PLUGIN });
  });
  sock.on("data", (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 4) {
      const len = buf.readUInt32BE(0);
      if (len > MAX_FRAME) {
        log(`frame of ${len} bytes exceeds the limit; dropping the connection`);
        sock.destroy();
        return;
      }
      if (buf.length < 4 + len) break;
      const body = buf.subarray(4, 4 + len);
      buf = buf.subarray(4 + len);
      let msg;
      try {
        msg = JSON.parse(body.toString("utf8"));
      } catch (err) {
        fail(null, -32700, "parse error");
        continue;
      }
      onMessage(msg);
    }
  });
  sock.on("error", (err) => log("socket error:", err.message));
  sock.on("close", () => {
    if (shuttingDown) return;
    log(`disconnected; retrying in ${delay} ms`);
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 10000);
  });
}

process.on("SIGTERM", () => process.exit(0));
connect();
