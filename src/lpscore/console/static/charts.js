// Inline SVG charts: lines, grouped bars, interval bars, contribution bars.
import { COLORS, h, legend, num, s } from "./util.js";

const W = 360, H = 180, L = 44, R = 8, T = 10, B = 34;

function extent(values, zero = false) {
  const xs = values.filter((v) => v !== null && v !== undefined && !Number.isNaN(v));
  let lo = Math.min(...xs, zero ? 0 : Infinity), hi = Math.max(...xs, zero ? 0 : -Infinity);
  if (!xs.length) { lo = 0; hi = 1; }
  if (lo === hi) { const pad = Math.abs(lo) * 0.1 || 1; lo -= pad; hi += pad; }
  return [lo, hi];
}

function frame(lo, hi, xLabels, fmt) {
  const g = s("g", {});
  const y = (v) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  g.append(s("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  for (const v of [lo, (lo + hi) / 2, hi]) {
    g.append(s("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end" }, fmt(v)));
    g.append(s("line", { class: "axis", x1: L, x2: W - R, y1: y(v), y2: y(v),
                         "stroke-dasharray": "2,3" }));
  }
  const step = Math.max(1, Math.ceil(xLabels.length / 6));
  xLabels.forEach((label, i) => {
    if (i % step) return;
    const x = L + (W - L - R) * (xLabels.length === 1 ? 0.5 : i / (xLabels.length - 1));
    g.append(s("text", { x, y: H - B + 14, "text-anchor": "middle" }, label));
  });
  return { g, y };
}

// series: [{name, values: [y per x label]}]
export function lineChart(xLabels, series, { fmt = (v) => num(v, 2), title = "" } = {}) {
  const [lo, hi] = extent(series.flatMap((x) => x.values));
  const { g, y } = frame(lo, hi, xLabels, fmt);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
                         "aria-label": title }, g);
  const x = (i) => L + (W - L - R) * (xLabels.length === 1 ? 0.5 : i / (xLabels.length - 1));
  series.forEach((ser, k) => {
    const color = COLORS[k % COLORS.length];
    const pts = ser.values.map((v, i) => (v === null ? null : [x(i), y(v)]));
    let d = "";
    pts.forEach((p, i) => {
      if (!p) return;
      d += `${d && pts[i - 1] ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)}`;
    });
    svg.append(s("path", { d, fill: "none", stroke: color, "stroke-width": 1.8 }));
    pts.forEach((p, i) => p && svg.append(s("circle", { cx: p[0], cy: p[1], r: 2.5, fill: color },
      s("title", {}, `${ser.name} ${xLabels[i]}: ${fmt(ser.values[i])}`))));
  });
  return h("div", {}, svg, legend(series.map((x) => x.name)));
}

// Grouped bars: one group per label, one bar per series.
export function barChart(labels, series, { fmt = (v) => num(v, 2), title = "" } = {}) {
  const [lo, hi] = extent(series.flatMap((x) => x.values), true);
  const { g, y } = frame(lo, hi, [], fmt);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
                         "aria-label": title }, g);
  const band = (W - L - R) / Math.max(labels.length, 1);
  const bw = (band * 0.8) / Math.max(series.length, 1);
  const step = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((label, i) => {
    if (i % step === 0) {
      svg.append(s("text", { x: L + band * (i + 0.5), y: H - B + 14, "text-anchor": "middle" },
                   label));
    }
    series.forEach((ser, k) => {
      const v = ser.values[i];
      if (v === null || v === undefined) return;
      const top = y(Math.max(v, 0)), bottom = y(Math.min(v, 0));
      svg.append(s("rect", { x: L + band * i + band * 0.1 + bw * k, y: top, width: bw,
                             height: Math.max(bottom - top, 0.5),
                             fill: COLORS[k % COLORS.length] },
        s("title", {}, `${ser.name} ${label}: ${fmt(v)}`)));
    });
  });
  return h("div", {}, svg, legend(series.map((x) => x.name)));
}

// A 0..100 scale with the interval as a band and the score as a tick.
export function intervalBar(score, lo, hi) {
  const x = (v) => 2 + 1.16 * Math.max(0, Math.min(100, v));
  const pending = lo === null || lo === undefined || hi === null || hi === undefined;
  return s("svg", { width: 120, height: 14, viewBox: "0 0 120 14", role: "img",
                    "aria-label": pending ? "interval pending"
                                          : `interval ${num(lo, 1)} to ${num(hi, 1)}` },
    s("rect", { x: 2, y: 6, width: 116, height: 2, fill: "#e4e7ec" }),
    ...(pending ? [] : [s("rect", { x: x(lo), y: 3, width: Math.max(x(hi) - x(lo), 1),
                                    height: 8, fill: "#9db7ef" })]),
    s("rect", { x: x(score) - 1, y: 1, width: 2, height: 12, fill: "#1d2330" }));
}

// Points per KPI, stacked on a 0..100 scale.
export function contributionBar(contributions, kpis) {
  const svg = s("svg", { width: 220, height: 14, viewBox: "0 0 220 14", role: "img",
                         "aria-label": "contributions" });
  let at = 0;
  kpis.forEach((kpi, i) => {
    const v = Math.max(contributions[kpi] || 0, 0);
    svg.append(s("rect", { x: at * 2.2, y: 1, width: v * 2.2, height: 12,
                           fill: COLORS[i % COLORS.length] },
      s("title", {}, `${kpi}: ${num(v, 1)} points`)));
    at += v;
  });
  return svg;
}
