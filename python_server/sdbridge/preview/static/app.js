// StreamDiffusion Bridge preview page. Plain JavaScript, no libraries, no network access beyond this server.
// Messages from the server: JSON text {type: "hello" | "sessions" | "ack"} and binary preview images
// ("SDPV", view byte 1=input 2=output 3=control, uint32 session id, uint64 frame id, then JPEG bytes; a control
// image has its ControlNet KIND as one length byte and UTF-8 bytes before the JPEG).
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
  imageUrls: { 1: null, 2: null }, // and "control:" + KIND for the conditioning views
  weights: {}, // from the hello message: {parameter: [[served name, starting value], ...]} (named weights)
  params: {}, // from the hello message: the server's parameter registry (sdbridge.params.to_json()), by name
  limits: {}, // from the hello message: the limits the registry names (max_t_index_list, ...)
  built: false,
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
    const problem = paramProblem(key, value);
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

// The parameter controls, built from the server's registry (hello message): one control per parameter that
// has a preview_control and a Params field. Ids are "param-" + the registry name.
function onHello(msg) {
  state.params = {};
  for (const p of msg.params || []) state.params[p.name] = p;
  state.limits = msg.limits || {};
  if (state.limits.max_text_chars) for (const id of ["prompt", "negative"]) $(id).maxLength = state.limits.max_text_chars;
  const transition = state.params.transition_seconds;
  if (transition) {
    $("transition").min = transition.minimum_text;
    $("transition").max = transition.maximum_text;
    $("transition").step = transition.step ? String(transition.step) : "any";
  }
  if (state.built) return;
  const box = $("param-controls");
  box.textContent = "";
  for (const p of msg.params || []) if (p.preview_control && p.wire_field) box.appendChild(buildControl(p));
  state.weights = msg.weights || {};
  for (const [name, entries] of Object.entries(state.weights)) for (const [entry, value] of entries) weightSlider(name, entry, value);
  buildControlViews(msg.controls || []);
  state.built = true;
  updateOutputs();
}

function buildControl(p) {
  const id = "param-" + p.name;
  const wrap = document.createElement("div");
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = p.name.replace(/_/g, " ") + (p.unit ? " (" + p.unit + ")" : "");
  label.title = p.doc + " — " + p.range_text;
  const input = document.createElement(p.preview_control === "select" ? "select" : "input");
  input.id = id;
  input.title = label.title;
  wrap.appendChild(label);
  wrap.appendChild(input);
  if (p.preview_control === "select") { // an enum: one option per registry choice, sent as its name
    wrap.className = "row";
    for (const choice of p.choices) {
      const option = document.createElement("option");
      option.value = choice;
      option.textContent = choice;
      input.appendChild(option);
    }
    input.value = p.default;
    input.addEventListener("change", () => sendChange({ op: "params", [p.name]: input.value }, p.name));
  } else if (p.preview_control === "checkbox") {
    wrap.className = "row";
    input.type = "checkbox";
    input.addEventListener("change", () => sendChange({ op: "params", [p.name]: input.checked }, p.name));
  } else if (p.preview_control === "int_list") {
    wrap.className = "row";
    input.type = "text";
    const button = document.createElement("button");
    button.type = "button";
    button.id = id + "-set";
    button.textContent = "Set";
    button.addEventListener("click", () => {
      const list = parseList(input.value);
      if (!list) { log(p.name + " must be integers separated by commas", true); return; }
      sendChange({ op: "params", [p.name]: list }, p.name);
    });
    wrap.appendChild(button);
  } else {
    input.type = p.preview_control === "slider" ? "range" : "number";
    input.min = p.minimum_text;
    // an exclusive maximum: the slider stops one step below it
    input.max = p.maximum_exclusive && p.step ? String(p.maximum - p.step) : p.maximum_text;
    input.step = p.step ? String(p.step) : "any";
    input.addEventListener("change", () => sendChange({ op: "params", [p.name]: Number(input.value) }, p.name));
    if (p.preview_control === "slider") {
      wrap.className = "slider";
      const out = document.createElement("output");
      out.htmlFor = id;
      input.addEventListener("input", updateOutputs);
      wrap.appendChild(out);
    } else {
      wrap.className = "row";
      if (p.kind === "int") wrap.appendChild(randomButton(p, input));
    }
  }
  return wrap;
}

// The conditioning views: one figure per served ControlNet KIND (images with view byte 3).
function buildControlViews(kinds) {
  const box = $("control-views");
  box.textContent = "";
  for (const kind of kinds) {
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.id = "control-view-" + kind;
    img.alt = "control " + kind;
    const caption = document.createElement("figcaption");
    caption.textContent = "control " + kind + " ";
    const frame = document.createElement("span");
    frame.id = "control-frame-" + kind;
    frame.className = "hint";
    frame.textContent = "(no image yet)";
    caption.appendChild(frame);
    figure.appendChild(img);
    figure.appendChild(caption);
    box.appendChild(figure);
  }
}

