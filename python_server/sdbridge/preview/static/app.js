// StreamDiffusion Bridge preview page. Plain JavaScript, no libraries, no network access beyond this server.
// Messages from the server: JSON text {type: "hello" | "sessions" | "ack"} and binary preview images
// ("SDPV", view byte 1=input 2=output, uint32 session id, uint64 frame id, then JPEG bytes).
"use strict";

const params = new URLSearchParams(location.search);
const token = params.get("token") || "";
const HISTORY = 120; // chart points (0.5 s apart: one minute)

const state = {
  ws: null,
  watched: params.has("session") ? Number(params.get("session")) : null,
  sessions: [],
  history: { fpsOut: [], fpsIn: [], p50: [], p99: [], skip: [] },
  lastValues: {},
  req: 0,
  pending: new Map(),
  imageUrls: { 1: null, 2: null },
  ranges: {}, // from the hello message: the server's accepted range of each parameter
  maxTIndexList: 0,
};

const $ = (id) => document.getElementById(id);

function log(text, isError) {
  const item = document.createElement("li");
  item.textContent = new Date().toLocaleTimeString() + " " + text;
  if (isError) item.className = "error";
  const list = $("log");
  list.insertBefore(item, list.firstChild);
  while (list.children.length > 50) list.removeChild(list.lastChild);
}

function setStatus(text, cls) {
  const el = $("status");
  el.textContent = text;
  el.className = "status " + (cls || "");
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = scheme + "//" + location.host + "/ws" + (token ? "?token=" + encodeURIComponent(token) : "");
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  ws.onopen = () => {
    setStatus("connected", "ok");
    if (state.watched !== null) send({ op: "watch", session: state.watched });
  };
  ws.onclose = () => {
    setStatus("disconnected, retrying…", "bad");
    state.ws = null;
    setTimeout(connect, 1000);
  };
  ws.onmessage = (event) => {
    if (typeof event.data === "string") onJson(JSON.parse(event.data));
    else onImage(event.data);
  };
}

function send(command) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
    log("not connected: change not sent", true);
    return Promise.resolve({ ok: false });
  }
  command.req = ++state.req;
  state.ws.send(JSON.stringify(command));
  return new Promise((resolve) => state.pending.set(command.req, resolve));
}

function sendChange(command, what) {
  if (state.watched === null) {
    log("select a session first", true);
    return;
  }
  for (const [key, value] of Object.entries(command)) {
    const problem = key === "t_index_list" ? tIndexProblem(value) : rangeProblem(key, value);
    if (problem) {
      log(what + " not sent: " + problem, true);
      return;
    }
  }
  command.session = state.watched;
  send(command).then((reply) => {
    if (reply.ok) log(what + " applied to session " + state.watched);
    else if (reply.error) log(what + " refused: " + reply.error, true);
  });
}

// The server's ranges (hello message) on the page's own inputs, so the browser refuses what the server would.
function applyRanges(msg) {
  state.ranges = msg.ranges || {};
  state.maxTIndexList = msg.max_t_index_list || 0;
  for (const [id, key] of [["guidance", "guidance_scale"], ["delta", "delta"], ["seed", "seed"],
    ["sim-threshold", "similarity_threshold"], ["sim-max-skip", "similarity_max_skip"],
    ["transition", "transition_seconds"]]) {
    const range = state.ranges[key];
    if (!range) continue;
    $(id).min = range.min_attr;
    $(id).max = range.max_attr;
  }
  if (msg.max_text_chars) for (const id of ["prompt", "negative"]) $(id).maxLength = msg.max_text_chars;
}

// null when `value` fits the server's range for `key`, else the refusal (field, value, range).
function rangeProblem(key, value) {
  const range = state.ranges[key];
  if (!range) return null;
  const inside = Number.isFinite(value) && (!range.integer || Number.isInteger(value)) && value >= range.min &&
    (range.max_open ? value < range.max : value <= range.max);
  if (inside) return null;
  const kind = range.integer ? "an integer" : "a finite number";
  return key + "=" + value + " is refused: it must be " + kind + " in " + range.text;
}

function tIndexProblem(list) {
  if (state.maxTIndexList && list.length > state.maxTIndexList) {
    return "t_index_list has " + list.length + " entries, above limits.max_t_index_list=" + state.maxTIndexList;
  }
  for (const t of list) {
    const problem = rangeProblem("t_index_list", t);
    if (problem) return "t_index_list entry " + problem.split("=").slice(1).join("=");
  }
  return null;
}

function onJson(msg) {
  if (msg.type === "hello") {
    applyRanges(msg);
    if (msg.session !== null && msg.session !== undefined && state.watched === null) state.watched = msg.session;
  } else if (msg.type === "ack") {
    const resolve = state.pending.get(msg.req);
    state.pending.delete(msg.req);
    if (resolve) resolve(msg);
  } else if (msg.type === "sessions") {
    onSessions(msg.sessions);
  }
}

