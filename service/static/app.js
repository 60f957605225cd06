// The probe page: pick an image and models, call /v1/compare (or /v1/sequence), draw the crop window, heatmaps and
// curves (protocols.js: the pictures of the protocols beyond the paper and of sequences).
"use strict";

const state = { config: null, blob: null, bitmap: null, plan: null, files: null, video: null };
const $ = (id) => document.getElementById(id);
const PARAMS = ["protocol", "pairs", "step", "max_shift", "crop_size", "seed", "topk", "subpixel_step"];

// One colour per class, the same in every panel (golden-angle hues).
function classHue(index) {
  return (index * 137.508) % 360;
}
function classColour(index, strength = 1) {
  return `hsla(${classHue(index).toFixed(1)}, 75%, 42%, ${strength.toFixed(3)})`;
}

function setStatus(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

async function init() {
  $("protocol").addEventListener("change", () => {
    showProtocolFields();
    const shift = state.config.protocol_max_shift[$("protocol").value];
    if (shift) $("max_shift").value = shift;
  });
  $("file").addEventListener("change", () => {
    const file = $("file").files[0];
    state.files = $("file").files.length > 1 ? [...$("file").files] : null;
    state.video = file && isVideo(file) ? file : null;
    if (state.video) return setVideo(file);
    if (file) setImage(file, state.files ? `${state.files.length} frames` : file.name);
  });
  for (const button of document.querySelectorAll(".sample")) {
    button.addEventListener("click", () => pickSample(button));
  }
  $("probe-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runProbe();
  });
  try {
    const response = await fetch("/v1/config");
    state.config = await response.json();
  } catch (error) {
    setStatus(`cannot read the service configuration: ${error}`, true);
    return;
  }
  renderProtocolChoices(state.config);
  renderModelChoices(state.config);
  $("api-key-label").hidden = !state.config.api_key_required;
}

function showProtocolFields() {
  const protocol = $("protocol").value;
  for (const label of document.querySelectorAll("label[data-for]")) {
    label.hidden = !label.dataset.for.split(" ").includes(protocol);
  }
  $("file").multiple = protocol === SEQUENCE; // several files: the frames of a sequence
}

function renderProtocolChoices(config) {
  const select = $("protocol");
  select.textContent = "";
  for (const name of config.protocols) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = `${name} — ${config.protocol_descriptions[name]}`;
    select.append(option);
  }
  const sequence = document.createElement("option");
  sequence.value = SEQUENCE;
  sequence.textContent = `${SEQUENCE} — ${config.sequence_description}`;
  select.append(sequence);
  if (config.protocols.includes("grid")) select.value = "grid"; // its heatmap shows the most at a glance
  showProtocolFields();
}

function renderModelChoices(config) {
  const box = $("models");
  box.textContent = "";
  config.models.forEach((name, i) => {
    const label = document.createElement("label");
    label.className = "model-choice";
    const input = document.createElement("input");
    input.type = "checkbox";
    input.value = name;
    input.checked = i < 2;
    label.append(input, name);
    const classes = (config.labels || {})[name];
    if (classes) {
      // The model's own classes: a count, and their names on hover (the first few shown for a small label set).
      const note = document.createElement("span");
      note.className = "model-classes";
      note.textContent = classes.length <= 5 ? ` (${classes.join(", ")})` : ` (${classes.length} classes)`;
      note.title = classes.slice(0, 50).join(", ") + (classes.length > 50 ? ", …" : "");
      label.append(note);
    }
    box.append(label);
  });
}

async function pickSample(button) {
  for (const b of document.querySelectorAll(".sample")) b.classList.toggle("selected", b === button);
  const response = await fetch(button.dataset.src);
  await setImage(await response.blob(), button.dataset.src.split("/").pop());
}

// A video is a sequence: it goes to /v1/sequence as it is, the service decodes it.
function isVideo(file) {
  return file.type.startsWith("video/") || /\.(mp4|m4v|mov|mkv|webm)$/i.test(file.name);
}