// One slider per named weight (registry kind "weights"), id "weight-" + parameter + "-" + name; a change sends
// every name of that parameter at once (the sliders show the session's current values).
function weightSlider(paramName, entry, value) {
  const p = state.params[paramName];
  const id = "weight-" + paramName + "-" + entry;
  if (!p || !p.wire_field || $(id)) return;
  const box = $("weight-controls");
  if (!box.querySelector(".slider")) box.textContent = "";
  const wrap = document.createElement("div");
  wrap.className = "slider";
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = paramName.replace(/_/g, " ") + " " + entry;
  label.title = p.doc + " — " + p.range_text;
  const input = document.createElement("input");
  input.id = id;
  input.type = "range";
  input.min = p.minimum_text;
  input.max = p.maximum_text;
  input.step = p.step ? String(p.step) : "0.05";
  input.value = String(value);
  input.title = label.title;
  input.dataset.param = paramName;
  input.dataset.entry = entry;
  const out = document.createElement("output");
  out.htmlFor = id;
  input.addEventListener("input", updateOutputs);
  input.addEventListener("change", () => {
    updateOutputs();
    const pairs = [...document.querySelectorAll("#weight-controls input")].filter((e) => e.dataset.param === paramName)
      .map((e) => [e.dataset.entry, Number(e.value)]);
    sendChange({ op: "params", [paramName]: pairs }, paramName + " " + entry);
  });
  wrap.appendChild(label);
  wrap.appendChild(input);
  wrap.appendChild(out);
  box.appendChild(wrap);
  updateOutputs();
}

function randomButton(p, input) {
  const button = document.createElement("button");
  button.type = "button";
  button.id = "param-" + p.name + "-random";
  button.textContent = "Random";
  button.addEventListener("click", () => {
    const top = Math.min(p.maximum, 2147483647);
    input.value = String(p.minimum + Math.floor(Math.random() * (top - p.minimum + 1)));
    input.dispatchEvent(new Event("change"));
  });
  return button;
}

// null when `value` is accepted for parameter `key` (a registry name), else the refusal in the server's own
// words (sdbridge.params.check): parameter, value, range.
function paramProblem(key, value) {
  const p = state.params[key];
  if (!p) return null;
  const where = "preview page: ";
  if (p.kind === "bool") return typeof value === "boolean" ? null : where + key + "=" + value + " must be true or false";
  if (p.kind === "int_list") {
    if (!value.length) return where + key + " is empty; give at least one index, e.g. [" + p.default.join(", ") + "]";
    const budget = state.limits[p.max_items];
    if (budget && value.length > budget) {
      return where + key + " has " + value.length + " steps, above limits." + p.max_items + "=" + budget;
    }
    for (let i = 0; i < value.length; i++) {
      if (!inRange(p, value[i], true)) {
        return where + key + " entry " + value[i] + " (index " + i + ") is refused: each entry must be an integer in " +
          p.range_text;
      }
    }
    for (let i = 1; i < value.length; i++) {
      if (p.ascending && value[i] <= value[i - 1]) return where + key + "=[" + value.join(", ") + "] must be strictly ascending";
    }
    return null;
  }
  if (p.kind === "weights") {
    for (const [name, weight] of value) {
      if (!inRange(p, weight, false)) return where + key + " " + name + "=" + weight + " must be a number in " + p.range_text;
    }
    return null;
  }
  if (p.kind !== "float" && p.kind !== "int") return null;
  if (inRange(p, value, p.kind === "int")) return null;
  return where + key + "=" + value + " must be " + (p.kind === "int" ? "an integer" : "a number") + " in " +
    p.range_text + (p.unit ? " " + p.unit : "");
}

function inRange(p, value, integer) {
  return Number.isFinite(value) && (!integer || Number.isInteger(value)) && value >= p.minimum &&
    (p.maximum_exclusive ? value < p.maximum : value <= p.maximum);
}

