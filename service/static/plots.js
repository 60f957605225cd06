// The line plots' pieces: the plot box and its axes, a polyline, and a curve of probabilities that records what it
// drew in `data-plotted` (the answer's numbers and where they went), so a test can check the picture against the
// answer.

export function plotBox(canvas) {
  return { left: 46, right: canvas.width - 10, top: 14, bottom: canvas.height - 30 };
}

export function axes(ctx, box, xLabel, xLo, xHi, pMax) {
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

export function polyline(ctx, xy, colour, dash) {
  ctx.beginPath();
  ctx.setLineDash(dash);
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2;
  xy.forEach(([px, py], i) => (i ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
  ctx.stroke();
  ctx.setLineDash([]);
}

// A curve of probabilities `ps` at positions `xs`, in `colour`; returns the plotted points.
export function drawProbabilityCurve(canvas, xs, ps, colour, xLabel) {
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
