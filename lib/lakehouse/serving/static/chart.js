// Drawing: every measure's label, colour and unit, number formats, and one function that
// draws bars or lines as SVG. Every mark carries its measure, its label and the API's value
// (data-series, data-label, data-value), so the browser test checks what is drawn against
// what the API said.
"use strict";

// One entry per measure the API answers with: the same colour and words on every chart.
const MEASURES = {
  orders: { label: "Orders", unit: "count", color: "#4269a5" },
  order_intake: { label: "Order intake", unit: "money", color: "#e08a2e" },
  revenue: { label: "Revenue", unit: "money", color: "#3b8f5a" },
  average_order_value: { label: "Average order value", unit: "money", color: "#7a5aa6" },
  sales: { label: "Sales", unit: "money", color: "#2f8f9d" },
  drop_off_rate: { label: "Drop-off", unit: "percent", color: "#b84a4a" },
  avg_days_to_ship: { label: "Days to ship (average)", unit: "days", color: "#8c6d31" },
  avg_days_to_deliver: { label: "Days to deliver (average)", unit: "days", color: "#5b7f2a" },
  new_customers: { label: "New customers", unit: "count", color: "#d4609c" },
  returning_customers: { label: "Returning customers", unit: "count", color: "#6b6ecf" },
  units_sold: { label: "Units sold", unit: "units", color: "#4d4d4d" },
  units_forecast: { label: "Units forecast", unit: "units", color: "#a0522d" },
};

const Format = {
  currency: "EUR",
  money(v, compact = true) {
    return new Intl.NumberFormat("en-GB", {
      style: "currency", currency: Format.currency,
      notation: compact ? "compact" : "standard", maximumFractionDigits: compact ? 1 : 2,
    }).format(v);
  },
  count: (v) => new Intl.NumberFormat("en-GB", { maximumFractionDigits: 0 }).format(v),
  units: (v) => new Intl.NumberFormat("en-GB", { maximumFractionDigits: 1 }).format(v),
  percent: (v) => `${new Intl.NumberFormat("en-GB", { maximumFractionDigits: 1 }).format(v)} %`,
  days: (v) => `${new Intl.NumberFormat("en-GB", { maximumFractionDigits: 1 }).format(v)} d`,
  value(unit, v, compact = true) {
    if (v == null) return "-";
    return unit === "money" ? Format.money(v, compact) : Format[unit](v);
  },
  day(iso) { // 2026-03-01 -> 1 Mar 2026
    const [y, m, d] = iso.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  },
  month(iso) {
    const [y, m] = iso.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, 1)).toLocaleDateString("en-GB", { month: "short", year: "numeric", timeZone: "UTC" });
  },
};

const SVG_NS = "http://www.w3.org/2000/svg";
const W = 520, H = 240;

function svgEl(name, attrs, parent) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

// Round tick values from 0 (or the lowest value) to the highest; whole steps for counts.
function ticks(min, max, unit) {
  const span = max - min || 1;
  let step = 10 ** Math.floor(Math.log10(span / 4));
  for (const m of [1, 2, 5, 10]) if (span / (step * m) <= 5) { step *= m; break; }
  if (unit === "count" || unit === "units") step = Math.max(1, Math.round(step));
  const out = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) out.push(+v.toFixed(10));
  if (out[out.length - 1] < max || out.length < 2) out.push(out[out.length - 1] + step);
  return out;
}

// Clears the figure and writes a message on its face instead of a chart.
function chartMessage(figure, text, state) {
  figure.querySelectorAll("svg, .legend, .message").forEach((n) => n.remove());
  const p = document.createElement("p");
  p.className = `message ${state}`;
  p.textContent = text;
  figure.appendChild(p);
  figure.dataset.rendered = state;
}

