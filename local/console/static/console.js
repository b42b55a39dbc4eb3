// The Clawline local console: chat over the WebSocket API, an MQTT device through the gateway's bridge, turn
// traces and live charts from the functions' EMF lines. Plain browser JavaScript: no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const CHANNELS = ["http", "websocket", "mqtt"];
const COLORS = { overall: "#111827", http: "#2563eb", websocket: "#059669", mqtt: "#d97706" };
const MAX_POINTS = 120;
let config = {};
let chatSocket = null;
let deviceSocket = null;
let lastTurn = 0;
const charts = {};

function line(log, cls, text) {
  const div = document.createElement("div");
  div.className = cls;
  div.textContent = text;
  log.appendChild(div);
  log.scrollTop = log.scrollHeight;
}

function esc(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// ------------------------------------------------------------------ chat (the real WebSocket API)

async function devToken() {
  const response = await fetch("/_local/token?sub=console", { method: "POST" });
  if (!response.ok) throw new Error(`no development token (${response.status}): started with --jwks-url?`);
  return (await response.json()).token;
}

async function connectChat() {
  const log = $("chat-log");
  try {
    const token = await devToken();
    chatSocket = new WebSocket(`${config.websocket}?token=${encodeURIComponent(token)}`);
  } catch (err) {
    line(log, "err", String(err));
    return;
  }
  chatSocket.onopen = () => line(log, "sys", `connected to ${config.websocket} as "console"`);
  chatSocket.onclose = (e) => line(log, "sys", `closed (${e.code}${e.reason ? ": " + e.reason : ""})`);
  chatSocket.onmessage = (e) => {
    const frame = JSON.parse(e.data);
    if (frame.type === "reply") {
      for (const m of frame.messages) line(log, "bot", `bot: ${m.text}`);
    } else if (frame.type === "error") {
      line(log, "err", `error ${frame.error}: ${frame.message}`);
    }
  };
}

$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("chat-input");
  if (!chatSocket || chatSocket.readyState !== WebSocket.OPEN) {
    line($("chat-log"), "err", "not connected");
    return;
  }
  chatSocket.send(JSON.stringify({ text: input.value }));
  line($("chat-log"), "me", `you: ${input.value}`);
  input.value = "";
});

// ------------------------------------------------------------------ MQTT device (bridged by the gateway)

$("device-connect").addEventListener("submit", (e) => {
  e.preventDefault();
  const log = $("device-log");
  const thing = $("thing").value;
  if (deviceSocket) deviceSocket.close();
  const url = new URL("/_console/mqtt", location.href);
  url.protocol = url.protocol.replace("http", "ws");
  url.searchParams.set("thing", thing);
  deviceSocket = new WebSocket(url);
  deviceSocket.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "connected") {
      line(log, "sys", `MQTT client "${msg.thing}": publishes to ${msg.publish}, subscribed to ${msg.subscribe}`);
      document.querySelector("[data-testid=device-send]").disabled = false;
    } else if (msg.type === "published") {
      line(log, "me", `→ ${msg.topic}: ${msg.payload}`);
    } else if (msg.type === "message") {
      let text = msg.payload;
      try {
        const body = JSON.parse(msg.payload);
        if (body.type === "reply") text = body.messages.map((m) => m.text).join(" / ");
        else if (body.type === "error") text = `error ${body.error}: ${body.message}`;
      } catch (_) { /* not JSON: shown as is */ }
      line(log, "bot", `← ${msg.topic}: ${text}`);
    } else if (msg.type === "error") {
      line(log, "err", msg.message);
    }
  };
  deviceSocket.onclose = (ev) => {
    line(log, "sys", `device bridge closed (${ev.code}${ev.reason ? ": " + ev.reason : ""})`);
    document.querySelector("[data-testid=device-send]").disabled = true;
  };
});

let deviceSeq = 0;
$("device-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("device-input");
  deviceSeq += 1;
  const id = `console-${Date.now()}-${deviceSeq}`;
  deviceSocket.send(JSON.stringify({ text: input.value, message_id: id }));
  input.value = "";
});

// ------------------------------------------------------------------ turn traces

