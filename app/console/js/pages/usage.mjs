// Usage: the ledger's rows as charts, its totals, what the answer cache and the guardrails
// did, the budget and refusals; CSV export.

import { api } from "../api.mjs";
import { cacheFigures, cacheRows } from "../cache.mjs";
import { CHART_TITLES, chartData } from "../charts.mjs";
import { errorBox, field, h, show } from "../dom.mjs";
import { guardrailRows } from "../guardrails.mjs";

function usageView(usage, load, refused, query) {
  const totals = usage.totals;
  const cards = h("div", { class: "cards", "aria-label": "Totals" },
    ...[["Requests", totals.requests], ["Input tokens", totals.input_tokens],
      ["Output tokens", totals.output_tokens], ["Cost (USD)", totals.cost_usd.toFixed(6)],
      ["Images", totals.images]].map(([label, value]) =>
      h("div", { class: "card", "data-total": label }, h("span", { text: label }), h("strong", { text: String(value) }))));
  const cache = h("section", { "aria-label": "Answer cache" }, h("h2", { text: "Answer cache" }),
    h("div", { class: "cards" }, ...cacheFigures(totals.cache).map(([label, value]) =>
      h("div", { class: "card", "data-total": label }, h("span", { text: label }), h("strong", { text: value })))),
    usage.by_cache.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ...["Model", "Answered", "Hit ratio", "Saved (USD)"].map((text) => h("th", { text })))),
          h("tbody", {}, ...cacheRows(usage.by_cache).map((row) => h("tr", {}, ...row.map((text) => h("td", { text }))))))
      : h("p", { class: "note", text: "No cacheable request yet." }));
  const acted = guardrailRows(totals.guardrails);
  const guardrails = h("section", { "aria-label": "Guardrails" }, h("h2", { text: "Guardrails" }),
    acted.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ...["Direction", "Category", "Action", "Times"].map((text) => h("th", { text })))),
          h("tbody", {}, ...acted.map((row) => h("tr", {}, ...row.map((text) => h("td", { text }))))))
      : h("p", { class: "note", text: "The guardrails have not acted on any request yet." }));
  const budget = load?.budget
    ? h("section", { "aria-label": "Budget" }, h("h2", { text: "Budget" }),
        h("meter", { min: "0", max: String(load.budget.limit_usd), value: String(load.budget.spent_usd), "aria-label": "Budget used" }),
        h("p", { text: `$${load.budget.spent_usd.toFixed(4)} of $${load.budget.limit_usd} used ($${load.budget.reserved_usd.toFixed(4)} reserved); resets ${new Date(load.budget.resets_at).toLocaleString()}.` }))
    : h("p", { class: "note", text: "No budget is set for this tenant." });
  const refusals = refused && Object.keys(refused).length
    ? h("p", { text: `Refused by a limit since this server started: ${Object.entries(refused).map(([limit, n]) => `${limit} ${n}`).join(", ")}.` })
    : h("p", { class: "note", text: refused ? "No request was refused by a limit since this server started." : "" });
  const charts = h("div", { class: "charts" },
    ...Object.entries(CHART_TITLES).map(([kind, caption]) => h("figure", {},
      h("canvas", { "data-chart": kind, role: "img", "aria-label": `${kind} over time` }), h("figcaption", { text: caption }))));
  return [cards, cache, guardrails, budget, refusals, h("p", {}, h("a", { href: `/usage?${query}&format=csv`, download: "usage.csv", text: "Export CSV" })), charts];
}

function drawCharts(container, records) {
  const { labels, series } = chartData(records);
  for (const canvas of container.querySelectorAll("canvas[data-chart]")) {
    const kind = canvas.dataset.chart;
    const stacked = kind !== "latency";
    new Chart(canvas, { type: stacked ? "bar" : "line",
      data: { labels, datasets: series[kind] },
      options: { animation: false, responsive: true, scales: { x: { stacked }, y: { stacked, beginAtZero: true } } } });
  }
}

export async function usagePage(draw, me) {
  const tenantPicker = me.key.admin ? h("select", { name: "tenant" }) : null;
  const content = h("div");
  const errors = errorBox();
  async function load() {
    const tenant = tenantPicker ? tenantPicker.value : me.tenant.id;
    const query = `tenant=${encodeURIComponent(tenant)}`;
    try {
      const usage = await api(`/usage?${query}&limit=10000&group_by=cache`);
      const tenantLoad = me.key.admin && tenant !== me.tenant.id ? await api(`/admin/tenants/${encodeURIComponent(tenant)}/load`) : me.load;
      content.replaceChildren(...usageView(usage, tenantLoad, tenant === me.tenant.id ? me.refused : null, query));
      drawCharts(content, usage.records);
    } catch (error) { show(errors, error); }
  }
  const controls = [];
  if (tenantPicker) {
    const { tenants } = await api("/admin/tenants");
    tenantPicker.append(...tenants.map((tenant) => h("option", { value: tenant.id, selected: tenant.id === me.tenant.id, text: tenant.id })));
    tenantPicker.addEventListener("change", load);
    controls.push(field("Tenant", tenantPicker));
  }
  draw("Usage", ...controls, errors, content);
  await load();
}
