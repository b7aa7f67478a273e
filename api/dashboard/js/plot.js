// Small SVG charts: line plots (functions, derivatives, fitness over time), bar lists and
// mean ± std intervals. Values come from the API; nothing is drawn by a third-party library.

import { h, s } from "./dom.js";

export const COLORS = ["#1d4ed8", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d",
  "#475569", "#b45309"];
let clipIds = 0;

/** About `count` round tick values covering [low, high]. */
export function ticks(low, high, count = 5) {
  if (!(high > low)) return [low];
  const raw = (high - low) / count;
  let step = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 5, 10]) {
    if ((high - low) / (step * factor) <= count) {
      step *= factor;
      break;
    }
  }
  const out = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function finite(v) {
  return typeof v === "number" && Number.isFinite(v);
}

function yRange(series, limit, include) {
  let low = Infinity;
  let high = -Infinity;
  for (const { y } of series) {
    for (const v of y) {
      if (!finite(v)) continue;
      const c = Math.max(-limit, Math.min(limit, v));
      low = Math.min(low, c);
      high = Math.max(high, c);
    }
  }
  for (const v of include) {
    low = Math.min(low, v);
    high = Math.max(high, v);
  }
  if (!Number.isFinite(low)) [low, high] = [-1, 1];
  if (high - low < 1e-9) [low, high] = [low - 0.5, high + 0.5];
  const pad = 0.05 * (high - low);
  return [low - pad, high + pad];
}

/** Runs of finite points; a null, NaN or infinity ends a run. */
function runs(x, y) {
  const out = [[]];
  for (let i = 0; i < x.length; i++) {
    if (finite(y[i])) out[out.length - 1].push([x[i], y[i]]);
    else if (out[out.length - 1].length) out.push([]);
  }
  return out.filter((run) => run.length > 0);
}

/**
 * A line chart. series: [{label, x, y, color, dash}] (label: text or a node, e.g. MathML). Options: title (the accessible name),
 * xLabel, yLabel, step (a step function, for best-so-far), include (y values always shown),
 * limit (|y| beyond it is clipped: exp(x) would flatten everything else).
 */
export function linePlot(series, { title, xLabel = "x", yLabel = "", step = false, include = [], limit = 20,
  width = 560, height = 320, legend = true, markers = false } = {}) {
  const left = 52;
  const right = 14;
  const top = 12;
  const bottom = 40;
  const xs = series.flatMap((item) => item.x.filter(finite));
  const x0 = xs.length ? Math.min(...xs) : 0;
  const x1 = xs.length && Math.max(...xs) > x0 ? Math.max(...xs) : x0 + 1;
  const [y0, y1] = yRange(series, limit, include);
  const px = (v) => left + ((v - x0) / (x1 - x0)) * (width - left - right);
  const py = (v) => top + ((y1 - v) / (y1 - y0)) * (height - top - bottom);
  const clip = `plot-clip-${++clipIds}`;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "chart" },
    s("title", { text: title }),
    s("defs", {}, s("clipPath", { id: clip }, s("rect", { x: left, y: top, width: width - left - right,
      height: height - top - bottom }))),
    s("rect", { class: "frame", x: left, y: top, width: width - left - right, height: height - top - bottom }));
  for (const t of ticks(x0, x1, 6)) {
    svg.append(s("line", { class: "gridline", x1: px(t), x2: px(t), y1: top, y2: height - bottom }),
      s("text", { class: "tick", x: px(t), y: height - bottom + 14, "text-anchor": "middle", text: fmtTick(t) }));
  }
  for (const t of ticks(y0, y1, 5)) {
    svg.append(s("line", { class: "gridline", x1: left, x2: width - right, y1: py(t), y2: py(t) }),
      s("text", { class: "tick", x: left - 5, y: py(t) + 4, "text-anchor": "end", text: fmtTick(t) }));
  }
  if (y0 < 0 && y1 > 0) svg.append(s("line", { class: "axis", x1: left, x2: width - right, y1: py(0), y2: py(0) }));
  if (x0 < 0 && x1 > 0) svg.append(s("line", { class: "axis", x1: px(0), x2: px(0), y1: top, y2: height - bottom }));
  svg.append(s("text", { class: "label", x: (left + width - right) / 2, y: height - 6, "text-anchor": "middle",
    text: xLabel }));
  if (yLabel) {
    svg.append(s("text", { class: "label", transform: `translate(12 ${(top + height - bottom) / 2}) rotate(-90)`,
      "text-anchor": "middle", text: yLabel }));
  }
  const far = y1 - y0;
  series.forEach((item, i) => {
    const color = item.color || COLORS[i % COLORS.length];
    const clipped = item.y.map((v) => (finite(v) ? Math.max(y0 - far, Math.min(y1 + far, v)) : v));
    for (const run of runs(item.x, clipped)) {
      const points = [];
      run.forEach(([a, b], k) => {
        if (step && k > 0) points.push(`${px(a).toFixed(1)},${py(run[k - 1][1]).toFixed(1)}`);
        points.push(`${px(a).toFixed(1)},${py(b).toFixed(1)}`);
      });
      if (step && item.until !== undefined && run.length) {
        points.push(`${px(item.until).toFixed(1)},${py(run[run.length - 1][1]).toFixed(1)}`);
      }
      const line = s("polyline", { points: points.join(" "), fill: "none", stroke: color, "stroke-width": item.width || 2,
        "clip-path": `url(#${clip})`, "stroke-linejoin": "round" });
      if (item.dash) line.setAttribute("stroke-dasharray", item.dash);
      svg.append(line);
      if (markers || run.length === 1) {
        for (const [a, b] of run) svg.append(s("circle", { cx: px(a), cy: py(b), r: 3, fill: color }));
      }
    }
  });
  const figure = h("figure", { class: "plot" }, svg);
  if (legend && series.length) {
    figure.append(h("figcaption", {}, h("ul", { class: "legend" }, series.map((item, i) => h("li", {},
      h("span", { class: ["swatch", item.dash && "dashed"], "aria-hidden": "true",
        style: { borderColor: item.color || COLORS[i % COLORS.length] } }),
      // a label may be MathML, and one series list draws two charts (f and f'): each its own copy
      item.label instanceof Node ? item.label.cloneNode(true) : item.label)))));
  }
  return figure;
}