function setVideo(file) {
  state.blob = null;
  state.bitmap = null;
  $("protocol").value = SEQUENCE;
  showProtocolFields();
  $("image-name").textContent = `${file.name} (video: its frames are a sequence)`;
  $("run").disabled = false;
  drawImage(null);
}

async function setImage(blob, name) {
  state.video = null;
  state.blob = blob;
  state.name = name;
  try {
    state.bitmap = await createImageBitmap(blob);
  } catch (error) {
    state.bitmap = null; // the service will say what is wrong with it
  }
  $("image-name").textContent = name;
  $("run").disabled = false;
  drawImage(null);
}

function readParams() {
  const params = {};
  for (const name of PARAMS) params[name] = $(name).value;
  return params;
}

async function runProbe() {
  const models = [...document.querySelectorAll("#models input:checked")].map((input) => input.value);
  if (!models.length) return setStatus("choose at least one model", true);
  if ($("protocol").value === SEQUENCE) return runSequenceProbe(models);
  if (state.video) return setStatus("a video is probed as a sequence: choose the sequence protocol", true);
  const query = new URLSearchParams(readParams());
  for (const model of models) query.append("models", model);
  const form = new FormData();
  form.append("image", state.blob, state.name);
  const headers = {};
  if (state.config && state.config.api_key_required) headers[state.config.api_key_header || "X-API-Key"] = $("api_key").value;
  $("run").disabled = true;
  setStatus(`probing ${models.join(" and ")}…`);
  const started = performance.now();
  try {
    const response = await fetch(`/v1/compare?${query}`, { method: "POST", body: form, headers });
    const body = await response.json();
    if (!response.ok) return setStatus(`${body.code}: ${body.message}`, true);
    state.plan = body.plan;
    renderResults(body);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    setStatus(`${body.plan.offsets.length} shifts × ${models.length} model(s) in ${seconds} s`);
  } catch (error) {
    setStatus(`request failed: ${error}`, true);
  } finally {
    $("run").disabled = false;
  }
}

async function runSequenceProbe(models) {
  const headers = {};
  if (state.config.api_key_required) headers[state.config.api_key_header || "X-API-Key"] = $("api_key").value;
  $("run").disabled = true;
  setStatus(`classifying the frames with ${models.join(" and ")}…`);
  try {
    setStatus(await runSequence(models, headers));
  } catch (error) {
    setStatus(error.code ? `${error.code}: ${error.message}` : `request failed: ${error}`, true);
  } finally {
    $("run").disabled = false;
  }
}

function renderResults(body) {
  const results = $("results");
  results.textContent = "";
  const template = $("result-template");
  for (const result of body.results) {
    const article = template.content.firstElementChild.cloneNode(true);
    article.dataset.model = result.target;
    article.querySelector(".model-name").textContent = describeModel(result);
    article.querySelector(".weights").append(...describeWeights(result.weights));
    article.querySelector(".score-value").textContent = result.score.toFixed(3);
    results.append(article); // attached first: canvas text needs the document's fonts
    const [heatmap, curve] = [article.querySelector(".heatmap"), article.querySelector(".curve")];
    if (body.plan.protocol === "worst-case") {
      drawWindowHeatmap(heatmap, body.plan, result);
      heatmap.nextElementSibling.textContent = "Probability of the unshifted view's top class at each shift of the window (darker: higher, relative to the window's highest); the worst shift ringed.";
    } else {
      drawHeatmap(heatmap, body.plan, result, (offset) => drawImage(offset));
    }
    if (body.plan.protocol === "fractional") {
      drawSubpixelCurve(curve, body.plan, result);
      curve.nextElementSibling.textContent = "Probability of the unshifted view's top class against the sub-pixel shift t.";
    } else {
      drawCurve(curve, body.plan, result);
    }
    fillLegend(article.querySelector(".legend"), result);
    fillMetrics(article.querySelector(".metrics"), body.plan, result);
  }
  drawImage(body.plan.offsets[0]);
}

