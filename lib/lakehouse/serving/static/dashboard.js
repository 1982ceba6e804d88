// The dashboard: checks the filters, fetches every view with them, then draws them all at
// once (chart.js), so every chart and tile shows the same filters. A new chart is one entry
// of CHARTS: the API path, its parameters from the filters, the label column and measures.
// Below them, two lookups: a customer's profile and recommendations, a product's forecast.
"use strict";

const $ = (id) => document.getElementById(id);
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const ID = /^[A-Za-z0-9_./-]{1,64}$/;
const shops = new Map(); // shop_id -> row of /api/shops
const shopName = (id) => shops.get(id)?.shop_name ?? id;
const dates = (f) => ({ from: f.from, to: f.to, shop: f.shop });

const CHARTS = [
  { id: "trend-day", title: "Revenue and order intake per day", path: "/api/sales/trend",
    params: (f) => ({ ...dates(f), grain: "day" }), label: "period_start", axis: Format.day,
    measures: ["revenue", "order_intake"], kind: "line" },
  { id: "trend-month", title: "Order intake and revenue per month", path: "/api/sales/trend",
    params: (f) => ({ ...dates(f), grain: "month" }), label: "period_start", axis: Format.month,
    measures: ["order_intake", "revenue"] },
  { id: "peak-hours", title: "Orders by hour of day (UTC)", path: "/api/sales/peak-hours",
    params: dates, label: "hour", axis: String, measures: ["orders"] },
  { id: "brands", title: "Top 10 brands by sales", path: "/api/brands/ranking",
    params: (f) => (f.from || f.to ? { ...dates(f), limit: 10 } : { weeks: f.weeks, shop: f.shop, limit: 10 }),
    label: "brand", axis: String, measures: ["sales"],
    scope: (f, r) => `${shopScope(f)} · ${r.weeks ? `last ${r.weeks} weeks, ` : ""}${span(r.from, r.to)}` },
  { id: "intake-revenue", title: "Order intake vs revenue by shop", path: "/api/sales/intake-vs-revenue",
    params: (f) => ({ ...dates(f), group: "shop", period: "all" }), label: "group", axis: shopName,
    measures: ["order_intake", "revenue"] },
  { id: "drop-off", title: "Drop-off from order intake to revenue per day", path: "/api/sales/drop-off",
    params: (f) => ({ ...dates(f), period: "day" }), label: "period_start", axis: Format.day,
    measures: ["drop_off_rate"], scale: 100, kind: "line" },
  { id: "shipping-lag", title: "Days to ship and to deliver per month", path: "/api/shipping/lag",
    params: dates, label: "order_month", axis: Format.month,
    measures: ["avg_days_to_ship", "avg_days_to_deliver"],
    scope: (f) => `${shopScope(f)} · ${f.from || f.to ? `the months of ${span(f.from, f.to)}` : "all months"}` },
  { id: "new-returning", title: "New vs returning customers per day", path: "/api/customers-by-period",
    params: (f) => ({ ...dates(f), period: "day" }), label: "period_start", axis: Format.day,
    measures: ["new_customers", "returning_customers"] },
];

// Why a product is recommended, from the mart's reason (and the product it was bought with).
const REASONS = {
  buy_again: () => "Bought regularly, and due again",
  bought_with: (x) => `Bought with ${x.because_name ?? x.because}`,
  customers_like_you: () => "Customers like you bought it",
  popular: () => "Popular lately",
};
const CHANNELS = { web: "web shop", store: "in store", pos: "till" };

const shopScope = (f) => (f.shop ? shopName(f.shop) : "All shops");
const span = (from, to) => (from || to ? `${from ? Format.day(from) : "the start"} – ${to ? Format.day(to) : "the latest day"}` : "all days");
const scopeOf = (f) => `${shopScope(f)} · ${span(f.from, f.to)}`;

// A readable sentence from an API error: FastAPI's list of {loc, msg}, or a plain detail.
function readable(body, status) {
  const detail = body?.detail;
  if (Array.isArray(detail)) return detail.map((d) => `${d.loc?.at(-1)}: ${d.msg}`).join("; ");
  return typeof detail === "string" ? detail : `the API answered ${status}`;
}

class ApiError extends Error {}

