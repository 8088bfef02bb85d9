// A line chart as inline SVG, built with DOM calls (no chart library, no
// other origin). series: [{name, values: [n, ...]}] over the same buckets.
// The SVG is an image with a text label; the same numbers go in a table.
const NS = "http://www.w3.org/2000/svg";
export const COLORS = ["#0b5cad", "#a4161a", "#1a6b2f", "#7a4b00", "#6a2c91", "#00767a", "#5c5c5c", "#b3367a"];

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export function lineChart({ series, labels, title }) {
  const W = 640, H = 300, L = 56, R = 30, T = 14, B = 44;
  const n = labels.length;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i) => L + (n <= 1 ? 0 : (i * (W - L - R)) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, preserveAspectRatio: "xMidYMid meet" });
  svg.append(el("title", {}, title));
  // axes and grid
  const ticks = max <= 4 ? max : 4;
  for (let k = 0; k <= ticks; k++) {
    const v = Math.round((max * k) / ticks);
    svg.append(el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#d0d7de", "stroke-width": 1 }));
    svg.append(el("text", { x: L - 8, y: y(v) + 6, "text-anchor": "end", "font-size": 18, fill: "#4a535e" }, String(v)));
  }
  const every = Math.max(1, Math.ceil(n / 4));
  for (let i = 0; i < n; i += every)
    svg.append(el("text", { x: x(i), y: H - B + 26, "text-anchor": "middle", "font-size": 18, fill: "#4a535e" }, labels[i]));
  svg.append(el("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#4a535e", "stroke-width": 1 }));
  series.forEach((s, k) => {
    const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    svg.append(el("polyline", { points: pts, fill: "none", stroke: COLORS[k % COLORS.length], "stroke-width": 2 }));
    s.values.forEach((v, i) => {
      if (v > 0) svg.append(el("circle", { cx: x(i), cy: y(v), r: 3, fill: COLORS[k % COLORS.length] }));
    });
  });
  return svg;
}