function describeModel(result) {
  const model = result.model;
  if (!model) return `${result.target} (${result.target_kind} target)`; // a server other than ours says nothing more
  const kind = model.antialiased ? `antialiased, filter ${model.filter_size}` : "baseline";
  return `${result.target} (${model.arch || "?"}, ${kind})`;
}

function describeWeights(weights) {
  if (!weights) return ["weights not reported"];
  if (weights.untrained) {
    const warning = document.createElement("span");
    warning.className = "untrained";
    warning.textContent = "untrained: random weights";
    return [warning];
  }
  return [`weights ${weights.name || "?"} (sha256 ${weights.sha256 || "?"})`];
}

// --- the image with the crop window -------------------------------------------------------------

// Where the service cuts its views: shorter side resized to resize_size, centre crop of base_size.
function baseRegion(bitmap, plan) {
  const resize = plan ? plan.resize_size : 256;
  const base = plan ? plan.base_size : 256;
  const scale = resize / Math.min(bitmap.width, bitmap.height);
  const side = base / scale;
  return { x: (bitmap.width - side) / 2, y: (bitmap.height - side) / 2, side, scale: base };
}

function drawImage(offset) {
  const canvas = $("image-canvas");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!state.bitmap) return;
  const plan = state.plan;
  const region = baseRegion(state.bitmap, plan);
  const size = canvas.width;
  const unit = size / region.scale; // canvas pixels per base pixel
  const [dy, dx] = offset || [0, 0];
  if (plan && plan.mode === "circular") {
    // The view is the centre crop rolled by (dy, dx) with wrap-around: draw it in four tiles.
    const sy = ((dy % plan.crop_size) + plan.crop_size) % plan.crop_size;
    const sx = ((dx % plan.crop_size) + plan.crop_size) % plan.crop_size;
    for (const [ty, tx] of [[0, 0], [0, -1], [-1, 0], [-1, -1]]) {
      ctx.drawImage(state.bitmap, region.x, region.y, region.side, region.side,
        (sx + tx * plan.crop_size) * unit, (sy + ty * plan.crop_size) * unit, size, size);
    }
    seams(ctx, sx * unit, sy * unit);
    label(ctx, `circular shift (${dy}, ${dx})`);
    return;
  }
  ctx.drawImage(state.bitmap, region.x, region.y, region.side, region.side, 0, 0, size, size);
  if (!plan) return;
  ctx.fillStyle = "rgba(0,0,0,0.35)";
  const crop = plan.crop_size * unit;
  const x = dx * unit, y = dy * unit;
  ctx.beginPath();
  ctx.rect(0, 0, size, size);
  ctx.rect(x + crop, y, -crop, crop); // a hole: the window stays bright
  ctx.fill("evenodd");
  ctx.strokeStyle = "#ffd400";
  ctx.lineWidth = 2;
  ctx.strokeRect(x, y, crop, crop);
  label(ctx, `window ${plan.crop_size}px at (${dy}, ${dx})`);
}

// Dashed lines where the rolled image wraps around.
function seams(ctx, x, y) {
  ctx.strokeStyle = "rgba(255,255,255,0.9)";
  ctx.lineWidth = 1.5;
  ctx.setLineDash([4, 4]);
  ctx.beginPath();
  ctx.moveTo(x, 0);
  ctx.lineTo(x, ctx.canvas.height);
  ctx.moveTo(0, y);
  ctx.lineTo(ctx.canvas.width, y);
  ctx.stroke();
  ctx.setLineDash([]);
}

function label(ctx, text) {
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "rgba(0,0,0,0.6)";
  ctx.fillRect(0, ctx.canvas.height - 18, ctx.measureText(text).width + 10, 18);
  ctx.fillStyle = "white";
  ctx.fillText(text, 5, ctx.canvas.height - 5);
}

