// The pictures of the protocols beyond the paper (app.js calls them): the sub-pixel curve (fractional), the
// heatmap of the top class's probability over the worst-case window, and the per-frame curve of a sequence.
// Each canvas records what it drew in `data-plotted` (the answer's numbers and where they went), so a test can
// check the picture against the answer.
"use strict";

const SEQUENCE = "sequence";
const FRAME_STEP = 4; // pixels between the frames the page cuts from one photo (a slow pan)
const SAMPLE_FRAMES = 8;

function plotBox(canvas) {
  return { left: 46, right: canvas.width - 10, top: 14, bottom: canvas.height - 30 };
}

function axes(ctx, box, xLabel, xLo, xHi, pMax) {
  ctx.font = "12px system-ui, sans-serif";
  ctx.strokeStyle = "#999";
  ctx.lineWidth = 1;
  ctx.strokeRect(box.left, box.top, box.right - box.left, box.bottom - box.top);
  ctx.fillStyle = "#333";
  ctx.textAlign = "center";
  ctx.fillText(String(xLo), box.left, box.bottom + 14);
  ctx.fillText(String(xHi), box.right, box.bottom + 14);
  ctx.fillText(xLabel, (box.left + box.right) / 2, box.bottom + 26);
  ctx.textAlign = "right";
  ctx.fillText(pMax.toPrecision(2), box.left - 4, box.top + 8);
  ctx.fillText("0", box.left - 4, box.bottom);
  ctx.textAlign = "left";
}

// A curve of probabilities `ps` at positions `xs`, in `colour`; returns the plotted points.
function drawProbabilityCurve(canvas, xs, ps, colour, xLabel) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const box = plotBox(canvas);
  const xLo = Math.min(...xs), xHi = Math.max(...xs);
  const pMax = Math.min(1, Math.max(...ps) * 1.1) || 1;
  const x = (v) => box.left + (xHi > xLo ? (v - xLo) / (xHi - xLo) : 0.5) * (box.right - box.left);
  const y = (p) => box.bottom - (p / pMax) * (box.bottom - box.top);
  axes(ctx, box, xLabel, xLo, xHi, pMax);
  const points = xs.map((v, i) => ({ x: v, p: ps[i], px: x(v), py: y(ps[i]) }));
  polyline(ctx, points.map((pt) => [pt.px, pt.py]), colour, []);
  for (const pt of points) {
    ctx.beginPath();
    ctx.arc(pt.px, pt.py, 3.5, 0, 2 * Math.PI);
    ctx.fillStyle = colour;
    ctx.fill();
  }
  canvas.dataset.plotted = JSON.stringify(points);
  return points;
}

// fractional: p(top class of the unshifted view) against the sub-pixel shift t of the views (t, t).
function drawSubpixelCurve(canvas, plan, result) {
  const origin = result.metrics.origin;
  const ts = plan.offsets.map(([dy]) => dy - plan.origin[0]);
  drawProbabilityCurve(canvas, ts, origin.curve, classColour(origin.top_class), "sub-pixel shift t (px), views (t, t)");
}

// worst-case: p(top class of the unshifted view) over the window's shifts, the worst shift ringed.
function drawWindowHeatmap(canvas, plan, result) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const origin = result.metrics.origin;
  const reach = plan.max_shift;
  const shifts = plan.offsets.map(([dy, dx]) => [dy - plan.origin[0], dx - plan.origin[1]]);
  const values = [...new Set(shifts.map(([, dx]) => dx))].sort((a, b) => a - b);
  const step = values.length > 1 ? values[1] - values[0] : 1;
  const margin = 30, side = canvas.width - margin - 8;
  const unit = side / (2 * reach + step);
  const centre = (v) => margin + (v + reach + step / 2) * unit;
  const hue = classHue(origin.top_class).toFixed(1);
  const pMax = Math.max(...origin.curve) || 1;
  const cells = shifts.map(([dy, dx], i) => {
    const p = origin.curve[i];
    ctx.fillStyle = `hsl(${hue}, 75%, ${(92 - 60 * (p / pMax)).toFixed(1)}%)`; // darker: more probable
    ctx.fillRect(centre(dx) - (step * unit) / 2, centre(dy) - (step * unit) / 2, step * unit, step * unit);
    return { shift: [dy, dx], p, px: centre(dx), py: centre(dy) };
  });
  const [wy, wx] = origin.worst_shift;
  ctx.strokeStyle = "#c0392b";
  ctx.lineWidth = 2.5;
  const ring = Math.max((step * unit) / 2 + 2, 5);
  ctx.beginPath();
  ctx.arc(centre(wx), centre(wy), ring, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.fillStyle = "#333";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "center";
  for (const v of [-reach, 0, reach]) {
    ctx.fillText(String(v), centre(v), margin - 6);
    ctx.fillText(String(v), margin / 2, centre(v) + 4);
  }
  ctx.fillText("dx →", canvas.width / 2, 10);
  const worst = { shift: [wy, wx], p: origin.min_probability, px: centre(wx), py: centre(wy), ring };
  canvas.dataset.plotted = JSON.stringify({ cells, worst });
}

