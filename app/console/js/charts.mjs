// The usage page's chart series, from the ledger's rows (GET /usage): per minute, requests by
// route, tokens and cost by model, and latency p50 / p95. Pure: Chart.js draws them.

export const CHART_TITLES = Object.freeze({
  requests: "Requests by route", tokens: "Tokens by model", cost: "Cost (USD) by model",
  latency: "Latency p50 / p95 (ms)",
});

const minute = (row) => row.created_at.slice(0, 16).replace("T", " ");

export function percentile(values, share) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.round(share * (sorted.length - 1)))];
}

// { labels: the minutes, in order; series: { requests, tokens, cost, latency: [{ label, data }] } }
export function chartData(records) {
  const labels = [...new Set(records.map(minute))].sort();
  const by = (key, value) => {
    const groups = {};
    for (const row of records) {
      const name = row[key] || "(none)";
      groups[name] ??= Object.fromEntries(labels.map((label) => [label, 0]));
      groups[name][minute(row)] += value(row);
    }
    return Object.entries(groups).map(([label, values]) => ({ label, data: labels.map((at) => values[at]) }));
  };
  const latencies = labels.map((at) => records.filter((row) => minute(row) === at).map((row) => row.latency_ms));
  return {
    labels,
    series: {
      requests: by("route", () => 1),
      tokens: by("model", (row) => row.input_tokens + row.output_tokens),
      cost: by("model", (row) => row.cost_usd),
      latency: [{ label: "p50", data: latencies.map((values) => percentile(values, 0.5)) },
        { label: "p95", data: latencies.map((values) => percentile(values, 0.95)) }],
    },
  };
}
