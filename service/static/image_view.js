// The chosen image with the window a view sees: where the service cuts its views (shorter side resized to
// resize_size, centre crop of base_size), the crop window at an offset or the circular shift of the centre crop.

import { $, state } from "./page.js";

function baseRegion(bitmap, plan) {
  const resize = plan ? plan.resize_size : 256;
  const base = plan ? plan.base_size : 256;
  const scale = resize / Math.min(bitmap.width, bitmap.height);
  const side = base / scale;
  return { x: (bitmap.width - side) / 2, y: (bitmap.height - side) / 2, side, scale: base };
}

// The image, and the view at `offset` of the last plan (none before a probe, or with `offset` null: the image).
export function drawImage(offset) {
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