function fmtTick(v) {
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(0) : String(Number(v.toPrecision(4)));
}

/** Horizontal bars: items [{label, value, title}], labelled with their values. */
export function barList(items, { label, format = String } = {}) {
  const max = Math.max(1e-12, ...items.map((item) => item.value));
  return h("ul", { class: "bars", "aria-label": label }, items.map((item) => h("li", { title: item.title },
    h("span", { class: "bar-label" }, item.label),
    h("span", { class: "bar-track", "aria-hidden": "true" },
      h("span", { class: "bar", style: { width: `${(100 * item.value) / max}%` } })),
    h("span", { class: "bar-value" }, format(item.value)))));
}

/** Mean ± std per row as dots with whiskers on one axis: rows [{label, mean, std, color}]. */
export function intervalChart(rows, { title, width = 760 } = {}) {
  const left = 200;
  const right = 16;
  const rowHeight = 26;
  const height = 30 + rows.length * rowHeight;
  const values = rows.flatMap((r) => (finite(r.mean) ? [r.mean - (r.std || 0), r.mean + (r.std || 0)] : []));
  let low = values.length ? Math.min(...values) : 0;
  let high = values.length ? Math.max(...values) : 1;
  const pad = Math.max(1e-3, 0.1 * (high - low));
  [low, high] = [low - pad, high + pad];
  const px = (v) => left + ((v - low) / (high - low)) * (width - left - right);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "chart" },
    s("title", { text: title }));
  for (const t of ticks(low, high, 5)) {
    svg.append(s("line", { class: "gridline", x1: px(t), x2: px(t), y1: 4, y2: height - 22 }),
      s("text", { class: "tick", x: px(t), y: height - 8, "text-anchor": "middle", text: fmtTick(t) }));
  }
  rows.forEach((row, i) => {
    const y = 16 + i * rowHeight;
    const color = row.color || COLORS[i % COLORS.length];
    svg.append(s("text", { class: "tick", x: left - 8, y: y + 4, "text-anchor": "end", text: row.label }));
    if (!finite(row.mean)) return;
    if (row.std) {
      svg.append(s("line", { x1: px(row.mean - row.std), x2: px(row.mean + row.std), y1: y, y2: y, stroke: color,
        "stroke-width": 2 }));
    }
    svg.append(s("circle", { cx: px(row.mean), cy: y, r: 5, fill: color }));
  });
  return h("figure", { class: "plot interval" }, svg);
}