function onImage(buffer) {
  const view = new DataView(buffer);
  const magic = String.fromCharCode(view.getUint8(0), view.getUint8(1), view.getUint8(2), view.getUint8(3));
  if (magic !== "SDPV") return;
  const kind = view.getUint8(4);
  const session = view.getUint32(5);
  const frame = Number(view.getBigUint64(9));
  if (session !== state.watched) return;
  const blob = new Blob([buffer.slice(17)], { type: "image/jpeg" });
  const url = URL.createObjectURL(blob);
  const img = kind === 1 ? $("input-view") : $("output-view");
  const old = state.imageUrls[kind];
  state.imageUrls[kind] = url;
  img.onload = () => { if (old) URL.revokeObjectURL(old); };
  img.src = url;
  img.dataset.frame = String(frame);
  (kind === 1 ? $("input-frame") : $("output-frame")).textContent = "frame " + frame;
}

function watch(sessionId) {
  if (state.watched === sessionId) return;
  state.watched = sessionId;
  state.lastValues = {};
  for (const key of Object.keys(state.history)) state.history[key] = [];
  $("input-view").removeAttribute("src");
  $("output-view").removeAttribute("src");
  send({ op: "watch", session: sessionId });
  renderSessions();
}

function fmt(value, digits) {
  return value === undefined || value === null ? "–" : Number(value).toFixed(digits);
}

function renderSessions() {
  const body = $("sessions").querySelector("tbody");
  body.textContent = "";
  for (const s of state.sessions) {
    const row = document.createElement("tr");
    row.dataset.session = String(s.id);
    row.title = s.client + " (" + s.engine + "), " + s.frames_in + " frames in, " + s.frames_out + " out, " +
      s.dropped + " dropped";
    if (s.id === state.watched) row.className = "selected";
    const cells = [s.id, s.client, fmt(s.fps_out, 1), fmt(s.latency_p50_ms, 0) + " ms",
      s.skip_rate === undefined ? "–" : (100 * s.skip_rate).toFixed(0) + "%"];
    for (const c of cells) {
      const td = document.createElement("td");
      td.textContent = String(c);
      row.appendChild(td);
    }
    row.addEventListener("click", () => watch(s.id));
    body.appendChild(row);
  }
  $("no-sessions").style.display = state.sessions.length ? "none" : "block";
}

function push(series, value) {
  series.push(value);
  if (series.length > HISTORY) series.shift();
}

function onSessions(sessions) {
  state.sessions = sessions;
  if (state.watched === null && sessions.length) watch(sessions[0].id);
  renderSessions();
  const s = sessions.find((x) => x.id === state.watched);
  $("watched-id").textContent = state.watched === null ? "–" : String(state.watched);
  if (!s) {
    $("watched-size").textContent = state.watched === null ? "" : "(gone)";
    return;
  }
  $("watched-size").textContent = s.size ? s.size[0] + "×" + s.size[1] + " · " + s.client : s.client;
  if (s.fps_out !== undefined) {
    const h = state.history;
    push(h.fpsOut, s.fps_out); push(h.fpsIn, s.fps_in);
    push(h.p50, s.latency_p50_ms); push(h.p99, s.latency_p99_ms);
    push(h.skip, 100 * s.skip_rate);
    drawChart($("chart-fps"), [h.fpsOut, h.fpsIn], ["#6cb4ff", "#7bd88f"], 1);
    drawChart($("chart-latency"), [h.p50, h.p99], ["#6cb4ff", "#ff8f6c"], 0);
    drawChart($("chart-skip"), [h.skip], ["#e0c46c"], 0, 100);
  }
  syncControls(s.values || {});
  $("recent-events").textContent = s.events && s.events.length ? "recent: " + s.events.join(", ") : "";
}

// Show the session's current values, unless the user is editing that control right now.
function syncControls(values) {
  const set = (id, key, toText) => {
    const value = values[key];
    if (value === undefined) return;
    const text = toText ? toText(value) : String(value);
    if (state.lastValues[id] === text) return; // per control: two controls show t_index_list
    state.lastValues[id] = text;
    const el = $(id);
    if (document.activeElement === el) return;
    if (el.type === "checkbox") el.checked = Boolean(value);
    else el.value = text;
    updateOutputs();
  };
  // a blend is [[text, weight], ...]; a long one ends with a string saying how many entries were left out
  const entry = (pair) => (Array.isArray(pair) ? pair[0] + ":" + pair[1] : String(pair));
  const promptText = (p) => (typeof p === "string" ? p : p.map(entry).join(" | "));
  set("prompt", "prompt", promptText);
  set("negative", "negative_prompt");
  set("guidance", "guidance_scale");
  set("delta", "delta");
  set("seed", "seed", (v) => (Array.isArray(v) ? String(Array.isArray(v[0]) ? v[0][0] : v[0]) : String(v)));
  set("t-index", "t_index_list", (v) => v.join(", "));
  set("strength", "t_index_list", (v) => String(strengthOf(v)));
  set("sim-enabled", "similarity_filter");
  set("sim-threshold", "similarity_threshold");
  set("sim-max-skip", "max_skip_frames");
}