function renderTurn(t) {
  const div = document.createElement("div");
  const kind = t.fired.includes("error") ? "error" : t.fired.includes("fallback") ? "fallback" : "";
  div.className = `trace ${kind}`;
  div.dataset.testid = "trace";
  const plugins = t.plugins.map((p) => `${p.plugin}.${p.hook} ${p.ms.toFixed(1)} ms${p.failure ? " (" + p.failure + ")" : ""}`);
  const entities = t.entities.map((e) => `${e.entity}=${JSON.stringify(e.value)}`);
  const rows = [
    ["message", `[${t.channel}] ${t.sender}: ${t.text}`],
    ["replies", t.replies.join(" / ")],
    ["intent", t.intent === null ? "(none)" : `${t.intent} (confidence ${t.confidence})`],
    ["entities", entities.join(", ") || "—"],
    ["rules considered", t.considered.join(", ") || "—"],
    ["fired", t.fired.join(", ") || "—"],
    ["slots", JSON.stringify(t.slots)],
    ["plugins", plugins.join(", ") || "—"],
    ["latency", `${t.latency_ms} ms`],
  ];
  div.innerHTML = `<dl>${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd data-field="${esc(k)}">${esc(v)}</dd>`).join("")}</dl>`;
  return div;
}

async function pollTurns() {
  const response = await fetch(`/_console/api/turns?after=${lastTurn}`);
  const { turns } = await response.json();
  const box = $("traces");
  for (const t of turns) {
    box.prepend(renderTurn(t));
    lastTurn = t.seq;
  }
}

// ------------------------------------------------------------------ charts (Chart.js)

function lineChart(id, yTitle, max) {
  return new Chart($(id), {
    type: "line",
    data: { labels: [], datasets: [] },
    options: {
      animation: false, responsive: true, spanGaps: true,
      scales: { y: { beginAtZero: true, max, title: { display: true, text: yTitle } }, x: { ticks: { maxTicksLimit: 6 } } },
      plugins: { legend: { labels: { boxWidth: 12 } } },
    },
  });
}

function dataset(chart, label, color, dash) {
  let ds = chart.data.datasets.find((d) => d.label === label);
  if (!ds) {
    ds = { label, data: Array(chart.data.labels.length).fill(null), borderColor: color, backgroundColor: color,
      borderDash: dash || [], pointRadius: 0, borderWidth: 2 };
    chart.data.datasets.push(ds);
  }
  return ds;
}

function push(chart, label, values) {
  chart.data.labels.push(label);
  for (const ds of chart.data.datasets) ds.data.push(null);
  for (const [name, color, dash, value] of values) {
    const ds = dataset(chart, name, color, dash);
    ds.data[ds.data.length - 1] = value;
  }
  if (chart.data.labels.length > MAX_POINTS) {
    chart.data.labels.shift();
    for (const ds of chart.data.datasets) ds.data.shift();
  }
  chart.update();
}

function setupCharts() {
  charts.success = lineChart("chart-success", "% of turns without error", 100);
  charts.latency = lineChart("chart-latency", "ms (last 500 turns per channel)");
  charts.plugins = new Chart($("chart-plugins"), {
    type: "bar",
    data: { labels: [], datasets: [
      { label: "calls", data: [], backgroundColor: "#2563eb" },
      { label: "errors", data: [], backgroundColor: "#b91c1c" },
    ] },
    options: { animation: false, responsive: true, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

async function pollMetrics() {
  const snap = await (await fetch("/_console/api/metrics")).json();
  const stamp = new Date(snap.time * 1000).toLocaleTimeString();
  const success = [["all channels", COLORS.overall, [], snap.overall.success_rate]];
  const latency = [];
  for (const ch of CHANNELS) {
    const c = snap.channels[ch];
    if (!c) continue;
    success.push([ch, COLORS[ch], [], c.success_rate]);
    latency.push([`${ch} p50`, COLORS[ch], [2, 3], c.p50], [`${ch} p95`, COLORS[ch], [6, 3], c.p95], [`${ch} p99`, COLORS[ch], [], c.p99]);
  }
  push(charts.success, stamp, success);
  push(charts.latency, stamp, latency);
  const labels = [], calls = [], errors = [];
  for (const [plugin, byChannel] of Object.entries(snap.plugins).sort()) {
    for (const [channel, m] of Object.entries(byChannel).sort()) {
      labels.push(`${plugin} · ${channel}`);
      calls.push(m.PluginCalls || 0);
      errors.push(m.PluginError || 0);
    }
  }
  charts.plugins.data.labels = labels;
  charts.plugins.data.datasets[0].data = calls;
  charts.plugins.data.datasets[1].data = errors;
  charts.plugins.update();
  $("totals").innerHTML = Object.entries(snap.totals).sort()
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td data-metric="${esc(k)}">${v}</td></tr>`).join("")
    + `<tr><th>EMF documents / bytes</th><td>${snap.documents} / ${snap.emf_bytes}</td></tr>`;
  document.body.dataset.turns = String(snap.overall.turns);
}

// ------------------------------------------------------------------ API page (rendered from the OpenAPI document)

async function renderApi() {
  const doc = await (await fetch(`${config.http}/openapi.json`)).json();
  const parts = [`<p>${esc(doc.info.title)} ${esc(doc.info.version)} — base URL <code>${esc(config.http)}</code></p>`];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      parts.push(`<div class="op"><code>${esc(method.toUpperCase())} ${esc(path)}</code>${esc(op.summary || "")}</div>`);
    }
  }
  $("api-doc").innerHTML = parts.join("");
}

$("api-tab").addEventListener("click", () => {
  $("api").hidden = false;
  renderApi().catch((err) => { $("api-doc").textContent = String(err); });
});

// ------------------------------------------------------------------ start

async function main() {
  config = await (await fetch("/_console/api/config")).json();
  $("openapi-link").href = `${config.http}/openapi.json`;
  $("status").textContent = `HTTP ${config.http} · WebSocket ${config.websocket} · MQTT ${config.mqtt}`;
  if (!config.traced) $("trace-note").textContent = "(traces and charts need the in-process functions: not with --rie/--isolated)";
  setupCharts();
  await connectChat();
  const tick = async () => {
    try {
      await Promise.all([pollTurns(), pollMetrics()]);
    } catch (err) {
      $("status").textContent = `console lost the runtime: ${err}`;
    }
  };
  await tick();
  setInterval(tick, 1000);
}

main();
