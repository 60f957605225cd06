// A probe's answer on the page: one card per model with its score, heatmap, curve, legend and metrics; and what a
// card says of its model and weights (a sequence's cards too).

import { classColour } from "./colours.js";
import { drawImage } from "./image_view.js";
import { $ } from "./page.js";
import { drawSubpixelCurve, drawWindowHeatmap } from "./protocols.js";
import { drawCurve, drawHeatmap } from "./shift_plots.js";

export function renderResults(body) {
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

export function describeModel(result) {
  const model = result.model;
  if (!model) return `${result.target} (${result.target_kind} target)`; // a server other than ours says nothing more
  const kind = model.antialiased ? `antialiased, filter ${model.filter_size}` : "baseline";
  return `${result.target} (${model.arch || "?"}, ${kind})`;
}

export function describeWeights(weights) {
  if (!weights) return ["weights not reported"];
  if (weights.untrained) {
    const warning = document.createElement("span");
    warning.className = "untrained";
    warning.textContent = "untrained: random weights";
    return [warning];
  }
  return [`weights ${weights.name || "?"} (sha256 ${weights.sha256 || "?"})`];
}

// The rows [name, value] of a card's metrics table.
export function fillRows(table, rows) {
  for (const [name, value] of rows) {
    const row = table.insertRow();
    row.insertCell().textContent = name;
    row.insertCell().textContent = value;
  }
}

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
  fillRows(table, [
    ["shifts", `${plan.offsets.length} (${plan.pairs.length} pairs, ${plan.protocol})`],
    ["consistency", f(m.consistency)],
    ["flip probability", f(m.flip_probability)],
    ["jaggedness (1-px diagonal)", f(m.jaggedness)],
    ["mean top-5 distance", f(m.mean_top5_distance, 2)],
    ["majority class", `${result.majority_label} (${f(m.majority_share * 100, 1)}% of shifts)`],
    ["mean |Δp| of majority class", f(m.mean_abs_delta_p, 4)],
    ["min / max p of majority class", `${f(m.min_probability, 4)} / ${f(m.max_probability, 4)}`],
    ["TorchServe time", `${f(result.timings.torchserve_ms, 0)} ms`],
  ]);
}
