// The usage page's series, from the ledger's rows.
import assert from "node:assert/strict";
import { test } from "node:test";

import { chartData, percentile } from "../../../app/console/js/charts.mjs";

const row = (at, route, model, tokens, cost, latency) => ({
  created_at: at, route, model, input_tokens: tokens, output_tokens: 1, cost_usd: cost, latency_ms: latency,
});

test("rows are bucketed by minute, in order, per route and per model", () => {
  const { labels, series } = chartData([
    row("2026-12-02T10:01:30Z", "/v1/chat/completions", "local", 9, 0.5, 30),
    row("2026-12-02T10:00:10Z", "/summarize/invoke", "local", 4, 0.25, 10),
    row("2026-12-02T10:01:50Z", "/summarize/invoke", null, 0, 0, 50),
  ]);
  assert.deepEqual(labels, ["2026-12-02 10:00", "2026-12-02 10:01"]);
  assert.deepEqual(series.requests, [
    { label: "/v1/chat/completions", data: [0, 1] },
    { label: "/summarize/invoke", data: [1, 1] },
  ]);
  assert.deepEqual(series.tokens, [{ label: "local", data: [5, 10] }, { label: "(none)", data: [0, 1] }]);
  assert.deepEqual(series.cost, [{ label: "local", data: [0.25, 0.5] }, { label: "(none)", data: [0, 0] }]);
  assert.deepEqual(series.latency, [{ label: "p50", data: [10, 50] }, { label: "p95", data: [10, 50] }]);
});

test("no rows, no buckets", () => {
  const { labels, series } = chartData([]);
  assert.deepEqual(labels, []);
  assert.deepEqual(series.requests, []);
});

test("a percentile is a sample's value, never an interpolation", () => {
  assert.equal(percentile([], 0.5), null);
  assert.equal(percentile([3, 1, 2], 0.5), 2);
  assert.equal(percentile([1, 2, 3, 4], 0.95), 4);
});