async function api(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null));
  const headers = {};
  const token = sessionStorage.getItem("lakehouse-token");
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${path}?${query}`, { headers });
  if (response.status === 401) {
    $("token-box").hidden = false;
    throw new ApiError("The API wants a token: enter it and apply.");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(readable(body, response.status));
  return body;
}

// The filters as chosen, or the sentence that says what is wrong with them.
function chosenFilters() {
  const f = { from: $("from").value, to: $("to").value, shop: $("shop").value, weeks: $("weeks").value };
  for (const [name, label] of [["from", "From"], ["to", "To"]]) {
    if (f[name] && !DAY.test(f[name])) return [f, `“${label}” is not a date: pick a day.`];
  }
  if (f.from && f.to && f.from > f.to) {
    return [f, `“To” (${Format.day(f.to)}) is before “From” (${Format.day(f.from)}): pick a later end or an earlier start.`];
  }
  if (f.shop && !shops.has(f.shop)) return [f, "That shop is not in the list: pick another."];
  return [f, null];
}

async function tiles(f) {
  const r = await api("/api/sales/year-to-date", { as_of: f.to, shop: f.shop });
  const kpis = ["orders", "order_intake", "revenue", "average_order_value"];
  return () => {
    const box = $("kpis");
    box.replaceChildren();
    const head = box.appendChild(document.createElement("div"));
    head.className = "kpi";
    head.textContent = r.as_of ? `${shopScope(f)}, 1 January to ${Format.day(r.as_of)}` : "No sales yet";
    for (const k of kpis) {
      const tile = box.appendChild(document.createElement("div"));
      Object.assign(tile.dataset, { series: k, value: r[k] });
      tile.className = "kpi";
      tile.append(MEASURES[k].label);
      tile.appendChild(document.createElement("b")).textContent = Format.value(MEASURES[k].unit, r[k], false);
    }
    box.dataset.rendered = "yes";
  };
}

function figureOf(chart) {
  let figure = document.querySelector(`[data-chart="${chart.id}"]`);
  if (!figure) {
    figure = $("charts").appendChild(document.createElement("figure"));
    figure.className = "chart";
    figure.dataset.chart = chart.id;
    const caption = figure.appendChild(document.createElement("figcaption"));
    caption.append(chart.title);
    caption.appendChild(document.createElement("small")).className = "scope";
  }
  return figure;
}

async function view(chart, f) {
  const r = await api(chart.path, chart.params(f));
  return () => {
    const figure = figureOf(chart);
    figure.querySelector(".scope").textContent = chart.scope ? chart.scope(f, r) : scopeOf(f);
    const labels = r.items.map((x) => String(x[chart.label]));
    drawChart(figure, {
      labels,
      shown: r.items.map((x) => chart.axis(x[chart.label])),
      series: chart.measures.map((m) => ({ measure: m, values: r.items.map((x) => (x[m] == null ? null : x[m] * (chart.scale ?? 1))) })),
      kind: chart.kind,
    });
  };
}

function failed(chart, f, err) {
  const figure = figureOf(chart);
  figure.querySelector(".scope").textContent = scopeOf(f);
  chartMessage(figure, `Not available: ${err.message}`, "error");
}

// Fetches every view, then draws them together: the page never mixes two sets of filters.
async function refresh() {
  const [f, problem] = chosenFilters();
  for (const id of ["from", "to"]) $(id).toggleAttribute("aria-invalid", !!problem && !!$(id).value);
  if (problem) {
    $("status").textContent = `${problem} The charts still show ${$("applied").dataset.scope ?? "the last filters"}.`;
    document.body.dataset.ready = "invalid";
    return;
  }
  document.body.dataset.ready = "no";
  $("status").textContent = "Loading…";
  const settled = await Promise.allSettled([tiles(f), ...CHARTS.map((c) => view(c, f))]);
  const errors = [];
  settled.forEach((s, i) => {
    if (s.status === "fulfilled") return s.value();
    errors.push(s.reason.message);
    if (i === 0) $("kpis").replaceChildren(`Year to date not available: ${s.reason.message}`);
    else failed(CHARTS[i - 1], f, s.reason);
  });
  const scope = scopeOf(f);
  $("applied").dataset.scope = scope;
  $("applied").textContent = `Showing: ${scope}.`;
  const reasons = [...new Set(errors)];
  $("status").textContent = errors.length
    ? `${errors.length} of ${settled.length} views could not be loaded: ${reasons.join(" ")}`
    : "";
  document.body.dataset.ready = errors.length ? "error" : "yes";
}

function cell(row, text) {
  row.appendChild(document.createElement("td")).textContent = text ?? "-";
}

async function showCustomer(event) {
  event.preventDefault();
  const id = $("customer-id").value.trim();
  const box = $("customer");
  box.replaceChildren();
  const say = (text) => (box.appendChild(document.createElement("p")).textContent = text);
  if (!ID.test(id)) return say("A customer id is 1 to 64 letters, digits, or _ . / -");
  try {
    const path = `/api/customers/${encodeURIComponent(id)}`;
    const [p, r] = await Promise.all([api(path), api(`${path}/recommendations`)]);
    say(`${p.customer_id}, ${p.city ?? "city unknown"} (${p.country ?? "-"}): ${Format.count(p.orders)} orders, ` +
      `revenue ${Format.value("money", p.revenue, false)}; recency, frequency and monetary scores ` +
      `${p.r_score ?? "-"} / ${p.f_score ?? "-"} / ${p.m_score ?? "-"} (5 is best).`);
    if (!r.items.length) return say(`No recommendations for this customer yet: ${r.empty_because}.`);
    const table = box.appendChild(document.createElement("table"));
    const head = table.appendChild(document.createElement("tr"));
    for (const h of ["Rank", "Product", "Brand", "Why", "Score"]) head.appendChild(document.createElement("th")).textContent = h;
    for (const x of r.items) {
      const row = table.appendChild(document.createElement("tr"));
      const why = REASONS[x.reason]?.(x) ?? x.reason;
      [x.rank, x.product_name ?? x.product_id, x.brand, why, x.score?.toFixed(3)].forEach((v) => cell(row, v));
    }
  } catch (err) {
    say(err instanceof ApiError ? err.message : `The API could not be reached: ${err.message}`);
  }
}

// A product's units sold and forecast, for the chosen shop, or its busiest shop and channel.
async function showForecast(event) {
  event.preventDefault();
  const id = $("product-id").value.trim();
  const figure = $("forecast");
  figure.hidden = false;
  const scope = figure.querySelector(".scope");
  const say = (text, state = "empty") => { scope.textContent = ""; chartMessage(figure, text, state); };
  if (!ID.test(id)) return say("A product id is 1 to 64 letters, digits, or _ . / -");
  try {
    const r = await api(`/api/products/${encodeURIComponent(id)}/forecast`, { shop: $("shop").value });
    const name = r.product.product_name ?? id;
    if (!r.items.length) return say(`No forecast for ${name}: ${r.empty_because}.`);
    const total = (x) => x.forecast.reduce((sum, d) => sum + d.units, 0);
    const s = r.items.reduce((a, b) => (total(b) > total(a) ? b : a));
    const past = s.actuals.map(() => null), ahead = s.forecast.map(() => null);
    const days = [...s.actuals.map((d) => d.day), ...s.forecast.map((d) => d.forecast_date)];
    const others = r.items.length > 1 ? ` (the busiest of ${r.items.length}: pick a shop above for another)` : "";
    scope.textContent = `${name} · ${shopName(s.shop_id)}, ${CHANNELS[s.channel] ?? s.channel}${others}`;
    drawChart(figure, {
      labels: days,
      shown: days.map(Format.day),
      series: [
        { measure: "units_sold", values: [...s.actuals.map((d) => d.units), ...ahead] },
        { measure: "units_forecast", values: [...past, ...s.forecast.map((d) => d.units)] },
      ],
      band: {
        measure: "units_forecast",
        low: [...past, ...s.forecast.map((d) => d.units_low)],
        high: [...past, ...s.forecast.map((d) => d.units_high)],
      },
      kind: "line",
    });
  } catch (err) {
    say(err instanceof ApiError ? err.message : `The API could not be reached: ${err.message}`, "error");
  }
}

async function init() {
  document.body.dataset.ready = "no";
  try {
    const [about, list] = await Promise.all([api("/api/about"), api("/api/shops")]);
    Format.currency = about.currency;
    const select = $("shop");
    if (!shops.size) {
      for (const s of list.items) {
        shops.set(s.shop_id, s);
        select.add(new Option(`${s.shop_name ?? s.shop_id} (${s.city ?? s.shop_type})`, s.shop_id));
      }
    }
  } catch (err) {
    $("status").textContent = err.message;
    document.body.dataset.ready = "error";
    return;
  }
  await refresh();
}

function start() {
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    if ($("token").value) sessionStorage.setItem("lakehouse-token", $("token").value);
    shops.size ? refresh() : init();
  });
  for (const id of ["from", "to"]) $(id).addEventListener("change", () => ($("weeks").disabled = !!($("from").value || $("to").value)));
  $("customer-form").addEventListener("submit", showCustomer);
  $("forecast-form").addEventListener("submit", showForecast);
  init();
}

start();
