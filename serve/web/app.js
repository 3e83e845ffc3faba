// The seqtask demo page: pick a model, give it an input, see the output.
// Plain JavaScript against the server's JSON API; no build step.
"use strict";

const $ = (id) => document.getElementById(id);
let models = [];

function status(text, isError) {
  const s = $("status");
  s.textContent = text;
  s.className = isError ? "error" : "muted";
}

function clearResult() { $("result").replaceChildren(); }

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

// refusal is the error of a response that is not OK: its status, the
// server's message and the field at fault.
async function refusal(resp) {
  const data = await resp.json().catch(() => ({}));
  const e = data.error || {};
  return new Error(`${resp.status}: ${e.message || resp.statusText}${e.field ? " (" + e.field + ")" : ""}`);
}

async function call(path, body, isForm) {
  const opts = { method: "POST", body: isForm ? body : JSON.stringify(body) };
  if (!isForm) opts.headers = { "Content-Type": "application/json" };
  const resp = await fetch(path, opts);
  if (!resp.ok) throw await refusal(resp);
  return resp.json();
}

function selected() { return models.find((m) => m.name === $("model").value); }
function predictPath() { return `/v1/models/${encodeURIComponent($("model").value)}/predict`; }

function showTask() {
  const m = selected();
  for (const s of document.querySelectorAll("section.task")) s.hidden = !m || s.id !== m.task;
  clearResult();
  status("");
  if (!m) return;
  const bits = [`${m.task}`, `step ${m.step}`];
  if (m.metric && m.metric_value !== undefined) bits.push(`${m.metric} ${Number(m.metric_value).toFixed(3)}`);
  $("model-info").textContent = bits.join(" · ");
}

// heat maps a weight in [0, 1] to a background colour.
function heat(w) { return `rgba(33, 102, 172, ${Math.min(1, Math.max(0, w)).toFixed(3)})`; }

function attentionTable(source, output, weights) {
  const head = el("tr", {}, el("th"));
  for (const s of source) head.append(el("th", {}, s));
  const body = el("tbody");
  weights.forEach((row, i) => {
    const tr = el("tr", {}, el("th", {}, output[i] || ""));
    for (const w of row) tr.append(el("td", { style: `background:${heat(w)}`, title: w.toFixed(3) }));
    body.append(tr);
  });
  return el("table", { class: "att", "aria-label": "attention" }, el("thead", {}, head), body);
}

async function translate() {
  const inputs = $("tr-input").value.split("\n").filter((s) => s.trim() !== "");
  const decode = { strategy: $("tr-strategy").value, beam: +$("tr-beam").value, max_len: +$("tr-maxlen").value };
  if (decode.strategy === "beam" || decode.strategy === "mbr") decode.n_best = Math.min(3, decode.beam);
  status("translating…");
  const data = await call(predictPath(), { inputs, decode, attention: true });
  clearResult();
  data.outputs.forEach((o) => {
    $("result").append(el("p", { class: "output" }, o.text));
    for (const h of (o.n_best || []).slice(1)) $("result").append(el("p", { class: "nbest" }, `${h.text}  (${h.score.toFixed(2)})`));
    if (o.attention) $("result").append(attentionTable(o.attention.source, o.attention.output, o.attention.weights));
  });
  status(`${data.outputs.length} sentence(s)`);
}

async function generate() {
  const body = { prime: $("lm-prime").value, length: +$("lm-length").value, temperature: +$("lm-temp").value, seed: +$("lm-seed").value };
  const out = el("p", { class: "output", id: "lm-output" }, body.prime);
  if (!$("lm-stream").checked) {
    status("generating…");
    const data = await call(predictPath(), body);
    out.textContent = body.prime + data.outputs[0].text;
    $("result").append(out);
    status("done");
    return;
  }
  status("streaming…");
  body.stream = true;
  const resp = await fetch(predictPath(), { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!resp.ok) throw await refusal(resp);
  $("result").append(out);
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = event.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (!data) continue;
      const msg = JSON.parse(data);
      if (msg.error) throw new Error(msg.error.message);
      if (msg.text !== undefined) out.textContent += msg.text;
    }
  }
  status("done");
}

function gridFigure(file, caption, att) {
  const img = el("img", { class: "thumb", alt: file.name });
  img.src = URL.createObjectURL(file);
  const words = el("div");
  words.append(el("p", { class: "output" }, caption));
  if (att) {
    const [h, w] = att.grid;
    att.weights.forEach((row, t) => {
      const c = el("canvas", { width: 64, height: 64, title: att.output[t] || "", "aria-label": "attention for " + (att.output[t] || "") });
      const g = c.getContext("2d");
      const top = Math.max(...row) || 1;
      img.decode().then(() => {
        g.drawImage(img, 0, 0, 64, 64);
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
          g.fillStyle = `rgba(0,0,0,${(0.8 * (1 - row[y * w + x] / top)).toFixed(3)})`;
          g.fillRect((x * 64) / w, (y * 64) / h, 64 / w + 1, 64 / h + 1);
        }
      });
      words.append(el("span", { style: "display:inline-block;text-align:center;margin:2px" }, c, el("br"), att.output[t] || ""));
    });
  }
  return el("figure", {}, img, words);
}

async function caption() {
  const files = [...$("cap-file").files];
  if (files.length === 0) throw new Error("choose one or more photos first");
  const form = new FormData();
  for (const f of files) form.append("image", f);
  form.append("attention", "true");
  status("captioning…");
  const data = await call(predictPath(), form, true);
  clearResult();
  data.outputs.forEach((o, i) => $("result").append(gridFigure(files[i], o.text, o.attention)));
  status(`${data.outputs.length} photo(s)`);
}

async function label() {
  const file = $("vid-file").files[0];
  if (!file) throw new Error("choose a GIF, a video or a zip of frames first");
  const form = new FormData();
  form.append("clip", file);
  status("labelling…");
  const data = await call(predictPath(), form, true);
  clearResult();
  const o = data.outputs[0];
  const body = el("tbody");
  o.labels.forEach((l, t) => {
    const p = o.probabilities[t];
    body.append(el("tr", {}, el("td", {}, String(t)), el("td", {}, l), el("td", {}, (Math.max(...p) * 100).toFixed(1) + "%")));
  });
  $("result").append(el("table", { class: "frames", "aria-label": "frame labels" },
    el("thead", {}, el("tr", {}, el("th", {}, "frame"), el("th", {}, "label"), el("th", {}, "confidence"))), body));
  status(`${o.labels.length} frames`);
}

// wire runs fn on a click of the button id, with the previous result
// cleared (a refusal must not stand beside an earlier answer).
function wire(id, fn) {
  $(id).addEventListener("click", () => {
    clearResult();
    fn().catch((e) => status(e.message, true));
  });
}

// listModels returns the served models; while the server still loads them
// (503) it says so and asks again.
async function listModels() {
  for (;;) {
    const resp = await fetch("/v1/models");
    if (resp.ok) return (await resp.json()).models || [];
    if (resp.status !== 503) throw await refusal(resp);
    status("loading models…");
    await new Promise((done) => setTimeout(done, 1000 * (+resp.headers.get("Retry-After") || 1)));
  }
}

async function init() {
  wire("tr-go", translate);
  wire("lm-go", generate);
  wire("cap-go", caption);
  wire("vid-go", label);
  $("model").addEventListener("change", showTask);
  models = await listModels();
  for (const m of models) $("model").append(el("option", { value: m.name }, `${m.name} (${m.task})`));
  showTask();
}

init().catch((e) => status(e.message, true));
