// The pictures of the protocols beyond the paper: the sub-pixel curve (fractional) and the heatmap of the top
// class's probability over the worst-case window. Each canvas records what it drew in `data-plotted`, so a test can
// check the picture against the answer.

import { classColour, classHue } from "./colours.js";
import { drawProbabilityCurve } from "./plots.js";

// fractional: p(top class of the unshifted view) against the sub-pixel shift t of the views (t, t).
export function drawSubpixelCurve(canvas, plan, result) {
  const origin = result.metrics.origin;
  const ts = plan.offsets.map(([dy]) => dy - plan.origin[0]);
  drawProbabilityCurve(canvas, ts, origin.curve, classColour(origin.top_class), "sub-pixel shift t (px), views (t, t)");
}

// worst-case: p(top class of the unshifted view) over the window's shifts, the worst shift ringed.
export function drawWindowHeatmap(canvas, plan, result) {
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
