// The pictures of the paper's protocols: the top-1 class at each offset (a heatmap over the shift grid, hovering
// shows the view) and the diagonal curve of the majority class's probability.

import { classColour } from "./colours.js";
import { axes, plotBox, polyline } from "./plots.js";

function shiftRange(plan) {
  return plan.mode === "circular" ? [-plan.max_shift, plan.max_shift] : [0, plan.max_shift];
}

function gridStep(plan) {
  const values = [...new Set(plan.offsets.map(([, dx]) => dx))].sort((a, b) => a - b);
  return values.length > 1 ? values[1] - values[0] : 1;
}

export function drawHeatmap(canvas, plan, result, onHover) {
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

// The majority class's probability (its colour) and the top-1 probability (dashed grey) along the diagonal (d, d).
export function drawCurve(canvas, plan, result) {
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
  const box = plotBox(canvas);
  const dMin = points[0].d, dMax = points[points.length - 1].d;
  const pMax = Math.min(1, Math.max(...points.map((pt) => Math.max(pt.p, pt.top1.probability))) * 1.1) || 1;
  const x = (d) => box.left + ((d - dMin) / (dMax - dMin)) * (box.right - box.left);
  const y = (p) => box.bottom - (p / pMax) * (box.bottom - box.top);
  axes(ctx, box, "diagonal shift d", dMin, dMax, pMax);

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