function onJson(msg) {
  if (msg.type === "hello") {
    onHello(msg);
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
  if (kind === 3) {
    onControlImage(buffer, view, frame);
    return;
  }
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

function onControlImage(buffer, view, frame) {
  const length = view.getUint8(17);
  const kind = new TextDecoder().decode(new Uint8Array(buffer, 18, length));
  const img = $("control-view-" + kind);
  if (!img) return;
  const url = URL.createObjectURL(new Blob([buffer.slice(18 + length)], { type: "image/jpeg" }));
  const old = state.imageUrls["control:" + kind];
  state.imageUrls["control:" + kind] = url;
  img.onload = () => { if (old) URL.revokeObjectURL(old); };
  img.src = url;
  img.dataset.frame = String(frame);
  $("control-frame-" + kind).textContent = "frame " + frame;
}

function watch(sessionId) {
  if (state.watched === sessionId) return;
  state.watched = sessionId;
  state.lastValues = {};
  for (const key of Object.keys(state.history)) state.history[key] = [];
  $("input-view").removeAttribute("src");
  $("output-view").removeAttribute("src");
  for (const img of document.querySelectorAll("#control-views img")) img.removeAttribute("src");
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
    if (value === undefined || !$(id)) return;
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
  const first = (v) => (Array.isArray(v) ? String(Array.isArray(v[0]) ? v[0][0] : v[0]) : String(v)); // a blend
  for (const p of Object.values(state.params)) {
    if (!p.preview_control || !p.wire_field) continue;
    const toText = p.kind === "int_list" ? (v) => v.join(", ") : p.kind === "int" ? first : null;
    set("param-" + p.name, p.pipeline_key, toText);
  }
  set("strength", "t_index_list", (v) => String(strengthOf(v)));
  for (const p of Object.values(state.params)) { // named weights: the session's value of each name, else its start
    if (p.kind !== "weights" || !p.wire_field) continue;
    const current = Array.isArray(values[p.pipeline_key]) ? values[p.pipeline_key] : [];
    for (const pair of current) if (Array.isArray(pair)) weightSlider(p.name, String(pair[0]), pair[1]); // e.g. style images
    for (const input of document.querySelectorAll("#weight-controls input")) {
      if (input.dataset.param !== p.name) continue;
      const pair = current.find((x) => Array.isArray(x) && x[0] === input.dataset.entry);
      const start = (state.weights[p.name] || []).find((x) => x[0] === input.dataset.entry);
      const value = pair ? pair[1] : start ? start[1] : undefined;
      if (value === undefined) continue;
      const text = String(value);
      if (state.lastValues[input.id] === text) continue;
      state.lastValues[input.id] = text;
      if (document.activeElement !== input) input.value = text;
    }
  }
  updateOutputs();
}

// Strength = how much noise the first step adds: t_index 0 of the ladder (registry maximum + 1 steps) is full.
function ladder() {
  const p = state.params.t_index_list;
  return p ? p.maximum + 1 : 50;
}

function strengthOf(tIndex) {
  return Math.max(0.02, Math.min(1, 1 - tIndex[0] / ladder())).toFixed(2);
}

function tIndexFor(strength, steps) {
  const top = ladder() - 1;
  const first = Math.max(0, Math.min(top, Math.round((1 - strength) * ladder())));
  const list = [];
  for (let i = 0; i < steps; i++) list.push(Math.min(top, first + Math.round((i * (top - first)) / steps)));
  return list;
}

function parseList(text) {
  const parsed = text.split(/[\s,]+/).filter((x) => x !== "").map(Number);
  return parsed.length && parsed.every(Number.isInteger) ? parsed : null;
}

function currentTIndex() {
  return $("param-t_index_list") ? parseList($("param-t_index_list").value) : null;
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

// An uploaded style picture, scaled to limits.style_side px on its longest side and sent as a JPEG data URL within
// limits.style_max_chars (the server's, sent in the hello: sdbridge/preview/style_upload.py).
async function sendStyle() {
  const side = state.limits.style_side;
  const maxChars = state.limits.style_max_chars;
  if (!side || !maxChars) { log("not connected to the server yet: no style image limits", true); return; }
  const file = $("style-file").files[0];
  const name = $("style-name").value.trim() || (file ? file.name.replace(/\.[^.]*$/, "") : "");
  if (!file) { log("choose a picture for the style image", true); return; }
  if (!name) { log("give the style image a name", true); return; }
  let bitmap;
  try { bitmap = await createImageBitmap(file); } catch (err) { log(file.name + " is not a picture the browser can read", true); return; }
  const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  let image = canvas.toDataURL("image/jpeg", 0.9);
  if (image.length > maxChars) image = canvas.toDataURL("image/jpeg", 0.6);
  if (image.length > maxChars) {
    log("style image " + name + " not sent: " + image.length + " characters even scaled down, above the limit of " +
      maxChars, true);
    return;
  }
  sendChange({ op: "style_image", name, image }, "style image " + name + " (" + canvas.width + "x" + canvas.height + ")");
}

function bind() {
  $("send-style").addEventListener("click", sendStyle);
  $("apply-prompt").addEventListener("click", () => {
    sendChange({ op: "prompt", text: $("prompt").value, negative: $("negative").value,
      transition_seconds: Number($("transition").value) || 0 }, "prompt");
  });
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("apply-prompt").click();
  });
  $("strength").addEventListener("input", updateOutputs);
  $("strength").addEventListener("change", () => {
    const steps = (currentTIndex() || [0, 0]).length;
    const list = tIndexFor(Number($("strength").value), steps);
    if ($("param-t_index_list")) $("param-t_index_list").value = list.join(", ");
    sendChange({ op: "params", t_index_list: list }, "strength (t_index_list " + list.join(", ") + ")");
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
