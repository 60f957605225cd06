// Running a probe: the chosen models and parameters to /v1/compare (or, for the sequence protocol, the frames to
// /v1/sequence), the answer rendered, the outcome on the status line.

import { $, authHeaders, setStatus, state } from "./page.js";
import { renderResults } from "./results.js";
import { runSequence, SEQUENCE } from "./sequence.js";

const PARAMS = ["protocol", "pairs", "step", "max_shift", "crop_size", "seed", "topk", "subpixel_step"];

function readParams() {
  const params = {};
  for (const name of PARAMS) params[name] = $(name).value;
  return params;
}

export async function runProbe() {
  const models = [...document.querySelectorAll("#models input:checked")].map((input) => input.value);
  if (!models.length) return setStatus("choose at least one model", true);
  if ($("protocol").value === SEQUENCE) return runSequenceProbe(models);
  if (state.video) return setStatus("a video is probed as a sequence: choose the sequence protocol", true);
  const query = new URLSearchParams(readParams());
  for (const model of models) query.append("models", model);
  const form = new FormData();
  form.append("image", state.blob, state.name);
  $("run").disabled = true;
  setStatus(`probing ${models.join(" and ")}…`);
  const started = performance.now();
  try {
    const response = await fetch(`/v1/compare?${query}`, { method: "POST", body: form, headers: authHeaders() });
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
  $("run").disabled = true;
  setStatus(`classifying the frames with ${models.join(" and ")}…`);
  try {
    setStatus(await runSequence(models, authHeaders()));
  } catch (error) {
    setStatus(error.code ? `${error.code}: ${error.message}` : `request failed: ${error}`, true);
  } finally {
    $("run").disabled = false;
  }
}