// Bars ("bar") or lines with dots ("line") of measures over labels. labels: the API's values
// (kept on each mark); shown: what the axis says for each. All measures share one unit.
// band: an interval ({measure, low, high}, null where there is none) shaded behind the lines.
function drawChart(figure, { labels, shown = labels, series, kind = "bar", band = null }) {
  const values = series.flatMap((s) => s.values.filter((v) => v != null));
  if (band) values.push(...band.high.filter((v) => v != null));
  if (!values.length) return chartMessage(figure, "No data for these filters.", "empty");
  figure.querySelectorAll("svg, .legend, .message").forEach((n) => n.remove());
  const unit = MEASURES[series[0].measure].unit;
  // Labels wider than their slot are written aslant (and cut at 18 characters).
  const slot = (W - 72) / labels.length;
  const aslant = shown.some((t) => String(t).length * 5.5 > slot * Math.ceil(labels.length / 24));
  const PAD = { l: 64, r: 8, t: 8, b: aslant ? 72 : 30 };
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" }, figure);
  const grid = ticks(Math.min(0, ...values), Math.max(0, ...values), unit);
  const lo = grid[0], hi = grid[grid.length - 1];
  const iw = W - PAD.l - PAD.r, ih = H - PAD.t - PAD.b;
  const y = (v) => PAD.t + ih * (1 - (v - lo) / (hi - lo || 1));
  const step = iw / labels.length;
  for (const v of grid) {
    svgEl("line", { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: "grid" }, svg);
    svgEl("text", { x: PAD.l - 4, y: y(v) + 3, "text-anchor": "end", class: "tick" }, svg).textContent = Format.value(unit, v);
  }
  const every = Math.ceil(labels.length / 24);
  shown.forEach((text, i) => {
    if (i % every) return;
    const x = PAD.l + step * (i + 0.5), y0 = H - PAD.b + 12;
    const t = svgEl("text", { x, y: y0, "text-anchor": aslant ? "end" : "middle", class: "axis-label" }, svg);
    const full = String(text);
    t.textContent = aslant && full.length > 18 ? `${full.slice(0, 17)}…` : full;
    if (aslant) t.setAttribute("transform", `rotate(-35 ${x} ${y0})`);
  });
  if (band) {
    const at = (v, i) => (v == null ? [] : [`${PAD.l + step * (i + 0.5)},${y(v)}`]);
    const edge = [...band.high.flatMap(at), ...band.low.flatMap(at).reverse()];
    svgEl("polygon", { points: edge.join(" "), fill: MEASURES[band.measure].color, "fill-opacity": 0.18, class: "band" }, svg);
  }
  series.forEach((s, k) => {
    const m = MEASURES[s.measure];
    const bw = (step * 0.8) / series.length;
    const points = [];
    s.values.forEach((v, i) => {
      if (v == null) return;
      const mark = { "data-series": s.measure, "data-label": labels[i], "data-value": String(v), fill: m.color, class: "mark" };
      const cx = PAD.l + step * (i + 0.5);
      const node = kind === "line"
        ? svgEl("circle", { ...mark, cx, cy: y(v), r: 2.5 }, svg)
        : svgEl("rect", { ...mark, x: PAD.l + step * i + step * 0.1 + bw * k, y: Math.min(y(v), y(0)), width: Math.max(bw, 1), height: Math.abs(y(v) - y(0)) }, svg);
      svgEl("title", {}, node).textContent = `${m.label}, ${shown[i]}: ${Format.value(m.unit, v, false)}`;
      points.push(`${cx},${y(v)}`);
    });
    if (kind === "line") svgEl("polyline", { points: points.join(" "), fill: "none", stroke: m.color }, svg);
  });
  const legend = document.createElement("div");
  legend.className = "legend";
  for (const s of series) {
    const item = legend.appendChild(document.createElement("span"));
    const swatch = item.appendChild(document.createElement("i"));
    swatch.style.background = MEASURES[s.measure].color; // CSSOM: allowed by the page's CSP
    item.append(MEASURES[s.measure].label);
  }
  if (band) {
    const item = legend.appendChild(document.createElement("span"));
    const swatch = item.appendChild(document.createElement("i"));
    swatch.style.background = MEASURES[band.measure].color;
    swatch.style.opacity = "0.18";
    item.append("80 % interval");
  }
  figure.appendChild(legend);
  figure.dataset.rendered = "yes";
}