// Strength = how much noise the first step adds: t_index 0 of 50 is full strength.
function strengthOf(tIndex) {
  return Math.max(0.02, Math.min(1, 1 - tIndex[0] / 50)).toFixed(2);
}

function tIndexFor(strength, steps) {
  const first = Math.max(0, Math.min(49, Math.round((1 - strength) * 50)));
  const list = [];
  for (let i = 0; i < steps; i++) list.push(Math.min(49, first + Math.round((i * (49 - first)) / steps)));
  return list;
}

function currentTIndex() {
  const parsed = $("t-index").value.split(/[\s,]+/).filter((x) => x !== "").map(Number);
  return parsed.length && parsed.every(Number.isInteger) ? parsed : null;
}

function drawChart(canvas, seriesList, colors, digits, fixedMax) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 4;
  ctx.clearRect(0, 0, w, h);
  let max = fixedMax || 0;
  if (!fixedMax) for (const s of seriesList) for (const v of s) if (Number.isFinite(v)) max = Math.max(max, v);
  max = max > 0 ? max * 1.15 : 1;
  ctx.strokeStyle = "#2f333b";
  ctx.lineWidth = 1;
  for (let i = 1; i < 4; i++) {
    const y = Math.round((h * i) / 4) + 0.5;
    ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(w, y); ctx.stroke();
  }
  seriesList.forEach((series, k) => {
    if (!series.length) return;
    ctx.strokeStyle = colors[k];
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    series.forEach((v, i) => {
      const x = pad + ((w - 2 * pad) * i) / (HISTORY - 1);
      const y = h - pad - ((h - 2 * pad) * (Number.isFinite(v) ? v : 0)) / max;
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
    ctx.fillStyle = colors[k];
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillText(Number(series[series.length - 1]).toFixed(digits), w - 44, 13 + 13 * k);
  });
  ctx.fillStyle = "#8b919c";
  ctx.fillText("max " + (fixedMax || max / 1.15).toFixed(digits), 4, 12);
}

function updateOutputs() {
  for (const out of document.querySelectorAll("output")) {
    const input = $(out.htmlFor.value);
    out.textContent = input.value;
  }
}

function bind() {
  $("apply-prompt").addEventListener("click", () => {
    sendChange({ op: "prompt", text: $("prompt").value, negative: $("negative").value,
      transition_seconds: Number($("transition").value) || 0 }, "prompt");
  });
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("apply-prompt").click();
  });
  for (const [id, key] of [["guidance", "guidance_scale"], ["delta", "delta"], ["sim-threshold", "similarity_threshold"]]) {
    $(id).addEventListener("input", updateOutputs);
    $(id).addEventListener("change", () => sendChange({ op: "params", [key]: Number($(id).value) }, key));
  }
  $("sim-max-skip").addEventListener("input", updateOutputs);
  $("sim-max-skip").addEventListener("change", () =>
    sendChange({ op: "params", similarity_max_skip: Number($("sim-max-skip").value) }, "similarity max skip"));
  $("sim-enabled").addEventListener("change", () =>
    sendChange({ op: "params", similarity_filter_enabled: $("sim-enabled").checked }, "similarity filter"));
  $("strength").addEventListener("input", updateOutputs);
  $("strength").addEventListener("change", () => {
    const steps = (currentTIndex() || [0, 0]).length;
    const list = tIndexFor(Number($("strength").value), steps);
    $("t-index").value = list.join(", ");
    sendChange({ op: "params", t_index_list: list }, "strength (t_index_list " + list.join(", ") + ")");
  });
  $("apply-t-index").addEventListener("click", () => {
    const list = currentTIndex();
    if (!list) { log("t_index_list must be integers separated by commas", true); return; }
    sendChange({ op: "params", t_index_list: list }, "t_index_list");
  });
  const sendSeed = () => sendChange({ op: "params", seed: Number($("seed").value) }, "seed");
  $("seed").addEventListener("change", sendSeed);
  $("random-seed").addEventListener("click", () => {
    $("seed").value = String(Math.floor(Math.random() * 2147483647));
    sendSeed();
  });
  $("send-event").addEventListener("click", () => {
    let payload = {};
    const text = $("event-payload").value.trim();
    if (text) {
      try { payload = JSON.parse(text); } catch (err) { log("payload is not JSON: " + err.message, true); return; }
    }
    const name = $("event-name").value.trim();
    if (!name) { log("give the event a name", true); return; }
    sendChange({ op: "event", name, payload }, "event " + name);
  });
}

bind();
updateOutputs();
connect();
