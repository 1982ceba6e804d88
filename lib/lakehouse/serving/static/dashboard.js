// The dashboard: fetches the API with the page's filters and draws each answer as SVG.
// Every mark carries its series, label and the API's value (data-*), so what is drawn can be
// checked against what the API said.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#3b6fb6", "#e08a2e", "#4a9a5b", "#b84a4a"];
const W = 520, H = 220, PAD = { l: 56, r: 8, t: 8, b: 40 };

const $ = (id) => document.getElementById(id);

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

async function api(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null));
  const headers = {};
  const token = sessionStorage.getItem("lakehouse-token");
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${path}?${query}`, { headers });
  if (response.status === 401) {
    $("token-box").hidden = false;
    throw new Error("the API wants a token: enter it and apply");
  }
  const body = await response.json();
  if (!response.ok) throw new Error(`${path}: ${JSON.stringify(body.detail)}`);
  return body;
}

function short(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

// Bars (kind "bar") or lines with dots (kind "line") of one or more series over labels.
function chart(figure, labels, series, kind = "bar") {
  figure.querySelectorAll("svg, .legend, .empty").forEach((n) => n.remove());
  if (!labels.length) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = "no data for these filters";
    figure.appendChild(p);
    figure.dataset.rendered = "empty";
    return;
  }
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" }, figure);
  const values = series.flatMap((s) => s.values.filter((v) => v != null));
  const max = Math.max(0, ...values), min = Math.min(0, ...values);
  const span = max - min || 1;
  const iw = W - PAD.l - PAD.r, ih = H - PAD.t - PAD.b;
  const y = (v) => PAD.t + ih * (1 - (v - min) / span);
  const step = iw / labels.length;
  for (let i = 0; i <= 4; i++) {
    const v = min + (span * i) / 4;
    el("line", { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), stroke: "#eee" }, svg);
    el("text", { x: PAD.l - 4, y: y(v) + 3, "text-anchor": "end" }, svg).textContent = short(v);
  }
  const every = Math.ceil(labels.length / 12);
  labels.forEach((label, i) => {
    if (i % every) return;
    const t = el("text", { x: PAD.l + step * (i + 0.5), y: H - PAD.b + 12, "text-anchor": "middle" }, svg);
    t.textContent = String(label).slice(0, 10);
  });
  series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length];
    const bw = (step * 0.8) / series.length;
    const points = [];
    s.values.forEach((v, i) => {
      if (v == null) return;
      const mark = { "data-series": s.name, "data-label": labels[i], "data-value": String(v), fill: color };
      const cx = PAD.l + step * (i + 0.5);
      if (kind === "line") {
        points.push(`${cx},${y(v)}`);
        el("circle", { ...mark, class: "mark", cx, cy: y(v), r: 2.5 }, svg);
      } else {
        const x = PAD.l + step * i + step * 0.1 + bw * k;
        const top = Math.min(y(v), y(0));
        el("rect", { ...mark, class: "mark", x, y: top, width: Math.max(bw, 1), height: Math.abs(y(v) - y(0)) }, svg)
          .appendChild(el("title", {})).textContent = `${s.name} ${labels[i]}: ${v}`;
      }
    });
    if (kind === "line") el("polyline", { points: points.join(" "), fill: "none", stroke: color }, svg);
  });
  const legend = document.createElement("div");
  legend.className = "legend";
  legend.innerHTML = series.map((s, k) => `<span><i style="background:${COLORS[k % COLORS.length]}"></i>${s.name}</span>`).join("");
  figure.appendChild(legend);
  figure.dataset.rendered = "yes";
}

const fig = (name) => document.querySelector(`[data-chart="${name}"]`);
const col = (items, key) => items.map((r) => r[key]);

function filters() {
  return { from: $("from").value, to: $("to").value, shop: $("shop").value };
}

const views = {
  async ytd(f) {
    const r = await api("/api/sales/year-to-date", { as_of: f.to, shop: f.shop });
    const kpis = [["orders", "Orders"], ["order_intake", "Order intake"], ["revenue", "Revenue"], ["average_order_value", "Average order value"]];
    $("kpis").innerHTML = `<div class="kpi">Year to ${r.as_of ?? "-"}</div>` + kpis
      .map(([k, name]) => `<div class="kpi" data-series="${k}" data-value="${r[k]}">${name}<b>${r[k] == null ? "-" : short(r[k])}</b></div>`)
      .join("");
    $("kpis").dataset.rendered = "yes";
  },
  async "trend-day"(f) {
    const r = await api("/api/sales/trend", { ...f, grain: "day" });
    chart(fig("trend-day"), col(r.items, "period_start"), [
      { name: "revenue", values: col(r.items, "revenue") },
      { name: "order_intake", values: col(r.items, "order_intake") },
    ], "line");
  },
  async "trend-month"(f) {
    const r = await api("/api/sales/trend", { ...f, grain: "month" });
    chart(fig("trend-month"), col(r.items, "period_start"), [
      { name: "order_intake", values: col(r.items, "order_intake") },
      { name: "revenue", values: col(r.items, "revenue") },
    ]);
  },
  async "peak-hours"(f) {
    const r = await api("/api/sales/peak-hours", f);
    chart(fig("peak-hours"), col(r.items, "hour"), [{ name: "orders", values: col(r.items, "orders") }]);
  },
  async brands() {
    const r = await api("/api/brands/ranking", { weeks: $("weeks").value, limit: 10 });
    chart(fig("brands"), col(r.items, "brand"), [{ name: "sales", values: col(r.items, "sales") }]);
  },
  async "intake-revenue"(f) {
    const r = await api("/api/sales/intake-vs-revenue", { ...f, group: "shop", period: "all" });
    chart(fig("intake-revenue"), col(r.items, "group"), [
      { name: "order_intake", values: col(r.items, "order_intake") },
      { name: "revenue", values: col(r.items, "revenue") },
    ]);
  },
  async "drop-off"(f) {
    const r = await api("/api/sales/drop-off", { ...f, period: "day" });
    chart(fig("drop-off"), col(r.items, "period_start"), [
      { name: "drop_off_rate", values: r.items.map((x) => (x.drop_off_rate == null ? null : x.drop_off_rate * 100)) },
    ], "line");
  },
  async "shipping-lag"(f) {
    const r = await api("/api/shipping/lag", f);
    chart(fig("shipping-lag"), col(r.items, "order_month"), [
      { name: "avg_days_to_ship", values: col(r.items, "avg_days_to_ship") },
      { name: "avg_days_to_deliver", values: col(r.items, "avg_days_to_deliver") },
    ]);
  },
  async "new-returning"(f) {
    const r = await api("/api/customers-by-period", { from: f.from, to: f.to, period: "day" });
    chart(fig("new-returning"), col(r.items, "period_start"), [
      { name: "new_customers", values: col(r.items, "new_customers") },
      { name: "returning_customers", values: col(r.items, "returning_customers") },
    ]);
  },
};

async function refresh() {
  document.body.dataset.ready = "no";
  $("status").textContent = "";
  const f = filters();
  const results = await Promise.allSettled(Object.values(views).map((view) => view(f)));
  const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason.message);
  $("status").textContent = [...new Set(failed)].join("; ");
  document.body.dataset.ready = failed.length ? "error" : "yes";
}

async function showCustomer(event) {
  event.preventDefault();
  const id = encodeURIComponent($("customer-id").value.trim());
  const box = $("customer");
  try {
    const [p, r] = await Promise.all([api(`/api/customers/${id}`), api(`/api/customers/${id}/recommendations`)]);
    const cell = (v) => String(v ?? "-").replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    box.innerHTML = `<p>${cell(p.customer_id)}, ${cell(p.city)} (${cell(p.country)}): ${cell(p.orders)} orders, revenue ${cell(p.revenue)};
      RFM ${cell(p.r_score)}/${cell(p.f_score)}/${cell(p.m_score)}</p>
      <table><tr><th>rank</th><th>product</th><th>brand</th><th>score</th></tr>
      ${r.items.map((x) => `<tr><td>${cell(x.rank)}</td><td>${cell(x.product_name ?? x.product_id)}</td><td>${cell(x.brand)}</td><td>${cell(x.score?.toFixed(3))}</td></tr>`).join("")}</table>`;
  } catch (err) {
    box.textContent = err.message;
  }
}

async function start() {
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    if ($("token").value) sessionStorage.setItem("lakehouse-token", $("token").value);
    init();
  });
  $("customer-form").addEventListener("submit", showCustomer);
  await init();
}

async function init() {
  document.body.dataset.ready = "no";
  try {
    const shops = await api("/api/shops");
    const select = $("shop");
    if (select.options.length === 1) {
      for (const s of shops.items) select.add(new Option(`${s.shop_id} ${s.shop_name ?? ""}`, s.shop_id));
    }
  } catch (err) {
    $("status").textContent = err.message;
    document.body.dataset.ready = "error";
    return;
  }
  await refresh();
}

start();