// --- heatmap over the shift grid -----------------------------------------------------------------

function shiftRange(plan) {
  return plan.mode === "circular" ? [-plan.max_shift, plan.max_shift] : [0, plan.max_shift];
}

function drawHeatmap(canvas, plan, result, onHover) {
  const ctx = canvas.getContext("2d");
  const margin = 30;
  const [lo, hi] = shiftRange(plan);
  const gap = plan.protocol === "grid" ? gridStep(plan) : 1; // shifts one cell covers
  const unit = (canvas.width - margin - 8) / (hi - lo + gap);
  const half = Math.max(gap * unit, 6) / 2;
  const top1 = result.shifts.map((s) => s.topk[0]);
  const probabilities = top1.map((p) => p.probability);
  const pMin = Math.min(...probabilities), pMax = Math.max(...probabilities);
  const strength = (p) => 0.25 + 0.75 * (pMax > pMin ? (p - pMin) / (pMax - pMin) : 1);
  const centre = (v) => margin + (v - lo + gap / 2) * unit;

  ctx.fillStyle = "#f4f6f8";
  ctx.fillRect(margin, margin, canvas.width - margin - 8, canvas.height - margin - 8);
  ctx.save();
  ctx.beginPath();
  ctx.rect(margin, margin, canvas.width - margin - 8, canvas.height - margin - 8);
  ctx.clip();
  plan.offsets.forEach(([dy, dx], i) => {
    ctx.fillStyle = classColour(top1[i].index, strength(top1[i].probability));
    ctx.fillRect(centre(dx) - half, centre(dy) - half, 2 * half, 2 * half);
  });
  ctx.restore();
  // Axes: dx to the right, dy downwards, ticks at the ends and at zero.
  ctx.fillStyle = "#333";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "center";
  for (const v of new Set([lo, 0, hi])) {
    ctx.fillText(String(v), centre(v), margin - 6);
    ctx.textAlign = "right";
    ctx.fillText(String(v), margin - 4, centre(v) + 4);
    ctx.textAlign = "center";
  }
  ctx.fillText("dx →", canvas.width / 2, 10);
  ctx.save();
  ctx.translate(10, canvas.height / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText("← dy", 0, 0);
  ctx.restore();

  canvas.addEventListener("mousemove", (event) => {
    const box = canvas.getBoundingClientRect();
    const x = (event.clientX - box.left) * (canvas.width / box.width);
    const y = (event.clientY - box.top) * (canvas.height / box.height);
    const i = plan.offsets.findIndex(([dy, dx]) => Math.abs(centre(dx) - x) <= half && Math.abs(centre(dy) - y) <= half);
    if (i < 0) return;
    const p = top1[i];
    canvas.title = `(${plan.offsets[i].join(", ")}): ${p.label} ${p.probability.toFixed(4)}`;
    onHover(plan.offsets[i]);
  });
}

function gridStep(plan) {
  const values = [...new Set(plan.offsets.map(([, dx]) => dx))].sort((a, b) => a - b);
  return values.length > 1 ? values[1] - values[0] : 1;
}

// --- the diagonal curve ----------------------------------------------------------------------------

function drawCurve(canvas, plan, result) {
  const ctx = canvas.getContext("2d");
  const majority = result.metrics.majority_class;
  const curve = result.class_probabilities[String(majority)];
  const points = plan.offsets
    .map(([dy, dx], i) => ({ d: dy, diagonal: dy === dx, p: curve[i], top1: result.shifts[i].topk[0] }))
    .filter((point) => point.diagonal)
    .sort((a, b) => a.d - b.d);
  ctx.font = "12px system-ui, sans-serif";
  if (points.length < 2) {
    ctx.fillStyle = "#666";
    ctx.fillText("No diagonal shifts (d, d) in this protocol:", 12, 100);
    ctx.fillText("choose diagonal or grid for the curve.", 12, 118);
    return;
  }
  const left = 46, right = canvas.width - 10, top = 14, bottom = canvas.height - 30;
  const dMin = points[0].d, dMax = points[points.length - 1].d;
  const pMax = Math.min(1, Math.max(...points.map((pt) => Math.max(pt.p, pt.top1.probability))) * 1.1) || 1;
  const x = (d) => left + ((d - dMin) / (dMax - dMin)) * (right - left);
  const y = (p) => bottom - (p / pMax) * (bottom - top);

  ctx.strokeStyle = "#999";
  ctx.lineWidth = 1;
  ctx.strokeRect(left, top, right - left, bottom - top);
  ctx.fillStyle = "#333";
  ctx.textAlign = "center";
  ctx.fillText(String(dMin), x(dMin), bottom + 14);
  ctx.fillText(String(dMax), x(dMax), bottom + 14);
  ctx.fillText("diagonal shift d", (left + right) / 2, bottom + 26);
  ctx.textAlign = "right";
  ctx.fillText(pMax.toPrecision(2), left - 4, top + 8);
  ctx.fillText("0", left - 4, bottom);

  // The top-1 probability (dashed grey), then the majority class's probability (its colour).
  polyline(ctx, points.map((pt) => [x(pt.d), y(pt.top1.probability)]), "#9aa3ad", [4, 3]);
  polyline(ctx, points.map((pt) => [x(pt.d), y(pt.p)]), classColour(majority), []);
  for (const pt of points) {
    ctx.beginPath();
    ctx.arc(x(pt.d), y(pt.p), 3.5, 0, 2 * Math.PI);
    ctx.fillStyle = pt.top1.index === majority ? classColour(majority) : "white";
    ctx.strokeStyle = pt.top1.index === majority ? classColour(majority) : "#c0392b";
    ctx.fill();
    ctx.stroke();
  }
}

function polyline(ctx, xy, colour, dash) {
  ctx.beginPath();
  ctx.setLineDash(dash);
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2;
  xy.forEach(([px, py], i) => (i ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
  ctx.stroke();
  ctx.setLineDash([]);
}

// --- legend and metrics ----------------------------------------------------------------------------

function fillLegend(list, result) {
  const counts = new Map();
  for (const shift of result.shifts) {
    const top = shift.topk[0];
    const entry = counts.get(top.index) || { label: top.label, count: 0 };
    entry.count += 1;
    counts.set(top.index, entry);
  }
  const sorted = [...counts.entries()].sort((a, b) => b[1].count - a[1].count).slice(0, 8);
  for (const [index, { label, count }] of sorted) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = classColour(index);
    item.append(swatch, `${label} (${count}/${result.shifts.length})`);
    list.append(item);
  }
}

function fillMetrics(table, plan, result) {
  const m = result.metrics;
  const f = (v, digits = 3) => (v === null || v === undefined ? "—" : Number(v).toFixed(digits));
  const rows = [
    ["shifts", `${plan.offsets.length} (${plan.pairs.length} pairs, ${plan.protocol})`],
    ["consistency", f(m.consistency)],
    ["flip probability", f(m.flip_probability)],
    ["jaggedness (1-px diagonal)", f(m.jaggedness)],
    ["mean top-5 distance", f(m.mean_top5_distance, 2)],
    ["majority class", `${result.majority_label} (${f(m.majority_share * 100, 1)}% of shifts)`],
    ["mean |Δp| of majority class", f(m.mean_abs_delta_p, 4)],
    ["min / max p of majority class", `${f(m.min_probability, 4)} / ${f(m.max_probability, 4)}`],
    ["TorchServe time", `${f(result.timings.torchserve_ms, 0)} ms`],
  ];
  for (const [name, value] of rows) {
    const row = table.insertRow();
    row.insertCell().textContent = name;
    row.insertCell().textContent = value;
  }
}

init();
