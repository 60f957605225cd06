// Sequences: the frames (files chosen, a video, or windows panning across one photo) sent to /v1/sequence, and its
// answer drawn as each model's per-frame curve and metrics.

import { classColour } from "./colours.js";
import { $, state } from "./page.js";
import { drawProbabilityCurve } from "./plots.js";
import { describeModel, describeWeights, fillRows } from "./results.js";

export const SEQUENCE = "sequence";
const FRAME_STEP = 4; // pixels between the frames the page cuts from one photo (a slow pan)
const SAMPLE_FRAMES = 8;

// A video is a sequence: it goes to /v1/sequence as it is, the service decodes it.
export function isVideo(file) {
  return file.type.startsWith("video/") || /\.(mp4|m4v|mov|mkv|webm)$/i.test(file.name);
}

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

// Probe the sequence with `models`; the status line's text, or an Error (with the service's `code`).
export async function runSequence(models, headers) {
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
    fillRows(article.querySelector(".metrics"), [
      ["frames", String(m.frames)],
      ["flip rate", f(m.flip_rate)],
      ["mean top-5 distance", f(m.mean_top5_distance, 2)],
      ["wobble (mean |Δp| of majority class)", f(m.wobble, 4)],
      ["majority class", `${result.majority_label} (${f(m.majority_share * 100, 1)}% of frames)`],
      ["TorchServe time", `${f(result.timings.torchserve_ms, 0)} ms`],
    ]);
  }
}