// --- sequences ---------------------------------------------------------------------------------------

// Frames from the chosen files (in name order), or, for one image, SAMPLE_FRAMES windows panning across it.
async function sequenceFrames() {
  if (state.files && state.files.length > 1) {
    return [...state.files].sort((a, b) => a.name.localeCompare(b.name)).map((file) => [file, file.name]);
  }
  if (!state.bitmap) throw new Error("choose an image (or several frames)");
  const width = state.bitmap.width - FRAME_STEP * (SAMPLE_FRAMES - 1);
  const frames = [];
  for (let k = 0; k < SAMPLE_FRAMES; k += 1) {
    const canvas = new OffscreenCanvas(width, state.bitmap.height);
    canvas.getContext("2d").drawImage(state.bitmap, -FRAME_STEP * k, 0);
    frames.push([await canvas.convertToBlob({ type: "image/png" }), `frame${k}.png`]);
  }
  return frames;
}

async function runSequence(models, headers) {
  const form = new FormData();
  if (state.video) {
    form.append("video", state.video, state.video.name);
  } else {
    for (const [blob, name] of await sequenceFrames()) form.append("frame", blob, name);
  }
  const query = new URLSearchParams({ topk: $("topk").value, stride: $("stride").value || "1" });
  if ($("max_frames").value) query.append("max_frames", $("max_frames").value);
  for (const model of models) query.append("models", model);
  const response = await fetch(`/v1/sequence?${query}`, { method: "POST", body: form, headers });
  const body = await response.json();
  if (!response.ok) throw Object.assign(new Error(body.message), { code: body.code });
  renderSequence(body);
  const source = body.video ? ` of a ${body.video.width}×${body.video.height} ${body.video.codec} video` : "";
  return `${body.frames} frames${source} × ${models.length} model(s)`;
}

function renderSequence(body) {
  const results = $("results");
  results.textContent = "";
  for (const result of body.results) {
    const article = $("sequence-template").content.firstElementChild.cloneNode(true);
    article.dataset.model = result.target;
    article.querySelector(".model-name").textContent = describeModel(result);
    article.querySelector(".weights").append(...describeWeights(result.weights));
    const m = result.metrics;
    article.querySelector(".score-value").textContent = m.flip_rate.toFixed(3);
    results.append(article);
    const frames = body.frames_used; // which frames of the frames or video sent
    drawProbabilityCurve(article.querySelector(".frames"), frames, m.curve, classColour(m.majority_class), "frame");
    const f = (v, digits = 3) => Number(v).toFixed(digits);
    const rows = [
      ["frames", String(m.frames)],
      ["flip rate", f(m.flip_rate)],
      ["mean top-5 distance", f(m.mean_top5_distance, 2)],
      ["wobble (mean |Δp| of majority class)", f(m.wobble, 4)],
      ["majority class", `${result.majority_label} (${f(m.majority_share * 100, 1)}% of frames)`],
      ["TorchServe time", `${f(result.timings.torchserve_ms, 0)} ms`],
    ];
    const table = article.querySelector(".metrics");
    for (const [name, value] of rows) {
      const row = table.insertRow();
      row.insertCell().textContent = name;
      row.insertCell().textContent = value;
    }
  }
}
